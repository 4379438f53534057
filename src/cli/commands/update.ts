import { EXIT, type ExitCode } from '../../core/errors.ts';
import { openSnapshotBackend } from '../../snapshot/detect-backend.ts';
import { openSystem } from '../../system/open-system.ts';
import { readTerminal } from '../../system/read-terminal.ts';
import { rollbackUpdate } from '../../update/rollback.ts';
import { renderUpdateSummary, runUpdate } from '../../update/run-update.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface UpdateArgs extends GlobalOptions {
  readonly yes: boolean;
  readonly dryRun: boolean;
  readonly allowCompile: readonly string[];
  readonly force: string | undefined;
  readonly binhost: string | undefined;
  readonly procRoot: string | undefined;
  readonly emergeInactivity: number;
}

/** `apkg update`: exit 0 updated, 3 refused, 1 failed or repaired, 130 interrupted. */
export async function runUpdateCommand(args: UpdateArgs, context: HandlerContext): Promise<CommandOutcome> {
  const { stderr, env } = context.process;
  const tty = stderr.isTTY === true;
  const report = await runUpdate({
    root: args.root,
    binhost: args.binhost,
    allowCompile: args.allowCompile,
    force: args.force,
    dryRun: args.dryRun,
    ...(args.procRoot === undefined ? {} : { procRoot: args.procRoot }),
    terminal: await readTerminal(env),
    signal: context.signal,
    streams: context.consoleStreams,
    emergeInactivityMs: args.emergeInactivity * 1000,
    // On a terminal the bar redraws in place; in a log or a pipe each change is a line of its own.
    showProgress: args.json ? () => undefined : (line, final) => stderr.write(tty ? `\r\u001b[K${line}${final ? '\n' : ''}` : `${line}\n`),
  });
  const exitCode: ExitCode = report.interrupted ? EXIT.interrupted : report.outcome === 'updated' ? EXIT.ok : report.outcome === 'refused' ? EXIT.refused : EXIT.failed;
  return { exitCode, json: report, text: renderUpdateSummary(report) };
}

export interface RollbackArgs extends GlobalOptions {
  readonly update: string | undefined;
  readonly filesOnly: boolean;
}

/** `apkg rollback`: file-level undo of an update from its pre snapshot. */
export async function runRollbackCommand(args: RollbackArgs, context: HandlerContext): Promise<CommandOutcome> {
  const system = openSystem({ root: args.root, logger: context.logger });
  try {
    const { backend } = await openSnapshotBackend(system, { signal: context.signal });
    const result = await rollbackUpdate(backend, args.update);
    const text = [
      `Rolled back update ${result.updateId}: ${result.restored.length} files restored from ${backend.name} snapshot ${result.pre}${result.post === undefined ? '' : ` (changes up to snapshot ${result.post})`}.`,
      'This is a file-level undo of the running system: the same subvolume boots next, now with the pre-update files.',
      ...result.restored.slice(0, 20).map((change) => `  ${change.status === 'created' ? '-' : '+'} ${change.path}`),
      result.restored.length > 20 ? `  … and ${result.restored.length - 20} more` : '',
    ].filter(Boolean);
    return { exitCode: EXIT.ok, json: { root: system.root, ...result }, text: text.join('\n') };
  } finally {
    await system.close();
  }
}

import * as path from 'node:path';
import { ArgoError, EXIT, type ExitCode } from '../../core/errors.ts';
import { readJournal } from '../../login-path/change-journal.ts';
import { readPasswordFile, readPasswordHashFile } from '../../login-path/password-hash.ts';
import { assertRunId, undoChanges } from '../../login-path/undo-changes.ts';
import { compactTimestamp } from '../../core/compact-timestamp.ts';
import { openSystem } from '../../system/open-system.ts';
import { runRecovery, validateRecoverInput } from '../../phases/recovery/run-recovery.ts';
import type { PasswordSource } from '../../phases/recovery/recovery-deps.ts';
import { createRootedFs } from '../../system/rooted-fs.ts';
import { enterTarget } from '../enter-target.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';
import { askFirst, assertCanAsk, willAsk, type Ask } from './confirm.ts';

export interface RecoverArgs extends GlobalOptions {
  readonly user: string;
  /** Put back what recovery run RUN changed, instead of recovering. */
  readonly undo: string | undefined;
  readonly force: boolean;
  readonly passwordFile: string | undefined;
  readonly passwordHash: string | undefined;
  /** A root-only file holding the hash, so that it is not in `ps` as --password-hash is. */
  readonly passwordHashFile: string | undefined;
  readonly generatePassword: boolean;
  readonly logDir: string | undefined;
  readonly binhost: string | undefined;
  readonly resume: boolean;
  /** Set by argo rescue, which runs the recovery on the root it mounted. */
  readonly via?: 'rescue';
  /** -p/--pretend (also --dry-run): diagnose and show what would be done; change nothing. */
  readonly pretend: boolean;
  /** --pretend's older name; either one pretends. */
  readonly dryRun?: boolean;
  /** -a/--ask: show what would be done (as --pretend), ask, then do it. */
  readonly ask?: boolean;
  readonly skip: readonly string[];
  readonly procRoot: string | undefined;
  readonly buildBudget: number;
  readonly buildInactivity: number;
}

/** The one password option given, its file read and checked here, at the door. */
async function passwordSourceOf(args: RecoverArgs): Promise<PasswordSource> {
  const given = [args.passwordFile !== undefined, args.passwordHash !== undefined, args.passwordHashFile !== undefined, args.generatePassword].filter(Boolean).length;
  if (given !== 1) {
    throw new ArgoError('ARGO_USAGE', 'Give exactly one of --password-file, --password-hash, --password-hash-file and --generate-password', {
      hint: 'e.g. argo recover --root /mnt/gentoo --user alice --password-file /root/new-password',
    });
  }
  if (args.passwordFile !== undefined) return { kind: 'file', path: path.resolve(args.passwordFile) };
  if (args.passwordHash !== undefined) return { kind: 'hash', hash: args.passwordHash };
  if (args.passwordHashFile !== undefined) return { kind: 'hash', hash: await readPasswordHashFile(path.resolve(args.passwordHashFile)) };
  return { kind: 'generate' };
}

/**
 * `argo recover`: runs the phases and prints the summary (or the report with --json). --ask first runs them as
 * --pretend does (diagnose, show the plan), asks, and only then repairs; the same for --undo.
 */
export async function runRecoverCommand(args: RecoverArgs, context: HandlerContext, ask?: Ask): Promise<CommandOutcome> {
  const command = args.undo === undefined ? 'argo recover' : 'argo recover --undo';
  const asking = { ask: args.ask === true, pretend: args.pretend || args.dryRun === true };
  assertCanAsk(asking, context, command);
  const once = (pretend: boolean): Promise<CommandOutcome> =>
    args.undo !== undefined ? runUndo({ ...args, pretend, dryRun: pretend }, args.undo, context) : recoverOnce({ ...args, pretend, dryRun: pretend }, context);
  if (!willAsk(asking)) return once(asking.pretend);
  const preview = await once(true);
  // A look that was interrupted, or an undo with nothing to do, has nothing to agree to.
  if (preview.exitCode === EXIT.interrupted || (preview.json as { outcomes?: unknown[] } | undefined)?.outcomes?.length === 0) return preview;
  const action = args.undo === undefined ? `repair ${path.resolve(args.root)} as shown` : `undo ${args.undo} as shown`;
  await askFirst(asking, context, preview.text ?? '', action, ask);
  return once(false);
}

async function recoverOnce(args: RecoverArgs, context: HandlerContext): Promise<CommandOutcome> {
  const password = await passwordSourceOf(args);
  validateRecoverInput({ user: args.user, skip: args.skip, password });
  // Checked here too, so that a bad password file is refused before the lock is taken.
  if (password.kind === 'file') await readPasswordFile(password.path);
  await using door = await enterTarget(args, { command: 'argo recover', gentoo: true, writable: !args.pretend, lock: !args.pretend }, context.logger);
  // From here an interrupt leaves a state file that --resume continues (not for a dry run, nor under rescue).
  if (!args.pretend && args.via !== 'rescue') context.process.onCommand?.({ resumable: true });
  const report = await runRecovery({
    root: door.root,
    user: args.user,
    password,
    binhost: args.binhost,
    skip: args.skip,
    buildBudgetMs: args.buildBudget * 1000,
    buildInactivityMs: args.buildInactivity * 1000,
    logDir: args.logDir,
    resume: args.resume,
    via: args.via ?? 'recover',
    dryRun: args.pretend,
    ...(args.procRoot === undefined ? {} : { procRoot: args.procRoot }),
    signal: context.signal,
    streams: context.consoleStreams,
    tellUser: (text) => context.process.stderr.write(text),
    onProgress: context.reportProgress,
  });
  const summary = await createRootedFs('/').readTextIfExists(path.join(report.logDir, 'summary.txt'));
  const phaseFailed = report.phases.some((phase) => phase.status === 'failed' || phase.status === 'timed-out');
  const exitCode: ExitCode = report.interrupted ? EXIT.interrupted : report.dryRun ? (phaseFailed ? EXIT.failed : EXIT.ok) : report.login.ok ? EXIT.ok : EXIT.failed;
  return { exitCode, json: report, text: `${summary ?? ''}\nLogs: ${report.logDir}\n` };
}

/**
 * `argo recover --undo RUN`: every file run RUN changed goes back to how it was before (newest change first),
 * from the backups beside them; files changed again since are conflicts and stay unless --force. Exit 0 when
 * everything is back (or already was), 3 when a conflict kept a file, 1 when the run's record is missing.
 */
async function runUndo(args: RecoverArgs, runId: string, context: HandlerContext): Promise<CommandOutcome> {
  assertRunId(runId);
  await using door = await enterTarget(args, { command: 'argo recover --undo', gentoo: true, writable: !args.pretend, lock: !args.pretend }, context.logger);
  const system = openSystem({ root: door.root, logger: context.logger, dryRun: args.pretend });
  try {
    const bases = [...(args.logDir === undefined ? [] : [path.resolve(args.logDir)]), await system.target.resolve('/var/log/argo'), '/tmp/argo'];
    let journalFile: string | undefined;
    for (const base of bases) {
      const candidate = path.join(base, runId, 'changes.json');
      if (await system.host.exists(candidate)) {
        journalFile = candidate;
        break;
      }
    }
    if (journalFile === undefined) {
      throw new ArgoError('ARGO_FILE_NOT_FOUND', `No change record of ${runId} under ${bases.join(', ')}`, {
        hint: 'Give the run folder name of a recovery that changed files (ls /var/log/argo), and --log-dir if it used one. Its backups are beside the changed files: <file>.argo-<run>.',
        details: { runId },
      });
    }
    const journal = await readJournal(system.host, journalFile);
    if (journal === undefined || journal.runId !== runId) throw new ArgoError('ARGO_STATE_FILE_INVALID', `${journalFile} is not the record of ${runId}`, { details: { path: journalFile } });
    if (path.resolve(journal.root) !== system.root) {
      throw new ArgoError('ARGO_USAGE', `${runId} changed ${journal.root}, not ${system.root}`, { hint: `Run: argo recover --undo ${runId} --root ${journal.root}`, details: { runId, root: journal.root } });
    }
    const outcomes = await undoChanges(system, journal, { undoRunId: `undo-${compactTimestamp(system.clock.now())}`, force: args.force, dryRun: args.pretend, signal: context.signal });
    const conflicts = outcomes.filter((outcome) => outcome.status === 'conflict');
    const lines = [
      `${args.pretend ? 'DRY RUN: would undo' : 'Undo of'} ${runId} in ${system.root}:`,
      ...outcomes.map((outcome) => `  ${outcome.status.padEnd(16)} ${outcome.detail}`),
      conflicts.length > 0 ? `${conflicts.length} file(s) changed after the recovery were left as they are; --force puts the old version back anyway.` : 'Every changed file is as it was before the recovery.',
      '',
    ];
    return { exitCode: conflicts.length > 0 ? EXIT.refused : EXIT.ok, json: { runId, root: system.root, dryRun: args.pretend, outcomes }, text: lines.join('\n') };
  } finally {
    await system.close();
  }
}

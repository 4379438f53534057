import { ArgoError, EXIT, type ExitCode } from '../../core/errors.ts';
import { startBudget } from '../../snapshot/budget.ts';
import { openSnapshotBackend } from '../../snapshot/detect-backend.ts';
import { openSystem } from '../../system/open-system.ts';
import { readTerminal } from '../../system/read-terminal.ts';
import { rollbackUpdate } from '../../update/rollback.ts';
import { askOnTerminal } from '../../system/ask-terminal.ts';
import { renderRollback } from '../../update/rollback-render.ts';
import { renderUpdateSummary, runUpdate, type UpdateInput, type UpdateReport } from '../../update/run-update.ts';
import { enterTarget } from '../enter-target.ts';
import { resolveSwarm, type SwarmArgs } from '../preflight-options.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface UpdateArgs extends GlobalOptions, SwarmArgs {
  readonly dryRun: boolean;
  readonly allowCompile: readonly string[];
  readonly force: string | undefined;
  readonly binhost: string | undefined;
  readonly procRoot: string | undefined;
  readonly emergeInactivity: number;
  readonly requestBuilds: boolean;
  readonly requestBudget: number;
  readonly requestPoll: number;
}

/**
 * --request-builds and its swarm. The swarm options (and ARGO_SWARM_*) are read only with --request-builds, so
 * that apkg update without it behaves as it always has, whatever the environment holds.
 */
async function requestBuildsOf(args: UpdateArgs, env: Readonly<Record<string, string | undefined>>): Promise<UpdateInput['requestBuilds']> {
  if (!args.requestBuilds) {
    if (args.swarm !== undefined || args.swarmProfile !== undefined || args.swarmTokenFile !== undefined || args.swarmRequestTokenFile !== undefined) {
      throw new ArgoError('ARGO_USAGE', 'The --swarm options of apkg update go with --request-builds', { hint: 'Add --request-builds, or check the swarm alone with argo preflight --swarm URL.' });
    }
    return undefined;
  }
  if (!(args.requestBudget > 0) || !(args.requestPoll > 0)) {
    throw new ArgoError('ARGO_USAGE', '--request-budget and --request-poll are seconds above 0', { hint: 'For example --request-budget 14400 (4 hours).' });
  }
  const swarm = await resolveSwarm(args, env);
  if (swarm === undefined) {
    throw new ArgoError('ARGO_USAGE', '--request-builds needs the build swarm to ask', { hint: 'Give --swarm https://GATEWAY:8470 with --swarm-token-file (read) and --swarm-request-token-file (request), or set ARGO_SWARM_GATEWAY.' });
  }
  if (swarm.requester === undefined) {
    throw new ArgoError('ARGO_USAGE', '--request-builds needs a token of the request scope', { hint: 'Give --swarm-request-token-file FILE (or ARGO_SWARM_REQUEST_TOKEN_FILE): a root-only file with a token of the request scope. It is never put in a URL.' });
  }
  return { swarm, budgetMs: args.requestBudget * 1000, pollMs: args.requestPoll * 1000 };
}

/** The exit code: 3 refused (the checklist, or the swarm's verify), 124 when the swarm took longer than --request-budget. */
function exitCodeOfUpdate(report: UpdateReport): ExitCode {
  if (report.interrupted) return EXIT.interrupted;
  if (report.outcome === 'updated') return EXIT.ok;
  if (report.outcome === 'refused') return EXIT.refused;
  const requested = report.phases.find((entry) => entry.id === 'request-builds');
  return requested?.status === 'timed-out' || requested?.error?.code === 'ARGO_STEP_TIMED_OUT' ? EXIT.timedOut : EXIT.failed;
}

/** `apkg update`: exit 0 updated, 3 refused, 1 failed or repaired, 124 swarm too slow, 130 interrupted. */
export async function runUpdateCommand(args: UpdateArgs, context: HandlerContext): Promise<CommandOutcome> {
  await using door = await enterTarget(args, { command: 'apkg update', gentoo: true, writable: !args.dryRun, lock: !args.dryRun }, context.logger);
  const { stderr, env } = context.process;
  const tty = stderr.isTTY === true;
  const requestBuilds = await requestBuildsOf(args, env);
  const report = await runUpdate({
    requestBuilds,
    root: door.root,
    binhost: args.binhost,
    allowCompile: args.allowCompile,
    force: args.force,
    dryRun: args.dryRun,
    ...(args.procRoot === undefined ? {} : { procRoot: args.procRoot }),
    terminal: await readTerminal(env),
    signal: context.signal,
    streams: context.consoleStreams,
    emergeInactivityMs: args.emergeInactivity * 1000,
    ...(context.reportProgress === undefined ? {} : { onProgress: context.reportProgress }),
    // On a terminal the bar redraws in place; in a log or a pipe each change is a line of its own.
    showProgress: args.json ? () => undefined : (line, final) => stderr.write(tty ? `\r\u001b[K${line}${final ? '\n' : ''}` : `${line}\n`),
  });
  return { exitCode: exitCodeOfUpdate(report), json: report, text: renderUpdateSummary(report) };
}

export interface RollbackArgs extends GlobalOptions {
  readonly update: string | undefined;
  readonly yes: boolean;
  readonly pretend: boolean;
  readonly overwriteChanged: boolean;
  readonly keepChanged: boolean;
  readonly budget: number;
}

/**
 * `apkg rollback`: puts back what one update changed, from its pre snapshot. On a terminal (stdin and stderr
 * both TTYs) without --yes it shows the plan and asks first; elsewhere it acts without asking, as every argo
 * command does. --pretend shows the plan and changes nothing.
 */
export async function runRollbackCommand(args: RollbackArgs, context: HandlerContext, ask = askOnTerminal): Promise<CommandOutcome> {
  // --pretend changes nothing: it needs neither a writable root nor the lock.
  await using door = await enterTarget(args, { command: 'apkg rollback', writable: !args.pretend, lock: !args.pretend }, context.logger);
  if (args.overwriteChanged && args.keepChanged) {
    throw new ArgoError('ARGO_USAGE', '--overwrite-changed and --keep-changed exclude each other', { hint: 'Choose what happens to files changed after the update.' });
  }
  const system = openSystem({ root: door.root, logger: context.logger, dryRun: args.pretend });
  const budget = startBudget(context.signal, args.budget * 1000, 'apkg rollback');
  try {
    const { backend } = await openSnapshotBackend(system, { signal: budget.signal });
    const interactive = !args.yes && !args.pretend && context.process.stdinIsTTY && context.process.stderr.isTTY === true;
    const result = await rollbackUpdate(system, backend, {
      updateId: args.update,
      conflicts: args.overwriteChanged ? 'overwrite' : args.keepChanged ? 'keep' : 'refuse',
      pretend: args.pretend,
      signal: budget.signal,
      confirm: interactive
        ? async (plan) => {
            context.process.stderr.write(renderRollback(plan, 'preview'));
            return ask('Roll back now? [y/N] ', budget.signal);
          }
        : undefined,
    });
    const text = renderRollback(result, args.pretend ? 'pretend' : 'done');
    return { exitCode: EXIT.ok, json: { root: system.root, ...result, restored: result.done ? result.restore : [] }, text };
  } finally {
    budget.dispose();
    await system.close();
  }
}

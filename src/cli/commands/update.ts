import { ArgoError, EXIT, type ExitCode } from '../../core/errors.ts';
import { startBudget } from '../../snapshot/budget.ts';
import { openSnapshotBackend } from '../../snapshot/detect-backend.ts';
import { openSystem } from '../../system/open-system.ts';
import { readTerminal } from '../../system/read-terminal.ts';
import { rollbackUpdate } from '../../update/rollback.ts';
import { askOnTerminal } from '../../system/ask-terminal.ts';
import { LOGIN_PATH_PACKAGES } from '../../core/update/critical-packages.ts';
import { cpOf } from '../../core/update/progress.ts';
import { logEvent } from '../../core/log-events.ts';
import { askFirst, assertCanAsk, willAsk, type Ask } from './confirm.ts';
import { renderRollback } from '../../update/rollback-render.ts';
import { renderUpdateSummary, runUpdate, type UpdateInput, type UpdateReport } from '../../update/run-update.ts';
import { enterTarget } from '../enter-target.ts';
import { resolveSwarm, type SwarmArgs } from '../preflight-options.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface UpdateArgs extends GlobalOptions, SwarmArgs {
  /** -p/--pretend (also --dry-run): run the gate and show the plan; change nothing. */
  readonly pretend: boolean;
  /** -a/--ask: show the plan (as --pretend), ask, then update exactly that plan. */
  readonly ask: boolean;
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

/**
 * `apkg update`: exit 0 updated, 3 refused, 1 failed or repaired, 124 swarm too slow, 130 interrupted.
 * --pretend runs the gate and shows the plan; --ask does that, asks, and then updates exactly the plan shown
 * (the real run's gate refuses another one with ARGO_PLAN_CHANGED).
 */
export async function runUpdateCommand(args: UpdateArgs, context: HandlerContext, ask?: Ask): Promise<CommandOutcome> {
  assertCanAsk(args, context, 'apkg update');
  if (!willAsk(args)) return outcomeOf(await updateOnce(args, context), args.pretend);
  const preview = await updateOnce({ ...args, pretend: true }, context);
  // Nothing to agree to: the gate refused, the look failed or was stopped, or there is nothing to merge.
  if (preview.outcome !== 'updated' || preview.interrupted || preview.plan.length === 0) return outcomeOf(preview, true);
  await askFirst(args, context, renderUpdatePlan(preview), `merge these ${preview.plan.length} package(s)`, ask);
  return outcomeOf(await updateOnce({ ...args, pretend: false }, context, preview.plan.map((entry) => entry.cpv)), false);
}

function outcomeOf(report: UpdateReport, pretend: boolean): CommandOutcome {
  const text = pretend && report.outcome === 'updated' && !report.interrupted ? renderUpdatePlan(report) : renderUpdateSummary(report);
  return { exitCode: exitCodeOfUpdate(report), json: report, text };
}

async function updateOnce(args: UpdateArgs, context: HandlerContext, expectedPlan?: readonly string[]): Promise<UpdateReport> {
  await using door = await enterTarget(args, { command: 'apkg update', gentoo: true, writable: !args.pretend, lock: !args.pretend }, context.logger);
  const { env } = context.process;
  const requestBuilds = await requestBuildsOf(args, env);
  return runUpdate({
    requestBuilds,
    root: door.root,
    binhost: args.binhost,
    allowCompile: args.allowCompile,
    force: args.force,
    dryRun: args.pretend,
    expectedPlan,
    ...(args.procRoot === undefined ? {} : { procRoot: args.procRoot }),
    terminal: await readTerminal(env),
    signal: context.signal,
    streams: context.consoleStreams,
    emergeInactivityMs: args.emergeInactivity * 1000,
    ...(context.reportProgress === undefined ? {} : { onProgress: context.reportProgress }),
    showProgress: progressLines(context, args),
  });
}

/**
 * The update's own progress lines (emerge's "[3/45] … ~5m00s left", the swarm's cycle) as `progress` events:
 * the console draws them as one live line on a terminal and at most one line every few seconds elsewhere,
 * never on stdout; the log keeps them.
 */
function progressLines(context: HandlerContext, args: { readonly quiet?: boolean }): (line: string, final: boolean) => void {
  // The swarm's cycle changes every few minutes: off a terminal each change is a line of its own (a log a
  // person reads later, or CI's), not the console's throttled progress; -q leaves them out.
  const stderr = context.process.stderr;
  if (stderr.isTTY !== true) return args.quiet === true ? () => undefined : (line) => void stderr.write(`${line}\n`);
  let startedAt: number | undefined;
  return (line, final) => {
    const now = performance.now();
    startedAt ??= now;
    logEvent(context.logger, 'progress', {
      task: 'apkg update',
      unit: '',
      done: undefined,
      total: undefined,
      elapsedMs: Math.round(now - startedAt),
      etaMs: undefined,
      current: line,
      state: final ? 'done' : 'running',
    });
    if (final) startedAt = undefined;
  };
}

/** What --pretend and --ask show: the gate's verdict and, step by step, what the update would do. */
export function renderUpdatePlan(report: UpdateReport): string {
  const critical = report.plan.filter((entry) => LOGIN_PATH_PACKAGES.includes(cpOf(entry.cpv)));
  const rest = report.plan.filter((entry) => !critical.includes(entry));
  const line = (entry: { cpv: string; binary: boolean }): string => `       ${entry.binary ? '[binary]' : '[source]'} ${entry.cpv}`;
  const lines = [`PRETEND: nothing was changed. apkg update on ${report.root} would:`];
  if (report.plan.length === 0) {
    lines.push('  merge nothing: every package of @world is up to date.', '');
    return lines.join('\n');
  }
  lines.push(`  1. judge the update: the checklist says ${report.forced === undefined ? 'go' : `no-go; forced (--force ${report.forced})`}`);
  lines.push('  2. take a pre-update snapshot');
  if (critical.length > 0) lines.push(`  3. merge the login path's packages first, alone, and prove a login:`, ...critical.map(line));
  else lines.push('  3. (no package of the login path to merge first)');
  lines.push(`  4. merge the rest, ${rest.length} package(s):`, ...rest.map(line));
  lines.push('  5. verify the login path (crypt, PAM modules, the canary account\'s login); put libcrypt back from the snapshot if crypt broke');
  lines.push('  6. take a post-update snapshot');
  const sources = report.plan.filter((entry) => !entry.binary).length;
  if (sources > 0) lines.push(`${sources} package(s) would be compiled here (no binary package).`);
  lines.push(`logs of this look: ${report.logDir}`, '');
  return lines.join('\n');
}

export interface RollbackArgs extends GlobalOptions {
  readonly update: string | undefined;
  readonly yes: boolean;
  readonly pretend: boolean;
  /** -a/--ask: always show the plan and ask; refuse without a terminal. */
  readonly ask?: boolean;
  readonly overwriteChanged: boolean;
  readonly keepChanged: boolean;
  readonly budget: number;
}

/**
 * `apkg rollback`: puts back what one update changed, from its pre snapshot. On a terminal (stdin and stderr
 * both TTYs) without --yes it shows the plan and asks first; elsewhere it acts without asking, as every argo
 * command does, unless --ask, which always asks and refuses without a terminal. --pretend shows the plan and
 * changes nothing.
 */
export async function runRollbackCommand(args: RollbackArgs, context: HandlerContext, ask = askOnTerminal): Promise<CommandOutcome> {
  const asking = { ask: args.ask === true, pretend: args.pretend, yes: args.yes };
  assertCanAsk(asking, context, 'apkg rollback');
  // --pretend changes nothing: it needs neither a writable root nor the lock.
  await using door = await enterTarget(args, { command: 'apkg rollback', writable: !args.pretend, lock: !args.pretend }, context.logger);
  if (args.overwriteChanged && args.keepChanged) {
    throw new ArgoError('ARGO_USAGE', '--overwrite-changed and --keep-changed exclude each other', { hint: 'Choose what happens to files changed after the update.' });
  }
  const system = openSystem({ root: door.root, logger: context.logger, dryRun: args.pretend });
  const budget = startBudget(context.signal, args.budget * 1000, 'apkg rollback');
  try {
    const { backend } = await openSnapshotBackend(system, { signal: budget.signal });
    const interactive = willAsk(asking) || (!args.yes && !args.pretend && context.process.stdinIsTTY && context.process.stderr.isTTY === true);
    const question = willAsk(asking) ? `Would you like to roll back update ${args.update ?? '(the last one)'} as shown? [Yes/No] ` : 'Roll back now? [y/N] ';
    const result = await rollbackUpdate(system, backend, {
      updateId: args.update,
      conflicts: args.overwriteChanged ? 'overwrite' : args.keepChanged ? 'keep' : 'refuse',
      pretend: args.pretend,
      signal: budget.signal,
      confirm: interactive
        ? async (plan) => {
            context.process.stderr.write(renderRollback(plan, 'preview'));
            return ask(question, budget.signal);
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

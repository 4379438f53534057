/**
 * `apkg update --request-builds`: before the gate judges the update, the planned packages the swarm's production
 * binhost lacks are asked of the swarm as one cycle (the `emerge -pv` lines of exactly those packages), waited
 * for with progress, and published through the swarm's own gate (finalize refuses unless verify passes). The
 * checklist then judges the update against the new production binhost, and emerge installs from it.
 *
 * The cycle belongs to the swarm: stopping here (Ctrl-C, --request-budget) stops the waiting, never the builds.
 */

import { setTimeout as delay } from 'node:timers/promises';
import { ArgoError, isArgoError } from '../core/errors.ts';
import { computeCoverage } from '../core/preflight/binhost-coverage.ts';
import type { CycleStatus } from '../core/swarm/swarm-status.ts';
import type { Phase, StepContext } from '../phases/types.ts';
import { readSwarmIndex, swarmProfile } from '../preflight/checks/swarm-binhost.ts';
import { describeComponents, formatSeconds } from '../preflight/checks/swarm-findings.ts';
import { readUpdatePlan, type UpdatePlan } from '../preflight/run-checklist.ts';
import type { BuildRequestRecord, RequestBuildsOptions, UpdateDeps } from './update-deps.ts';
import type { SwarmClient } from '../swarm-client/swarm-client.ts';

type Context = StepContext<UpdateDeps>;
const MINUTE = 60_000;

/** The step's output: what was asked, and the release that now serves it. */
export interface RequestBuildsOutput {
  readonly profile: string;
  readonly requested: readonly string[];
  readonly cycle: string | undefined;
  readonly release: string | undefined;
}

/** 0. Only with --request-builds: what production lacks is built by the swarm and published before the gate. */
export const requestBuildsPhase: Phase<UpdateDeps> = {
  id: 'request-builds',
  steps: [
    {
      id: 'build-missing',
      budgetMs: 4 * 60 * MINUTE,
      attempts: [
        {
          id: 'build-missing',
          // --request-budget bounds the waiting; the margin is for planning, asking and finalizing.
          budgetMs: (deps) => (deps.options.requestBuilds?.budgetMs ?? 0) + 35 * MINUTE,
          run: requestMissingBuilds,
        },
      ],
    },
  ],
};

async function requestMissingBuilds(context: Context): Promise<RequestBuildsOutput> {
  const request = context.deps.options.requestBuilds;
  if (request === undefined) throw new Error('request-builds runs only with --request-builds');
  const record: BuildRequestRecord = { gateway: request.swarm.client.url, profile: undefined, requested: [], cycle: undefined, outcome: 'asking', verify: undefined, release: undefined };
  context.deps.record.builds = record;
  const deadline = context.deps.system.clock.monotonicMs() + request.budgetMs;

  const profile = await swarmProfile(request.swarm);
  record.profile = profile;
  const plan = await readUpdatePlan(context.deps.system, context.signal);
  // The plan the swarm builds for is the plan the gate judges and the update carries out.
  context.deps.record.plan = plan.parsed;
  const production = await readSwarmIndex(request.swarm, profile, 'binhost');
  record.requested = computeCoverage(plan.parsed.packages, production.entries, []).missing;
  const output = (): RequestBuildsOutput => ({ profile, requested: record.requested, cycle: record.cycle, release: record.release });
  if (record.requested.length === 0) {
    record.outcome = 'nothing-missing';
    context.logger.info({ profile, binhost: production.url }, 'The swarm already has every planned package');
    return output();
  }
  if (context.dryRun) {
    record.outcome = 'dry-run';
    context.logger.info({ profile, requested: record.requested }, 'Dry run: the swarm is not asked to build');
    return output();
  }
  try {
    record.cycle = await startCycleWhenFree(context, request, profile, planLinesOf(plan, record.requested), deadline);
    context.logger.info({ profile, cycle: record.cycle, requested: record.requested }, 'The swarm builds the missing packages');
    await waitForCycle(context, request, record.cycle, deadline);
  } catch (error) {
    if (record.cycle !== undefined) {
      record.outcome = 'stopped-waiting';
      context.logger.warn({ cycle: record.cycle, gateway: record.gateway }, 'Stopped waiting for the swarm; its cycle goes on there (follow it with build-swarm status)');
    }
    throw error;
  }
  await publish(context, request, profile, record);
  return output();
}

/** The plan's own lines for `cpvs`: the gateway reads them as `build-swarm fresh` reads a saved `emerge -pv`. */
function planLinesOf(plan: UpdatePlan, cpvs: readonly string[]): string {
  const lines = plan.text.split('\n');
  const wanted = new Set(cpvs);
  const chosen = plan.parsed.packages.filter((entry) => entry.kind === 'ebuild' && wanted.has(entry.cpv)).map((entry) => lines[entry.line - 1] ?? '');
  return `${chosen.join('\n')}\n`;
}

/**
 * Starts the cycle; while the profile has a running one (ARGO_CYCLE_ACTIVE), waits for it to finish and asks
 * again: a profile builds one cycle at a time.
 */
async function startCycleWhenFree(context: Context, request: RequestBuildsOptions, profile: string, plan: string, deadline: number): Promise<string> {
  for (;;) {
    try {
      return (await requesterOf(request).startCycle(profile, { plan })).cycle;
    } catch (error) {
      if (!isArgoError(error, 'ARGO_CYCLE_ACTIVE')) throw error;
    }
    const busy = (await request.swarm.client.status()).cycles.find((cycle) => cycle.profile === profile && cycle.status === 'running');
    if (busy === undefined) {
      await pause(context, request, deadline, 'a running cycle of the profile');
      continue;
    }
    context.logger.info({ profile, cycle: busy.id }, 'The profile has a running cycle; waiting for it to finish before asking again');
    await waitForCycle(context, request, busy.id, deadline);
  }
}

/** Follows the cycle until it finishes, drawing its progress (and ETA) and logging every change. */
async function waitForCycle(context: Context, request: RequestBuildsOptions, id: string, deadline: number): Promise<CycleStatus> {
  let shown = '';
  for (;;) {
    const cycle = await cycleStatus(context, request, id);
    if (cycle !== undefined) {
      const line = renderCycleProgress(cycle);
      if (line !== shown) {
        shown = line;
        context.deps.showProgress(line, cycle.status === 'finished');
        context.logger.info({ cycle: id, ...countsOf(cycle), etaSeconds: Math.round(cycle.eta) }, 'Swarm cycle progress');
      }
      if (cycle.status === 'finished') return cycle;
    }
    await pause(context, request, deadline, `cycle ${id}`);
  }
}

/** The cycle as the gateway reports it; undefined while the gateway does not answer (the wait goes on). */
async function cycleStatus(context: Context, request: RequestBuildsOptions, id: string): Promise<CycleStatus | undefined> {
  let cycles: readonly CycleStatus[];
  try {
    cycles = (await request.swarm.client.status()).cycles;
  } catch (error) {
    if (!isArgoError(error, 'ARGO_SWARM_UNREACHABLE')) throw error;
    context.logger.warn({ gateway: request.swarm.client.url, cycle: id }, 'The swarm gateway does not answer; still waiting for the cycle');
    return undefined;
  }
  const cycle = cycles.find((entry) => entry.id === id);
  if (cycle === undefined) {
    throw new ArgoError('ARGO_SWARM_REQUEST_FAILED', `The swarm at ${request.swarm.client.url} no longer reports cycle ${id}`, {
      hint: 'Newer cycles pushed it out of the status; see build-swarm status, then run apkg update --request-builds again.',
      details: { cycle: id },
    });
  }
  return cycle;
}

/** Waits one poll interval, or less when the budget ends sooner; past the budget, stops waiting. */
async function pause(context: Context, request: RequestBuildsOptions, deadline: number, what: string): Promise<void> {
  const left = deadline - context.deps.system.clock.monotonicMs();
  if (left <= 0) {
    throw new ArgoError('ARGO_STEP_TIMED_OUT', `Stopped waiting for ${what} after the --request-budget of ${formatSeconds(request.budgetMs / 1000)}`, {
      hint: 'The swarm goes on building: follow it with build-swarm status, then run apkg update --request-builds again (or give a larger --request-budget).',
      details: { budgetMs: request.budgetMs },
    });
  }
  await delay(Math.min(request.pollMs, left), undefined, { signal: context.signal });
}

/** The client with the request token (apkg update refuses --request-builds without one). */
function requesterOf(request: RequestBuildsOptions): SwarmClient {
  if (request.swarm.requester === undefined) throw new Error('--request-builds without a request token');
  return request.swarm.requester;
}

/** Finalize through the swarm's gate: published, or refused with verify's reasons (production unchanged). */
async function publish(context: Context, request: RequestBuildsOptions, profile: string, record: BuildRequestRecord): Promise<void> {
  const answer = await requesterOf(request).finalize(profile, {});
  const { score, threshold, safe, components } = answer.verify;
  record.verify = { score, threshold, safe, components };
  if (answer.refused) {
    record.outcome = 'refused';
    throw new ArgoError('ARGO_UPDATE_REFUSED', `The swarm refused to publish cycle ${record.cycle ?? '?'}: verify scores ${score} (safe below ${threshold}): ${describeComponents(answer.verify)}`, {
      hint: `Production is unchanged and nothing was updated. Fix what build-swarm verify --profile ${profile} lists, then run apkg update --request-builds again.`,
      details: { cycle: record.cycle, verify: record.verify },
    });
  }
  if (answer.release === undefined) {
    throw new ArgoError('ARGO_SWARM_REQUEST_FAILED', `The swarm at ${request.swarm.client.url} answered finalize without a release`, { hint: 'Run the same version of argo on the gateway and here.' });
  }
  record.outcome = 'published';
  record.release = answer.release.release;
  context.logger.info({ profile, cycle: record.cycle, release: record.release, score }, 'The swarm published the requested builds');
}

function countsOf(cycle: CycleStatus): { total: number; built: number; failed: number; building: number; waiting: number } {
  const { counts } = cycle;
  return { total: cycle.packages.length, built: counts.built, failed: counts.failed, building: counts.building, waiting: counts.queued + counts['dep-wait'] };
}

/** `[1/3] swarm cycle desktop-…: building app-arch/lz4-0_p120  elapsed 12s  ~1m20s left  1 failed` */
export function renderCycleProgress(cycle: CycleStatus): string {
  const counts = countsOf(cycle);
  const done = counts.total - counts.building - counts.waiting;
  const building = cycle.packages.filter((entry) => entry.state === 'building').map((entry) => entry.cpv);
  const what = cycle.status === 'finished' ? 'finished' : building.length > 0 ? `building ${building.join(', ')}` : 'waiting for a drone';
  const failed = counts.failed > 0 ? `  ${counts.failed} failed` : '';
  return `[${done}/${counts.total}] swarm cycle ${cycle.id}: ${what}  elapsed ${formatSeconds(cycle.elapsed)}  ~${formatSeconds(cycle.eta)} left${failed}`;
}

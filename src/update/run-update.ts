import type { EmergePlanPackage } from '../core/gentoo/parse-emerge-plan.ts';
import * as path from 'node:path';
import type { DestinationStream, Level } from 'pino';
import { createLogger } from '../logging/create-logger.ts';
import { logEvent } from '../core/log-events.ts';
import { createPivotLog, openRunLogDir } from '../logging/run-log-dir.ts';
import { describeVerification, type LoginPathVerification } from '../login-path/verify-login-path.ts';
import { runPhases, type RunProgress } from '../phases/run-phases.ts';
import type { PhaseResult, RunResult } from '../phases/types.ts';
import { DEFAULT_CRITICAL_PACKAGES, type SwarmAccess, type TerminalInfo } from '../preflight/types.ts';
import { openSnapshotBackend } from '../snapshot/detect-backend.ts';
import type { SnapshotBackend } from '../snapshot/types.ts';
import { systemClock, type Clock } from '../system/clock.ts';
import { openSystem } from '../system/open-system.ts';
import { createProcessTable } from '../system/process-table.ts';
import { createRootedFs } from '../system/rooted-fs.ts';
import type { CriticalFirstOutput, RepairOutput } from './update-phases.ts';
import { criticalFirstPhase, gatePhase, postSnapshotPhase, preSnapshotPhase, repairPhase, updatePhase, verifyPhase } from './update-phases.ts';
import type { BuildRequestRecord, UpdateDeps, UpdateRecord } from './update-deps.ts';
import { requestBuildsPhase } from './request-builds.ts';
import type { Phase } from '../phases/types.ts';
import { compactTimestamp } from '../core/compact-timestamp.ts';

export type UpdateOutcome = 'updated' | 'refused' | 'failed' | 'repaired';

export interface UpdateReport {
  readonly updateId: string;
  readonly root: string;
  readonly outcome: UpdateOutcome;
  readonly interrupted: boolean;
  readonly forced: string | undefined;
  readonly preSnapshot: number | undefined;
  readonly postSnapshot: number | undefined;
  /** `mergedCpvs`: what emerge reported completed, critical packages first (apkg rollback's record of the update). */
  readonly packages: { readonly planned: number; readonly merged: number; readonly mergedCpvs: readonly string[]; readonly failed: readonly string[] };
  readonly verify: LoginPathVerification | undefined;
  readonly repaired: RepairOutput | undefined;
  /**
   * true only when a real login was proven after the update (crypt, PAM modules, the canary's login); false
   * when a check failed; null when it was not checked (a refused update) or not provable (no canary account).
   */
  readonly loginOk: boolean | null;
  /** The checks that passed after the update (or after its repair): `crypt`, `pam-modules`, `canary-login`. */
  readonly proof: readonly string[];
  readonly refusedBy: readonly { readonly id: string; readonly summary: string }[];
  /** The packages of the plan the gate judged, in emerge's order; `binary` when the binhost has one (else compiled here). */
  readonly plan: readonly { readonly cpv: string; readonly binary: boolean }[];
  /** --request-builds: what was asked of the swarm and how it ended; undefined without it. */
  readonly builds: BuildRequestRecord | undefined;
  readonly phases: readonly { readonly id: string; readonly status: string; readonly durationMs: number; readonly reason?: string; readonly error?: { code: string; message: string } }[];
  readonly logDir: string;
}

export interface UpdateInput {
  readonly root: string;
  readonly binhost?: string | undefined;
  readonly allowCompile?: readonly string[];
  readonly force?: string | undefined;
  readonly dryRun?: boolean;
  readonly procRoot?: string;
  readonly terminal: TerminalInfo;
  readonly signal: AbortSignal;
  readonly streams?: readonly { readonly stream: DestinationStream; readonly level: Level }[];
  readonly showProgress: (line: string, final: boolean) => void;
  readonly emergeBudgetMs?: number;
  readonly emergeInactivityMs?: number;
  readonly clock?: Clock;
  /** Where the run is (phase, step, what is left): the CLI's second Ctrl-C says it. */
  readonly onProgress?: (progress: RunProgress) => void;
  /** --ask: the CPVs of the plan that was shown and agreed to; the gate refuses any other (ARGO_PLAN_CHANGED). */
  readonly expectedPlan?: readonly string[] | undefined;
  /** --request-builds: the swarm that builds what its production binhost lacks before the gate. */
  readonly requestBuilds?: { readonly swarm: SwarmAccess; readonly budgetMs: number; readonly pollMs?: number } | undefined;
}

const UPDATE_PHASES: readonly Phase<UpdateDeps>[] = [gatePhase, preSnapshotPhase, criticalFirstPhase, updatePhase, verifyPhase, repairPhase, postSnapshotPhase];

/** With --request-builds the swarm is asked first, and the gate judges only once it has answered. */
function phasesFor(input: UpdateInput): readonly Phase<UpdateDeps>[] {
  if (input.requestBuilds === undefined) return UPDATE_PHASES;
  return [requestBuildsPhase, { ...gatePhase, dependsOn: ['request-builds'] }, ...UPDATE_PHASES.slice(1)];
}

/**
 * `apkg update`: gate → pre snapshot → critical packages first → the update → verify the login path →
 * repair it from the pre snapshot when it broke → post snapshot → report. Verify, repair and the post
 * snapshot run even after Ctrl-C. Logs go to /var/log/argo/update-<id>/ on the target.
 */
export async function runUpdate(input: UpdateInput): Promise<UpdateReport> {
  const clock = input.clock ?? systemClock;
  const root = path.resolve(input.root);
  const updateId = compactTimestamp(clock.now());
  // A dry run writes nothing into the target, not even its logs: they go to the host's /tmp/argo.
  const bases = input.dryRun ? ['/tmp/argo'] : [await createRootedFs(root).resolve('/var/log/argo'), '/tmp/argo'];
  const logs = openRunLogDir(bases, `update-${updateId}`);
  const closable = createLogger({ file: logs.path('main'), streams: [...(input.streams ?? []), { stream: createPivotLog(logs.path('pivots')), level: 'warn' }] });
  const logger = closable.logger;
  try {
    for (const pivot of logs.pivotedFrom) logEvent(logger, 'log-dir.pivot', { from: pivot.dir, to: logs.dir, reason: pivot.reason });
    if (input.force !== undefined) logger.warn({ force: input.force }, 'Update runs with --force');
    const system = openSystem({ root, logger, dryRun: input.dryRun ?? false, clock });
    let backend: Promise<SnapshotBackend> | undefined;
    const record: UpdateRecord = { plan: undefined, progress: undefined, preSnapshot: undefined, postSnapshot: undefined, gateFailures: [], builds: undefined };
    const deps: UpdateDeps = {
      system,
      processes: createProcessTable(input.procRoot ?? '/proc'),
      terminal: input.terminal,
      options: {
        updateId,
        binhost: input.binhost,
        allowCompile: new Set(input.allowCompile ?? []),
        force: input.force,
        criticalPackages: DEFAULT_CRITICAL_PACKAGES.filter((name) => !(input.allowCompile ?? []).includes(name)),
        emergeBudgetMs: input.emergeBudgetMs ?? 12 * 60 * 60_000,
        emergeInactivityMs: input.emergeInactivityMs ?? 30 * 60_000,
        requestBuilds: input.requestBuilds === undefined ? undefined : { swarm: input.requestBuilds.swarm, budgetMs: input.requestBuilds.budgetMs, pollMs: input.requestBuilds.pollMs ?? 3000 },
        expectedPlan: input.expectedPlan,
      },
      logs,
      snapshots: () => (backend ??= openSnapshotBackend(system, {}).then((opened) => opened.backend)),
      showProgress: input.showProgress,
      record,
    };
    let result: RunResult;
    try {
      result = await runPhases({
        runId: `update-${updateId}`,
        root,
        phases: phasesFor(input),
        deps,
        logger,
        clock,
        signal: input.signal,
        dryRun: input.dryRun ?? false,
        stateStore: undefined,
        ...(input.onProgress === undefined ? {} : { onProgress: input.onProgress }),
      });
    } finally {
      await system.close();
    }
    const report = buildReport(result, record, updateId, root, logs.dir);
    await logs.write('report', `${JSON.stringify(report, null, 2)}\n`);
    await logs.write('summary', renderUpdateSummary(report));
    return report;
  } finally {
    closable.close();
  }
}

function phase(result: RunResult, id: string): PhaseResult | undefined {
  return result.phases.find((candidate) => candidate.id === id);
}

export function buildReport(result: RunResult, record: UpdateRecord, updateId: string, root: string, logDir: string): UpdateReport {
  const gate = phase(result, 'gate');
  const requested = phase(result, 'request-builds');
  // The swarm's verify refusing to publish the builds is a safety gate too: nothing was changed here either.
  const swarmRefused = requested?.status === 'failed' && requested.error?.code === 'ARGO_UPDATE_REFUSED';
  // A plan other than the one agreed to (--ask) is refused at the gate too, before anything changed.
  const planChanged = gate?.status === 'failed' && gate.error?.code === 'ARGO_PLAN_CHANGED';
  const refused = (gate?.status === 'failed' && gate.error?.code === 'ARGO_UPDATE_REFUSED') || planChanged || swarmRefused;
  const verify = result.outputs.get('verify/login-path') as LoginPathVerification | undefined;
  const repaired = result.outputs.get('repair/restore-libcrypt') as RepairOutput | undefined;
  const verified = repaired?.after ?? verify;
  // Unknown is null: a refused update checked nothing after it, a missing verification proved nothing.
  const loginOk = refused || verified === undefined ? null : verified.loginOk;
  const anyFailed = result.phases.some((entry) => entry.status === 'failed' || entry.status === 'timed-out');
  const outcome: UpdateOutcome = refused ? 'refused' : repaired !== undefined ? 'repaired' : anyFailed || result.interrupted || loginOk === false ? 'failed' : 'updated';
  const plan = record.plan?.packages.filter((entry): entry is EmergePlanPackage => entry.kind === 'ebuild' || entry.kind === 'binary') ?? [];
  const critical = (result.outputs.get('critical-first/update-critical') as CriticalFirstOutput | undefined)?.critical ?? [];
  const gateOutput = result.outputs.get('gate/preflight') as { forced?: string; missingBinaries?: readonly string[] } | undefined;
  // Binary when the binhost has it (emerge runs with --getbinpkg), else as emerge -pv planned it.
  const binary = (entry: EmergePlanPackage): boolean => (gateOutput?.missingBinaries === undefined ? entry.kind === 'binary' : !gateOutput.missingBinaries.includes(entry.cpv));
  return {
    updateId,
    root,
    outcome,
    interrupted: result.interrupted,
    forced: gateOutput?.forced,
    preSnapshot: record.preSnapshot,
    postSnapshot: record.postSnapshot,
    packages: { planned: plan.length, merged: critical.length + (record.progress?.completed.length ?? 0), mergedCpvs: [...critical, ...(record.progress?.completed ?? [])], failed: record.progress?.failed ?? [] },
    verify,
    repaired,
    loginOk,
    proof: verified?.proof ?? [],
    refusedBy: swarmRefused
      ? [{ id: 'request-builds', summary: requested.error?.message ?? 'the swarm refused to publish the builds' }]
      : planChanged
        ? [{ id: 'plan', summary: gate.error?.message ?? 'the plan changed since it was shown' }]
        : refused
          ? record.gateFailures
          : [],
    plan: plan.map((entry) => ({ cpv: entry.cpv, binary: binary(entry) })),
    builds: record.builds === undefined ? undefined : { ...record.builds },
    phases: result.phases.map((entry) => ({
      id: entry.id,
      status: entry.status,
      durationMs: entry.durationMs,
      ...(entry.reason === undefined ? {} : { reason: entry.reason }),
      ...(entry.error === undefined ? {} : { error: { code: entry.error.code, message: entry.error.message } }),
    })),
    logDir,
  };
}

export function renderUpdateSummary(report: UpdateReport): string {
  const lines: string[] = [];
  const headline = {
    updated: `UPDATED: ${report.packages.merged} of ${report.packages.planned} packages merged; ${report.loginOk === true ? 'a real login was proven afterwards' : 'logins NOT proven (see below)'}.`,
    refused:
      report.builds?.outcome === 'refused'
        ? 'REFUSED: the swarm built what was missing, but its verify refused to publish it; production is unchanged, nothing was changed here and no snapshot taken.'
        : report.refusedBy[0]?.id === 'plan'
          ? 'REFUSED: the plan changed since it was shown (--ask); nothing was changed and no snapshot taken.'
        : 'REFUSED: the pre-update checklist said no-go; nothing was changed and no snapshot taken.',
    failed: `FAILED: ${report.packages.merged} of ${report.packages.planned} packages merged${report.packages.failed.length > 0 ? `, ${report.packages.failed.join(', ')} failed` : ''}${report.interrupted ? ' (interrupted)' : ''}.`,
    repaired: 'REPAIRED: the update broke the login path; libcrypt was restored from the pre-update snapshot.',
  }[report.outcome];
  lines.push(headline, `update id: ${report.updateId}   target: ${report.root}`);
  if (report.forced) lines.push(`forced past the checklist: ${report.forced}`);
  for (const check of report.refusedBy) lines.push(`  ✗ ${check.id}: ${check.summary}`);
  if (report.builds !== undefined) lines.push(...describeBuilds(report.builds));
  const verified = report.repaired?.after ?? report.verify;
  const loginLine = { true: 'proven', false: 'BROKEN', null: report.outcome === 'refused' ? 'not checked (nothing was changed)' : 'NOT proven' }[String(report.loginOk) as 'true' | 'false' | 'null'];
  lines.push(`login: ${loginLine}${verified ? ` (${describeVerification(verified)})` : ''}`);
  if (report.repaired?.restore?.restored === true) {
    const restore = report.repaired.restore;
    lines.push(`libcrypt: ${restore.file} put back from the pre-update snapshot; the replaced file is kept as ${restore.replacedCopy}`);
    if (restore.portage !== undefined && !restore.portage.matches) lines.push(`  Portage's record of it (${restore.portage.cpv}) no longer matches: ${restore.portage.reinstall} once the cause is fixed`);
  }
  if (report.preSnapshot !== undefined) lines.push(`snapshots: pre ${report.preSnapshot}, post ${report.postSnapshot ?? '-'}`);
  for (const entry of report.phases) lines.push(`  ${entry.id.padEnd(15)} ${entry.status}${entry.reason ? `: ${entry.reason}` : entry.error ? `: ${entry.error.message}` : ''}`);
  if (report.outcome === 'repaired' || report.outcome === 'failed') {
    if (report.preSnapshot !== undefined) lines.push(`To undo the whole update: apkg rollback --update ${report.updateId}`);
    if (report.loginOk === false) lines.push('Logins are broken: run argo recover now, before rebooting.');
  }
  lines.push(`logs: ${report.logDir}`, '');
  return lines.join('\n');
}

/** What --request-builds asked of the swarm, how it ended, and what to do when it did not publish. */
function describeBuilds(builds: BuildRequestRecord): string[] {
  const where = `swarm ${builds.gateway}${builds.profile === undefined ? '' : `, profile ${builds.profile}`}`;
  const asked = `${builds.requested.length} package${builds.requested.length === 1 ? '' : 's'}${builds.cycle === undefined ? '' : ` (cycle ${builds.cycle})`}`;
  switch (builds.outcome) {
    case 'nothing-missing':
      return [`${where}: its production binhost already had every planned package`];
    case 'dry-run':
      return [`${where}: would ask it to build ${asked}: ${builds.requested.join(', ')}`];
    case 'published':
      return [`${where}: built ${asked}, published as release ${builds.release ?? '?'}`];
    case 'refused':
      return [
        `${where}: built ${asked}; finalize refused, verify scores ${builds.verify?.score ?? '?'} (safe below ${builds.verify?.threshold ?? '?'}):`,
        ...(builds.verify?.components ?? []).filter((component) => component.points > 0).map((component) => `    ${component.id} ${component.points}: ${component.detail}`),
      ];
    case 'stopped-waiting':
      return [`${where}: asked for ${asked}; stopped waiting, the cycle goes on in the swarm.`, 'Follow it with build-swarm status, then run apkg update --request-builds again.'];
    case 'asking':
      return [`${where}: asking for ${asked} did not finish`];
  }
}

import * as path from 'node:path';
import type { DestinationStream, Level } from 'pino';
import { createLogger } from '../logging/create-logger.ts';
import { logEvent } from '../core/log-events.ts';
import { createPivotLog, openRunLogDir } from '../logging/run-log-dir.ts';
import { describeVerification, type LoginPathVerification } from '../login-path/verify-login-path.ts';
import { runPhases, type RunProgress } from '../phases/run-phases.ts';
import type { PhaseResult, RunResult } from '../phases/types.ts';
import { DEFAULT_CRITICAL_PACKAGES, type TerminalInfo } from '../preflight/types.ts';
import { openSnapshotBackend } from '../snapshot/detect-backend.ts';
import type { SnapshotBackend } from '../snapshot/types.ts';
import { systemClock, type Clock } from '../system/clock.ts';
import { openSystem } from '../system/open-system.ts';
import { createProcessTable } from '../system/process-table.ts';
import { createRootedFs } from '../system/rooted-fs.ts';
import type { CriticalFirstOutput, RepairOutput } from './update-phases.ts';
import { criticalFirstPhase, gatePhase, postSnapshotPhase, preSnapshotPhase, repairPhase, updatePhase, verifyPhase } from './update-phases.ts';
import type { UpdateDeps, UpdateRecord } from './update-deps.ts';
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
    const record: UpdateRecord = { plan: undefined, progress: undefined, preSnapshot: undefined, postSnapshot: undefined, gateFailures: [] };
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
        phases: [gatePhase, preSnapshotPhase, criticalFirstPhase, updatePhase, verifyPhase, repairPhase, postSnapshotPhase],
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
  const refused = gate?.status === 'failed' && gate.error?.code === 'ARGO_UPDATE_REFUSED';
  const verify = result.outputs.get('verify/login-path') as LoginPathVerification | undefined;
  const repaired = result.outputs.get('repair/restore-libcrypt') as RepairOutput | undefined;
  const verified = repaired?.after ?? verify;
  // Unknown is null: a refused update checked nothing after it, a missing verification proved nothing.
  const loginOk = refused || verified === undefined ? null : verified.loginOk;
  const anyFailed = result.phases.some((entry) => entry.status === 'failed' || entry.status === 'timed-out');
  const outcome: UpdateOutcome = refused ? 'refused' : repaired !== undefined ? 'repaired' : anyFailed || result.interrupted || loginOk === false ? 'failed' : 'updated';
  const plan = record.plan?.packages.filter((entry) => entry.kind === 'ebuild' || entry.kind === 'binary') ?? [];
  const critical = (result.outputs.get('critical-first/update-critical') as CriticalFirstOutput | undefined)?.critical ?? [];
  const gateOutput = result.outputs.get('gate/preflight') as { forced?: string } | undefined;
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
    refusedBy: refused ? record.gateFailures : [],
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
    refused: 'REFUSED: the pre-update checklist said no-go; nothing was changed and no snapshot taken.',
    failed: `FAILED: ${report.packages.merged} of ${report.packages.planned} packages merged${report.packages.failed.length > 0 ? `, ${report.packages.failed.join(', ')} failed` : ''}${report.interrupted ? ' (interrupted)' : ''}.`,
    repaired: 'REPAIRED: the update broke the login path; libcrypt was restored from the pre-update snapshot.',
  }[report.outcome];
  lines.push(headline, `update id: ${report.updateId}   target: ${report.root}`);
  if (report.forced) lines.push(`forced past the checklist: ${report.forced}`);
  for (const check of report.refusedBy) lines.push(`  ✗ ${check.id}: ${check.summary}`);
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

import { ArgoError } from '../core/errors.ts';
import { hashPrefixesInUse } from '../core/auth/shadow.ts';
import { parseEmergeLog } from '../core/gentoo/parse-emerge-log.ts';
import type { EmergePlanPackage } from '../core/gentoo/parse-emerge-plan.ts';
import { parseEmergeProgressLine, type EmergeProgressEvent } from '../core/gentoo/parse-emerge-progress.ts';
import { applyProgressEvent, baseCpv, cpOf, estimateRemainingSeconds, startProgress, type UpdateProgress } from '../core/update/progress.ts';
import type { EmergeLogBuild } from '../core/gentoo/parse-emerge-log.ts';
import { startProgress as startProgressEvents, type Progress } from '../logging/progress.ts';
import { restoreLibcryptFrom, type RestoreResult } from '../login-path/restore-libcrypt.ts';
import { describeVerification, verifyLoginPath, type LoginPathVerification } from '../login-path/verify-login-path.ts';
import type { Phase, StepContext } from '../phases/types.ts';
import { planProvider, runChecklist } from '../preflight/run-checklist.ts';
import type { PreflightReport } from '../preflight/types.ts';
import { LOGIN_PATH_PACKAGES } from '../core/update/critical-packages.ts';
import type { UpdateDeps } from './update-deps.ts';
import { emergeEnv } from '../system/emerge-env.ts';
import { productionBinhostUrl } from '../preflight/checks/swarm-binhost.ts';
import type { RequestBuildsOutput } from './request-builds.ts';

type Context = StepContext<UpdateDeps>;
const MINUTE = 60_000;

function step<T>(id: string, budgetMs: number, run: (context: Context) => Promise<T>) {
  return { id, budgetMs, attempts: [{ id, run }] };
}

export interface GateOutput {
  readonly verdict: PreflightReport['verdict'];
  readonly failed: readonly { readonly id: string; readonly summary: string }[];
  readonly forced: string | undefined;
  /** Every planned package has a binary: the update can run from binaries only. */
  readonly fullyCovered: boolean;
  /** The planned packages the binhost has no binary of (compiled here); undefined when coverage was not checked. */
  readonly missingBinaries?: readonly string[] | undefined;
}

/** 1. The preflight checklist; no-go refuses the update (exit 3) unless --force gave a reason. */
export const gatePhase: Phase<UpdateDeps> = {
  id: 'gate',
  steps: [
    step('preflight', 10 * MINUTE, async (context): Promise<GateOutput> => {
      const { system, processes, terminal, options, logs, record } = context.deps;
      const plan = planProvider(system, context.signal);
      const report = await runChecklist({
        system,
        processes,
        terminal,
        signal: context.signal,
        logger: context.logger,
        // The plan the gate judged is the plan the update carries out: computed once (by --request-builds when
        // it asked the swarm for it), kept in the record.
        plan: async () => record.plan ?? plan().then((parsed) => (record.plan = parsed)),
        // With --request-builds the gate judges the swarm's production binhost, the one emerge then uses.
        options: { binhost: options.binhost, swarm: options.requestBuilds?.swarm, takeSnapshot: false, stopGui: false, criticalPackages: options.criticalPackages },
      });
      await logs.write('diagnostics', `${JSON.stringify(report, null, 2)}\n`);
      const failed = report.checks.filter((check) => check.status === 'fail').map((check) => ({ id: check.id, summary: check.summary }));
      context.deps.record.gateFailures = failed;
      const coverage = report.checks.find((check) => check.id === 'binhost-coverage')?.details as { missing?: unknown[] } | undefined;
      if (report.verdict === 'no-go' && options.force === undefined) {
        throw new ArgoError('ARGO_UPDATE_REFUSED', `The update is refused: ${failed.map((check) => check.id).join(', ')} failed`, {
          hint: 'Fix what the checklist names (argo preflight shows it), or run with --force REASON if you accept the risk.',
          details: { failed },
        });
      }
      if (report.verdict === 'no-go') context.logger.warn({ force: options.force, failed }, 'Update forced past a no-go verdict');
      if (options.expectedPlan !== undefined) await assertAgreedPlan(context, options.expectedPlan);
      const missingBinaries = Array.isArray(coverage?.missing) ? coverage.missing.map(String) : undefined;
      return { verdict: report.verdict, failed, forced: report.verdict === 'no-go' ? options.force : undefined, fullyCovered: missingBinaries?.length === 0, missingBinaries };
    }),
  ],
};

/** --ask: the plan judged now must be the plan that was shown and agreed to (the same packages). */
async function assertAgreedPlan(context: Context, agreed: readonly string[]): Promise<void> {
  const now = (await planUpdate(context)).map((entry) => entry.cpv);
  const key = (cpvs: readonly string[]): string => [...cpvs].sort().join('\n');
  if (key(now) === key(agreed)) return;
  throw new ArgoError('ARGO_PLAN_CHANGED', `The plan changed since it was shown: ${now.length} package(s) now, ${agreed.length} agreed to`, {
    hint: 'Nothing was changed. Run apkg update --ask again to see the new plan.',
    details: { added: now.filter((cpv) => !agreed.includes(cpv)), dropped: agreed.filter((cpv) => !now.includes(cpv)) },
  });
}

/** 2. The pre-update snapshot, tied to the update id. */
export const preSnapshotPhase: Phase<UpdateDeps> = {
  id: 'pre-snapshot',
  dependsOn: ['gate'],
  steps: [
    step('create', 10 * MINUTE, async (context) => {
      const backend = await context.deps.snapshots();
      const snapshot = await backend.create({ kind: 'pre', description: `apkg update ${context.deps.options.updateId}`, userdata: { 'argo-update': context.deps.options.updateId }, cleanup: 'number' });
      context.deps.record.preSnapshot = snapshot.id;
      return { id: snapshot.id, backend: backend.name };
    }),
  ],
};

/** The gate's plan; computed here only when the gate did not need one (e.g. every plan check was skipped). */
async function planUpdate(context: Context): Promise<EmergePlanPackage[]> {
  const plan = context.deps.record.plan ?? (context.deps.record.plan = await planProvider(context.deps.system, context.signal)());
  return plan.packages.filter((entry): entry is EmergePlanPackage => entry.kind === 'ebuild' || entry.kind === 'binary');
}

/** The binhost emerge installs from: the swarm's production binhost after --request-builds, else --binhost. */
function binhostOf(context: Context): string | undefined {
  const swarm = context.deps.options.requestBuilds?.swarm;
  const requested = context.outputOf<RequestBuildsOutput>('request-builds/build-missing');
  return swarm === undefined || requested === undefined ? context.deps.options.binhost : productionBinhostUrl(swarm, requested.profile);
}

/**
 * Runs `emerge --oneshot … =CPV…` for exactly the judged packages. emerge may still pull in what the plan did
 * not list (a dependency that changed since the gate): its first "(1 of N)" line shows that before anything
 * is merged, and the run is stopped there with ARGO_PLAN_CHANGED.
 */
async function emergeJudged(context: Context, packages: readonly EmergePlanPackage[], flags: readonly string[], onEvent?: (event: EmergeProgressEvent) => void): Promise<void> {
  const atoms = packages.map((entry) => `=${entry.cpv}`);
  const judged = new Set(packages.map((entry) => entry.cpv));
  const drift = new AbortController();
  await context.deps.system.commands.run('emerge', ['--oneshot', ...flags, '--color=n', ...atoms], {
    signal: AbortSignal.any([context.signal, drift.signal]),
    budgetMs: context.deps.options.emergeBudgetMs,
    inactivityMs: context.deps.options.emergeInactivityMs,
    env: emergeEnv(binhostOf(context)),
    outputLevel: 'info',
    onLine: (line) => {
      const event = parseEmergeProgressLine(line);
      if (event === undefined || drift.signal.aborted) return;
      if (event.kind === 'emerging' && (event.total !== atoms.length || !judged.has(baseCpv(event.cpv, judged)))) {
        drift.abort(
          new ArgoError('ARGO_PLAN_CHANGED', `emerge wants to merge ${event.cpv} (${event.index} of ${event.total}), which differs from the ${atoms.length} packages the checklist judged`, {
            hint: 'Something changed since the checklist ran (a repository sync, a config edit). Run apkg update again: it judges the new plan.',
            details: { emerging: event.cpv, total: event.total, judged: atoms.length },
          }),
        );
        return;
      }
      onEvent?.(event);
    },
  });
}

/**
 * emerge's own "(N of M)" progress as `progress` events: the console's live line (a line every few seconds off a
 * terminal), the run's log; every 2 s at least, so that elapsed time moves during a long compile. The time left
 * is emerge.log's past builds of what is left. Nothing in a dry run, where emerge is not run.
 */
function showEmergeProgress(context: Context, task: string, plan: readonly EmergePlanPackage[], history: readonly EmergeLogBuild[], state: () => UpdateProgress | undefined): Progress | undefined {
  if (context.dryRun) return undefined;
  const { clock } = context.deps.system;
  return startProgressEvents(context.logger, {
    task,
    unit: 'packages',
    total: plan.length,
    heartbeatMs: 2000,
    now: () => clock.monotonicMs(),
    eta: () => {
      const progress = state();
      return progress === undefined ? undefined : estimateRemainingSeconds(plan, progress, history) * 1000;
    },
  });
}

const describeCurrent = (progress: UpdateProgress): string | undefined => (progress.current === undefined ? undefined : `${progress.current.cpv}${progress.current.binary ? ' (binary)' : ''}`);

/** 3. libxcrypt, pam, pambase, glibc alone first, from binaries unless --allow-compile, and proven. */
export const criticalFirstPhase: Phase<UpdateDeps> = {
  id: 'critical-first',
  dependsOn: ['pre-snapshot'],
  steps: [
    step('update-critical', 60 * MINUTE, async (context): Promise<CriticalFirstOutput> => {
      const planned = await planUpdate(context);
      const critical = planned.filter((entry) => LOGIN_PATH_PACKAGES.includes(cpOf(entry.cpv)));
      if (critical.length === 0) return { critical: [] };
      const compile = critical.some((entry) => context.deps.options.allowCompile.has(cpOf(entry.cpv)));
      // With --allow-compile this may be a glibc compile: as long as the rest of the update, and shown the same way.
      const history = parseEmergeLog((await context.deps.system.target.readTextIfExists('/var/log/emerge.log')) ?? '').builds;
      const judged = new Set(critical.map((entry) => entry.cpv));
      let progress = startProgress(critical.length);
      using shown = showEmergeProgress(context, 'emerge (login path first)', critical, history, () => progress);
      await emergeJudged(context, critical, [compile ? '--usepkg' : '--usepkgonly', '--getbinpkg'], (event) => {
        progress = applyProgressEvent(progress, event, judged);
        shown?.set(progress.completed.length + progress.failed.length, describeCurrent(progress));
      });
      shown?.finish();
      const verification = await verifyLoginPath(context.deps.system, context.signal);
      if (verification.loginOk === false) {
        throw new ArgoError('ARGO_LOGIN_BROKEN', `After updating ${critical.map((entry) => entry.cpv).join(', ')} the login path fails`, {
          hint: 'The rest of the update is not run; the login path is repaired from the pre-update snapshot.',
          details: { ...verification },
        });
      }
      return { critical: critical.map((entry) => entry.cpv) };
    }),
  ],
};

export interface CriticalFirstOutput {
  readonly critical: readonly string[];
}

/** 4. The update itself: exactly the plan the gate judged, with a progress bar from emerge's own output. */
export const updatePhase: Phase<UpdateDeps> = {
  id: 'update',
  dependsOn: ['critical-first'],
  steps: [
    {
      id: 'emerge-world',
      budgetMs: 24 * 60 * MINUTE,
      attempts: [
        {
          id: 'emerge-world',
          budgetMs: (deps) => deps.options.emergeBudgetMs + 5 * MINUTE,
          async run(context) {
            const { system, record } = context.deps;
            const gate = context.outputOf<GateOutput>('gate/preflight');
            const critical = new Set(context.outputOf<CriticalFirstOutput>('critical-first/update-critical')?.critical ?? []);
            const plan = (await planUpdate(context)).filter((entry) => !critical.has(entry.cpv));
            const planned = new Set(plan.map((entry) => entry.cpv));
            record.progress = startProgress(plan.length);
            if (plan.length === 0) return { planned: 0, merged: 0 };
            const history = parseEmergeLog((await system.target.readTextIfExists('/var/log/emerge.log')) ?? '').builds;
            using shown = showEmergeProgress(context, 'emerge', plan, history, () => record.progress);
            await emergeJudged(context, plan, ['--getbinpkg', ...(gate?.fullyCovered ? ['--usepkgonly'] : [])], (event) => {
              if (record.progress === undefined) return;
              record.progress = applyProgressEvent(record.progress, event, planned);
              shown?.set(record.progress.completed.length + record.progress.failed.length, describeCurrent(record.progress));
            });
            shown?.finish();
            return { planned: plan.length, merged: record.progress.completed.length };
          },
        },
      ],
    },
  ],
};

/**
 * Why the phases that run even after Ctrl-C have nothing to do: the run stopped before the pre-update snapshot
 * (during the gate or while waiting for the swarm), so nothing on the target changed.
 */
function stoppedBeforeChanges(context: Context): string | undefined {
  const pre = context.finishedPhases().find((phase) => phase.id === 'pre-snapshot');
  return pre?.status === 'skipped' ? 'nothing was changed: the run stopped before the pre-update snapshot' : undefined;
}

/** 5. The login path after the update: crypt, PAM modules, a real canary login. Runs even after Ctrl-C. */
export const verifyPhase: Phase<UpdateDeps> = {
  id: 'verify',
  always: true,
  dependsOn: ['pre-snapshot'],
  skip: stoppedBeforeChanges,
  steps: [step('login-path', 5 * MINUTE, async (context): Promise<LoginPathVerification> => verifyLoginPath(context.deps.system, context.signal))],
};

export interface RepairOutput {
  readonly restored: boolean;
  readonly reason?: string;
  /** The restore's own account: the copy kept of the replaced file, and Portage's now stale record of it. */
  readonly restore?: RestoreResult;
  readonly after: LoginPathVerification;
}

/**
 * 6. When the update broke crypt(3) itself: put libcrypt back from the pre-update snapshot and verify again.
 * Only a failing crypt test is a reason to touch libcrypt: a PAM or canary failure with a working crypt is
 * reported, not "repaired" by downgrading a core library.
 */
export const repairPhase: Phase<UpdateDeps> = {
  id: 'repair',
  always: true,
  dependsOn: ['pre-snapshot'],
  skip: (context) => {
    const stopped = stoppedBeforeChanges(context);
    if (stopped !== undefined) return stopped;
    const verification = context.outputOf<LoginPathVerification>('verify/login-path');
    if (verification === undefined) return 'the login path could not be verified';
    if (verification.cryptOk) {
      return verification.loginOk === false
        ? `crypt(3) works, so libcrypt is left as it is; the login fails elsewhere: ${describeVerification(verification)}`
        : 'crypt(3) verifies every hash method in use';
    }
    return undefined;
  },
  steps: [
    step('restore-libcrypt', 10 * MINUTE, async (context): Promise<RepairOutput> => {
      const { system, record } = context.deps;
      const backend = await context.deps.snapshots();
      const pre = record.preSnapshot;
      if (pre === undefined) throw new ArgoError('ARGO_SNAPSHOT_NOT_FOUND', 'There is no pre-update snapshot to repair from');
      const prefixes = hashPrefixesInUse((await system.target.readTextIfExists('/etc/shadow')) ?? '');
      const result = await restoreLibcryptFrom(system, backend.snapshotPath(pre), prefixes, context.signal);
      const after = await verifyLoginPath(system, context.signal);
      if (result.restored && result.portage !== undefined && !result.portage.matches) {
        context.logger.warn({ file: result.file, cpv: result.portage.cpv, reinstall: result.portage.reinstall }, "Portage's record of the restored libcrypt no longer matches the file");
      }
      if (!after.cryptOk || after.loginOk === false) {
        throw new ArgoError('ARGO_LOGIN_BROKEN', 'The login path is still broken after restoring libcrypt from the pre-update snapshot', {
          hint: `Run argo recover now, or apkg rollback --update ${context.deps.options.updateId}.`,
          details: { restored: result.restored, ...after },
        });
      }
      return result.restored ? { restored: true, restore: result, after } : { restored: false, reason: result.reason, after };
    }),
  ],
};

/** 7. The post-update snapshot, always, tagged failed when the update failed. */
export const postSnapshotPhase: Phase<UpdateDeps> = {
  id: 'post-snapshot',
  always: true,
  dependsOn: ['pre-snapshot'],
  skip: stoppedBeforeChanges,
  steps: [
    step('create', 10 * MINUTE, async (context) => {
      const { record, options } = context.deps;
      const failed = context.finishedPhases().some((phase) => phase.status === 'failed' || phase.status === 'timed-out') || context.outputOf('repair/restore-libcrypt') !== undefined;
      const backend = await context.deps.snapshots();
      const snapshot = await backend.create({
        kind: 'post',
        preId: record.preSnapshot,
        description: `apkg update ${options.updateId}${failed ? ' (failed)' : ''}`,
        userdata: { 'argo-update': options.updateId, 'argo-status': failed ? 'failed' : 'ok' },
        cleanup: 'number',
      });
      record.postSnapshot = snapshot.id;
      return { id: snapshot.id, failed };
    }),
  ],
};

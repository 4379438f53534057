import * as path from 'node:path';
import type { CauseSeverity } from '../../core/login-doctor/causes.ts';
import type { JournalEntry } from '../../login-path/change-journal.ts';
import type { RepairStatus } from '../../login-path/repair-login.ts';
import { INTERRUPTED_REASON, type Phase, type PhaseResult } from '../types.ts';
import type { CanaryOutput } from './pam-canary.ts';
import type { LoginRepairOutput } from './login-repair.ts';
import type { ProcessCleanupOutput } from './process-cleanup.ts';
import type { DiagnosticsOutput, RecoveryDeps } from './recovery-deps.ts';
import type { SystemStateOutput } from './system-state.ts';

export type RecoveryOutcome = 'recovered' | 'nothing-to-do' | 'failed';

/** One cause as report.json and the summary give it: what was found, and what became of it. */
export interface ReportCause {
  /** Stable id (src/core/login-doctor/causes.ts, or the libcrypt verdict's `crypt-$6$`, `libxcrypt-extra-econf`, …). */
  readonly id: string;
  readonly severity: CauseSeverity;
  readonly summary: string;
  /** repaired, by-password-reset, not-repaired, left-alone (warnings), or by-phase (libxcrypt rebuild, display manager). */
  readonly status: RepairStatus | 'by-phase' | 'would-repair';
  /** What was done about it, or what to do. */
  readonly note: string;
}

export interface SummaryOutput {
  readonly outcome: RecoveryOutcome;
  readonly login: {
    readonly user: string;
    readonly ok: boolean;
    readonly method: string | undefined;
    /** The checks that passed; nothing else was proven. */
    readonly proof: readonly string[];
    readonly failed?: { readonly step: string; readonly service?: string; readonly reason: string } | undefined;
    readonly warnings: readonly string[];
  };
  readonly causes: readonly ReportCause[];
  /** Every file changed (or, in a dry run, that would be), with its diff: changes.json's entries. */
  readonly changes: readonly JournalEntry[];
  readonly nextSteps: readonly string[];
  readonly dryRun: boolean;
}

const REPAIR_PHASES = ['libxcrypt-rebuild', 'password-reset', 'display-manager'];

export function decideOutcome(phases: readonly PhaseResult[], canaryOk: boolean, processesKilled: number, filesChanged = 0): RecoveryOutcome {
  if (!canaryOk) return 'failed';
  const repaired = phases.some((phase) => REPAIR_PHASES.includes(phase.id) && phase.status === 'succeeded') || processesKilled > 0 || filesChanged > 0;
  return repaired ? 'recovered' : 'nothing-to-do';
}

/** The text of summary.txt: what was done, what failed, what to do next, in plain words. */
export function renderSummary(root: string, phases: readonly PhaseResult[], summary: SummaryOutput, changes: SystemStateOutput['changes'] | undefined): string {
  const lines: string[] = [];
  const { login } = summary;
  const proven = `proven: ${login.proof.join(', ')}; through the target's PAM with ${login.method ?? '?'}`;
  const refused = login.failed === undefined ? '' : ` It was refused at ${login.failed.service === undefined ? login.failed.step : `${login.failed.service} ${login.failed.step}`}: ${login.failed.reason}.`;
  const headline = {
    recovered: `RECOVERED: ${login.user} can log in again (${proven}).`,
    'nothing-to-do': `NOTHING TO DO: ${login.user} can log in (${proven}); nothing needed repair.`,
    failed: summary.dryRun
      ? `DRY RUN for ${login.user}: the causes below and the changes that would repair them; no login was tried.`
      : `FAILED: a login of ${login.user} is not proven${login.proof.length > 0 ? ` (passed only: ${login.proof.join(', ')})` : ''}.${refused} See below and error-bundle.txt.`,
  }[summary.outcome];
  const dryRunNote = summary.dryRun ? 'DRY RUN: nothing was changed; the commands that would run are in main.log (event command.not-run).\n' : '';
  lines.push(dryRunNote + headline, `target: ${root}`, '');
  lines.push('What was found:');
  if (summary.causes.length === 0) lines.push('  nothing wrong');
  for (const cause of summary.causes) lines.push(`  - [${cause.id}] ${cause.summary}`, `      ${cause.status}: ${cause.note}`);
  if (login.warnings.length > 0) lines.push('', 'Warnings from the login proof:', ...login.warnings.map((warning) => `  - ${warning}`));
  lines.push('', 'What was done:');
  for (const phase of phases) {
    const pivots = phase.pivots.filter((pivot) => pivot.outcome !== 'succeeded').map((pivot) => `${pivot.attempt} ${pivot.outcome}`);
    const detail = phase.reason ? `: ${phase.reason}` : phase.error ? `: ${phase.error.message}` : '';
    lines.push(`  ${phase.id.padEnd(18)} ${phase.status}${detail}${pivots.length > 0 ? ` (pivots: ${pivots.join(', ')})` : ''}`);
  }
  if (summary.changes.length > 0) {
    lines.push('', summary.dryRun ? 'Files that would change:' : 'Files changed (each backed up beside it as <file>.argo-<run>):');
    for (const change of summary.changes) {
      lines.push(`  - ${change.path}: ${change.summary}${change.backup === undefined ? '' : ` [backup ${change.backup}]`}`);
      if (change.diff !== undefined) lines.push(...change.diff.trimEnd().split('\n').map((line) => `      ${line}`));
    }
  }
  if (changes && changes.length > 0) {
    lines.push('', 'What changed in the login path:');
    for (const change of changes) lines.push(`  ${change.what}: ${change.before} -> ${change.after}`);
  }
  lines.push('', 'What to do next:');
  for (const step of summary.nextSteps) lines.push(`  - ${step}`);
  lines.push('');
  return lines.join('\n');
}

/** The text of error-bundle.txt: every failure with its error, hint, pivots and the last output lines. */
export function renderErrorBundle(phases: readonly PhaseResult[]): string {
  const failed = phases.filter((phase) => phase.status === 'failed' || phase.status === 'timed-out');
  if (failed.length === 0) return 'No phase failed.\n';
  const lines: string[] = [];
  for (const phase of failed) {
    lines.push(`== ${phase.id}: ${phase.status}`);
    for (const step of phase.steps.filter((candidate) => candidate.status !== 'succeeded' && candidate.status !== 'skipped')) {
      lines.push(`step ${step.id}: ${step.error?.code ?? ''} ${step.error?.message ?? ''}`);
      if (step.error?.hint) lines.push(`hint: ${step.error.hint}`);
      for (const attempt of step.attempts) lines.push(`  attempt ${attempt.attempt}: ${attempt.outcome} after ${attempt.durationMs} ms${attempt.reason ? `: ${attempt.reason}` : ''}`);
      if (step.error?.tail && step.error.tail.length > 0) lines.push('  last output:', ...step.error.tail.map((line) => `    ${line}`));
    }
    lines.push('');
  }
  return lines.join('\n');
}

export interface NextStepsInput {
  readonly outcome: RecoveryOutcome;
  readonly causes: readonly ReportCause[];
  readonly cleanup: ProcessCleanupOutput | undefined;
  readonly isForeignRoot: boolean;
  readonly root: string;
  /** The run's log folder (summary, error bundle, the change record --undo reads). */
  readonly logDir: string;
  readonly undo: string | undefined;
  readonly dryRun: boolean;
  readonly interrupted: boolean;
  readonly via: 'recover' | 'rescue';
}

export function nextStepsFor({ outcome, causes, cleanup, isForeignRoot, root, logDir, undo, dryRun, interrupted, via }: NextStepsInput): string[] {
  const steps: string[] = [];
  const rescue = via === 'rescue';
  // Logs that are not on the root (moved to /tmp/argo: its disk was full or read-only; or --log-dir) stay on
  // the system argo ran on, a live one after a rescue or recover --root, and are gone at its reboot.
  const fromRoot = path.relative(root, logDir);
  const logsOnRoot = fromRoot !== '' && fromRoot !== '..' && !fromRoot.startsWith('../') && !path.isAbsolute(fromRoot);
  for (const cause of causes) if (cause.status === 'not-repaired') steps.push(`${cause.id}: ${cause.note}`);
  for (const service of cleanup?.needRestart ?? []) steps.push(`Restart ${service.comm} (pid ${service.pid}): it still runs on replaced libraries.`);
  if (undo !== undefined) {
    // --undo needs the root where it was, with the same mounts (its change record may be on /var/log's own).
    steps.push(rescue ? `To put every changed file back: mount the root at ${root} again as argo rescue did (its Mounts list), then ${undo}` : `To put every changed file back: ${undo}`);
  }
  if ((rescue || isForeignRoot) && !dryRun && !logsOnRoot) steps.push(`The run's logs${undo === undefined ? '' : ' and its change record'} are in ${logDir}, outside the root: copy them off before you reboot.`);
  if (dryRun) steps.push(rescue ? 'Run again without --pretend to make these changes.' : 'Run again without --dry-run to make these changes.');
  else if (interrupted && rescue) steps.push('The run was interrupted: run argo rescue again; the recovery looks at the root afresh and repairs what is still broken.');
  else if (interrupted) steps.push('The run was interrupted: run argo recover again with the same options and --resume (without --ask or -p) to continue where it stopped.');
  else if (outcome === 'failed' && rescue) steps.push(`Read ${path.join(logDir, 'error-bundle.txt')}${logsOnRoot ? ' (on the root: mount it again to read it)' : ''}, fix what it names, then run argo rescue again.`);
  else if (outcome === 'failed') steps.push('Read error-bundle.txt, fix what it names, then run again with --resume.');
  else if (rescue) steps.push('argo rescue unmounts the root when it is done: reboot into it (remove the boot stick) and log in.');
  else if (isForeignRoot) steps.push('Leave the chroot, unmount the target (umount -R) and reboot into it.');
  else steps.push('Log in on a text console (Ctrl-Alt-F2) to confirm, then start the display manager (rc-service display-manager start).');
  return steps;
}

/** Phase 8: the report for people (summary.txt, error-bundle.txt); report.json is written by the caller. */
export const summaryPhase: Phase<RecoveryDeps> = {
  id: 'summary',
  always: true,
  steps: [
    {
      id: 'write',
      budgetMs: 60_000,
      attempts: [
        {
          id: 'write',
          async run(context): Promise<SummaryOutput> {
            const { logs, options, system } = context.deps;
            const phases = context.finishedPhases();
            const canary = context.outputOf<CanaryOutput>('pam-canary/prove');
            const canaryOk = phases.find((phase) => phase.id === 'pam-canary')?.status === 'succeeded' && canary !== undefined && canary.failed === undefined;
            const cleanup = context.outputOf<ProcessCleanupOutput>('process-cleanup/stop-stuck-processes');
            const changes = context.deps.journal.entries;
            const outcome = decideOutcome(phases, canaryOk, cleanup?.killed.length ?? 0, context.dryRun ? 0 : changes.length);
            const diagnostics = context.outputOf<DiagnosticsOutput>('diagnostics/collect');
            const causes = reportCauses(diagnostics, context.outputOf<LoginRepairOutput>('login-repair/repair-causes'), phases, context.dryRun);
            const runId = path.basename(logs.dir);
            const undo = changes.length === 0 || context.dryRun ? undefined : undoCommand(runId, system.root, logs.dir);
            const summary: SummaryOutput = {
              outcome,
              login: {
                user: options.user,
                ok: canaryOk,
                method: canary?.method,
                proof: canary?.proof ?? [],
                ...(canary?.failed ? { failed: canary.failed } : {}),
                warnings: canary?.warnings ?? [],
              },
              causes,
              changes,
              nextSteps: nextStepsFor({
                outcome,
                causes,
                cleanup,
                isForeignRoot: system.isForeignRoot,
                root: system.root,
                logDir: logs.dir,
                undo,
                dryRun: context.dryRun,
                // Interrupted and something was cut short: an interrupt that came after the repairs cuts nothing.
                interrupted: context.runInterrupted() && phases.some((phase) => (phase.status === 'skipped' && phase.reason === INTERRUPTED_REASON) || phase.error?.code === 'ARGO_INTERRUPTED'),
                via: options.via,
              }),
              dryRun: context.dryRun,
            };
            const stateChanges = context.outputOf<SystemStateOutput>('system-state/collect')?.changes;
            await logs.write('summary', renderSummary(system.root, phases, summary, stateChanges));
            await logs.write('errorBundle', renderErrorBundle(phases));
            return summary;
          },
        },
      ],
    },
  ],
};

/** The libcrypt verdict's causes (repaired by their phases) and the login doctor's (with what the repair did). */
function reportCauses(diagnostics: DiagnosticsOutput | undefined, repair: LoginRepairOutput | undefined, phases: readonly PhaseResult[], dryRun: boolean): ReportCause[] {
  const causes: ReportCause[] = [];
  const rebuild = phases.find((phase) => phase.id === 'libxcrypt-rebuild');
  for (const cause of diagnostics?.verdict.causes ?? []) {
    const byRebuild = cause.id.startsWith('crypt-') || cause.id === 'libcrypt-missing';
    const note = cause.advice ?? (byRebuild ? `libxcrypt-rebuild ${rebuild?.status ?? 'did not run'}` : 'see the phases below');
    causes.push({ id: cause.id, severity: 'blocks', summary: cause.text, status: byRebuild && rebuild?.status === 'succeeded' ? 'by-phase' : cause.advice ? 'not-repaired' : 'by-phase', note });
  }
  for (const [index, cause] of (diagnostics?.loginCauses ?? []).entries()) {
    const outcome = repair?.outcomes.find((candidate) => candidate.index === index && candidate.cause === cause.id);
    const status = outcome?.status ?? (cause.severity === 'blocks' ? 'not-repaired' : 'left-alone');
    causes.push({
      id: cause.id,
      severity: cause.severity,
      summary: cause.summary,
      status: dryRun && status === 'repaired' ? 'would-repair' : status,
      note: outcome?.note ?? cause.repair,
    });
  }
  return causes;
}

/** The command that undoes this run; --log-dir when its logs are not where undo looks first (the target's /var/log/argo). */
export function undoCommand(runId: string, root: string, logDir: string): string {
  const base = path.dirname(logDir);
  const inTarget = base === path.join(root, 'var/log/argo');
  return `argo recover --undo ${runId}${root === '/' ? '' : ` --root ${root}`}${inTarget ? '' : ` --log-dir ${base}`}`;
}

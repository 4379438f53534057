import type { Cause } from '../../core/recovery/verdict.ts';
import type { PhaseResult } from '../types.ts';
import type { Phase } from '../types.ts';
import type { CanaryOutput } from './pam-canary.ts';
import type { ProcessCleanupOutput } from './process-cleanup.ts';
import type { DiagnosticsOutput, RecoveryDeps } from './recovery-deps.ts';
import type { SystemStateOutput } from './system-state.ts';

export type RecoveryOutcome = 'recovered' | 'nothing-to-do' | 'failed';

export interface SummaryOutput {
  readonly outcome: RecoveryOutcome;
  readonly login: { readonly user: string; readonly ok: boolean; readonly method: string | undefined };
  readonly causes: readonly Cause[];
  readonly nextSteps: readonly string[];
  readonly dryRun: boolean;
}

const REPAIR_PHASES = ['libxcrypt-rebuild', 'password-reset', 'display-manager'];

export function decideOutcome(phases: readonly PhaseResult[], canaryOk: boolean, processesKilled: number): RecoveryOutcome {
  if (!canaryOk) return 'failed';
  const repaired = phases.some((phase) => REPAIR_PHASES.includes(phase.id) && phase.status === 'succeeded') || processesKilled > 0;
  return repaired ? 'recovered' : 'nothing-to-do';
}

/** The text of summary.txt: what was done, what failed, what to do next, in plain words. */
export function renderSummary(root: string, phases: readonly PhaseResult[], summary: SummaryOutput, changes: SystemStateOutput['changes'] | undefined): string {
  const lines: string[] = [];
  const headline = {
    recovered: `RECOVERED: ${summary.login.user} can log in again (proven with ${summary.login.method ?? '?'}).`,
    'nothing-to-do': `NOTHING TO DO: ${summary.login.user} can log in (proven with ${summary.login.method ?? '?'}); nothing needed repair.`,
    failed: `FAILED: a login of ${summary.login.user} could not be proven. See below and error-bundle.txt.`,
  }[summary.outcome];
  const dryRunNote = summary.dryRun ? 'DRY RUN: nothing was changed; the commands that would run are in main.log (event command.not-run).\n' : '';
  lines.push(dryRunNote + headline, `target: ${root}`, '');
  lines.push('What was found:');
  if (summary.causes.length === 0) lines.push('  nothing wrong');
  for (const cause of summary.causes) lines.push(`  - ${cause.text}`);
  lines.push('', 'What was done:');
  for (const phase of phases) {
    const pivots = phase.pivots.filter((pivot) => pivot.outcome !== 'succeeded').map((pivot) => `${pivot.attempt} ${pivot.outcome}`);
    const detail = phase.reason ? `: ${phase.reason}` : phase.error ? `: ${phase.error.message}` : '';
    lines.push(`  ${phase.id.padEnd(18)} ${phase.status}${detail}${pivots.length > 0 ? ` (pivots: ${pivots.join(', ')})` : ''}`);
  }
  if (changes && changes.length > 0) {
    lines.push('', 'What changed:');
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

function nextStepsFor(outcome: RecoveryOutcome, causes: readonly Cause[], cleanup: ProcessCleanupOutput | undefined, isForeignRoot: boolean): string[] {
  const steps: string[] = [];
  for (const cause of causes) if (cause.advice) steps.push(cause.advice);
  for (const service of cleanup?.needRestart ?? []) steps.push(`Restart ${service.comm} (pid ${service.pid}): it still runs on replaced libraries.`);
  if (outcome === 'failed') steps.push('Read error-bundle.txt, fix what it names, then run again with --resume.');
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
            const canary = context.outputOf<CanaryOutput>('pam-canary/authenticate');
            const canaryOk = phases.find((phase) => phase.id === 'pam-canary')?.status === 'succeeded' && canary !== undefined;
            const cleanup = context.outputOf<ProcessCleanupOutput>('process-cleanup/stop-stuck-processes');
            const outcome = decideOutcome(phases, canaryOk, cleanup?.killed.length ?? 0);
            const causes = context.outputOf<DiagnosticsOutput>('diagnostics/collect')?.verdict.causes ?? [];
            const summary: SummaryOutput = {
              outcome,
              login: { user: options.user, ok: canaryOk, method: canaryOk ? canary?.method : undefined },
              causes,
              nextSteps: nextStepsFor(outcome, causes, cleanup, system.isForeignRoot),
              dryRun: context.dryRun,
            };
            const changes = context.outputOf<SystemStateOutput>('system-state/collect')?.changes;
            await logs.write('summary', renderSummary(system.root, phases, summary, changes));
            await logs.write('errorBundle', renderErrorBundle(phases));
            return summary;
          },
        },
      ],
    },
  ],
};

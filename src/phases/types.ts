import type { Logger } from 'pino';

export type StepStatus = 'succeeded' | 'failed' | 'skipped' | 'timed-out';
export type PhaseStatus = StepStatus;
export type AttemptOutcome = 'succeeded' | 'failed' | 'timed-out' | 'interrupted';

/** What every attempt of a step receives. `deps` is the caller's own context (the System, options…). */
export interface StepContext<D> {
  readonly deps: D;
  /** User interrupt ∧ this attempt's own budget. Pass it to every command. */
  readonly signal: AbortSignal;
  /** A child logger bound to phase, step and attempt. */
  readonly logger: Logger;
  readonly dryRun: boolean;
  readonly phaseId: string;
  readonly stepId: string;
  readonly attemptId: string;
  /** The output of an earlier step (`phase/step`), also when it succeeded in the run being resumed. */
  outputOf<T>(qualifiedStepId: string): T | undefined;
  /** Results of the phases that have finished so far (for a summary phase). */
  finishedPhases(): readonly PhaseResult[];
  /** True once the user interrupted the run, also inside a phase marked always (whose `signal` is its own). */
  runInterrupted(): boolean;
  /**
   * Records a fallback taken inside a step that is not one of its attempts (e.g. "process 4711 could not be
   * killed, leaving it"): logged as a pivot and listed in the phase's pivots.
   */
  notePivot(pivot: { attempt: string; outcome: AttemptOutcome; reason: string; next: string }): void;
}

export interface Attempt<D> {
  /** Stable id, written to logs and reports (`binary-package`, `source-build`). */
  readonly id: string;
  /** Defaults to the step's budget; a function when the budget is an option of the run. */
  readonly budgetMs?: number | ((deps: D) => number);
  /** Resolves to the step's output (JSON-serialisable: it goes into the state file) or throws. */
  run(context: StepContext<D>): Promise<unknown>;
}

export interface Step<D> {
  /** Stable id: written to the state file and the logs, so renaming one is a breaking change. */
  readonly id: string;
  readonly budgetMs: number;
  /** Returns a reason to skip the step, or undefined to run it. */
  readonly skip?: (context: StepContext<D>) => string | undefined | Promise<string | undefined>;
  /** The attempts in order: the first is the plan, the rest are pivots tried when the one before fails. */
  readonly attempts: readonly Attempt<D>[];
}

export interface Phase<D> {
  readonly id: string;
  readonly steps: readonly Step<D>[];
  /** Phases that must not have failed for this one to run. Without it a failure does not stop this phase. */
  readonly dependsOn?: readonly string[];
  /** Returns a reason to skip the whole phase (e.g. "not needed: libcrypt verifies $6$"). */
  readonly skip?: (context: StepContext<D>) => string | undefined | Promise<string | undefined>;
  /**
   * Runs even after an interrupt (a report, a post-update snapshot), with only its own budgets; on --resume it
   * runs again rather than being skipped as done.
   */
  readonly always?: boolean;
}

export interface ErrorSummary {
  readonly code: string;
  readonly message: string;
  readonly hint?: string | undefined;
  /** The last output lines of the command that failed, when the error came from one. */
  readonly tail?: readonly string[] | undefined;
}

export interface AttemptRecord {
  readonly attempt: string;
  readonly outcome: AttemptOutcome;
  readonly durationMs: number;
  readonly reason?: string | undefined;
}

export interface StepResult {
  readonly id: string;
  readonly status: StepStatus;
  readonly durationMs: number;
  readonly attempts: readonly AttemptRecord[];
  readonly reason?: string | undefined;
  readonly error?: ErrorSummary | undefined;
  /** True when the step had succeeded in the run being resumed and was not run again. */
  readonly resumed?: boolean;
}

export interface PivotRecord {
  readonly step: string;
  readonly attempt: string;
  readonly outcome: AttemptOutcome;
  readonly reason?: string | undefined;
}

export interface PhaseResult {
  readonly id: string;
  readonly status: PhaseStatus;
  readonly durationMs: number;
  readonly steps: readonly StepResult[];
  /** Every attempt of every step that needed more than one. */
  readonly pivots: readonly PivotRecord[];
  readonly reason?: string | undefined;
  /** Set when the phase was skipped because a phase it depends on failed. */
  readonly blockedBy?: string | undefined;
  readonly error?: ErrorSummary | undefined;
}

export interface RunResult {
  readonly runId: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly interrupted: boolean;
  readonly resumed: boolean;
  readonly phases: readonly PhaseResult[];
  /** Outputs of the steps that succeeded (`phase/step` → output), this run's and the resumed run's. */
  readonly outputs: ReadonlyMap<string, unknown>;
}

/** Why a phase was skipped when the run was interrupted before it (the summary tells an interrupted run by it). */
export const INTERRUPTED_REASON = 'the run was interrupted';

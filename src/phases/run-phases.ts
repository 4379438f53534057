import pTimeout from 'p-timeout';
import type { Logger } from 'pino';
import { spendableMs } from '../core/budget.ts';
import { ArgoError, isArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import type { Clock } from '../system/clock.ts';
import { RunStateSchema, type RunState, type StateStore } from './state.ts';
import {
  INTERRUPTED_REASON,
  type AttemptOutcome,
  type AttemptRecord,
  type ErrorSummary,
  type Phase,
  type PhaseResult,
  type PhaseStatus,
  type PivotRecord,
  type RunResult,
  type Step,
  type StepContext,
  type StepResult,
} from './types.ts';

export interface RunPhasesOptions<D> {
  readonly runId: string;
  readonly phases: readonly Phase<D>[];
  readonly deps: D;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The user's interrupt (Ctrl-C, SIGTERM). */
  readonly signal: AbortSignal;
  readonly root: string;
  readonly dryRun?: boolean;
  /** Where progress is saved after every step; without it the run cannot be resumed. */
  readonly stateStore?: StateStore;
  /** Skip the steps that succeeded in the run saved in `stateStore`. */
  readonly resume?: boolean;
  /** Identity of this run's inputs; resuming a state file written for other inputs is refused. */
  readonly runKey?: string;
  /**
   * How long to wait for an attempt to wind down after its signal was aborted (its commands are being
   * killed) before the runner moves on without it. Default 15 s.
   */
  readonly settleMs?: number;
  /**
   * Told what runs now and what is left, at every phase and step start: a read-only view for the person at
   * the console (the CLI prints it on a second Ctrl-C). Never changes the run.
   */
  readonly onProgress?: (progress: RunProgress) => void;
}

/** What the runner is doing: the phase and step running now, and the phases still to run after it. */
export interface RunProgress {
  readonly phase: string;
  readonly step: string | undefined;
  /** Phases after the current one that will still run (after an interrupt: only those marked always). */
  readonly remaining: readonly string[];
}

const DEFAULT_SETTLE_MS = 15_000;

/**
 * Runs phases of steps in order. Every step gets a budget and a signal; a step's attempts are tried in
 * order, each failure logged as a pivot; progress is saved after every step so that --resume can skip
 * what succeeded. A failing phase stops only the phases that declare they depend on it.
 */
export async function runPhases<D>(options: RunPhasesOptions<D>): Promise<RunResult> {
  const { clock, logger } = options;
  const started = clock.monotonicMs();
  const dryRun = options.dryRun ?? false;
  const runKey = options.runKey ?? '';
  const previous = options.resume ? await loadState(options.stateStore, runKey) : undefined;
  const state: RunState = previous ?? {
    version: 1,
    runId: options.runId,
    runKey,
    startedAt: clock.now().toISOString(),
    updatedAt: clock.now().toISOString(),
    steps: {},
  };
  const runId = state.runId;
  const outputs = new Map<string, unknown>(Object.entries(state.steps).map(([id, step]) => [id, step.output]));
  logEvent(logger, 'run.started', { runId, root: options.root, dryRun, resumed: previous !== undefined });

  const results: PhaseResult[] = [];
  let interrupted = false;
  for (const phase of options.phases) {
    interrupted ||= options.signal.aborted;
    const blockedBy = findBlocker(phase, results);
    if (interrupted && !phase.always) {
      results.push(skippedPhase(phase, INTERRUPTED_REASON, logger));
      continue;
    }
    if (blockedBy !== undefined) {
      const result = skippedPhase(phase, `it depends on ${blockedBy}, which did not succeed`, logger);
      results.push({ ...result, blockedBy });
      continue;
    }
    const signal = phase.always ? new AbortController().signal : options.signal;
    const later = options.phases.slice(options.phases.indexOf(phase) + 1);
    // Read when reported: an interrupt during this phase leaves only the phases marked always.
    const remaining = (): string[] => later.filter((next) => next.always === true || !options.signal.aborted).map((next) => next.id);
    results.push(await runPhase(phase, { ...options, signal, runSignal: options.signal, dryRun, outputs, runState: state, runId, finished: results, remaining }));
  }

  interrupted ||= options.signal.aborted;
  const durationMs = Math.round(clock.monotonicMs() - started);
  if (interrupted) logEvent(logger, 'run.interrupted', { runId, signal: describeReason(options.signal.reason) });
  const failed = results.some((phase) => phase.status === 'failed' || phase.status === 'timed-out');
  logEvent(logger, 'run.finished', { runId, status: interrupted ? 'interrupted' : failed ? 'failed' : 'succeeded', durationMs });
  return { runId, startedAt: state.startedAt, durationMs, interrupted, resumed: previous !== undefined, phases: results, outputs };
}

interface PhaseRun<D> extends RunPhasesOptions<D> {
  /** The run's own signal (the user's interrupt); `signal` is a fresh one in a phase marked always. */
  readonly runSignal: AbortSignal;
  readonly dryRun: boolean;
  readonly outputs: Map<string, unknown>;
  readonly runState: RunState;
  readonly runId: string;
  readonly finished: readonly PhaseResult[];
  /** Pivots noted by steps of the current phase (StepContext.notePivot). */
  readonly noted?: PivotRecord[];
  /** The phases still to run after this one (for onProgress). */
  readonly remaining: () => readonly string[];
}

async function loadState(store: StateStore | undefined, runKey: string): Promise<RunState | undefined> {
  if (store === undefined) {
    throw new ArgoError('ARGO_STATE_FILE_INVALID', 'Nothing to resume: this run keeps no state file', {
      hint: 'Run without --resume.',
    });
  }
  let raw: unknown;
  try {
    raw = await store.load();
  } catch (error) {
    throw new ArgoError('ARGO_STATE_FILE_INVALID', `The state file ${store.path} cannot be read`, {
      cause: error,
      hint: 'Run without --resume to start over; the state file is rewritten.',
      details: { path: store.path },
    });
  }
  if (raw === undefined) return undefined;
  const parsed = RunStateSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ArgoError('ARGO_STATE_FILE_INVALID', `The state file ${store.path} is not a state file of this version`, {
      hint: 'Run without --resume to start over.',
      details: { path: store.path, issues: parsed.error.issues.slice(0, 5).map((issue) => issue.message) },
    });
  }
  if (parsed.data.runKey !== runKey) {
    throw new ArgoError('ARGO_STATE_FILE_INVALID', `The state file ${store.path} belongs to a run with other inputs`, {
      hint: 'Resume with the same --root, user and options as the interrupted run, or run without --resume.',
      details: { path: store.path },
    });
  }
  return parsed.data;
}

function findBlocker<D>(phase: Phase<D>, done: readonly PhaseResult[]): string | undefined {
  for (const dependency of phase.dependsOn ?? []) {
    const result = done.find((candidate) => candidate.id === dependency);
    if (result === undefined) continue;
    if (result.status === 'failed' || result.status === 'timed-out' || result.blockedBy !== undefined) return dependency;
  }
  return undefined;
}

function skippedPhase<D>(phase: Phase<D>, reason: string, logger: Logger): PhaseResult {
  logEvent(logger, 'phase.skipped', { phase: phase.id, reason });
  return { id: phase.id, status: 'skipped', durationMs: 0, steps: [], pivots: [], reason };
}

async function runPhase<D>(phase: Phase<D>, outer: PhaseRun<D>): Promise<PhaseResult> {
  const noted: PivotRecord[] = [];
  const run: PhaseRun<D> = { ...outer, noted };
  const started = run.clock.monotonicMs();
  const logger = run.logger.child({ phase: phase.id });
  if (phase.skip) {
    const reason = await phase.skip(makeContext(run, logger, phase.id, '', '', run.signal));
    if (reason !== undefined) return skippedPhase(phase, reason, run.logger);
  }
  logEvent(run.logger, 'phase.started', { phase: phase.id });
  run.onProgress?.({ phase: phase.id, step: undefined, remaining: run.remaining() });
  const steps: StepResult[] = [];
  let stopped: string | undefined;
  for (const step of phase.steps) {
    if (stopped !== undefined) {
      steps.push({ id: step.id, status: 'skipped', durationMs: 0, attempts: [], reason: stopped });
      logEvent(run.logger, 'step.skipped', { phase: phase.id, step: step.id, reason: stopped });
      continue;
    }
    run.onProgress?.({ phase: phase.id, step: step.id, remaining: run.remaining() });
    const result = await runStep(phase, step, run, logger);
    steps.push(result);
    if (result.status === 'failed' || result.status === 'timed-out') stopped = `step ${step.id} did not succeed`;
  }
  const status = phaseStatus(steps);
  const durationMs = Math.round(run.clock.monotonicMs() - started);
  logEvent(run.logger, 'phase.finished', { phase: phase.id, status, durationMs });
  const pivots: PivotRecord[] = [
    ...steps.flatMap((step) =>
      step.attempts.length > 1
        ? step.attempts.map((attempt) => ({ step: step.id, attempt: attempt.attempt, outcome: attempt.outcome, reason: attempt.reason }))
        : [],
    ),
    ...noted,
  ];
  const failedStep = steps.find((step) => step.error !== undefined && step.status !== 'succeeded');
  return { id: phase.id, status, durationMs, steps, pivots, error: failedStep?.error };
}

function phaseStatus(steps: readonly StepResult[]): PhaseStatus {
  if (steps.some((step) => step.status === 'failed')) return 'failed';
  if (steps.some((step) => step.status === 'timed-out')) return 'timed-out';
  if (steps.length > 0 && steps.every((step) => step.status === 'skipped')) return 'skipped';
  return 'succeeded';
}

async function runStep<D>(phase: Phase<D>, step: Step<D>, run: PhaseRun<D>, phaseLogger: Logger): Promise<StepResult> {
  const qualified = `${phase.id}/${step.id}`;
  const saved = run.runState.steps[qualified];
  // Phases marked always (an after-picture, a report) describe this run, so they run again on resume.
  if (saved !== undefined && !phase.always) {
    logEvent(run.logger, 'step.already-done', { phase: phase.id, step: step.id, finishedAt: saved.finishedAt });
    return { id: step.id, status: 'succeeded', durationMs: 0, attempts: [], resumed: true };
  }
  const started = run.clock.monotonicMs();
  const stepLogger = phaseLogger.child({ step: step.id });
  if (step.skip) {
    const reason = await step.skip(makeContext(run, stepLogger, phase.id, step.id, '', run.signal));
    if (reason !== undefined) {
      logEvent(run.logger, 'step.skipped', { phase: phase.id, step: step.id, reason });
      return { id: step.id, status: 'skipped', durationMs: 0, attempts: [], reason };
    }
  }

  const attempts: AttemptRecord[] = [];
  let lastError: ErrorSummary | undefined;
  let lastOutcome: AttemptOutcome = 'failed';
  for (const [index, attempt] of step.attempts.entries()) {
    const budgetMs = typeof attempt.budgetMs === 'function' ? attempt.budgetMs(run.deps) : (attempt.budgetMs ?? step.budgetMs);
    const attemptStarted = run.clock.monotonicMs();
    logEvent(run.logger, 'step.started', { phase: phase.id, step: step.id, attempt: attempt.id, budgetMs });
    const outcome = await runAttempt(attempt, budgetMs, run, makeContextFactory(run, stepLogger.child({ attempt: attempt.id }), phase.id, step.id, attempt.id));
    const durationMs = Math.round(run.clock.monotonicMs() - attemptStarted);
    const fields = { phase: phase.id, step: step.id, attempt: attempt.id, durationMs };

    if (outcome.kind === 'succeeded') {
      attempts.push({ attempt: attempt.id, outcome: 'succeeded', durationMs });
      logEvent(run.logger, 'step.succeeded', fields);
      run.outputs.set(qualified, outcome.output);
      await saveStep(run, qualified, attempt.id, outcome.output);
      return { id: step.id, status: 'succeeded', durationMs: Math.round(run.clock.monotonicMs() - started), attempts };
    }

    lastError = summarise(outcome.error);
    lastOutcome = outcome.kind;
    attempts.push({ attempt: attempt.id, outcome: outcome.kind, durationMs, reason: lastError.message });
    if (outcome.kind === 'timed-out') logEvent(run.logger, 'step.timed-out', { ...fields, budgetMs });
    else logEvent(run.logger, 'step.failed', { ...fields, code: lastError.code, reason: lastError.message }, { err: outcome.error });
    if (outcome.kind === 'interrupted') break;

    const next = step.attempts[index + 1];
    if (next !== undefined) {
      logEvent(run.logger, 'pivot', {
        phase: phase.id,
        step: step.id,
        attempt: attempt.id,
        outcome: outcome.kind,
        reason: lastError.message,
        next: next.id,
      });
    }
  }
  const status = lastOutcome === 'timed-out' ? 'timed-out' : 'failed';
  return { id: step.id, status, durationMs: Math.round(run.clock.monotonicMs() - started), attempts, error: lastError };
}

type AttemptOutcomeResult =
  | { readonly kind: 'succeeded'; readonly output: unknown }
  | { readonly kind: 'failed' | 'timed-out' | 'interrupted'; readonly error: unknown };

/**
 * Runs one attempt under `signal = interrupt ∧ budget`. When the budget runs out the signal is aborted,
 * which kills the attempt's commands; the runner then waits a bounded time for the attempt to wind down
 * and moves on even if it never does, so a step that ignores its signal cannot hang the run.
 */
async function runAttempt<D>(
  attempt: Step<D>['attempts'][number],
  budgetMs: number,
  run: PhaseRun<D>,
  contextFor: (signal: AbortSignal) => StepContext<D>,
): Promise<AttemptOutcomeResult> {
  if (run.signal.aborted) return { kind: 'interrupted', error: run.signal.reason };
  const budget = new AbortController();
  const signal = AbortSignal.any([run.signal, budget.signal]);
  const work = attempt.run(contextFor(signal)).then(
    (output) => ({ ok: true as const, output }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const inTime = await pTimeout(work, {
    milliseconds: spendableMs(budgetMs),
    signal: run.signal,
    fallback: () => {
      budget.abort(new ArgoError('ARGO_STEP_TIMED_OUT', `ran past its budget of ${budgetMs} ms`, { details: { budgetMs } }));
      return 'stopped' as const;
    },
  }).catch((error: unknown) => {
    if (run.signal.aborted) return 'stopped' as const;
    throw error;
  });
  // Stopped by the budget or an interrupt: its commands are being killed; give it settleMs to wind down.
  const settled = inTime !== 'stopped' ? inTime : await pTimeout(work, { milliseconds: run.settleMs ?? DEFAULT_SETTLE_MS, fallback: () => 'abandoned' as const });
  if (budget.signal.aborted) return { kind: 'timed-out', error: budget.signal.reason };
  if (run.signal.aborted) return { kind: 'interrupted', error: run.signal.reason };
  if (settled === 'abandoned') return { kind: 'failed', error: new Error('attempt did not settle') };
  if (settled.ok) return { kind: 'succeeded', output: settled.output };
  return { kind: 'failed', error: settled.error };
}

function makeContextFactory<D>(run: PhaseRun<D>, logger: Logger, phaseId: string, stepId: string, attemptId: string) {
  return (signal: AbortSignal): StepContext<D> => makeContext(run, logger, phaseId, stepId, attemptId, signal);
}

function makeContext<D>(
  run: PhaseRun<D>,
  logger: Logger,
  phaseId: string,
  stepId: string,
  attemptId: string,
  signal: AbortSignal,
): StepContext<D> {
  return {
    deps: run.deps,
    signal,
    logger,
    dryRun: run.dryRun,
    phaseId,
    stepId,
    attemptId,
    outputOf: <T>(qualifiedStepId: string) => run.outputs.get(qualifiedStepId) as T | undefined,
    finishedPhases: () => [...run.finished],
    runInterrupted: () => run.runSignal.aborted,
    notePivot: (pivot) => {
      logEvent(run.logger, 'pivot', { phase: phaseId, step: stepId, ...pivot });
      run.noted?.push({ step: stepId, attempt: pivot.attempt, outcome: pivot.outcome, reason: pivot.reason });
    },
  };
}

async function saveStep<D>(run: PhaseRun<D>, qualified: string, attempt: string, output: unknown): Promise<void> {
  const now = run.clock.now().toISOString();
  run.runState.steps[qualified] = { status: 'succeeded', attempt, finishedAt: now, output };
  run.runState.updatedAt = now;
  if (run.dryRun || run.stateStore === undefined) return;
  await run.stateStore.save(run.runState);
  logEvent(run.logger, 'state.saved', { path: run.stateStore.path, steps: Object.keys(run.runState.steps).length });
}

function summarise(error: unknown): ErrorSummary {
  if (isArgoError(error)) {
    const cause = error.cause;
    const tail = error.details['tail'] ?? (isArgoError(cause) ? cause.details['tail'] : undefined);
    return { code: error.code, message: error.message, hint: error.hint, tail: Array.isArray(tail) ? (tail as string[]) : undefined };
  }
  if (error instanceof Error) return { code: 'ARGO_STEP_FAILED', message: error.message };
  return { code: 'ARGO_STEP_FAILED', message: String(error) };
}

function describeReason(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

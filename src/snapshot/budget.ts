import { ArgoError } from '../core/errors.ts';

export interface Budget {
  /** The caller's signal (Ctrl-C) combined with the budget; pass it to everything the command runs. */
  readonly signal: AbortSignal;
  /** Stops the budget's timer. Idempotent; call it in finally. */
  dispose(): void;
}

/**
 * A time budget for one snapshot command or rollback: when it runs out the signal aborts with
 * ARGO_SNAPSHOT_TIMED_OUT, which kills the process group of whatever command runs at that moment.
 */
export function startBudget(signal: AbortSignal, budgetMs: number, what: string): Budget {
  const budget = new AbortController();
  const timer = setTimeout(() => {
    budget.abort(
      new ArgoError('ARGO_SNAPSHOT_TIMED_OUT', `${what} ran past its budget of ${Math.round(budgetMs / 1000)} s`, {
        hint: 'Give it more time with --budget SECONDS; a restore that was cut off can be run again.',
        details: { budgetMs },
      }),
    );
  }, budgetMs);
  timer.unref();
  return { signal: AbortSignal.any([signal, budget.signal]), dispose: () => clearTimeout(timer) };
}

import pTimeout from 'p-timeout';
import { spendableMs } from '../core/budget.ts';
import { ArgoError, isArgoError } from '../core/errors.ts';
import { formatDuration } from '../logging/console-renderer.ts';
import type { Check, CheckContext, CheckOutcome, CheckResult, PreflightReport } from './types.ts';

/**
 * Runs the checks concurrently, each under its own budget: a check that times out or throws becomes `fail`
 * with the reason, and the others still run. The verdict is no-go when any check fails.
 */
export async function runPreflight(checks: readonly Check[], context: Omit<CheckContext, 'signal'> & { signal: AbortSignal }): Promise<PreflightReport> {
  const results = await Promise.all(checks.map((check) => runCheck(check, context)));
  return {
    verdict: results.some((result) => result.status === 'fail') ? 'no-go' : 'go',
    root: context.system.root,
    checks: results,
  };
}

async function runCheck(check: Check, context: CheckContext): Promise<CheckResult> {
  const started = context.system.clock.monotonicMs();
  // The budget aborts the check's own signal (which kills its commands), then gives up waiting for it: a check
  // that ignores its signal still ends on time. An interrupt does the same through p-timeout's `signal`.
  const budget = new AbortController();
  const signal = AbortSignal.any([context.signal, budget.signal]);
  let outcome: CheckOutcome;
  try {
    outcome = await pTimeout(check.run({ ...context, signal }), {
      milliseconds: spendableMs(check.budgetMs),
      signal: context.signal,
      fallback: () => {
        budget.abort(new ArgoError('ARGO_STEP_TIMED_OUT', `check ${check.id} ran past its budget of ${check.budgetMs} ms`));
        throw budget.signal.reason;
      },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    outcome = {
      status: 'fail',
      summary: budget.signal.aborted ? `could not finish within ${formatDuration(check.budgetMs)}` : `could not be checked: ${message}`,
      details: { error: isArgoError(error) ? { code: error.code, message: error.message, hint: error.hint } : { message } },
      advice: isArgoError(error) ? error.hint : 'This is a bug in the check; the log has the stack.',
    };
  }
  return { id: check.id, ...outcome, durationMs: Math.round(context.system.clock.monotonicMs() - started) };
}

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
  const budget = new AbortController();
  const timer = setTimeout(() => budget.abort(new ArgoError('ARGO_STEP_TIMED_OUT', `check ${check.id} ran past its budget of ${check.budgetMs} ms`)), check.budgetMs);
  const signal = AbortSignal.any([context.signal, budget.signal]);
  let outcome: CheckOutcome;
  try {
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
    outcome = await Promise.race([check.run({ ...context, signal }), aborted]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    outcome = {
      status: 'fail',
      summary: budget.signal.aborted ? `could not finish within ${formatDuration(check.budgetMs)}` : `could not be checked: ${message}`,
      details: { error: isArgoError(error) ? { code: error.code, message: error.message, hint: error.hint } : { message } },
      advice: isArgoError(error) ? error.hint : 'This is a bug in the check; the log has the stack.',
    };
  } finally {
    clearTimeout(timer);
  }
  return { id: check.id, ...outcome, durationMs: Math.round(context.system.clock.monotonicMs() - started) };
}

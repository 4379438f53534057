import { describe, expect, it } from 'vitest';
import { breakerPhase, CLOSED_BREAKER, recordOutcome, type BreakerState } from './drone-breaker.ts';

const settings = { failures: 5, cooldownMs: 300_000, fastFailureMs: 30_000, fastFailures: 3 };
const fail = (seconds: number) => ({ ok: false, seconds, cpv: 'dev-libs/foo-1' });

function run(outcomes: readonly { ok: boolean; seconds: number; cpv: string }[], start: BreakerState = CLOSED_BREAKER, now = 1_000) {
  let state = start;
  const decisions = outcomes.map((outcome) => {
    const decision = recordOutcome(state, outcome, settings, now);
    state = decision.state;
    return decision;
  });
  return { state, decisions };
}

describe('the drone circuit breaker', () => {
  it('grounds after five slow failures in a row, for the cooldown, and names why', () => {
    const { state, decisions } = run([fail(600), fail(600), fail(600), fail(600), fail(600)]);
    expect(decisions.map((decision) => decision.grounded)).toEqual([false, false, false, false, true]);
    expect(state).toMatchObject({ groundedSince: 1_000, groundedUntil: 301_000, reason: '5 builds in a row failed (last: dev-libs/foo-1)' });
    expect(breakerPhase(state, 300_999)).toBe('grounded');
    expect(breakerPhase(state, 301_000)).toBe('probe');
  });

  it('grounds sooner when failures come fast', () => {
    const { decisions, state } = run([fail(2), fail(3), fail(1)]);
    expect(decisions.map((decision) => decision.grounded)).toEqual([false, false, true]);
    expect(state.reason).toMatch(/^3 builds in a row failed in under 30 s/);
  });

  it('a success in between resets the count; a slow failure resets the fast count', () => {
    expect(run([fail(600), fail(600), fail(600), fail(600), { ok: true, seconds: 60, cpv: 'a/b-1' }, fail(600)]).state.consecutive).toBe(1);
    expect(run([fail(1), fail(1), fail(600), fail(1)]).decisions.some((decision) => decision.grounded)).toBe(false);
  });

  it('after the cooldown one probe: success closes it, failure grounds it again and asks for a restart', () => {
    const grounded = run([fail(600), fail(600), fail(600), fail(600), fail(600)]).state;
    const afterCooldown = 400_000;
    const failedProbe = recordOutcome(grounded, fail(600), settings, afterCooldown);
    expect(failedProbe).toMatchObject({ grounded: true, restart: true, state: { regrounded: 1, groundedUntil: afterCooldown + 300_000 } });
    expect(failedProbe.state.reason).toMatch(/probe build/);
    expect(recordOutcome(grounded, { ok: true, seconds: 60, cpv: 'a/b-1' }, settings, afterCooldown).state).toEqual(CLOSED_BREAKER);
  });
});

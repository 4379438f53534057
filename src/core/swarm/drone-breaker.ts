/**
 * The circuit breaker of one drone. `failures` consecutive package failures ground it for `cooldownMs`;
 * `fastFailures` consecutive ones that each took less than `fastFailureMs` ground it sooner (a drone that
 * fails everything in seconds is broken, not unlucky). After the cooldown it gets one probe build: success
 * closes the breaker, failure grounds it again and asks for its restart command. Infrastructure failures
 * (a stall, a lost lease, an upload error) are not the drone's builds failing and do not count.
 */

export interface BreakerSettings {
  /** Consecutive failures that ground a drone. */
  readonly failures: number;
  readonly cooldownMs: number;
  /** A failure shorter than this counts as fast. */
  readonly fastFailureMs: number;
  /** This many consecutive fast failures ground a drone sooner than `failures`. */
  readonly fastFailures: number;
}

export interface BreakerState {
  readonly consecutive: number;
  readonly fastConsecutive: number;
  /** Epoch ms; set while grounded (and after, until the probe ends). */
  readonly groundedUntil?: number;
  readonly groundedSince?: number;
  readonly reason?: string;
  /** Times it was grounded again after a failed probe. */
  readonly regrounded: number;
}

export type BreakerPhase = 'closed' | 'grounded' | 'probe';

export const CLOSED_BREAKER: BreakerState = { consecutive: 0, fastConsecutive: 0, regrounded: 0 };

export function breakerPhase(state: BreakerState, now: number): BreakerPhase {
  if (state.groundedUntil === undefined) return 'closed';
  return now < state.groundedUntil ? 'grounded' : 'probe';
}

export interface BuildOutcome {
  readonly ok: boolean;
  /** How long the build ran before it ended. */
  readonly seconds: number;
  readonly cpv: string;
}

export interface BreakerDecision {
  readonly state: BreakerState;
  /** It was grounded by this outcome. */
  readonly grounded: boolean;
  /** Its probe failed: run its restart command. */
  readonly restart: boolean;
}

export function recordOutcome(state: BreakerState, outcome: BuildOutcome, settings: BreakerSettings, now: number): BreakerDecision {
  if (outcome.ok) return { state: CLOSED_BREAKER, grounded: false, restart: false };
  const consecutive = state.consecutive + 1;
  const fastConsecutive = outcome.seconds * 1000 < settings.fastFailureMs ? state.fastConsecutive + 1 : 0;
  const probing = breakerPhase(state, now) === 'probe';
  const tripped = probing || consecutive >= settings.failures || fastConsecutive >= settings.fastFailures;
  if (!tripped) return { state: { ...state, consecutive, fastConsecutive }, grounded: false, restart: false };
  const reason = probing
    ? `its probe build ${outcome.cpv} failed`
    : fastConsecutive >= settings.fastFailures
      ? `${fastConsecutive} builds in a row failed in under ${Math.round(settings.fastFailureMs / 1000)} s (last: ${outcome.cpv})`
      : `${consecutive} builds in a row failed (last: ${outcome.cpv})`;
  return {
    state: { consecutive, fastConsecutive, groundedSince: now, groundedUntil: now + settings.cooldownMs, reason, regrounded: probing ? state.regrounded + 1 : state.regrounded },
    grounded: true,
    restart: probing,
  };
}

/** Time, injectable: durations from a monotonic source, timestamps from the wall clock. */
export interface Clock {
  /** Monotonic milliseconds, for durations. */
  monotonicMs(): number;
  /** Wall-clock time, for timestamps in logs, reports and state files. */
  now(): Date;
}

export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  now: () => new Date(),
};

/**
 * The scheduling policy, shared by the discrete-event simulation and the orchestrator: which ready package goes
 * to which free drone slot now. Pure; the caller owns time and state.
 *
 * - `critical-path`: packages in priority order (upward rank + aging); each goes to the slot where it would
 *   finish earliest (HEFT), and may wait for a busy faster slot that finishes it sooner (at most `lookahead`
 *   packages wait per call); heavy packages prefer sweepers on ties, and while a heavy package waits, light ones
 *   keep off the sweepers.
 * - `rdeps` and `fifo`: packages in priority order, each to the fastest free slot.
 */

export type SchedulingPolicy = 'critical-path' | 'rdeps' | 'fifo';
export const SCHEDULING_POLICIES: readonly SchedulingPolicy[] = ['critical-path', 'rdeps', 'fifo'];

/** Priority gained per second waited (critical-path). */
export const DEFAULT_AGING = 0.01;
/** See SimulateOptions.lookahead. */
export const DEFAULT_LOOKAHEAD = 2;

export interface DispatchJob {
  readonly cpv: string;
  /** Seconds at the reference speed. */
  readonly duration: number;
  readonly heavy: boolean;
}

export interface DispatchSlot {
  /** Unique per slot (a drone with two slots has two). */
  readonly slot: string;
  readonly drone: string;
  readonly speed: number;
  readonly sweeper: boolean;
  /** When the slot is free (≤ now: free now), in the caller's clock, seconds. */
  readonly freeAt: number;
}

export interface DispatchOptions {
  readonly policy: SchedulingPolicy;
  readonly now: number;
  readonly referenceSpeed: number;
  readonly lookahead?: number;
  /** Heavy packages among all ready ones (not only those this call looks at). */
  readonly heavyReady: number;
  /** False when this slot must not take this package (e.g. its drone already failed it). Default: any. */
  readonly eligible?: (job: DispatchJob, slot: DispatchSlot) => boolean;
}

export interface DispatchPlan<J extends DispatchJob> {
  readonly starts: readonly { readonly job: J; readonly slot: DispatchSlot }[];
  /** Jobs taken from `ready` and not started: give them back to the ready set. */
  readonly deferred: readonly J[];
}

/**
 * Takes jobs from `ready` (highest priority first; an iterator is consumed only as far as needed) and assigns
 * them to free slots. Slots are considered fastest first, ties by slot name.
 */
export function planDispatch<J extends DispatchJob>(ready: Iterator<J>, slots: readonly DispatchSlot[], options: DispatchOptions): DispatchPlan<J> {
  const { now, referenceSpeed } = options;
  const eligible = options.eligible ?? (() => true);
  const sorted = [...slots].sort((a, b) => b.speed - a.speed || (a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : 0));
  const busyUntil = new Map(sorted.map((slot) => [slot.slot, slot.freeAt]));
  const isFree = (slot: DispatchSlot): boolean => (busyUntil.get(slot.slot) as number) <= now;
  const timeOn = (job: DispatchJob, speed: number): number => (job.duration * referenceSpeed) / speed;
  // A slot takes one package at a time, even one expected to take no time at all.
  const endOn = (job: DispatchJob, slot: DispatchSlot): number => Math.max(now + timeOn(job, slot.speed), now + 1e-6);
  const starts: { job: J; slot: DispatchSlot }[] = [];
  const deferred: J[] = [];
  const take = (): J | undefined => {
    if (!sorted.some(isFree)) return undefined;
    const next = ready.next();
    return next.done === true ? undefined : next.value;
  };

  if (options.policy !== 'critical-path') {
    for (let job = take(); job !== undefined; job = take()) {
      const slot = sorted.find((candidate) => isFree(candidate) && eligible(job as J, candidate));
      if (slot === undefined) {
        deferred.push(job);
        continue;
      }
      starts.push({ job, slot });
      busyUntil.set(slot.slot, endOn(job, slot));
    }
    return { starts, deferred };
  }

  const lookahead = options.lookahead ?? DEFAULT_LOOKAHEAD;
  const planned = new Map(sorted.map((slot) => [slot.slot, Math.max(now, slot.freeAt)]));
  const hasLightSlots = sorted.some((slot) => !slot.sweeper);
  let heavyUnplaced = options.heavyReady;
  let reservations = 0;
  for (let job = take(); job !== undefined; job = take()) {
    if (job.heavy) heavyUnplaced -= 1;
    let best: DispatchSlot | undefined;
    let bestFinish = Infinity;
    for (const slot of sorted) {
      if (!isFree(slot) && reservations >= lookahead) continue;
      if (!job.heavy && slot.sweeper && heavyUnplaced > 0 && hasLightSlots) continue;
      if (!eligible(job, slot)) continue;
      const finish = (planned.get(slot.slot) as number) + timeOn(job, slot.speed);
      const better =
        finish < bestFinish - 1e-9 || (Math.abs(finish - bestFinish) <= 1e-9 && best !== undefined && slot.sweeper === job.heavy && best.sweeper !== job.heavy);
      if (better) {
        best = slot;
        bestFinish = finish;
      }
    }
    if (best === undefined) {
      deferred.push(job);
      continue;
    }
    if (isFree(best)) {
      starts.push({ job, slot: best });
      busyUntil.set(best.slot, endOn(job, best));
      planned.set(best.slot, endOn(job, best));
    } else {
      planned.set(best.slot, bestFinish);
      reservations += 1;
      deferred.push(job);
    }
  }
  return { starts, deferred };
}

/**
 * The ready-set ordering key (higher first). For critical-path, rank + aging × (now − readyAt) orders jobs the
 * same at every `now` as rank − aging × readyAt, so the key is fixed when the package becomes ready.
 */
export function priorityKey(policy: SchedulingPolicy, staticKey: number, readyAt: number, aging = DEFAULT_AGING): number {
  return policy === 'critical-path' ? staticKey - aging * readyAt : staticKey;
}

/**
 * Discrete-event simulation of a swarm cycle: list scheduling on event times, with the policy code the
 * orchestrator uses. Deterministic: ties go by cpv, drones by speed (fastest first) then id.
 *
 * Units. A node's `duration` is its build time in seconds on a drone of `referenceSpeed` (default: the fastest
 * drone's speed), so a drone of speed `s` takes `duration × referenceSpeed / s`. `work` (W) and `criticalPath`
 * (CP, the longest chain of durations) are in those reference seconds; `makespan` and `lowerBound` are wall
 * seconds: `lowerBound = max(CP × referenceSpeed / maxSpeed, W × referenceSpeed / Σ speeds)`.
 *
 * Policies.
 * - `critical-path`: priority = upward rank (own duration + max rank of its dependents) + `aging` × seconds
 *   waited since ready; each package, highest priority first, goes to the drone where it would finish earliest
 *   (HEFT), waiting for a busy faster drone when that finishes it sooner (at most `lookahead` packages wait per
 *   dispatch); heavy packages prefer sweepers on ties,
 *   and while a heavy package waits, light ones keep off the sweepers.
 * - `rdeps` (Hydra's default, OBS's "needed"): priority = number of transitive reverse dependencies; the fastest
 *   free drone.
 * - `fifo`: input order; the fastest free drone.
 * Only the completion of a package's dependencies makes it ready.
 */

import type { BrokenCycle, BuildDag } from './build-dag.ts';
import { DEFAULT_AGING, DEFAULT_LOOKAHEAD, planDispatch, priorityKey, type SchedulingPolicy } from './dispatch-policy.ts';
import { PriorityQueue } from './priority-queue.ts';

export { SCHEDULING_POLICIES, type SchedulingPolicy } from './dispatch-policy.ts';

export interface SimulatedDrone {
  readonly id: string;
  /** Cores, or any measure proportional to build speed. */
  readonly speed: number;
  readonly sweeper: boolean;
}

export interface ScheduledBuild {
  readonly cpv: string;
  readonly drone: string;
  readonly start: number;
  readonly end: number;
  /** Direct dependencies inside the cycle (after cycle breaking), sorted. */
  readonly deps: readonly string[];
}

export interface SimulationResult {
  readonly packages: number;
  readonly edges: number;
  readonly cyclesBroken: readonly BrokenCycle[];
  readonly work: number;
  readonly criticalPath: number;
  readonly lowerBound: number;
  readonly makespan: number;
  readonly ratio: number;
  readonly policy: SchedulingPolicy;
  readonly referenceSpeed: number;
  readonly schedule: readonly ScheduledBuild[];
}

export interface SimulateOptions {
  /** Default: the fastest drone's speed. */
  readonly referenceSpeed?: number;
  /** Priority gained per second waited (critical-path); default 0.01. */
  readonly aging?: number;
  /**
   * critical-path only: how many packages per dispatch may wait for a busy drone that finishes them sooner.
   * Default 2: on the real DAGs (docs/BENCHMARKS.md) 0 leaves long packages on slow drones, and more than 2 lets
   * too many wait while slow drones idle.
   */
  readonly lookahead?: number;
}

interface Job {
  readonly index: number;
  readonly cpv: string;
  readonly duration: number;
  readonly heavy: boolean;
  /** Higher runs first. */
  key: number;
  readyAt: number;
}

export function simulate(dag: BuildDag, drones: readonly SimulatedDrone[], policy: SchedulingPolicy, options: SimulateOptions = {}): SimulationResult {
  if (drones.length === 0) throw new Error('simulate needs at least one drone');
  const speeds = drones.map((drone) => drone.speed);
  const maxSpeed = Math.max(...speeds);
  const sumSpeed = speeds.reduce((a, b) => a + b, 0);
  const referenceSpeed = options.referenceSpeed ?? maxSpeed;
  const aging = options.aging ?? DEFAULT_AGING;
  const lookahead = options.lookahead ?? DEFAULT_LOOKAHEAD;

  const order = [...dag.nodes.keys()];
  const indexOf = new Map(order.map((cpv, index) => [cpv, index]));
  const successors: number[][] = order.map(() => []);
  const predecessors: number[][] = order.map(() => []);
  for (const edge of dag.edges) {
    const from = indexOf.get(edge.from);
    const to = indexOf.get(edge.to);
    if (from === undefined || to === undefined) continue;
    successors[from]?.push(to);
    predecessors[to]?.push(from);
  }
  const durations = order.map((cpv) => dag.nodes.get(cpv)?.duration ?? 0);
  const topological = topologicalOrder(order.length, successors, predecessors);
  const ranks = upwardRanks(topological, successors, durations);
  const work = durations.reduce((a, b) => a + b, 0);
  const criticalPath = ranks.reduce((a, b) => Math.max(a, b), 0);
  const lowerBound = Math.max((criticalPath * referenceSpeed) / maxSpeed, (work * referenceSpeed) / sumSpeed);

  const staticKey: number[] =
    policy === 'critical-path' ? ranks : policy === 'rdeps' ? reverseDependencyCounts(topological, successors) : order.map((_, index) => -index);
  const jobs: Job[] = order.map((cpv, index) => ({ index, cpv, duration: durations[index] as number, heavy: dag.nodes.get(cpv)?.heavy ?? false, key: 0, readyAt: 0 }));
  const ready = new PriorityQueue<Job>((a, b) => a.key > b.key || (a.key === b.key && a.cpv < b.cpv));
  let heavyReady = 0;
  const makeReady = (job: Job, at: number): void => {
    job.readyAt = at;
    job.key = priorityKey(policy, staticKey[job.index] as number, at, aging);
    if (job.heavy) heavyReady += 1;
    ready.push(job);
  };

  const sortedDrones = drones.map((drone, slot) => ({ ...drone, slot })).sort((a, b) => b.speed - a.speed || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const freeAt = new Map<number, number>(sortedDrones.map((drone) => [drone.slot, 0]));
  const timeOn = (job: Job, speed: number): number => (job.duration * referenceSpeed) / speed;
  const running = new PriorityQueue<{ readonly end: number; readonly job: Job }>((a, b) => a.end < b.end || (a.end === b.end && a.job.cpv < b.job.cpv));
  const waiting = predecessors.map((list) => list.length);
  const schedule: ScheduledBuild[] = [];
  for (const index of order.keys()) if (waiting[index] === 0) makeReady(jobs[index] as Job, 0);

  const start = (job: Job, drone: (typeof sortedDrones)[number], at: number): void => {
    const end = at + timeOn(job, drone.speed);
    freeAt.set(drone.slot, end);
    if (job.heavy) heavyReady -= 1;
    running.push({ end, job });
    schedule.push({ cpv: job.cpv, drone: drone.id, start: at, end, deps: (predecessors[job.index] ?? []).map((p) => order[p] as string).sort() });
  };

  const dispatch = (now: number): void => {
    const slots = sortedDrones.map((drone) => ({ slot: String(drone.slot), drone: drone.id, speed: drone.speed, sweeper: drone.sweeper, freeAt: freeAt.get(drone.slot) as number }));
    const pop = (): IteratorResult<Job> => {
      const job = ready.pop();
      return job === undefined ? { done: true, value: undefined } : { done: false, value: job };
    };
    const plan = planDispatch({ next: pop }, slots, { policy, now, referenceSpeed, lookahead, heavyReady });
    for (const { job, slot } of plan.starts) start(job, sortedDrones.find((drone) => String(drone.slot) === slot.slot) as (typeof sortedDrones)[number], now);
    for (const job of plan.deferred) ready.push(job);
  };

  let now = 0;
  let done = 0;
  while (done < order.length) {
    dispatch(now);
    const next = running.pop();
    if (next === undefined) throw new Error('simulate: packages left but none ready (the DAG has a cycle)');
    now = next.end;
    const finished = [next];
    while (running.peek()?.end === now) finished.push(running.pop() as { end: number; job: Job });
    for (const { job } of finished) {
      done += 1;
      for (const successor of successors[job.index] ?? []) {
        waiting[successor] = (waiting[successor] as number) - 1;
        if (waiting[successor] === 0) makeReady(jobs[successor] as Job, now);
      }
    }
  }
  const makespan = schedule.reduce((latest, build) => Math.max(latest, build.end), 0);
  return {
    packages: order.length,
    edges: dag.edges.length,
    cyclesBroken: dag.cyclesBroken,
    work,
    criticalPath,
    lowerBound,
    makespan,
    ratio: lowerBound === 0 ? 1 : makespan / lowerBound,
    policy,
    referenceSpeed,
    schedule,
  };
}

/** Kahn's order, ties by input index. Throws on a cycle (the DAG is built acyclic). */
export function topologicalOrder(count: number, successors: readonly (readonly number[])[], predecessors: readonly (readonly number[])[]): number[] {
  const waiting = predecessors.map((list) => list.length);
  const queue = new PriorityQueue<number>((a, b) => a < b);
  for (let index = 0; index < count; index += 1) if (waiting[index] === 0) queue.push(index);
  const result: number[] = [];
  while (queue.size > 0) {
    const index = queue.pop() as number;
    result.push(index);
    for (const successor of successors[index] ?? []) {
      waiting[successor] = (waiting[successor] as number) - 1;
      if (waiting[successor] === 0) queue.push(successor);
    }
  }
  if (result.length !== count) throw new Error('simulate: the DAG has a cycle');
  return result;
}

/** Own duration + the highest rank among dependents. */
export function upwardRanks(topological: readonly number[], successors: readonly (readonly number[])[], durations: readonly number[]): number[] {
  const ranks = durations.map(() => 0);
  for (let position = topological.length - 1; position >= 0; position -= 1) {
    const index = topological[position] as number;
    let highest = 0;
    for (const successor of successors[index] ?? []) highest = Math.max(highest, ranks[successor] as number);
    ranks[index] = (durations[index] as number) + highest;
  }
  return ranks;
}

/** How many packages depend on each one, directly or transitively (bitsets, in reverse topological order). */
export function reverseDependencyCounts(topological: readonly number[], successors: readonly (readonly number[])[]): number[] {
  const count = topological.length;
  const words = Math.ceil(count / 32);
  const reach = new Uint32Array(count * words);
  const result = new Array<number>(count).fill(0);
  for (let position = count - 1; position >= 0; position -= 1) {
    const index = topological[position] as number;
    const own = index * words;
    for (const successor of successors[index] ?? []) {
      const other = successor * words;
      for (let word = 0; word < words; word += 1) reach[own + word] = (reach[own + word] as number) | (reach[other + word] as number);
      reach[own + (successor >> 5)] = (reach[own + (successor >> 5)] as number) | (1 << (successor & 31));
    }
    let total = 0;
    for (let word = 0; word < words; word += 1) total += popcount(reach[own + word] as number);
    result[index] = total;
  }
  return result;
}

function popcount(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

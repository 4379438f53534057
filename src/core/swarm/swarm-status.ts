/**
 * The operator's view of the swarm, computed from what Redis holds: one typed value that the CLI, the TUI, the
 * gateway and `status` all render. Pure: the reader (src/swarm/swarm-state.ts) fetches, this judges.
 */

import { breakerPhase, type BreakerState } from './drone-breaker.ts';
import { cycleGraph, PACKAGE_STATES, type CycleDefinition, type PackageRecord, type PackageState } from './cycle-model.ts';

export type DroneState = 'idle' | 'building' | 'grounded' | 'offline';

export interface DroneInput {
  readonly id: string;
  readonly cores: number;
  readonly slots: number;
  readonly sweeper: boolean;
  readonly profiles: readonly string[];
  readonly alive: boolean;
  readonly lastSeen: number;
  readonly startedAt: number;
  readonly stoppedAt?: number;
  readonly breaker: BreakerState;
}

export interface DroneStatus {
  readonly id: string;
  readonly state: DroneState;
  /** Epoch ms. */
  readonly since: number;
  readonly reason?: string;
  readonly cores: number;
  readonly slots: number;
  readonly sweeper: boolean;
  readonly profiles: readonly string[];
  /** `cycle cpv` of what it builds (or has queued) now. */
  readonly building: readonly string[];
  readonly lastSeen: number;
}

export interface PackageStatus {
  readonly cpv: string;
  readonly state: PackageState;
  readonly since: number;
  readonly drone?: string;
  readonly attempt: number;
  readonly reason?: string;
  readonly failures: number;
  /** Logs of failed attempts, oldest first. */
  readonly logs: readonly string[];
  /** Epoch ms the current (or, once over, the last) build started. */
  readonly startedAt?: number;
  /** Epoch ms it was built or failed for good. */
  readonly finishedAt?: number;
  /** Wall seconds its build should take on the fastest drone of the profile. */
  readonly expected: number;
  /** In the heavy class (LLVM, Rust, GCC, …): sweepers take it first. */
  readonly heavy: boolean;
}

export interface CycleStatus {
  readonly id: string;
  readonly profile: string;
  readonly status: 'running' | 'finished';
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly counts: Readonly<Record<PackageState, number>>;
  /** Packages ready to build but not started yet (queued, on a drone's queue or not), by class. */
  readonly queue: { readonly heavy: number; readonly normal: number };
  readonly packages: readonly PackageStatus[];
  /** Seconds at speed 1 core (core-seconds), as the figures below are in wall seconds. */
  readonly work: number;
  /** Wall seconds on the fastest drone of the profile. */
  readonly criticalPath: number;
  /** max(criticalPath on the fastest drone, work / Σ speeds) over the profile's drones, wall seconds. */
  readonly lowerBound: number;
  /** Wall seconds since the first build started (until the end when finished). */
  readonly elapsed: number;
  /** Wall seconds still expected (0 when finished). */
  readonly eta: number;
  /** makespan / lowerBound when finished, (elapsed + eta) / lowerBound while running. */
  readonly ratio: number;
}

export interface SwarmStatus {
  readonly at: number;
  readonly leader?: { readonly id: string; readonly epoch: number; readonly ttlMs: number };
  readonly drones: readonly DroneStatus[];
  readonly cycles: readonly CycleStatus[];
}

export interface CycleInput {
  readonly definition: CycleDefinition;
  readonly status: 'running' | 'finished';
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly records: ReadonlyMap<string, PackageRecord>;
}

export function swarmStatus(input: { readonly now: number; readonly leader?: SwarmStatus['leader']; readonly drones: readonly DroneInput[]; readonly cycles: readonly CycleInput[] }): SwarmStatus {
  const { now } = input;
  const building = new Map<string, string[]>();
  for (const cycle of input.cycles) {
    for (const record of cycle.records.values()) {
      if (record.drone === undefined || (record.state !== 'queued' && record.state !== 'building')) continue;
      const list = building.get(record.drone) ?? [];
      list.push(`${cycle.definition.id} ${record.cpv}`);
      building.set(record.drone, list);
    }
  }
  const drones = input.drones.map((drone): DroneStatus => {
    const busy = building.get(drone.id) ?? [];
    const base = { id: drone.id, cores: drone.cores, slots: drone.slots, sweeper: drone.sweeper, profiles: drone.profiles, building: busy, lastSeen: drone.lastSeen };
    if (!drone.alive) return { ...base, state: 'offline', since: drone.stoppedAt ?? drone.lastSeen, reason: drone.stoppedAt === undefined ? 'no heartbeat' : 'stopped' };
    if (breakerPhase(drone.breaker, now) === 'grounded') return { ...base, state: 'grounded', since: drone.breaker.groundedSince ?? now, ...(drone.breaker.reason === undefined ? {} : { reason: drone.breaker.reason }) };
    return { ...base, state: busy.length > 0 ? 'building' : 'idle', since: drone.startedAt };
  });
  const cycles = input.cycles.map((cycle) => cycleStatus(cycle, input.drones, now));
  return { at: now, ...(input.leader === undefined ? {} : { leader: input.leader }), drones, cycles };
}

function cycleStatus(cycle: CycleInput, drones: readonly DroneInput[], now: number): CycleStatus {
  const { definition } = cycle;
  const graph = cycleGraph(definition);
  const reference = definition.referenceSpeed;
  const profileDrones = drones.filter((drone) => drone.profiles.includes(definition.profile));
  const speeds = profileDrones.map((drone) => drone.cores * drone.slots);
  const maxSpeed = Math.max(1, ...profileDrones.map((drone) => drone.cores));
  const sumSpeed = Math.max(1, speeds.reduce((a, b) => a + b, 0));
  const work = graph.work * reference;
  const criticalPath = (graph.criticalPath * reference) / maxSpeed;
  const lowerBound = Math.max(criticalPath, work / sumSpeed);

  const counts = Object.fromEntries(PACKAGE_STATES.map((state) => [state, 0])) as Record<PackageState, number>;
  const packages: PackageStatus[] = [];
  const queue = { heavy: 0, normal: 0 };
  let remainingWork = 0;
  let remainingChain = 0;
  for (const cpv of graph.order) {
    const record = cycle.records.get(cpv);
    if (record === undefined) continue;
    counts[record.state] += 1;
    const logs = record.failures.flatMap((failure) => (failure.log === undefined ? [] : [failure.log]));
    const node = graph.nodes.get(cpv);
    const heavy = node?.heavy ?? false;
    if (record.state === 'queued') queue[heavy ? 'heavy' : 'normal'] += 1;
    // Who built it, or failed it last: the Gantt chart's lane once the build is over.
    const drone = record.drone ?? record.built?.drone ?? (record.state === 'failed' ? record.failures.at(-1)?.drone : undefined);
    const over = record.state === 'built' || record.state === 'failed';
    packages.push({
      cpv,
      state: record.state,
      since: record.since,
      attempt: record.attempt,
      failures: record.failures.length,
      logs,
      expected: ((node?.duration ?? 0) * reference) / maxSpeed,
      heavy,
      ...(drone === undefined ? {} : { drone }),
      ...(record.reason === undefined ? {} : { reason: record.reason }),
      ...(record.startedAt === undefined ? {} : { startedAt: record.startedAt }),
      ...(over ? { finishedAt: record.since } : {}),
    });
    if (record.state === 'queued' || record.state === 'dep-wait' || record.state === 'building') {
      const duration = (graph.nodes.get(cpv)?.duration ?? 0) * reference;
      const done = record.state === 'building' && record.startedAt !== undefined ? Math.min(duration * 0.95, ((now - record.startedAt) / 1000) * maxSpeed) : 0;
      remainingWork += duration - done;
      remainingChain = Math.max(remainingChain, (graph.ranks.get(cpv) ?? 0) * reference - done);
    }
  }
  const liveSpeed = Math.max(1, profileDrones.filter((drone) => drone.alive && breakerPhase(drone.breaker, now) !== 'grounded').reduce((sum, drone) => sum + drone.cores * drone.slots, 0));
  const finished = cycle.status === 'finished';
  const eta = finished ? 0 : Math.max(remainingChain / maxSpeed, remainingWork / liveSpeed);
  const end = finished ? (cycle.finishedAt ?? now) : now;
  const elapsed = cycle.startedAt === undefined ? 0 : Math.max(0, (end - cycle.startedAt) / 1000);
  return {
    id: definition.id,
    profile: definition.profile,
    status: cycle.status,
    createdAt: definition.createdAt,
    ...(cycle.startedAt === undefined ? {} : { startedAt: cycle.startedAt }),
    ...(cycle.finishedAt === undefined ? {} : { finishedAt: cycle.finishedAt }),
    counts,
    queue,
    packages,
    work,
    criticalPath,
    lowerBound,
    elapsed,
    eta,
    ratio: lowerBound === 0 ? 1 : (elapsed + eta) / lowerBound,
  };
}

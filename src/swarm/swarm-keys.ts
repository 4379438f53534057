/**
 * Every Redis key of the swarm, under one prefix (default `argo`). BullMQ's own keys live under
 * `<prefix>:bull`; each drone has one queue, `build-<drone id>`, that only the leading orchestrator adds to.
 */

export interface SwarmKeys {
  readonly bullPrefix: string;
  /** `<id>|<epoch>` of the leading orchestrator, with a TTL (the lease). */
  readonly leader: string;
  /** INCR'd by every new leader; every write of a leader carries it. */
  readonly epoch: string;
  /** Sorted set: cycle id by creation time (ms). */
  readonly cycles: string;
  /** Set of cycles not finished yet. */
  readonly activeCycles: string;
  /** Hash: `definition` (JSON), `status`, `startedAt`, `finishedAt`, `makespan`, … */
  cycle(id: string): string;
  /** Hash: cpv → PackageRecord (JSON). */
  packages(id: string): string;
  /** Set of drone ids that ever registered. */
  readonly drones: string;
  /** Hash: the drone's registration (cores, slots, sweeper, profiles, pid, host, startedAt). */
  drone(id: string): string;
  /** Exists while the drone's heartbeat is fresh (TTL). */
  alive(id: string): string;
  /** Hash: drone id → BreakerState (JSON). */
  readonly breakers: string;
  /** List: the last builds' seconds of `category/name` at speed 1 (cores × seconds), newest first. */
  durations(cp: string): string;
  /** Stream of swarm events for operators (leader changes, grounding, reclaims, cycle ends). */
  readonly events: string;
  /** Stream of operator commands (ground, unground, restart, cancel-cycle) the leader applies. */
  readonly commands: string;
  /** Hash the leader writes (fenced): `commands` = the id of the last command applied. */
  readonly leaderState: string;
  /** Stream of requests every drone carries out itself (`sync`); each answers with a `sync-result` event. */
  readonly droneCommands: string;
  /** Stream of one build's output lines (capped, expiring), for `build-swarm logs --follow` and the live views. */
  output(jobId: string): string;
}

export function swarmKeys(prefix: string): SwarmKeys {
  return {
    bullPrefix: `${prefix}:bull`,
    leader: `${prefix}:leader`,
    epoch: `${prefix}:epoch`,
    cycles: `${prefix}:cycles`,
    activeCycles: `${prefix}:cycles:active`,
    cycle: (id) => `${prefix}:cycle:${id}`,
    packages: (id) => `${prefix}:cycle:${id}:packages`,
    drones: `${prefix}:drones`,
    drone: (id) => `${prefix}:drone:${id}`,
    alive: (id) => `${prefix}:drone:${id}:alive`,
    breakers: `${prefix}:breakers`,
    durations: (cp) => `${prefix}:durations:${cp}`,
    events: `${prefix}:events`,
    commands: `${prefix}:commands`,
    leaderState: `${prefix}:leader-state`,
    droneCommands: `${prefix}:drone-commands`,
    output: (jobId) => `${prefix}:output:${jobId}`,
  };
}

export const droneQueueName = (droneId: string): string => `build-${droneId}`;

/** The BullMQ job id of one dispatch: one id per attempt, so a retry is a new job and a re-add is a no-op. */
export const buildJobId = (cycle: string, cpv: string, attempt: number): string => `${cycle}:${cpv}:${attempt}`;

/**
 * `/metrics` in Prometheus' text format (prom-client). Every figure is read from Redis when scraped, so any
 * gateway answers the same and a restarted one loses nothing: the swarm's state (readSwarmState), the cycles'
 * records for queue depth per class and build seconds, BullMQ's job counts per drone queue, and the swarm's
 * event stream, counted incrementally, for reclaims and breaker trips.
 */

import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import { readCycle, readRecords } from '../swarm/cycle-store.ts';
import { droneQueueName, type SwarmKeys } from '../swarm/swarm-keys.ts';
import { readSwarmState } from '../swarm/swarm-state.ts';
import type { SwarmStatus } from '../core/swarm/swarm-status.ts';

export interface GatewayMetrics {
  readonly registry: Registry;
  close(): Promise<void>;
}

/** Scrapes closer together than this share one read of the swarm. */
const SNAPSHOT_MS = 1_000;

export function createGatewayMetrics(redis: Redis, keys: SwarmKeys): GatewayMetrics {
  const registry = new Registry();
  const queues = new Map<string, Queue>();
  const queueOf = (drone: string): Queue => {
    let queue = queues.get(drone);
    if (queue === undefined) {
      queue = new Queue(droneQueueName(drone), { connection: redis, prefix: keys.bullPrefix });
      queues.set(drone, queue);
    }
    return queue;
  };
  const eventCounts = new Map<string, number>();
  let lastEventId = '-';
  const countEvents = async (): Promise<void> => {
    for (;;) {
      const start = lastEventId === '-' ? '-' : `(${lastEventId}`;
      const entries = await redis.xrange(keys.events, start, '+', 'COUNT', 1000);
      for (const [id, flat] of entries) {
        lastEventId = id;
        const typeIndex = flat.findIndex((value, index) => index % 2 === 0 && value === 'type');
        const type = typeIndex >= 0 ? flat[typeIndex + 1] : undefined;
        if (type !== undefined) eventCounts.set(type, (eventCounts.get(type) ?? 0) + 1);
      }
      if (entries.length < 1000) return;
    }
  };

  // prom-client collects every metric at once: each reads one snapshot of the swarm, taken once per scrape.
  let snapshot: { at: number; status: Promise<SwarmStatus> } | undefined;
  const status = (): Promise<SwarmStatus> => {
    if (snapshot === undefined || Date.now() - snapshot.at > SNAPSHOT_MS) snapshot = { at: Date.now(), status: readSwarmState(redis, keys, { cycles: 10 }) };
    return snapshot.status;
  };
  new Gauge({
    name: 'argo_swarm_leader_epoch',
    help: 'Epoch of the leading orchestrator (0: none leads)',
    registers: [registry],
    async collect() {
      this.set((await status()).leader?.epoch ?? 0);
    },
  });
  new Gauge({
    name: 'argo_swarm_drones',
    help: 'Drones by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const { drones } = await status();
      this.reset();
      for (const state of ['idle', 'building', 'grounded', 'offline']) this.set({ state }, drones.filter((drone) => drone.state === state).length);
    },
  });
  new Gauge({
    name: 'argo_swarm_cycle_makespan_ratio',
    help: 'Elapsed-or-projected makespan over the lower bound of a running cycle (1.0 is perfect)',
    labelNames: ['cycle', 'profile'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const cycle of (await status()).cycles) if (cycle.status === 'running') this.set({ cycle: cycle.id, profile: cycle.profile }, cycle.ratio);
    },
  });
  new Gauge({
    name: 'argo_swarm_cycle_packages',
    help: 'Packages of the newest cycles by state (built and failed are the builds by outcome)',
    labelNames: ['cycle', 'profile', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const cycle of (await status()).cycles) {
        for (const [state, count] of Object.entries(cycle.counts)) this.set({ cycle: cycle.id, profile: cycle.profile, state }, count);
      }
    },
  });

  // The records of the active cycles, read once per scrape too: queue depth by class and build seconds.
  let active: { at: number; records: Promise<ActiveFigures> } | undefined;
  const activeFigures = (): Promise<ActiveFigures> => {
    if (active === undefined || Date.now() - active.at > SNAPSHOT_MS) active = { at: Date.now(), records: readActiveFigures(redis, keys) };
    return active.records;
  };
  new Gauge({
    name: 'argo_swarm_ready_packages',
    help: 'Packages dispatched and waiting for a drone in the active cycles, by class (heavy: the sweepers\' LLVM, Rust, GCC…)',
    labelNames: ['class'],
    registers: [registry],
    async collect() {
      const figures = await activeFigures();
      this.set({ class: 'heavy' }, figures.queued.heavy);
      this.set({ class: 'normal' }, figures.queued.normal);
    },
  });
  new Gauge({
    name: 'argo_swarm_cycle_build_seconds',
    help: 'Wall seconds of the builds of the active cycles, by profile: their sum, count and longest (a gauge: cycles end)',
    labelNames: ['profile', 'stat'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [profile, seconds] of (await activeFigures()).seconds) {
        this.set({ profile, stat: 'sum' }, seconds.reduce((total, value) => total + value, 0));
        this.set({ profile, stat: 'count' }, seconds.length);
        this.set({ profile, stat: 'max' }, Math.max(0, ...seconds));
      }
    },
  });
  new Gauge({
    name: 'argo_swarm_queue_jobs',
    help: 'BullMQ jobs of each drone queue by state',
    labelNames: ['drone', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const drone of await redis.smembers(keys.drones)) {
        const counts = await queueOf(drone).getJobCounts('waiting', 'prioritized', 'active', 'delayed');
        for (const [state, count] of Object.entries(counts)) this.set({ drone, state }, count);
      }
    },
  });
  new Gauge({
    name: 'argo_swarm_events',
    help: 'Swarm events since the stream began (reclaimed: builds taken back from a drone; grounded: breaker trips; leader: elections)',
    labelNames: ['type'],
    registers: [registry],
    async collect() {
      await countEvents();
      this.reset();
      for (const type of ['reclaimed', 'grounded', 'leader', 'cycle-finished']) this.set({ type }, eventCounts.get(type) ?? 0);
    },
  });

  return {
    registry,
    async close() {
      await Promise.all([...queues.values()].map((queue) => queue.close()));
    },
  };
}

interface ActiveFigures {
  readonly queued: { heavy: number; normal: number };
  /** Profile → seconds of each built package. */
  readonly seconds: ReadonlyMap<string, number[]>;
}

async function readActiveFigures(redis: Redis, keys: SwarmKeys): Promise<ActiveFigures> {
  const queued = { heavy: 0, normal: 0 };
  const seconds = new Map<string, number[]>();
  for (const id of await redis.smembers(keys.activeCycles)) {
    const cycle = await readCycle(redis, keys, id);
    if (cycle === undefined) continue;
    const heavy = new Set(cycle.definition.nodes.filter((node) => node.heavy).map((node) => node.cpv));
    const list = seconds.get(cycle.definition.profile) ?? [];
    seconds.set(cycle.definition.profile, list);
    for (const record of (await readRecords(redis, keys, id)).values()) {
      if (record.state === 'queued') queued[heavy.has(record.cpv) ? 'heavy' : 'normal'] += 1;
      if (record.state === 'built' && record.built !== undefined) list.push(record.built.seconds);
    }
  }
  return { queued, seconds };
}

/** Reads the swarm's state from Redis into the one typed status (src/core/swarm/swarm-status.ts). */

import type { Redis } from 'ioredis';
import { swarmStatus, type CycleInput, type SwarmStatus } from '../core/swarm/swarm-status.ts';
import { readCycle, readRecords } from './cycle-store.ts';
import { listDrones } from './drone-registry.ts';
import { readLeader } from './leader-lease.ts';
import type { SwarmKeys } from './swarm-keys.ts';

export interface ReadSwarmStateOptions {
  /** The newest cycles to include (default 5). */
  readonly cycles?: number;
  readonly now?: number;
}

export async function readSwarmState(redis: Redis, keys: SwarmKeys, options: ReadSwarmStateOptions = {}): Promise<SwarmStatus> {
  const now = options.now ?? Date.now();
  const [leader, drones, ids] = await Promise.all([readLeader(redis, keys), listDrones(redis, keys), redis.zrevrange(keys.cycles, 0, (options.cycles ?? 5) - 1)]);
  const cycles: CycleInput[] = [];
  for (const id of ids) {
    const stored = await readCycle(redis, keys, id);
    if (stored === undefined) continue;
    cycles.push({ ...stored, records: await readRecords(redis, keys, id) });
  }
  return swarmStatus({ now, ...(leader === undefined ? {} : { leader }), drones, cycles });
}

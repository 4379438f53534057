/** The swarm's own event stream for operators (BullMQ keeps each queue's job events itself). */

import type { Redis } from 'ioredis';
import type { SwarmKeys } from './swarm-keys.ts';

/** Events kept (approximately: Redis trims whole nodes). */
const KEEP_EVENTS = 10_000;

export async function appendSwarmEvent(redis: Redis, keys: SwarmKeys, fields: Readonly<Record<string, string | number>>): Promise<void> {
  const flat = Object.entries({ at: Date.now(), ...fields }).flatMap(([key, value]) => [key, String(value)]);
  await redis.xadd(keys.events, 'MAXLEN', '~', String(KEEP_EVENTS), '*', ...flat);
}

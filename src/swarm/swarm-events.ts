/** The swarm's own event stream for operators (BullMQ keeps each queue's job events itself). */

import type { Redis } from 'ioredis';
import type { SwarmKeys } from './swarm-keys.ts';

/**
 * Events kept (approximately: Redis trims whole nodes). A package appends four or five a cycle (queued, building,
 * built…): this keeps several cycles of 1,500 packages, about 150 bytes an event, some 7 MB.
 */
const KEEP_EVENTS = 50_000;

export async function appendSwarmEvent(redis: Redis, keys: SwarmKeys, fields: Readonly<Record<string, string | number>>): Promise<void> {
  const flat = Object.entries({ at: Date.now(), ...fields }).flatMap(([key, value]) => [key, String(value)]);
  await redis.xadd(keys.events, 'MAXLEN', '~', String(KEEP_EVENTS), '*', ...flat);
}

/** Several events in one round trip (a failure that blocks hundreds of dependents appends one per package). */
export async function appendSwarmEvents(redis: Redis, keys: SwarmKeys, events: readonly Readonly<Record<string, string | number>>[]): Promise<void> {
  if (events.length === 0) return;
  const pipeline = redis.pipeline();
  const at = Date.now();
  for (const fields of events) pipeline.xadd(keys.events, 'MAXLEN', '~', String(KEEP_EVENTS), '*', ...Object.entries({ at, ...fields }).flatMap(([key, value]) => [key, String(value)]));
  await pipeline.exec();
}

/** A Redis stream entry's flat `[field, value, field, value, …]` as a map. */
export function entryFields(flat: readonly string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (let index = 0; index + 1 < flat.length; index += 2) fields.set(flat[index] as string, flat[index + 1] as string);
  return fields;
}

/**
 * Cycles in Redis: the definition (written once by `build-swarm fresh`), the package records (written only by
 * the leading orchestrator, fenced by its epoch), and the duration history the next cycles' estimates use.
 */

import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ArgoError } from '../core/errors.ts';
import type { DagInputPackage } from '../core/swarm/build-dag.ts';
import type { CycleDefinition, PackageRecord } from '../core/swarm/cycle-model.ts';
import { cycleGraph, initialRecords } from '../core/swarm/cycle-model.ts';
import { fencedHset, fencedSetMembers } from './leader-lease.ts';
import type { SwarmKeys } from './swarm-keys.ts';

export type CycleStatus = 'running' | 'finished';

export interface StoredCycle {
  readonly definition: CycleDefinition;
  readonly status: CycleStatus;
  /** Epoch ms of the first dispatch. */
  readonly startedAt?: number;
  readonly finishedAt?: number;
}

/** Durations kept per package for the median. */
const HISTORY_LENGTH = 20;

/**
 * Writes a new cycle with every package `queued` or `dep-wait`; refused while the profile has a running one.
 * The check and the write are one optimistic transaction (WATCH on the active set): two `fresh` at once cannot
 * both start a cycle for one profile. `redis` must be a connection of its own (WATCH is per connection).
 */
export async function createCycle(redis: Redis, keys: SwarmKeys, definition: CycleDefinition, input: string = cycleInputKey(definition)): Promise<{ readonly existing?: string }> {
  const records = initialRecords(cycleGraph(definition), definition.createdAt); // throws on a cyclic graph: it would never finish
  for (;;) {
    await redis.watch(keys.activeCycles);
    for (const id of await redis.smembers(keys.activeCycles)) {
      const [profile, runningInput, runningDefinition] = await redis.hmget(keys.cycle(id), 'profile', 'input', 'definition');
      if (profile !== definition.profile) continue;
      await redis.unwatch();
      // The same packages asked again (a second `fresh`, a client asking twice): that cycle is the answer.
      const same = (runningInput ?? (runningDefinition === null || runningDefinition === undefined ? undefined : cycleInputKey(JSON.parse(runningDefinition) as CycleDefinition))) === input;
      if (same) return { existing: id };
      throw new ArgoError('ARGO_CYCLE_ACTIVE', `Profile ${definition.profile} already has a running cycle, ${id}, of other packages`, {
        hint: 'Wait for it to finish (build-swarm status), or cancel it first.',
        details: { profile: definition.profile, cycle: id },
      });
    }
    const multi = redis.multi();
    multi.hset(keys.cycle(definition.id), { definition: JSON.stringify(definition), profile: definition.profile, input, status: 'running' satisfies CycleStatus });
    multi.hset(keys.packages(definition.id), Object.fromEntries(records.map((record) => [record.cpv, JSON.stringify(record)])));
    multi.zadd(keys.cycles, definition.createdAt, definition.id);
    multi.sadd(keys.activeCycles, definition.id);
    if ((await multi.exec()) !== null) return {}; // null: the active set changed meanwhile; look again
  }
}

/** A cycle's input without more than its packages' names: the profile and the sorted CPVs (SHA-256). */
export function cycleInputKey(definition: CycleDefinition): string {
  return createHash('sha256').update(`${definition.profile}\n${definition.nodes.map((node) => node.cpv).sort().join('\n')}`).digest('hex');
}

/**
 * What makes two cycles the same input: the profile and, per package, its CPV, the USE it is built with, its slot
 * and its dependency texts (an ebuild changed without a revision bump, or USE changed in the plan, is other input).
 */
export function packagesInputKey(profile: string, packages: readonly DagInputPackage[]): string {
  const lines = packages.map((pkg) => [pkg.cpv, [...pkg.use].sort().join(','), `${pkg.slot ?? ''}/${pkg.subSlot ?? ''}`, createHash('sha256').update(`${pkg.depend}\0${pkg.bdepend}\0${pkg.rdepend}`).digest('hex')].join(' ')).sort();
  return createHash('sha256').update(`${profile}\n${lines.join('\n')}`).digest('hex');
}

export async function readCycle(redis: Redis, keys: SwarmKeys, id: string): Promise<StoredCycle | undefined> {
  const fields = await redis.hgetall(keys.cycle(id));
  if (fields.definition === undefined) return undefined;
  return {
    definition: JSON.parse(fields.definition) as CycleDefinition,
    status: fields.status === 'finished' ? 'finished' : 'running',
    ...(fields.startedAt === undefined ? {} : { startedAt: Number(fields.startedAt) }),
    ...(fields.finishedAt === undefined ? {} : { finishedAt: Number(fields.finishedAt) }),
  };
}

export async function readRecords(redis: Redis, keys: SwarmKeys, id: string): Promise<Map<string, PackageRecord>> {
  const fields = await redis.hgetall(keys.packages(id));
  return new Map(Object.entries(fields).map(([cpv, json]) => [cpv, JSON.parse(json) as PackageRecord]));
}

/** The running cycles (of `profile`, or of every profile), each with its profile. */
export async function runningCyclesOf(redis: Redis, keys: SwarmKeys, profile?: string): Promise<{ readonly id: string; readonly profile: string }[]> {
  const running: { id: string; profile: string }[] = [];
  for (const id of await redis.smembers(keys.activeCycles)) {
    const owner = await redis.hget(keys.cycle(id), 'profile');
    if (owner !== null && (profile === undefined || owner === profile)) running.push({ id, profile: owner });
  }
  return running;
}

export async function activeCycleIds(redis: Redis, keys: SwarmKeys): Promise<string[]> {
  const ids = await redis.smembers(keys.activeCycles);
  const created = await Promise.all(ids.map(async (id) => [id, Number(await redis.zscore(keys.cycles, id))] as const));
  return created.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
}

/** The leader's write of changed records (and cycle fields), refused unless `epoch` is current. */
export async function writeRecords(
  redis: Redis,
  keys: SwarmKeys,
  epoch: number,
  cycle: string,
  records: readonly PackageRecord[],
  cycleFields: Readonly<Record<string, string>> = {},
): Promise<void> {
  const writes = new Map<string, Record<string, string>>();
  if (records.length > 0) writes.set(keys.packages(cycle), Object.fromEntries(records.map((record) => [record.cpv, JSON.stringify(record)])));
  if (Object.keys(cycleFields).length > 0) writes.set(keys.cycle(cycle), { ...cycleFields });
  if (writes.size > 0) await fencedHset(redis, keys, epoch, writes);
}

export async function finishCycle(redis: Redis, keys: SwarmKeys, epoch: number, cycle: string, finishedAt: number): Promise<void> {
  await fencedHset(redis, keys, epoch, new Map([[keys.cycle(cycle), { status: 'finished' satisfies CycleStatus, finishedAt: String(finishedAt) }]]));
  await fencedSetMembers(redis, keys, epoch, keys.activeCycles, 'remove', [cycle]);
}

/** Records one build: `seconds` on a drone of `cores`, kept as core-seconds. */
export async function recordDuration(redis: Redis, keys: SwarmKeys, cp: string, seconds: number, cores: number): Promise<void> {
  await redis.multi().lpush(keys.durations(cp), String(seconds * cores)).ltrim(keys.durations(cp), 0, HISTORY_LENGTH - 1).exec();
}

/** Past builds of each `category/name`, in seconds at speed `referenceSpeed`. */
export async function readDurations(redis: Redis, keys: SwarmKeys, cps: readonly string[], referenceSpeed: number): Promise<Map<string, number[]>> {
  const pipeline = redis.pipeline();
  for (const cp of cps) pipeline.lrange(keys.durations(cp), 0, -1);
  const results = (await pipeline.exec()) ?? [];
  const history = new Map<string, number[]>();
  results.forEach(([error, values], index) => {
    if (error !== null || !Array.isArray(values) || values.length === 0) return;
    history.set(cps[index] as string, (values as string[]).map((value) => Number(value) / referenceSpeed).filter((value) => Number.isFinite(value) && value >= 0));
  });
  return history;
}

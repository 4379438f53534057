/**
 * Leader election for orchestrators: `SET leader <id>|<epoch> NX PX ttl`, renewed by a compare-and-set script,
 * and an epoch (`INCR`) that every write of the leader carries. A write whose epoch is not the current one is
 * refused by Redis itself (the scripts below), so a leader that lost its lease without noticing (a stopped
 * process, a long pause) cannot change anything after a standby took over.
 */

import type { Redis } from 'ioredis';
import { ArgoError } from '../core/errors.ts';
import type { SwarmKeys } from './swarm-keys.ts';

const ACQUIRE = `
if redis.call('SET', KEYS[1], 'taking', 'NX', 'PX', ARGV[2]) then
  local epoch = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. epoch, 'PX', ARGV[2])
  return epoch
end
return 0`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

/** KEYS[1] epoch, KEYS[2..] hashes; ARGV[1] epoch, then per hash: field count n, then n field/value pairs. */
const FENCED_HSET = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('ARGO_FENCED epoch ' .. ARGV[1] .. ' is not the current one')
end
local at = 2
for k = 2, #KEYS do
  local n = tonumber(ARGV[at])
  at = at + 1
  if n > 0 then
    local args = {}
    for i = 0, 2 * n - 1 do args[#args + 1] = ARGV[at + i] end
    redis.call('HSET', KEYS[k], unpack(args))
  end
  at = at + 2 * n
end
return 1`;

/** KEYS[1] epoch, KEYS[2] set; ARGV[1] epoch, ARGV[2] 'add'|'remove', ARGV[3..] members. */
const FENCED_SET = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('ARGO_FENCED epoch ' .. ARGV[1] .. ' is not the current one')
end
local members = {}
for i = 3, #ARGV do members[#members + 1] = ARGV[i] end
if ARGV[2] == 'add' then return redis.call('SADD', KEYS[2], unpack(members)) end
return redis.call('SREM', KEYS[2], unpack(members))`;

export interface Lease {
  readonly id: string;
  readonly epoch: number;
  readonly value: string;
}

export async function acquireLease(redis: Redis, keys: SwarmKeys, id: string, ttlMs: number): Promise<Lease | undefined> {
  const epoch = Number(await redis.eval(ACQUIRE, 2, keys.leader, keys.epoch, id, String(ttlMs)));
  return epoch > 0 ? { id, epoch, value: `${id}|${epoch}` } : undefined;
}

/** False when the lease is no longer ours (expired, or another orchestrator holds it). */
export async function renewLease(redis: Redis, keys: SwarmKeys, lease: Lease, ttlMs: number): Promise<boolean> {
  return Number(await redis.eval(RENEW, 1, keys.leader, lease.value, String(ttlMs))) === 1;
}

export async function releaseLease(redis: Redis, keys: SwarmKeys, lease: Lease): Promise<boolean> {
  return Number(await redis.eval(RELEASE, 1, keys.leader, lease.value)) === 1;
}

/** The current leader, parsed from the lease key. */
export async function readLeader(redis: Redis, keys: SwarmKeys): Promise<{ readonly id: string; readonly epoch: number; readonly ttlMs: number } | undefined> {
  const [value, ttl] = await Promise.all([redis.get(keys.leader), redis.pttl(keys.leader)]);
  if (value === null) return undefined;
  const bar = value.lastIndexOf('|');
  if (bar === -1) return undefined;
  return { id: value.slice(0, bar), epoch: Number(value.slice(bar + 1)), ttlMs: ttl };
}

export type HashWrites = ReadonlyMap<string, Readonly<Record<string, string>>>;

/** HSETs across hashes in one script, refused with ARGO_FENCED unless `epoch` is the current epoch. */
export async function fencedHset(redis: Redis, keys: SwarmKeys, epoch: number, writes: HashWrites): Promise<void> {
  const hashKeys: string[] = [];
  const args: string[] = [String(epoch)];
  for (const [key, fields] of writes) {
    const entries = Object.entries(fields);
    hashKeys.push(key);
    args.push(String(entries.length));
    for (const [field, value] of entries) args.push(field, value);
  }
  await runFenced(() => redis.eval(FENCED_HSET, 1 + hashKeys.length, keys.epoch, ...hashKeys, ...args), epoch);
}

export async function fencedSetMembers(redis: Redis, keys: SwarmKeys, epoch: number, set: string, action: 'add' | 'remove', members: readonly string[]): Promise<void> {
  if (members.length === 0) return;
  await runFenced(() => redis.eval(FENCED_SET, 2, keys.epoch, set, String(epoch), action, ...members), epoch);
}

async function runFenced(write: () => Promise<unknown>, epoch: number): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (error instanceof Error && error.message.includes('ARGO_FENCED')) {
      throw new ArgoError('ARGO_FENCED', `A write with epoch ${epoch} was refused: another orchestrator leads now`, {
        hint: 'Nothing to do: this orchestrator steps down and stands by.',
        details: { epoch },
      });
    }
    throw error;
  }
}

/**
 * Whether an upload may be published: the drone still holds the job's BullMQ lock (the token its upload carries),
 * and the leader's record of that package names this very job and has not finished it. Both in one script, so
 * a reclaimed-from drone, or a stray job nobody dispatched for this cycle, cannot publish.
 */

import type { Redis } from 'ioredis';
import type { LeaseToken } from '../system/staging-store.ts';
import type { SwarmKeys } from './swarm-keys.ts';

/** KEYS[1] the job's lock, KEYS[2] the cycle's package records; ARGV[1] token, ARGV[2] cpv, ARGV[3] job id. */
const LEASE_IS_CURRENT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local json = redis.call('HGET', KEYS[2], ARGV[2])
if not json then return 0 end
local ok, record = pcall(cjson.decode, json)
if not ok or record.jobId ~= ARGV[3] then return 0 end
if record.state ~= 'queued' and record.state ~= 'building' then return 0 end
return 1`;

export async function isLeaseCurrent(redis: Redis, keys: SwarmKeys, lease: LeaseToken): Promise<boolean> {
  if (lease.token === '') return false;
  const lock = `${keys.bullPrefix}:${lease.queue}:${lease.jobId}:lock`;
  return Number(await redis.eval(LEASE_IS_CURRENT, 2, lock, keys.packages(lease.cycle), lease.token, lease.cpv, lease.jobId)) === 1;
}

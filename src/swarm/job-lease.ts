/** Whether a drone still holds a job's BullMQ lock: the fencing token its upload carries. */

import type { Redis } from 'ioredis';
import type { LeaseToken } from '../system/file-gateway.ts';
import type { SwarmKeys } from './swarm-keys.ts';

export async function isLeaseCurrent(redis: Redis, keys: SwarmKeys, lease: LeaseToken): Promise<boolean> {
  if (lease.token === '') return false;
  return (await redis.get(`${keys.bullPrefix}:${lease.queue}:${lease.jobId}:lock`)) === lease.token;
}

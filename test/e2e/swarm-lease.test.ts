/**
 * The leader lease and the epoch fence against a real redis-server: the Lua scripts are what keeps two
 * orchestrators from both writing, so they are tested where they run.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { heartbeat, listDrones, registerDrone, signOff } from '../../src/swarm/drone-registry.ts';
import { acquireLease, fencedHset, fencedSetMembers, readLeader, releaseLease, renewLease } from '../../src/swarm/leader-lease.ts';
import { swarmKeys } from '../../src/swarm/swarm-keys.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

const keys = swarmKeys('lease-test');
let redis: RedisServer;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = redis.client();
});
afterAll(async () => {
  await redis.destroy();
});

describe('leader lease with an epoch fence', () => {
  it('gives the lease to one orchestrator at a time, each new leader a higher epoch, and fences the old one', async () => {
    const first = await acquireLease(client, keys, 'orch-a', 10_000);
    expect(first).toMatchObject({ id: 'orch-a', epoch: 1 });
    expect(await acquireLease(client, keys, 'orch-b', 10_000)).toBeUndefined();
    expect(await readLeader(client, keys)).toMatchObject({ id: 'orch-a', epoch: 1 });
    expect(await renewLease(client, keys, first!, 10_000)).toBe(true);

    await fencedHset(client, keys, 1, new Map([['lease-test:h', { field: 'by-a' }]]));
    // orch-a pauses past its TTL; orch-b takes over.
    await client.del(keys.leader);
    const second = await acquireLease(client, keys, 'orch-b', 10_000);
    expect(second).toMatchObject({ id: 'orch-b', epoch: 2 });
    expect(await renewLease(client, keys, first!, 10_000)).toBe(false);
    expect(await releaseLease(client, keys, first!)).toBe(false);

    await expect(fencedHset(client, keys, 1, new Map([['lease-test:h', { field: 'late-write-by-a' }]]))).rejects.toMatchObject({ code: 'ARGO_FENCED' });
    await expect(fencedSetMembers(client, keys, 1, 'lease-test:s', 'add', ['x'])).rejects.toMatchObject({ code: 'ARGO_FENCED' });
    expect(await client.hget('lease-test:h', 'field')).toBe('by-a');
    expect(await client.exists('lease-test:s')).toBe(0);

    await fencedHset(client, keys, 2, new Map<string, Record<string, string>>([['lease-test:h', { field: 'by-b', other: '1' }], ['lease-test:h2', { x: 'y' }]]));
    expect(await client.hgetall('lease-test:h')).toEqual({ field: 'by-b', other: '1' });
    expect(await client.hgetall('lease-test:h2')).toEqual({ x: 'y' });
    expect(await releaseLease(client, keys, second!)).toBe(true);
    expect(await readLeader(client, keys)).toBeUndefined();
  });

  it('lets a drone that lost its id to a newer one neither renew nor sign off the newer one', async () => {
    const registration = { id: 'drone-x', cores: 8, slots: 1, sweeper: false, profiles: ['desktop'], host: 'h', startedAt: 0 };
    await registerDrone(client, keys, { ...registration, pid: 100 }, 60_000);
    await expect(registerDrone(client, keys, { ...registration, pid: 200 }, 60_000)).rejects.toMatchObject({ code: 'ARGO_DRONE_ID_IN_USE' });
    expect(await heartbeat(client, keys, 'drone-x', 'h:100', 60_000)).toBe(true);
    // drone-x (pid 100) is paused past its TTL; a new process registers under the id.
    await client.del(keys.alive('drone-x'));
    await registerDrone(client, keys, { ...registration, pid: 200 }, 60_000);
    expect(await heartbeat(client, keys, 'drone-x', 'h:100', 60_000)).toBe(false);
    await signOff(client, keys, 'drone-x', 'h:100');
    expect(await client.get(keys.alive('drone-x'))).toBe('h:200');
    expect((await listDrones(client, keys)).find((drone) => drone.id === 'drone-x')).toMatchObject({ pid: 200, alive: true });
    await signOff(client, keys, 'drone-x', 'h:200');
    expect((await listDrones(client, keys)).find((drone) => drone.id === 'drone-x')).toMatchObject({ alive: false, stoppedAt: expect.any(Number) });
  });

  it('lets the lease lapse after its TTL without renewal', async () => {
    const lease = await acquireLease(client, keys, 'orch-c', 300);
    expect(lease).toBeDefined();
    for (;;) {
      const next = await acquireLease(client, keys, 'orch-d', 300);
      if (next !== undefined) {
        expect(next.epoch).toBe(lease!.epoch + 1);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});

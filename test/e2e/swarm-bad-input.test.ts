/**
 * Bad input to the swarm: every one a clear ARGO_… error naming the thing, and nothing enqueued.
 */

import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecords } from '../../src/swarm/cycle-store.ts';
import { swarmKeys } from '../../src/swarm/swarm-keys.ts';
import { clusterhqPlanPrefix, PROFILE, startCluster, type SwarmCluster } from '../support/swarm-cluster.ts';
import { CLUSTERHQ_EMERGE_LOG, CLUSTERHQ_MD5_CACHE } from '../support/swarm-plan.ts';

const KEYS = swarmKeys('argo');
let cluster: SwarmCluster;

beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster.destroy();
});

const errorOf = (stdout: string): { code: string; message: string } => (JSON.parse(stdout) as { error: { code: string; message: string } }).error;

describe('build-swarm with bad input', { timeout: 180_000 }, () => {
  it('refuses a plan that cannot be read, naming it, and enqueues nothing', async () => {
    const missing = join(cluster.dir, 'no-such-plan.txt');
    const run = await cluster.run(['fresh', '--profile', PROFILE, '--plan', missing, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--json']);
    expect(run.code).toBe(1);
    expect(errorOf(run.stdout)).toMatchObject({ code: 'ARGO_FILE_NOT_FOUND', message: expect.stringContaining(missing) });
    expect(await cluster.client.zcard(KEYS.cycles)).toBe(0);
  });

  it('refuses a plan with no package line, naming the file and line', async () => {
    const plan = join(cluster.dir, 'garbage.txt');
    await writeFile(plan, 'These are the packages that would be merged:\n[ebuild  N  ] not/a-valid cpv\n');
    const run = await cluster.run(['fresh', '--profile', PROFILE, '--plan', plan, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--json']);
    expect(run.code).toBe(1);
    expect(errorOf(run.stdout)).toMatchObject({ code: 'ARGO_INVALID_INPUT', message: expect.stringContaining(plan) });
    expect(await cluster.client.zcard(KEYS.cycles)).toBe(0);
  });

  it('refuses a plan whose packages the md5-cache does not have, naming the plan line, unless told to go on', async () => {
    const prefix = await clusterhqPlanPrefix(3);
    const cache = join(cluster.dir, 'partial-md5-cache');
    const kept = prefix.cpvs[0] as string;
    await mkdir(join(cache, kept.split('/')[0] as string), { recursive: true });
    await copyFile(join(CLUSTERHQ_MD5_CACHE, kept), join(cache, kept));
    const plan = join(cluster.dir, 'partial-plan.txt');
    await writeFile(plan, prefix.text);
    const run = await cluster.run(['fresh', '--profile', 'server', '--plan', plan, '--md5-cache', cache, '--json']);
    expect(run.code).toBe(1);
    expect(errorOf(run.stdout)).toMatchObject({ code: 'ARGO_INVALID_INPUT', message: expect.stringMatching(new RegExp(`${plan}:2 \\(${prefix.cpvs[1]}\\): no md5-cache entry`)) });
    expect(await cluster.client.zcard(KEYS.cycles)).toBe(0);
  });

  it('says which Redis it cannot reach, without its password', async () => {
    const run = await cluster.run(['status', '--redis', 'redis://127.0.0.1:1', '--json']);
    expect(run.code).toBe(1);
    expect(errorOf(run.stdout)).toMatchObject({ code: 'ARGO_REDIS_UNREACHABLE', message: expect.stringContaining('redis://127.0.0.1:1') });
    expect(run.stdout + run.stderr).not.toContain(cluster.redis.password);
  });

  it('refuses a password on the command line and never echoes it', async () => {
    const run = await cluster.run(['status', '--redis', 'redis://:hunter2-secret@127.0.0.1:6379', '--json']);
    expect(run.code).toBe(2);
    expect(errorOf(run.stdout).code).toBe('ARGO_CONFIG_INVALID');
    expect(run.stdout + run.stderr).not.toContain('hunter2-secret');
  });

  it('fails a package whose build leaves no binary, keeps its emerge log, and blocks what needs it', async () => {
    const prefix = await clusterhqPlanPrefix(6);
    // The first package of the merge order: later ones need it.
    const victim = prefix.cpvs[0] as string;
    const plan = join(cluster.dir, 'plan.txt');
    await writeFile(plan, prefix.text);
    const fresh = await cluster.run(['fresh', '--profile', PROFILE, '--plan', plan, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--history', CLUSTERHQ_EMERGE_LOG, '--json']);
    expect(fresh.code, fresh.stderr).toBe(0);
    const cycle = (JSON.parse(fresh.stdout) as { cycle: string }).cycle;

    // fresh is idempotent: the same packages again start nothing and name the running cycle; others are refused.
    const again = await cluster.run(['fresh', '--profile', PROFILE, '--plan', plan, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ cycle, alreadyRunning: true, packages: 6 });
    const otherPlan = join(cluster.dir, 'plan-other.txt');
    await writeFile(otherPlan, (await clusterhqPlanPrefix(5)).text);
    const other = await cluster.run(['fresh', '--profile', PROFILE, '--plan', otherPlan, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--json']);
    expect(other.code).toBe(3);
    expect(errorOf(other.stdout)).toMatchObject({ code: 'ARGO_CYCLE_ACTIVE', message: expect.stringContaining(cycle) });
    expect(await cluster.client.zcard(KEYS.cycles)).toBe(1);

    // The swarm starts only now: a cycle this small fails through in seconds, before a second fresh could run.
    await cluster.startOrchestrator('orch-1');
    await cluster.startDrone({ id: 'drone-1', cores: 8, fakeConf: [`NO_BINARY_CPVS=${victim}`] });

    const status = await cluster.waitForStatus((state) => state.cycles.find((entry) => entry.id === cycle)?.status === 'finished', 'the cycle to end');
    const record = (await readRecords(cluster.client, KEYS, cycle)).get(victim);
    expect(record).toMatchObject({ state: 'failed' });
    expect(record?.failures).toHaveLength(1);
    expect(record?.failures[0]?.reason).toContain('no binary package');
    const log = await readFile(record?.failures[0]?.log as string, 'utf8');
    expect(log).toContain(`>>> Emerging (1 of 1) ${victim}`);
    const cycleStatus = status.cycles.find((entry) => entry.id === cycle);
    expect(cycleStatus?.counts.failed).toBe(1);
    expect((cycleStatus?.counts.blocked ?? 0) + (cycleStatus?.counts.built ?? 0)).toBe(5);
  });
});

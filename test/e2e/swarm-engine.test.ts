/**
 * The build swarm end to end on real components: a real redis-server (AOF on), orchestrator and drone
 * processes of the built CLI, BullMQ as shipped, the faithful fake `emerge --buildpkg` writing real GPKGs in
 * each drone's profile root. What was built, where and when is read from the drones' own logs (the fake's
 * per-root merge log), never from the orchestrator's word.
 */

import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePackagesIndex } from '../../src/core/gentoo/parse-packages-index.ts';
import type { CycleStatus, SwarmStatus } from '../../src/core/swarm/swarm-status.ts';
import { readCycle, readRecords } from '../../src/swarm/cycle-store.ts';
import { fencedHset } from '../../src/swarm/leader-lease.ts';
import { swarmKeys } from '../../src/swarm/swarm-keys.ts';
import { clusterhqPlanPrefix, droneMerges, killTree, PROFILE, startCluster, waitUntilGone, type FakeMerge, type SwarmCluster } from '../support/swarm-cluster.ts';
import { CLUSTERHQ_EMERGE_LOG, CLUSTERHQ_MD5_CACHE, clusterhqRebuildPlan } from '../support/swarm-plan.ts';

const KEYS = swarmKeys('argo');
let cluster: SwarmCluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

async function startCycle(swarm: SwarmCluster, plan: string): Promise<string> {
  const file = join(swarm.dir, 'plan.txt');
  await writeFile(file, plan);
  const result = await swarm.run(['fresh', '--profile', PROFILE, '--plan', file, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--history', CLUSTERHQ_EMERGE_LOG, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { cycle: string }).cycle;
}

async function finished(swarm: SwarmCluster, cycle: string): Promise<CycleStatus> {
  const status = await swarm.waitForStatus((state) => state.cycles.some((entry) => entry.id === cycle && entry.status === 'finished'), `cycle ${cycle} to finish`);
  return status.cycles.find((entry) => entry.id === cycle) as CycleStatus;
}

const sourceBuilds = (merges: readonly FakeMerge[]): FakeMerge[] => merges.filter((merge) => merge.kind === 'source');

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** Every package of the cycle built from source exactly once, and each after every dependency's build ended. */
async function expectBuiltOnceInOrder(swarm: SwarmCluster, cycle: string): Promise<FakeMerge[]> {
  const definition = (await readCycle(swarm.client, KEYS, cycle))?.definition;
  expect(definition).toBeDefined();
  const builds = sourceBuilds(await droneMerges(swarm));
  const counts = countBy(builds, (build) => build.cpv);
  expect([...counts.keys()].sort()).toEqual(definition?.nodes.map((node) => node.cpv).sort());
  expect([...counts].filter(([, count]) => count !== 1)).toEqual([]);
  const byCpv = new Map(builds.map((build) => [build.cpv, build]));
  const late = (definition?.edges ?? []).filter((edge) => (byCpv.get(edge.from)?.end ?? Infinity) > (byCpv.get(edge.to)?.start ?? -Infinity));
  expect(late).toEqual([]);
  return builds;
}

// Each test starts a swarm of real processes on this machine's two cores; the full cycle builds 135 packages.
describe('build-swarm engine on a real Redis', { timeout: 600_000 }, () => {
  it('builds the real clusterhq DAG with three drones and a sweeper: every package once, every dependency first, all in staging', async () => {
    cluster = await startCluster();
    await cluster.startOrchestrator('orch-1');
    for (const spec of [
      { id: 'drone-16', cores: 16 },
      { id: 'drone-8', cores: 8 },
      { id: 'drone-14', cores: 14 },
      { id: 'sweeper-24', cores: 24, sweeper: true },
    ]) {
      await cluster.startDrone(spec);
    }
    const cycle = await startCycle(cluster, await clusterhqRebuildPlan());
    const status = await finished(cluster, cycle);
    expect(status.counts.built).toBe(135);
    expect(status.counts.failed + status.counts.blocked + status.counts.queued + status.counts['dep-wait'] + status.counts.building).toBe(0);

    const builds = await expectBuiltOnceInOrder(cluster, cycle);
    // Every drone took part, and dependencies reached other drones as binaries from staging.
    expect(new Set(builds.map((build) => build.drone))).toEqual(new Set(['drone-16', 'drone-8', 'drone-14', 'sweeper-24']));
    const binaries = (await droneMerges(cluster)).filter((merge) => merge.kind === 'binary');
    expect(binaries.length).toBeGreaterThan(50);

    // The staging binhost lists every package, and each listed file is there with its size.
    const staging = join(cluster.gateway, 'staging', PROFILE);
    const index = parsePackagesIndex(await readFile(join(staging, 'Packages'), 'utf8'));
    expect(index.packages.map((entry) => entry.fields.CPV).sort()).toEqual(builds.map((build) => build.cpv).sort());
    for (const entry of index.packages) expect((await stat(join(staging, entry.fields.PATH as string))).size).toBe(Number(entry.fields.SIZE));
    const compressed = parsePackagesIndex(gunzipSync(await readFile(join(staging, 'Packages.gz'))).toString('utf8'));
    expect(compressed.packages.map((entry) => entry.fields)).toEqual(index.packages.map((entry) => entry.fields));

    // The swarm's own history now has every built package's duration, and the next cycle's estimates use it.
    expect(await cluster.client.llen(KEYS.durations('sys-libs/glibc'))).toBe(1);
    const plan = join(cluster.dir, 'plan.txt');
    const next = await cluster.run(['fresh', '--profile', PROFILE, '--plan', plan, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--json']);
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ historyBuilds: 0, swarmHistoryPackages: 135 });
  });

  it('builds two profiles side by side: each cycle in its own root, with its own USE, into its own binhost', async () => {
    const prefix = await clusterhqPlanPrefix(8);
    cluster = await startCluster({ repository: prefix.cpvs });
    await cluster.startOrchestrator('orch-1');
    const profiles = ['desktop', 'dev'];
    await cluster.startDrone({ id: 'drone-16', cores: 16, profiles });
    await cluster.startDrone({ id: 'drone-8', cores: 8, profiles });
    const plan = join(cluster.dir, 'plan.txt');
    await writeFile(plan, prefix.text);
    const cycles: string[] = [];
    for (const profile of profiles) {
      const run = await cluster.run(['fresh', '--profile', profile, '--plan', plan, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--history', CLUSTERHQ_EMERGE_LOG, '--json']);
      expect(run.code, run.stderr).toBe(0);
      cycles.push((JSON.parse(run.stdout) as { cycle: string }).cycle);
    }
    for (const cycle of cycles) expect((await finished(cluster, cycle)).counts.built).toBe(8);
    const glibcUse = new Map<string, string>();
    for (const profile of profiles) {
      // Built in the profile's own root, published into the profile's own binhost.
      expect(sourceBuilds(await droneMerges(cluster, profile)).map((build) => build.cpv).sort()).toEqual([...prefix.cpvs].sort());
      const index = parsePackagesIndex(await readFile(join(cluster.gateway, 'staging', profile, 'Packages'), 'utf8'));
      expect(index.packages.map((entry) => entry.fields.CPV).sort()).toEqual([...prefix.cpvs].sort());
      glibcUse.set(profile, index.packages.find((entry) => entry.fields.CPV === 'sys-libs/glibc-2.19-r1')?.fields.USE ?? '');
    }
    // glibc has `debug` in IUSE: the dev profile (USE="debug test doc") builds it in, the desktop profile does not.
    expect(glibcUse.get('dev')?.split(' ')).toContain('debug');
    expect(glibcUse.get('desktop')?.split(' ')).not.toContain('debug');
  });

  it('reclaims the build of a drone killed with SIGKILL and finishes it on another drone', async () => {
    const prefix = await clusterhqPlanPrefix(16);
    cluster = await startCluster({ repository: prefix.cpvs });
    const orchestrator = await cluster.startOrchestrator('orch-1');
    // The victim's builds never end, so it is surely mid-build when it dies.
    const victim = await cluster.startDrone({ id: 'victim', cores: 32, fakeConf: [`HANG_CPVS=${prefix.cpvs.join(',')}`] });
    await cluster.startDrone({ id: 'drone-8', cores: 8 });
    const cycle = await startCycle(cluster, prefix.text);
    const running = await cluster.waitForLog(victim, (line) => line.event === 'swarm.build-running', 'the victim to start a build');
    const emerge = await cluster.waitForLog(victim, (line) => line.event === 'command.started' && Array.isArray(line.argv) && line.argv.includes(`=${String(running.cpv)}`), 'its emerge');
    expect((await cluster.logLines(victim)).find((line) => line.event === 'swarm.drone-started')?.buildsDieWithDrone).toBe(true);
    // Only the drone is killed: its emerge (setpriv's PR_SET_PDEATHSIG) must die with it, not build on as an orphan.
    process.kill(victim.child.pid as number, 'SIGKILL');
    const killedAt = Date.now();
    await waitUntilGone(Number(emerge.pid));
    const reclaimed = await cluster.waitForLog(orchestrator, (line) => line.event === 'swarm.reclaimed' && line.cpv === running.cpv, 'the reclaim');
    const reclaimMs = Date.parse(String(reclaimed.time)) - killedAt;
    console.log(`reclaim after kill -9 with lockDuration 10 s, stalledInterval 5 s: ${reclaimMs} ms`);
    expect(reclaimed.drone).toBe('victim');
    await finished(cluster, cycle);
    const builds = await expectBuiltOnceInOrder(cluster, cycle);
    expect(builds.find((build) => build.cpv === running.cpv)?.drone).toBe('drone-8');
    const records = await readRecords(cluster.client, KEYS, cycle);
    // A drone dying is the infrastructure's failure, not the package's.
    expect([...records.values()].flatMap((record) => record.failures).filter((failure) => failure.kind === 'package')).toEqual([]);
  });

  it('grounds a drone whose builds always fail after five failures; the others build its work and every failed attempt keeps its log', async () => {
    const prefix = await clusterhqPlanPrefix(20);
    cluster = await startCluster({ repository: prefix.cpvs, orchestrator: { breaker: { failures: 5, fast_failure_ms: 1 } } });
    const orchestrator = await cluster.startOrchestrator('orch-1');
    await cluster.startDrone({ id: 'broken', cores: 64, fakeConf: ['FAIL=always'] });
    await cluster.startDrone({ id: 'drone-8', cores: 8 });
    await cluster.startDrone({ id: 'drone-4', cores: 4 });
    const cycle = await startCycle(cluster, prefix.text);
    const status = await finished(cluster, cycle);
    expect(status.counts.built).toBe(20);

    const lines = await cluster.logLines(orchestrator);
    const grounded = lines.filter((line) => line.event === 'swarm.grounded');
    expect(grounded.map((line) => line.drone)).toEqual(['broken']);
    expect(String(grounded[0]?.reason)).toMatch(/^5 builds in a row failed/);
    const groundedAt = lines.indexOf(grounded[0] as Record<string, unknown>);
    const failuresBefore = lines.slice(0, groundedAt).filter((line) => line.event === 'swarm.build-failed' && line.drone === 'broken' && line.kind === 'package');
    expect(failuresBefore).toHaveLength(5);
    expect(lines.slice(groundedAt).filter((line) => line.event === 'swarm.dispatched' && line.drone === 'broken')).toEqual([]);

    const builds = await expectBuiltOnceInOrder(cluster, cycle);
    expect(builds.filter((build) => build.drone === 'broken')).toEqual([]);
    const failures = [...(await readRecords(cluster.client, KEYS, cycle)).values()].flatMap((record) => record.failures);
    expect(failures).toHaveLength(5);
    for (const failure of failures) {
      expect(failure).toMatchObject({ kind: 'package', drone: 'broken' });
      expect(await readFile(failure.log as string, 'utf8')).toContain('failed (compile phase)');
    }
    // What the operator sees, through the CLI.
    const run = await cluster.run(['status', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const state = JSON.parse(run.stdout) as SwarmStatus;
    expect(state.leader).toMatchObject({ id: 'orch-1' });
    expect(state.drones.find((drone) => drone.id === 'broken')).toMatchObject({ state: 'grounded', reason: expect.stringMatching(/5 builds in a row failed/) });
    expect(state.drones.filter((drone) => drone.id !== 'broken').map((drone) => drone.state)).toEqual(['idle', 'idle']);
    expect(state.cycles[0]).toMatchObject({ id: cycle, status: 'finished', counts: { built: 20, failed: 0 }, eta: 0 });
    expect(state.cycles[0]?.lowerBound).toBeGreaterThan(0);
  });

  it('survives kill -9 of the leader: the standby leads within the lease TTL, finishes the cycle, builds nothing twice, and Redis refuses the old epoch', async () => {
    const prefix = await clusterhqPlanPrefix(24);
    cluster = await startCluster({ repository: prefix.cpvs });
    const leader = await cluster.startOrchestrator('orch-a');
    await cluster.waitForLog(leader, (line) => line.event === 'swarm.leading', 'orch-a to lead');
    const standby = await cluster.startOrchestrator('orch-b');
    await cluster.startDrone({ id: 'drone-16', cores: 16 });
    await cluster.startDrone({ id: 'drone-8', cores: 8 });
    const cycle = await startCycle(cluster, prefix.text);
    await cluster.waitForStatus((state) => (state.cycles.find((entry) => entry.id === cycle)?.counts.built ?? 0) >= 6, 'six packages built');
    const oldEpoch = Number((await cluster.logLines(leader)).find((line) => line.event === 'swarm.leading')?.epoch);
    await killTree(leader.child.pid);
    const killedAt = Date.now();
    const leading = await cluster.waitForLog(standby, (line) => line.event === 'swarm.leading', 'orch-b to lead');
    console.log(`standby led ${Date.parse(String(leading.time)) - killedAt} ms after kill -9 of the leader (lease TTL 6 s)`);
    expect(Number(leading.epoch)).toBe(oldEpoch + 1);
    await finished(cluster, cycle);
    await expectBuiltOnceInOrder(cluster, cycle);

    const before = await cluster.client.hgetall(KEYS.packages(cycle));
    await expect(fencedHset(cluster.client, KEYS, oldEpoch, new Map([[KEYS.packages(cycle), { 'sys-libs/glibc-2.19-r1': '{"forged":true}' }]]))).rejects.toMatchObject({ code: 'ARGO_FENCED' });
    expect(await cluster.client.hgetall(KEYS.packages(cycle))).toEqual(before);
  });

  it('a stopped leader that wakes up after the standby took over writes nothing and stands by', async () => {
    const prefix = await clusterhqPlanPrefix(16);
    cluster = await startCluster({ repository: prefix.cpvs });
    const leader = await cluster.startOrchestrator('orch-a');
    await cluster.waitForLog(leader, (line) => line.event === 'swarm.leading', 'orch-a to lead');
    const standby = await cluster.startOrchestrator('orch-b');
    await cluster.startDrone({ id: 'drone-16', cores: 16 });
    const cycle = await startCycle(cluster, prefix.text);
    await cluster.waitForStatus((state) => (state.cycles.find((entry) => entry.id === cycle)?.counts.built ?? 0) >= 3, 'three packages built');
    process.kill(leader.child.pid as number, 'SIGSTOP');
    await cluster.waitForLog(standby, (line) => line.event === 'swarm.leading', 'orch-b to lead');
    process.kill(leader.child.pid as number, 'SIGCONT');
    const stoodBy = await cluster.waitForLog(leader, (line) => line.event === 'swarm.standing-by', 'orch-a to stand by');
    expect(String(stoodBy.reason)).toMatch(/lease|another orchestrator/);
    await finished(cluster, cycle);
    await expectBuiltOnceInOrder(cluster, cycle);
  });

  it('loses nothing when Redis stops for 10 s and restarts from its AOF', async () => {
    const prefix = await clusterhqPlanPrefix(24);
    cluster = await startCluster({ repository: prefix.cpvs });
    const orchestrator = await cluster.startOrchestrator('orch-1');
    const drone = await cluster.startDrone({ id: 'drone-16', cores: 16 });
    await cluster.startDrone({ id: 'drone-8', cores: 8 });
    const cycle = await startCycle(cluster, prefix.text);
    await cluster.waitForStatus((state) => (state.cycles.find((entry) => entry.id === cycle)?.counts.built ?? 0) >= 5, 'five packages built');
    await cluster.redis.stop();
    // The outage itself: ten seconds, as an operator restarting Redis would cause.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    await cluster.redis.start();
    await finished(cluster, cycle);
    expect(Object.keys(await cluster.client.hgetall(KEYS.packages(cycle)))).toHaveLength(24);
    const builds = sourceBuilds(await droneMerges(cluster));
    expect(new Set(builds.map((build) => build.cpv)).size).toBe(24);
    for (const role of [orchestrator, drone]) expect((await cluster.logLines(role)).some((line) => line.event === 'swarm.redis-retry')).toBe(true);
  });

  it('drains a drone on SIGTERM: its running build finishes and is published, then it stops and takes nothing more', async () => {
    const prefix = await clusterhqPlanPrefix(12);
    cluster = await startCluster({ repository: prefix.cpvs, drone: { drain_ms: 120_000 } });
    await cluster.startOrchestrator('orch-1');
    // Slow builds on the drone to stop, so SIGTERM surely lands mid-build.
    const leaving = await cluster.startDrone({ id: 'leaving', cores: 32, fakeConf: ['TIME_SCALE=0.01', 'MIN_SECONDS=2'] });
    await cluster.startDrone({ id: 'drone-8', cores: 8 });
    const cycle = await startCycle(cluster, prefix.text);
    const running = await cluster.waitForLog(leaving, (line) => line.event === 'swarm.build-running', 'a build on the leaving drone');
    process.kill(leaving.child.pid as number, 'SIGTERM');
    expect(await leaving.exited).toBe(0);
    const lines = await cluster.logLines(leaving);
    const draining = lines.findIndex((line) => line.event === 'swarm.draining');
    expect(lines.slice(draining).some((line) => line.event === 'swarm.build-uploaded' && line.cpv === running.cpv)).toBe(true);
    expect(lines.slice(draining).filter((line) => line.event === 'swarm.build-running')).toEqual([]);
    await finished(cluster, cycle);
    const builds = await expectBuiltOnceInOrder(cluster, cycle);
    expect(builds.find((build) => build.cpv === running.cpv)?.drone).toBe('leaving');
    expect((await cluster.status()).drones.find((drone) => drone.id === 'leaving')).toMatchObject({ state: 'offline', reason: 'stopped' });
  });

  it('hands a build back when the drain runs out of time: it is rebuilt elsewhere and not held against the package', async () => {
    const prefix = await clusterhqPlanPrefix(8);
    cluster = await startCluster({ repository: prefix.cpvs, drone: { drain_ms: 1_000 } });
    await cluster.startOrchestrator('orch-1');
    const leaving = await cluster.startDrone({ id: 'leaving', cores: 32, fakeConf: [`HANG_CPVS=${prefix.cpvs.join(',')}`] });
    await cluster.startDrone({ id: 'drone-8', cores: 8 });
    const cycle = await startCycle(cluster, prefix.text);
    const running = await cluster.waitForLog(leaving, (line) => line.event === 'swarm.build-running', 'a build on the leaving drone');
    process.kill(leaving.child.pid as number, 'SIGTERM');
    expect(await leaving.exited).toBe(0);
    await finished(cluster, cycle);
    const builds = await expectBuiltOnceInOrder(cluster, cycle);
    expect(builds.find((build) => build.cpv === running.cpv)?.drone).toBe('drone-8');
    const record = (await readRecords(cluster.client, KEYS, cycle)).get(String(running.cpv));
    expect(record?.failures.map((failure) => failure.kind)).toEqual(['infrastructure']);
    expect(record?.state).toBe('built');
  });
});

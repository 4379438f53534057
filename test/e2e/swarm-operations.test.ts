/**
 * The operator's commands against a real swarm (every role its own process of the built CLI, an HTTP gateway,
 * a real redis-server, the faithful fake emerge): status with its next action, live build output, reset (builds
 * taken back, their emerges stopped, nothing counted against the package), cancel of one package, sync on every
 * drone (refused while a cycle runs), drone ground/unground, and the events each of these leaves.
 */

import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CycleStatus } from '../../src/core/swarm/swarm-status.ts';
import type { SwarmEvent } from '../../src/swarm-client/api.ts';
import { createSwarmClient, type SwarmClient } from '../../src/swarm-client/swarm-client.ts';
import { execa } from 'execa';
import { clusterhqPlanPrefix, PROFILE, startCluster, SWARM_BIN, type RoleProcess, type SwarmCluster } from '../support/swarm-cluster.ts';
import { PROJECT } from '../support/run-cli.ts';
import { CLUSTERHQ_MD5_CACHE } from '../support/swarm-plan.ts';

let cluster: SwarmCluster;
let admin: SwarmClient;
let drone: RoleProcess;
let gateway: string[];
let hung: string;
let cycle: string;
let planText: string;

const packageOf = (status: { cycles: readonly CycleStatus[] }, cpv: string) => status.cycles.find((entry) => entry.id === cycle)?.packages.find((pkg) => pkg.cpv === cpv);

async function eventsUntil(client: SwarmClient, since: string, done: (events: SwarmEvent[]) => boolean): Promise<SwarmEvent[]> {
  const seen: SwarmEvent[] = [];
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 60_000);
  try {
    for await (const event of client.events({ since, signal: stop.signal })) {
      seen.push(event);
      if (done(seen)) break;
    }
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  return seen;
}

beforeAll(async () => {
  cluster = await startCluster({ httpGateway: true });
  const http = cluster.http;
  if (http === undefined) throw new Error('no gateway');
  admin = createSwarmClient({ url: http.url, token: http.tokens.admin });
  gateway = ['--gateway', http.url, '--token-file', http.tokenFiles.admin];
  const prefix = await clusterhqPlanPrefix(6);
  hung = prefix.cpvs[0] as string;
  await cluster.startOrchestrator('orch-1');
  drone = await cluster.startDrone({ id: 'op-drone', cores: 8, fakeConf: [`HANG_CPVS=${hung}`] });
  planText = prefix.text;
  cycle = (await admin.startCycle(PROFILE, { plan: prefix.text })).cycle;
  await cluster.waitForStatus((status) => packageOf(status, hung)?.state === 'building', `${hung} building`);
}, 180_000);
afterAll(async () => {
  await cluster?.destroy();
});

describe('operating the swarm', { timeout: 300_000 }, () => {
  it('status through the gateway: the running build with its start and expected time, the queue, and the next action', async () => {
    const result = await cluster.run(['status', ...gateway, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout) as { cycles: CycleStatus[]; next: { reason: string; command?: string } };
    const pkg = packageOf(status, hung);
    expect(pkg?.drone).toBe('op-drone');
    expect(pkg?.startedAt).toBeGreaterThan(0);
    expect(pkg?.expected).toBeGreaterThan(0);
    expect(status.cycles[0]?.queue).toEqual({ heavy: expect.any(Number), normal: expect.any(Number) });
    expect(status.next.reason).toContain(`Cycle ${cycle}`);
    expect(status.next.command).toBe('build-swarm monitor');
    const text = await cluster.run(['status', ...gateway]);
    expect(text.stdout).toMatch(new RegExp(`op-drone\\s+building.*${hung.replace(/[.+]/g, '\\$&')}`));
    expect(text.stdout).toContain('next: Cycle');
  });

  it('shows a running build\'s output so far, and the package events that led there', async () => {
    const logs = await cluster.run(['logs', hung, ...gateway]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('>>> Compiling source in');
    const events = await eventsUntil(admin, '0', (seen) => seen.some((event) => event.type === 'package' && event.fields.cpv === hung && event.fields.state === 'building'));
    expect(events.some((event) => event.type === 'cycle-started' && event.fields.cycle === cycle)).toBe(true);
  });

  it('reset takes the build back: its emerge is stopped, it goes to the queue without a failure, and is built again', async () => {
    const before = packageOf(await cluster.status(), hung);
    const reset = await cluster.run(['reset', ...gateway, '--json']);
    expect(reset.code, reset.stdout + reset.stderr).toBe(0);
    expect(JSON.parse(reset.stdout)).toMatchObject({ command: 'reset', outcome: 'applied' });
    await cluster.waitForLog(drone, (line) => line.event === 'swarm.build-taken-back', 'the drone stopping the build taken back');
    const again = await cluster.waitForStatus((status) => (packageOf(status, hung)?.attempt ?? 0) > (before?.attempt ?? 0) && packageOf(status, hung)?.state === 'building', `${hung} dispatched again`);
    expect(packageOf(again, hung)?.failures).toBe(0);
  });

  it('sync is refused while the cycle runs', async () => {
    const sync = await cluster.run(['sync', ...gateway, '--json']);
    expect(sync.code).toBe(3);
    expect(sync.stdout + sync.stderr).toContain('ARGO_CYCLE_ACTIVE');
    // fresh --sync of the same packages answers the running cycle and syncs nothing under its builds.
    const plan = join(cluster.dir, 'plan-running.txt');
    await writeFile(plan, planText);
    const fresh = await cluster.run(['fresh', '--profile', PROFILE, '--plan', plan, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--sync', '--json']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ cycle, alreadyRunning: true });
    await expect(readFile(join(cluster.droneRoot('op-drone'), PROFILE, 'var/db/repos/gentoo/metadata/timestamp.chk'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('cancel of the hung package skips it, blocks what needs it, stops its emerge, and the cycle finishes', async () => {
    const cancelledAt = Date.now();
    const cancel = await cluster.run(['cancel', hung, ...gateway, '--json']);
    expect(cancel.code, cancel.stderr).toBe(0);
    const status = await cluster.waitForStatus((state) => state.cycles.some((entry) => entry.id === cycle && entry.status === 'finished'), `${cycle} finished`);
    const finished = status.cycles.find((entry) => entry.id === cycle) as CycleStatus;
    expect(packageOf(status, hung)).toMatchObject({ state: 'skipped', reason: expect.stringContaining('cancelled by admin') });
    expect(finished.counts.built + finished.counts.skipped + finished.counts.blocked).toBe(6);
    for (const pkg of finished.packages.filter((entry) => entry.state === 'blocked')) expect(pkg.reason).toContain(`needs ${hung}, which was cancelled`);
    // The drone stops that build (it sees its lease gone within a lease check): its emerge ends.
    const at = (line: Record<string, unknown>): number => Date.parse(String(line.time));
    const takenBack = await cluster.waitForLog(drone, (line) => line.event === 'swarm.build-taken-back' && at(line) >= cancelledAt, 'the drone taking the cancelled build back');
    await cluster.waitForLog(drone, (line) => line.event === 'command.exited' && JSON.stringify(line).includes(`=${hung}`) && at(line) >= at(takenBack), `the emerge of ${hung} ended after the cancel`);
    const again = await cluster.run(['cancel', hung, '--cycle', cycle, ...gateway, '--json']);
    expect(again.code).not.toBe(0);
  });

  it('sync runs emerge --sync in every drone\'s profile root and reports each drone', async () => {
    const sync = await cluster.run(['sync', ...gateway, '--budget', '60', '--json']);
    expect(sync.code, sync.stderr).toBe(0);
    const answer = JSON.parse(sync.stdout) as { drones: { drone: string; outcome: string; detail: string }[] };
    expect(answer.drones).toEqual([{ drone: 'op-drone', outcome: 'ok', seconds: expect.any(Number), detail: `${PROFILE}: === Sync completed for gentoo` }]);
    const stamp = await readFile(join(cluster.droneRoot('op-drone'), PROFILE, 'var/db/repos/gentoo/metadata/timestamp.chk'), 'utf8');
    expect(stamp).toMatch(/^\w{3}, \d{2} \w{3} \d{4} [\d:]{8} \+0000\n$/);
  });

  it('fresh --sync syncs the profile\'s drones first, and starts no cycle when one fails to sync', async () => {
    const plan = join(cluster.dir, 'plan-sync.txt');
    // Two packages after the hung one (the drone still hangs on that one).
    const lines = (await clusterhqPlanPrefix(3)).text.split('\n').filter((line) => line.startsWith('[ebuild') && !line.includes(hung));
    await writeFile(plan, `${lines.join('\n')}\n\nTotal: 2 packages (2 reinstalls), Size of downloads: 0 KiB\n`);
    const failing = join(cluster.droneRoot('op-drone'), PROFILE, 'etc/portage/fake-sync-fails');
    await writeFile(failing, '');
    const cycles = await cluster.client.zcard(`${'argo'}:cycles`);
    const refused = await cluster.run(['fresh', '--profile', PROFILE, '--plan', plan, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--sync', '--sync-budget', '60', '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'ARGO_SYNC_FAILED', message: expect.stringContaining('op-drone (failed') } });
    expect(await cluster.client.zcard(`${'argo'}:cycles`)).toBe(cycles);
    await rm(failing);
    const fresh = await cluster.run(['fresh', '--profile', PROFILE, '--plan', plan, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--sync', '--sync-budget', '60', '--json']);
    expect(fresh.code, fresh.stderr).toBe(0);
    const started = JSON.parse(fresh.stdout) as { cycle: string; alreadyRunning: boolean };
    expect(started.alreadyRunning).toBe(false);
    await cluster.waitForStatus((state) => state.cycles.some((entry) => entry.id === started.cycle && entry.status === 'finished'), 'the synced cycle to finish');
  });

  it('grounds and ungrounds a drone from the CLI, waiting for the leader to apply each', async () => {
    const ground = await cluster.run(['drone', 'ground', 'op-drone', '--reason', 'fan replacement', '--minutes', '5', ...gateway, '--json']);
    expect(ground.code, ground.stderr).toBe(0);
    expect((await cluster.status()).drones.find((entry) => entry.id === 'op-drone')).toMatchObject({ state: 'grounded', reason: expect.stringContaining('fan replacement') });
    const unground = await cluster.run(['drone', 'unground', 'op-drone', ...gateway, '--json']);
    expect(unground.code, unground.stderr).toBe(0);
    expect((await cluster.status()).drones.find((entry) => entry.id === 'op-drone')?.state).not.toBe('grounded');
    const unknown = await cluster.run(['drone', 'restart', 'no-such-drone', ...gateway]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('No drone no-such-drone');
  });

  it('on a terminal, asks before a reset and does nothing unless told yes; --yes does not ask', async () => {
    const before = await cluster.client.xlen('argo:commands');
    // A real terminal (script(1) gives the command a pty), answered "n".
    const command = ['node', SWARM_BIN, 'reset', ...gateway].map((word) => `'${word}'`).join(' ');
    const refused = await execa('script', ['-qec', command, '/dev/null'], { input: 'n\n', reject: false, env: { ...process.env, NO_COLOR: '1', PATH: `${join(PROJECT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` } });
    expect(refused.stdout).toContain('Go ahead? [y/N]');
    expect(refused.stdout).toContain('ARGO_NOT_CONFIRMED');
    expect(await cluster.client.xlen('argo:commands')).toBe(before);
    const yes = await execa('script', ['-qec', `${command} --yes`, '/dev/null'], { input: '', reject: false, env: { ...process.env, NO_COLOR: '1', PATH: `${join(PROJECT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` } });
    expect(yes.stdout).not.toContain('Go ahead?');
    expect(yes.stdout).toContain('Reset (0 build(s) taken back): done.');
    expect(await cluster.client.xlen('argo:commands')).toBe(before + 1);
  });

  it('prints a completion script', async () => {
    const completion = await cluster.run(['completion']);
    expect(completion.code).toBe(0);
    expect(completion.stdout).toContain('complete -o default -F _build_swarm build-swarm');
  });
});

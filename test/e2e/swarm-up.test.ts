/**
 * `build-swarm up` as a newcomer runs it: the built CLI starts a private redis-server, the gateway, two
 * orchestrators and two drones (the faithful fake emerge, real GPKGs) from one data folder, prints its ready
 * line, runs a cycle, refuses a second `up` on the same folder, restarts a child killed with SIGKILL, stops
 * every process on SIGTERM, and reuses the folder the next time. And the README's second demo, end to end.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSwarmClient } from '../../src/swarm-client/swarm-client.ts';
import { createProcessTable } from '../../src/system/process-table.ts';
import { PROJECT } from '../support/run-cli.ts';
import { clusterhqPlanPrefix, FAKE_EMERGE_BIN, prepareProfileRoot, runSwarmCli, SWARM_BIN } from '../support/swarm-cluster.ts';
import { CLUSTERHQ_EMERGE_LOG, CLUSTERHQ_MD5_CACHE } from '../support/swarm-plan.ts';

interface Ready {
  ready: true;
  url: string;
  dashboard: string;
  adminTokenFile: string;
  readTokenFile: string;
  config: string;
  data: string;
  leader: string;
  drones: string[];
  logs: string;
  pids: Record<string, number>;
  env: { ARGO_SWARM_GATEWAY: string; ARGO_SWARM_TOKEN_FILE: string };
}

interface Up {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

const ENV = { ...process.env, PATH: `${join(PROJECT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`, NO_COLOR: '1' };
const table = createProcessTable();
let dir: string;
let data: string;
let seed: string;
const started: Up[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'argo-swarm-up-'));
  data = join(dir, 'data');
  seed = join(dir, 'seed');
  await prepareProfileRoot(seed, [], undefined);
}, 120_000);
afterAll(async () => {
  for (const up of started) if (up.child.exitCode === null && up.child.signalCode === null) up.child.kill('SIGKILL');
  await Promise.all(started.map((up) => up.exited));
  await rm(dir, { recursive: true, force: true });
});

function startUp(extra: readonly string[] = []): Up {
  const args = [SWARM_BIN, 'up', '--data', data, '--port', '0', '--drones', '2', '--json', '--md5-cache', CLUSTERHQ_MD5_CACHE, '--history', CLUSTERHQ_EMERGE_LOG, '--emerge', join(FAKE_EMERGE_BIN, 'emerge'), '--seed', seed, ...extra];
  const child = spawn(process.execPath, args, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const up = { child, exited, stdout: () => stdout, stderr: () => stderr };
  started.push(up);
  return up;
}

/** Polls `probe` every 100 ms until it gives something; fails when `up` exits first. */
async function until<T>(up: Up, what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (up.child.exitCode !== null || up.child.signalCode !== null) throw new Error(`build-swarm up exited (${String(up.child.exitCode ?? up.child.signalCode)}) before ${what}: ${up.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const readyOf = (up: Up): Promise<Ready> =>
  until(up, 'the ready line', () => {
    const line = up.stdout().split('\n').find((entry) => entry.startsWith('{') && entry.includes('"ready":true'));
    return line === undefined ? undefined : (JSON.parse(line) as Ready);
  });

const pidsFile = async (): Promise<{ pid: number; children: Record<string, number> }> => JSON.parse(await readFile(join(data, 'pids.json'), 'utf8')) as { pid: number; children: Record<string, number> };

describe('build-swarm up', { timeout: 600_000 }, () => {
  let first: { admin: string; config: string; cycle: string };

  it('starts a whole swarm, prints its ready line, builds a cycle, refuses a second up, restarts a killed child, and stops everything on SIGTERM', async () => {
    const up = startUp();
    const ready = await readyOf(up);
    expect(ready).toMatchObject({ data, drones: ['drone-1', 'drone-2'], adminTokenFile: join(data, 'admin.token'), env: { ARGO_SWARM_GATEWAY: ready.url, ARGO_SWARM_TOKEN_FILE: join(data, 'admin.token') } });
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(['orchestrator-1', 'orchestrator-2']).toContain(ready.leader);
    expect(Object.keys(ready.pids).sort()).toEqual(['drone-1', 'drone-2', 'gateway', 'orchestrator-1', 'orchestrator-2', 'redis']);

    // The folder and its secrets are root's alone; each token is 48 characters.
    expect((await lstat(data)).mode & 0o777).toBe(0o700);
    for (const name of ['gateway-tokens', 'admin.token', 'read.token', 'drone.token', 'swarm.json', 'redis/password', 'redis/redis.conf']) expect((await stat(join(data, name))).mode & 0o777, name).toBe(0o600);
    const admin = (await readFile(join(data, 'admin.token'), 'utf8')).trim();
    expect(admin).toMatch(/^[A-Za-z0-9_-]{48}$/);
    expect(await readFile(join(data, 'gateway-tokens'), 'utf8')).toContain(`admin      admin    ${admin}`);
    expect((await readdir(join(data, 'logs'))).sort()).toEqual(['drone-1.log', 'drone-2.log', 'gateway.log', 'orchestrator-1.log', 'orchestrator-2.log', 'redis.log']);
    expect(await readFile(join(data, 'redis/redis.conf'), 'utf8')).toMatch(/^bind 127\.0\.0\.1$/m);

    // The dashboard's data is public (read-only); a write without a token is refused.
    const status = await fetch(`${ready.url}/api/v1/status`);
    expect(status.status).toBe(200);
    expect(((await status.json()) as { leader?: { id: string } }).leader?.id).toBe(ready.leader);
    expect((await fetch(`${ready.url}/api/v1/reset`, { method: 'POST' })).status).toBe(401);

    // A cycle through the gateway, with the admin token the ready line names.
    const client = createSwarmClient({ url: ready.env.ARGO_SWARM_GATEWAY, token: admin });
    const plan = await clusterhqPlanPrefix(12);
    const cycle = (await client.startCycle('desktop', { plan: plan.text })).cycle;
    const finished = await until(up, `cycle ${cycle} to finish`, async () => (await client.status()).cycles.find((entry) => entry.id === cycle && entry.status === 'finished'));
    expect(finished.counts.built).toBe(12);
    const index = await (await fetch(`${ready.url}/staging/desktop/Packages`)).text();
    for (const cpv of plan.cpvs) expect(index).toContain(`CPV: ${cpv}\n`);

    // A second up on the same folder is refused while this one runs, and changes nothing.
    const second = await runSwarmCli(['up', '--data', data, '--port', '0', '--json'], ENV);
    expect(second.code, second.stderr).toBe(3);
    expect(JSON.parse(second.stdout)).toMatchObject({ error: { code: 'ARGO_TARGET_LOCKED', message: `A local swarm already runs from ${data} (build-swarm up, pid ${up.child.pid})` } });

    // A child killed outright is reported and brought back.
    const before = (await pidsFile()).children['orchestrator-2'] as number;
    process.kill(before, 'SIGKILL');
    await until(up, 'the restart notice', () => (up.stderr().includes('orchestrator-2 exited unexpectedly (signal SIGKILL)') ? true : undefined));
    const after = await until(up, 'orchestrator-2 restarted', async () => {
      const pid = (await pidsFile()).children['orchestrator-2'];
      return pid !== undefined && pid !== before ? pid : undefined;
    });
    expect(await table.isAlive(after)).toBe(true);
    expect(up.stderr()).toContain(`its log: ${join(data, 'logs/orchestrator-2.log')}`);

    // SIGTERM: everything stops, in order, and no process of the swarm is left.
    const pids = Object.values((await pidsFile()).children);
    expect(pids).toHaveLength(6);
    up.child.kill('SIGTERM');
    expect(await up.exited, up.stderr()).toBe(0);
    for (const pid of pids) expect(await table.isAlive(pid), `pid ${pid}`).toBe(false);
    await expect(stat(join(data, 'pids.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    // Drones drained and signed off; redis-server was shut down by SHUTDOWN (its AOF written out).
    for (const drone of ['drone-1', 'drone-2']) expect(await readFile(join(data, 'logs', `${drone}.log`), 'utf8')).toContain('"event":"swarm.drone-stopped"');
    expect(await readFile(join(data, 'logs/redis.log'), 'utf8')).toContain('User requested shutdown');
    first = { admin, config: await readFile(join(data, 'swarm.json'), 'utf8'), cycle };
  });

  it('runs again from the same folder: the same tokens and configuration, and Redis still knows the last cycle', async () => {
    const up = startUp();
    const ready = await readyOf(up);
    expect((await readFile(join(data, 'admin.token'), 'utf8')).trim()).toBe(first.admin);
    expect(await readFile(join(data, 'swarm.json'), 'utf8')).toBe(first.config);
    const status = await createSwarmClient({ url: ready.url, token: first.admin }).status();
    expect(status.cycles.map((cycle) => cycle.id)).toContain(first.cycle);
    up.child.kill('SIGTERM');
    expect(await up.exited, up.stderr()).toBe(0);
    for (const pid of Object.values(ready.pids)) expect(await table.isAlive(pid)).toBe(false);
  });

  it.each([
    ['a symbolic link', async (path: string) => {
      await mkdir(`${path}-real`, { mode: 0o700 });
      await symlink(`${path}-real`, path);
    }],
    ['writable by others', async (path: string) => {
      await mkdir(path);
      await chmod(path, 0o777);
    }],
  ])('refuses a data folder that is %s, and writes nothing into it', async (_what, make) => {
    const path = join(dir, `unsafe-${Math.random().toString(36).slice(2)}`);
    await make(path);
    const run = await runSwarmCli(['up', '--data', path, '--port', '0', '--json'], ENV);
    expect(run.code, run.stderr).toBe(3);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'ARGO_UNSAFE_PATH', message: expect.stringContaining(`data folder ${path} is refused`) } });
    expect(await readdir(path)).toEqual([]);
  });

  it('the README demo: bash scripts/swarm-demo.sh runs end to end and exits 0', async () => {
    const child = spawn('bash', [join(PROJECT, 'scripts/swarm-demo.sh')], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, output.slice(-5_000)).toBe(0);
    expect(output).toMatch(/killed drone-\d \(pid \d+\) while it built \S+/);
    expect(output).toMatch(/finished: \{[^}]*"failed":0[^}]*\}/);
    expect(output).toContain('Production of desktop is now release');
    expect(output).toMatch(/UPDATED: 5 of 5 packages merged/);
    expect(output).toContain('swarm demo: every step worked');
  }, 900_000);
});

/**
 * A real build swarm for one test: a real redis-server (AOF on, password), orchestrator and drone processes
 * started from the built CLI exactly as an admin would, a shared gateway folder, and one profile root per drone
 * with the repository's md5-cache and the faithful fake `emerge --buildpkg` first on PATH. Everything is waited
 * for by what it logs or writes, never by a fixed delay.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { readSwarmState } from '../../src/swarm/swarm-state.ts';
import { createProcessTable } from '../../src/system/process-table.ts';
import { swarmKeys } from '../../src/swarm/swarm-keys.ts';
import type { SwarmStatus } from '../../src/core/swarm/swarm-status.ts';
import { PROJECT } from './run-cli.ts';
import { startRedis, type RedisServer } from './redis-server.ts';
import { CLUSTERHQ, CLUSTERHQ_EMERGE_LOG, CLUSTERHQ_MD5_CACHE, clusterhqRebuildPlan } from './swarm-plan.ts';

export const SWARM_BIN = join(PROJECT, 'dist/cli/build-swarm.js');
export const FAKE_EMERGE_BIN = join(PROJECT, 'test/swarm-fixtures/bin');
export const PROFILE = 'desktop';

/**
 * Test timings: the same code paths as production with shorter leases (production: 60 s / 30 s / 15 s), still
 * long enough that a machine whose one CPU is shared by every role's process renews them in time.
 */
export const TEST_TIMINGS = {
  lock_duration_ms: 10_000,
  stalled_interval_ms: 5_000,
  heartbeat_ms: 1_000,
  lease_ttl_ms: 6_000,
  offline_after_ms: 6_000,
  maintenance_interval_ms: 5_000,
};

export interface DroneSpec {
  readonly id: string;
  readonly cores: number;
  readonly sweeper?: boolean;
  readonly slots?: number;
  /** Lines of the fake emerge's configuration (etc/argo-fake-emerge.conf in this drone's profile root). */
  readonly fakeConf?: readonly string[];
  readonly drainMs?: number;
  /** The profiles it builds, each in its own root (default: desktop). */
  readonly profiles?: readonly string[];
}

export interface ClusterOptions {
  readonly orchestrator?: Readonly<Record<string, unknown>>;
  readonly drone?: Readonly<Record<string, unknown>>;
  /** The repository the drones see: these CPVs' md5-cache entries (default: all 135). */
  readonly repository?: readonly string[];
  /** A folder with another `emerge` to put first on PATH (benchmarks of the orchestrator alone). */
  readonly emergeBin?: string;
  /**
   * Runs `build-swarm gateway` as its own process (data in `<dir>/gateway`, tokens of each scope, the clusterhq
   * md5-cache so cycles can start through it); drones then upload over HTTP with a drone token.
   */
  readonly httpGateway?: boolean;
}

export interface HttpGateway {
  readonly url: string;
  readonly role: RoleProcess;
  readonly tokens: { readonly admin: string; readonly drone: string; readonly read: string };
  /** Root-only files holding each token, for --token-file. */
  readonly tokenFiles: { readonly admin: string; readonly drone: string; readonly read: string };
}

export interface RoleProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  /** The last 20 kB it wrote to stderr. */
  stderr(): string;
}

export interface SwarmCluster {
  readonly dir: string;
  readonly redis: RedisServer;
  readonly configFile: string;
  readonly gateway: string;
  readonly client: Redis;
  readonly orchestrators: Map<string, RoleProcess>;
  readonly drones: Map<string, RoleProcess>;
  /** Set with `httpGateway`. */
  readonly http: HttpGateway | undefined;
  droneRoot(id: string): string;
  startOrchestrator(id: string): Promise<RoleProcess>;
  startDrone(spec: DroneSpec): Promise<RoleProcess>;
  /** Runs a build-swarm command to its end. */
  run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  status(): Promise<SwarmStatus>;
  /** Polls the status until `predicate` holds (each poll is a Redis read, every 100 ms). */
  waitForStatus(predicate: (status: SwarmStatus) => boolean, what: string): Promise<SwarmStatus>;
  /** Until a JSON log line of `role` satisfies `predicate`; returns it. */
  waitForLog(role: RoleProcess, predicate: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  logLines(role: RoleProcess): Promise<Record<string, unknown>[]>;
  destroy(): Promise<void>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<SwarmCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'argo-swarm-'));
  const redis = await startRedis();
  const gateway = join(dir, 'gateway');
  await mkdir(gateway, { recursive: true });
  const configFile = join(dir, 'swarm.json');
  const config = {
    redis: { url: redis.url, password_file: redis.passwordFile, prefix: 'argo' },
    orchestrator: {
      lease_ttl_ms: TEST_TIMINGS.lease_ttl_ms,
      offline_after_ms: TEST_TIMINGS.offline_after_ms,
      maintenance_interval_ms: TEST_TIMINGS.maintenance_interval_ms,
      infra_retry_base_ms: 200,
      infra_retry_max_ms: 2_000,
      ...options.orchestrator,
    },
    drone: {
      lock_duration_ms: TEST_TIMINGS.lock_duration_ms,
      stalled_interval_ms: TEST_TIMINGS.stalled_interval_ms,
      heartbeat_ms: TEST_TIMINGS.heartbeat_ms,
      inactivity_ms: 30_000,
      gateway: `file://${gateway}`,
      log_dir: join(dir, 'drone-logs'),
      ...options.drone,
    },
  };
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  const client = redis.client();
  const orchestrators = new Map<string, RoleProcess>();
  const drones = new Map<string, RoleProcess>();
  const env = { ...process.env, PATH: `${options.emergeBin ?? FAKE_EMERGE_BIN}:${join(PROJECT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`, ARGO_SWARM_CONFIG: configFile, NO_COLOR: '1' };

  const spawnRole = (id: string, args: readonly string[]): RoleProcess => {
    const logFile = join(dir, `${id}.log`);
    const child = spawn(process.execPath, [SWARM_BIN, ...args, '--id', id, '--log-file', logFile], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    return { id, child, logFile, exited, stderr: () => stderr };
  };

  const droneRoot = (id: string): string => join(dir, 'drones', id);
  let http: HttpGateway | undefined;

  const cluster: SwarmCluster = {
    dir,
    redis,
    configFile,
    gateway,
    client,
    orchestrators,
    drones,
    get http() {
      return http;
    },
    droneRoot,
    async startOrchestrator(id) {
      const role = spawnRole(id, ['orchestrator']);
      orchestrators.set(id, role);
      await cluster.waitForLog(role, (line) => line.event === 'swarm.orchestrator-started', `${id} started`);
      return role;
    },
    async startDrone(spec) {
      const profiles = spec.profiles ?? [PROFILE];
      for (const profile of profiles) await prepareProfileRoot(join(droneRoot(spec.id), profile), spec.fakeConf ?? [], options.repository);
      const args = ['drone', '--root', droneRoot(spec.id), '--cores', String(spec.cores), '--slots', String(spec.slots ?? 1), ...profiles.flatMap((profile) => ['--profile', profile])];
      if (http !== undefined) args.push('--gateway', http.url, '--token-file', http.tokenFiles.drone);
      if (spec.sweeper === true) args.push('--sweeper');
      const role = spawnRole(spec.id, args);
      drones.set(spec.id, role);
      await cluster.waitForLog(role, (line) => line.event === 'swarm.drone-started', `${spec.id} started`);
      return role;
    },
    run: (args) => runSwarmCli(args, env),
    status: () => readSwarmState(client, swarmKeys('argo'), { cycles: 10 }),
    async waitForStatus(predicate, what) {
      for (;;) {
        const status = await cluster.status();
        if (predicate(status)) return status;
        for (const role of [...orchestrators.values(), ...drones.values()]) {
          if (role.child.exitCode !== null && role.child.exitCode !== 0 && role.child.signalCode === null) {
            throw new Error(`${role.id} exited with ${role.child.exitCode} while waiting for ${what}: ${role.stderr()}`);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async waitForLog(role, predicate, what) {
      for (;;) {
        const found = (await cluster.logLines(role)).find(predicate);
        if (found !== undefined) return found;
        if (role.child.exitCode !== null || role.child.signalCode !== null) {
          const again = (await cluster.logLines(role)).find(predicate);
          if (again !== undefined) return again;
          throw new Error(`${role.id} exited (${String(role.child.exitCode ?? role.child.signalCode)}) before ${what}: ${role.stderr()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async logLines(role) {
      const text = await readFile(role.logFile, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        });
    },
    async destroy() {
      const roles = [...orchestrators.values(), ...drones.values(), ...(http === undefined ? [] : [http.role])];
      for (const role of roles) await killTree(role.child.pid);
      await Promise.all(roles.map((role) => role.exited));
      client.disconnect();
      await redis.destroy();
      // ARGO_TEST_KEEP=1 keeps the swarm's folder (logs, drone roots, staging) for a post-mortem.
      if (process.env.ARGO_TEST_KEEP !== '1') await rm(dir, { recursive: true, force: true });
    },
  };
  if (options.httpGateway === true) {
    const tokens = { admin: randomBytes(32).toString('hex'), drone: randomBytes(32).toString('hex'), read: randomBytes(32).toString('hex') };
    const secrets = join(dir, 'secrets');
    await mkdir(secrets, { mode: 0o700 });
    const tokensFile = join(secrets, 'gateway-tokens');
    await writeFile(tokensFile, `admin admin ${tokens.admin}\ndrones drone ${tokens.drone}\nreader read ${tokens.read}\n`, { mode: 0o600 });
    const tokenFiles = { admin: join(secrets, 'admin.token'), drone: join(secrets, 'drone.token'), read: join(secrets, 'read.token') };
    for (const scope of ['admin', 'drone', 'read'] as const) await writeFile(tokenFiles[scope], `${tokens[scope]}\n`, { mode: 0o600 });
    const role = spawnRole('gateway', ['gateway', '--data', gateway, '--listen', '127.0.0.1:0', '--tokens', tokensFile, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--history', CLUSTERHQ_EMERGE_LOG]);
    const listening = await cluster.waitForLog(role, (line) => line.event === 'gateway.listening', 'the gateway listening');
    http = { url: String(listening.url), role, tokens, tokenFiles };
  }
  return cluster;
}

/** A profile root: make.conf, the clusterhq md5-cache as the repository, the fake emerge's configuration. */
export async function prepareProfileRoot(root: string, fakeConf: readonly string[], repository: readonly string[] | undefined): Promise<void> {
  await mkdir(join(root, 'etc/portage'), { recursive: true });
  await writeFile(join(root, 'etc/portage/make.conf'), ['CHOST="x86_64-pc-linux-gnu"', 'CFLAGS="-O2 -pipe"', 'PKGDIR="/var/cache/binpkgs"', 'FEATURES="buildpkg binpkg-multi-instance"', ''].join('\n'));
  const cache = join(root, 'var/db/repos/gentoo/metadata/md5-cache');
  if (repository === undefined) await cp(CLUSTERHQ_MD5_CACHE, cache, { recursive: true });
  else for (const cpv of repository) await cp(join(CLUSTERHQ_MD5_CACHE, cpv), join(cache, cpv));
  // A build root is an installed system: here the clusterhq prefix's own VDB (the system the cycle rebuilds),
  // so dependencies outside the cycle, and those whose cycle edge was broken, are satisfied as on a real drone.
  await cp(join(CLUSTERHQ, 'var/db/pkg'), join(root, 'var/db/pkg'), { recursive: true });
  await mkdir(join(root, 'var/log'), { recursive: true });
  await writeFile(join(root, 'etc/argo-fake-emerge.conf'), [`DURATIONS_LOG=${CLUSTERHQ_EMERGE_LOG}`, 'TIME_SCALE=0.001', 'MIN_SECONDS=0.05', ...fakeConf, ''].join('\n'));
}

/** SIGKILL a process and every descendant (a machine dying takes its builds with it). */
export async function killTree(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (pid === undefined) return;
  const table = createProcessTable();
  const children = new Map<number, number[]>();
  for (const entry of await table.list()) children.set(entry.ppid, [...(children.get(entry.ppid) ?? []), entry.pid]);
  const stack = [...(children.get(pid) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as number;
    table.signal(next, signal);
    stack.push(...(children.get(next) ?? []));
  }
  table.signal(pid, signal);
}

/** Until the process is gone (or only a zombie of it is left). */
export async function waitUntilGone(pid: number): Promise<void> {
  const table = createProcessTable();
  while (await table.isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Runs the built `build-swarm` to its end with `env` (default: this process's, without colour). */
export async function runSwarmCli(args: readonly string[], env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SWARM_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** One JSON object per merge the fake emerge did in a drone's profile root (its own log, not the orchestrator's). */
export interface FakeMerge {
  readonly cpv: string;
  readonly kind: 'source' | 'binary';
  readonly start: number;
  readonly end: number;
  readonly drone: string;
}

export async function droneMerges(cluster: SwarmCluster, profile = PROFILE): Promise<FakeMerge[]> {
  const merges: FakeMerge[] = [];
  const base = join(cluster.dir, 'drones');
  for (const drone of await readdir(base).catch(() => [] as string[])) {
    const text = await readFile(join(base, drone, profile, 'var/log/argo-fake-emerge.jsonl'), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const record = JSON.parse(line) as Omit<FakeMerge, 'drone'>;
      merges.push({ ...record, drone });
    }
  }
  return merges;
}

/** The first `count` packages of the clusterhq rebuild plan (merge order), as a plan text and their CPVs. */
export async function clusterhqPlanPrefix(count: number): Promise<{ readonly text: string; readonly cpvs: readonly string[] }> {
  const lines = (await clusterhqRebuildPlan()).split('\n').filter((line) => line.startsWith('[ebuild')).slice(0, count);
  const cpvs = lines.map((line) => (line.split(/\s+/)[3] ?? '').trim());
  return { text: `${lines.join('\n')}\n\nTotal: ${lines.length} packages (${lines.length} reinstalls), Size of downloads: 0 KiB\n`, cpvs };
}

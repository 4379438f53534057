/**
 * A whole build swarm on one machine (`build-swarm up`): a private redis-server, the gateway, two orchestrators
 * and N drones, each a child process of this one, supervised until the signal, then stopped in order.
 *
 * The data folder holds everything: the swarm configuration, the tokens, Redis's data, the gateway's data, the
 * drones' roots and every child's log. It is created once; a later run reuses what is there.
 */

import { randomBytes } from 'node:crypto';
import { constants, existsSync, type Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import pTimeout from 'p-timeout';
import type { Logger } from 'pino';
import { logEvent } from '../core/log-events.ts';
import { ArgoError } from '../core/errors.ts';
import { lockTarget, type TargetLock } from './target-lock.ts';
import { checkAncestors } from './trusted-path.ts';

/** Where everything of one local swarm lives. */
export interface LocalSwarmLayout {
  readonly data: string;
  readonly config: string;
  readonly tokens: string;
  readonly tokenFiles: { readonly admin: string; readonly read: string; readonly request: string; readonly drone: string };
  readonly redisDir: string;
  readonly redisConf: string;
  readonly redisPasswordFile: string;
  readonly gatewayData: string;
  readonly dronesDir: string;
  readonly droneLogs: string;
  readonly logs: string;
  /** The running swarm's pids (this process and every child), rewritten on each start; gone after a clean stop. */
  readonly pidsFile: string;
}

export function localSwarmLayout(data: string): LocalSwarmLayout {
  const redisDir = join(data, 'redis');
  return {
    data,
    config: join(data, 'swarm.json'),
    tokens: join(data, 'gateway-tokens'),
    tokenFiles: { admin: join(data, 'admin.token'), read: join(data, 'read.token'), request: join(data, 'request.token'), drone: join(data, 'drone.token') },
    redisDir,
    redisConf: join(redisDir, 'redis.conf'),
    redisPasswordFile: join(redisDir, 'password'),
    gatewayData: join(data, 'gateway'),
    dronesDir: join(data, 'drones'),
    droneLogs: join(data, 'drone-logs'),
    logs: join(data, 'logs'),
    pidsFile: join(data, 'pids.json'),
  };
}

export interface LocalSwarmOptions {
  readonly data: string;
  readonly drones: number;
  /** The gateway's port on 127.0.0.1; 0 takes a free one (kept for the gateway's restarts). */
  readonly port: number;
  readonly profiles: readonly string[];
  /** The repository's md5-cache the gateway starts cycles from; undefined: cycles only through `fresh`. */
  readonly md5Cache: string | undefined;
  readonly history: readonly string[];
  /** argv of the emerge the drones run, written into the configuration when it is created. */
  readonly emergeCommand: readonly string[] | undefined;
  /** A profile root copied into each drone's `<root>/<profile>` when that does not exist yet. */
  readonly seed: string | undefined;
  /** How the children run `build-swarm`: node and the CLI's entry file. */
  readonly cli: readonly string[];
  /** The children's environment (ARGO_SWARM_* variables are removed: the data folder's configuration rules). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readyBudgetMs: number;
  readonly maxRestarts: number;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Told once everything answers. */
  readonly onReady: (ready: LocalSwarmReady) => void;
  /** Told what happens to the children (one line each, for the person at the terminal). */
  readonly onNotice: (line: string) => void;
}

export interface LocalSwarmReady {
  readonly data: string;
  readonly url: string;
  readonly dashboard: string;
  readonly adminTokenFile: string;
  readonly readTokenFile: string;
  readonly config: string;
  readonly leader: string;
  readonly drones: readonly string[];
  readonly redis: string;
  readonly logs: string;
  readonly pids: Readonly<Record<string, number>>;
}

export interface LocalSwarmOutcome {
  /** Children that died on their own and were not brought back (empty after a clean run). */
  readonly lost: readonly string[];
}

/** Drone and orchestrator timings of a swarm on one machine: no network between the roles, so failures are seen in seconds. */
export const LOCAL_TIMINGS = {
  orchestrator: { lease_ttl_ms: 6_000, offline_after_ms: 6_000, maintenance_interval_ms: 5_000, infra_retry_base_ms: 1_000, infra_retry_max_ms: 30_000 },
  drone: { lock_duration_ms: 10_000, stalled_interval_ms: 5_000, heartbeat_ms: 1_000, drain_ms: 30_000 },
} as const;

const DRONE_RESTART_PAUSE_MS = LOCAL_TIMINGS.drone.lock_duration_ms + LOCAL_TIMINGS.drone.stalled_interval_ms + LOCAL_TIMINGS.orchestrator.maintenance_interval_ms;

/** How long each kind of child may take to stop before it is killed. */
const STOP_BUDGET_MS = { drone: LOCAL_TIMINGS.drone.drain_ms + 15_000, orchestrator: 15_000, gateway: 15_000, redis: 15_000 } as const;

const ORCHESTRATORS = ['orchestrator-1', 'orchestrator-2'] as const;

type Role = 'redis' | 'gateway' | 'orchestrator' | 'drone';

/** One child of the swarm: how to start it again, and the process running now. */
interface Child {
  readonly name: string;
  readonly role: Role;
  readonly log: string;
  args: () => readonly string[];
  process: { readonly pid?: number | undefined; kill(signal: NodeJS.Signals): boolean } | undefined;
  exited: Promise<ChildExit> | undefined;
  /** Set when the running process has ended. */
  exit: ChildExit | undefined;
  restarts: number;
  stopping: boolean;
}

interface ChildExit {
  readonly code: number | undefined;
  readonly signal: string | undefined;
}

/**
 * Runs the local swarm until `signal` aborts: prepares the data folder, takes its lock, starts every child,
 * waits until the gateway answers and a leader is elected, supervises, then stops drones, orchestrators, the
 * gateway and redis-server in that order.
 */
export async function runLocalSwarm(options: LocalSwarmOptions): Promise<LocalSwarmOutcome> {
  const layout = localSwarmLayout(options.data);
  await prepareDataFolder(options.data);
  const lock = await lockDataFolder(options.data, options.logger);
  const children: Child[] = [];
  const lost: string[] = [];
  try {
    await writeLocalSwarmFiles(layout, options);
    const redisPort = await redisPortOf(layout);
    const env = childEnv(options.env);
    let gatewayPort = options.port;
    const droneIds = Array.from({ length: options.drones }, (_, index) => `drone-${index + 1}`);
    for (const id of droneIds) for (const profile of options.profiles) await prepareProfileRoot(join(layout.dronesDir, id, profile), options.seed);

    const cores = Math.max(1, Math.floor((await availableCores()) / options.drones));
    const child = (name: string, role: Role, args: () => readonly string[]): Child => {
      const made: Child = { name, role, log: join(layout.logs, `${name}.log`), args, process: undefined, exited: undefined, exit: undefined, restarts: 0, stopping: false };
      children.push(made);
      return made;
    };
    const swarmArgs = (command: string, name: string): readonly string[] => [...options.cli, command, '--config', layout.config, '--log-file', join(layout.logs, `${name}.log`)];
    const redis = child('redis', 'redis', () => ['redis-server', layout.redisConf]);
    const gateway = child('gateway', 'gateway', () => [
      ...swarmArgs('gateway', 'gateway'),
      '--data', layout.gatewayData,
      '--listen', `127.0.0.1:${gatewayPort}`,
      '--tokens', layout.tokens,
      // Reads need no token (the swarm listens on 127.0.0.1 only): the dashboard, and the binhosts for clients
      // of this machine (apkg update --binhost http://127.0.0.1:PORT/binhost/PROFILE/). Writes need one.
      '--public-read',
      '--public-binhost',
      ...(options.md5Cache === undefined ? [] : ['--md5-cache', options.md5Cache]),
      ...options.history.flatMap((file) => ['--history', file]),
    ]);
    const orchestrators = ORCHESTRATORS.map((id) => child(id, 'orchestrator', () => [...swarmArgs('orchestrator', id), '--id', id]));
    let url = '';
    const drones = droneIds.map((id) =>
      child(id, 'drone', () => [
        ...swarmArgs('drone', id),
        '--id', id,
        '--root', join(layout.dronesDir, id),
        '--gateway', url,
        '--token-file', layout.tokenFiles.drone,
        '--cores', String(cores),
        ...options.profiles.flatMap((profile) => ['--profile', profile]),
      ]),
    );

    const writePids = (): Promise<void> => writePidsFile(layout.pidsFile, children);
    const start = async (target: Child): Promise<void> => {
      await startChild(target, env);
      await writePids();
    };
    const deadline = AbortSignal.any([options.signal, AbortSignal.timeout(options.readyBudgetMs)]);
    const waitReady = async <T>(what: string, probe: () => Promise<T | undefined>, watched: readonly Child[]): Promise<T> => {
      for (;;) {
        for (const entry of watched) {
          const exited = exitOf(entry);
          if (exited !== undefined) throw childFailed(entry, exited, `before ${what}`);
        }
        const value = await probe().catch(() => undefined);
        if (value !== undefined) return value;
        if (deadline.aborted) {
          if (options.signal.aborted) throw new ArgoError('ARGO_INTERRUPTED', `build-swarm up was stopped while waiting for ${what}`);
          throw new ArgoError('ARGO_STEP_TIMED_OUT', `The local swarm did not get ready within ${Math.round(options.readyBudgetMs / 1000)} s: still waiting for ${what}`, {
            hint: `Look at the logs in ${layout.logs}.`,
            details: { logs: layout.logs },
          });
        }
        await delay(100);
      }
    };

    // The password goes only to our own redis-server: another local program may have taken the kept port since
    // the last run (redis-server then fails to bind and exits). Its own log, in the private data folder, says
    // when it listens; only then is the port asked, and nobody else can bind it while it does.
    const logFrom = await fs.stat(redis.log).then((stats) => stats.size, () => 0);
    await start(redis);
    await waitReady('redis-server to listen', () => redisListening(redis.log, logFrom), [redis]);
    const password = (await fs.readFile(layout.redisPasswordFile, 'utf8')).trim();
    await waitReady('redis-server to answer', () => redisAnswers(redisPort, password), [redis]);

    await fs.rm(gateway.log, { force: true });
    await start(gateway);
    url = await waitReady('the gateway to listen', () => loggedUrl(gateway.log), [gateway]);
    gatewayPort = Number(new URL(url).port);
    const readToken = (await fs.readFile(layout.tokenFiles.read, 'utf8')).trim();
    await waitReady('the gateway to answer', () => gatewayStatus(url, readToken), [gateway]);

    for (const entry of orchestrators) await start(entry);
    const leader = await waitReady('a leader to be elected', async () => (await gatewayStatus(url, readToken))?.leader, [gateway, ...orchestrators]);
    for (const entry of drones) await start(entry);
    await waitReady(
      `${droneIds.length} drones to register`,
      async () => {
        const status = await gatewayStatus(url, readToken);
        const seen = new Set((status?.drones ?? []).filter((drone) => drone.state !== 'offline').map((drone) => drone.id));
        return droneIds.every((id) => seen.has(id)) ? true : undefined;
      },
      [gateway, ...drones],
    );

    options.onReady({
      data: layout.data,
      url,
      dashboard: `${url}/`,
      adminTokenFile: layout.tokenFiles.admin,
      readTokenFile: layout.tokenFiles.read,
      config: layout.config,
      leader,
      drones: droneIds,
      redis: `redis://127.0.0.1:${redisPort}`,
      logs: layout.logs,
      pids: pidsOf(children),
    });
    logEvent(options.logger, 'swarm.up-ready', { url, data: layout.data, drones: droneIds.length });

    await supervise(children, options, start, lost);
  } finally {
    await stopAll(children, layout, options);
    await fs.rm(layout.pidsFile, { force: true });
    await lock.release();
  }
  return { lost };
}

/** Restarts children that die on their own (after a pause; a drone's after its heartbeat has expired) until the signal. */
async function supervise(children: readonly Child[], options: LocalSwarmOptions, start: (child: Child) => Promise<void>, lost: string[]): Promise<void> {
  const stopped = new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve();
    else options.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const watch = async (child: Child): Promise<void> => {
    for (;;) {
      const exited = await Promise.race([child.exited ?? Promise.resolve(undefined), stopped.then(() => undefined)]);
      if (exited === undefined || options.signal.aborted) return;
      const how = exited.signal === undefined ? `exit code ${String(exited.code)}` : `signal ${exited.signal}`;
      logEvent(options.logger, 'swarm.child-exited', { child: child.name, code: exited.code ?? null, signal: exited.signal ?? null, log: child.log, restarts: child.restarts });
      if (child.restarts >= options.maxRestarts) {
        options.onNotice(`${child.name} exited unexpectedly (${how}) and was restarted ${child.restarts} times already; not restarting it. Its log: ${child.log}`);
        lost.push(child.name);
        return;
      }
      child.restarts += 1;
      // A dead drone comes back once its builds were handed to the others (its job lock expired, the stall
      // check returned the job, the leader saw the drone offline and took it back); the others at once.
      const pause = child.role === 'drone' ? DRONE_RESTART_PAUSE_MS : 1_000 * child.restarts;
      options.onNotice(`${child.name} exited unexpectedly (${how}); its log: ${child.log}. Restarting it in ${Math.round(pause / 1000)} s (restart ${child.restarts} of ${options.maxRestarts}).`);
      const interrupted = await delay(pause, undefined, { signal: options.signal }).then(
        () => false,
        () => true,
      );
      if (interrupted) return;
      await start(child);
    }
  };
  await Promise.all(children.map((child) => watch(child)));
  await stopped;
}

/** Drones first (they drain), then the orchestrators, the gateway, and redis-server last; each within its budget. */
async function stopAll(children: readonly Child[], layout: LocalSwarmLayout, options: LocalSwarmOptions): Promise<void> {
  for (const role of ['drone', 'orchestrator', 'gateway', 'redis'] as const) {
    const group = children.filter((child) => child.role === role && exitOf(child) === undefined && child.process !== undefined);
    if (group.length === 0) continue;
    for (const child of group) child.stopping = true;
    if (role === 'redis') {
      const password = (await fs.readFile(layout.redisPasswordFile, 'utf8').catch(() => '')).trim();
      const port = await redisPortOf(layout).catch(() => undefined);
      // SHUTDOWN writes the AOF out and closes the server; a signal is the fallback when it does not answer.
      const shut = port === undefined ? false : await redisShutdown(port, password);
      if (!shut) for (const child of group) child.process?.kill('SIGTERM');
    } else {
      for (const child of group) child.process?.kill('SIGTERM');
    }
    await Promise.all(
      group.map(async (child) => {
        const exited = await pTimeout(child.exited ?? Promise.resolve(undefined), { milliseconds: STOP_BUDGET_MS[role], message: false });
        if (exited !== undefined) return;
        options.onNotice(`${child.name} did not stop within ${STOP_BUDGET_MS[role] / 1000} s; killing it. Its log: ${child.log}`);
        child.process?.kill('SIGKILL');
        await child.exited;
      }),
    );
  }
}

async function startChild(child: Child, env: Record<string, string>): Promise<void> {
  child.stopping = false;
  // The log is the child's own (0600); its JSON lines (--log-file) and its console output both append to it.
  await (await fs.open(child.log, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW, 0o600)).close();
  const [program, ...args] = child.args();
  // setpriv: the kernel kills the child when this process dies, SIGKILL included. detached: Ctrl-C at the
  // terminal reaches only this process, which stops the children in order.
  const started = execa('setpriv', ['--pdeathsig', 'KILL', '--', program ?? '', ...args], {
    env,
    extendEnv: false,
    stdin: 'ignore',
    stdout: { file: child.log, append: true },
    stderr: { file: child.log, append: true },
    detached: true,
    reject: false,
    cleanup: false,
  });
  child.process = started;
  child.exit = undefined;
  child.exited = started.then((result) => {
    const exit: ChildExit = { code: result.exitCode, signal: result.signal };
    child.exit = exit;
    return exit;
  });
}

function exitOf(child: Child): ChildExit | undefined {
  return child.process === undefined ? undefined : child.exit;
}

function childFailed(child: Child, exited: ChildExit, when: string): ArgoError {
  const how = exited.signal === undefined ? `with exit code ${String(exited.code)}` : `on signal ${exited.signal}`;
  return new ArgoError('ARGO_COMMAND_FAILED', `${child.name} of the local swarm exited ${how} ${when}`, {
    hint: `Its log says why: ${child.log}`,
    details: { child: child.name, log: child.log, code: exited.code ?? null, signal: exited.signal ?? null },
  });
}

function pidsOf(children: readonly Child[]): Record<string, number> {
  return Object.fromEntries(children.flatMap((child) => (child.process?.pid === undefined || exitOf(child) !== undefined ? [] : [[child.name, child.process.pid]])));
}

async function writePidsFile(file: string, children: readonly Child[]): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temporary, `${JSON.stringify({ pid: process.pid, children: pidsOf(children) })}\n`, { mode: 0o600 });
  await fs.rename(temporary, file);
}

/** The children's environment: no ARGO_SWARM_* of the caller (the data folder's configuration decides), no colour. */
function childEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const kept = Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && !entry[0].startsWith('ARGO_SWARM_'));
  return { ...Object.fromEntries(kept), NO_COLOR: '1' };
}

/**
 * The data folder: created 0700 when absent; refused when it is a symbolic link, not ours, or writable by
 * group or others (every secret of the swarm is in it).
 */
export async function prepareDataFolder(data: string): Promise<void> {
  let stats: Stats | undefined = await fs.lstat(data).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
  if (stats === undefined) {
    await fs.mkdir(data, { recursive: true, mode: 0o700 });
    await fs.chmod(data, 0o700);
    stats = await fs.lstat(data);
  }
  // A folder above it that someone else can change could swap the data folder for theirs after this check.
  await checkAncestors(data, "The local swarm's data folder");
  const euid = process.geteuid?.() ?? 0;
  const reason = stats.isSymbolicLink()
    ? 'it is a symbolic link'
    : !stats.isDirectory()
      ? 'it is not a folder'
      : stats.uid !== euid
        ? `it is owned by uid ${stats.uid}, not ${euid}`
        : (stats.mode & 0o022) !== 0
          ? `its mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')} lets group or others write to it`
          : undefined;
  if (reason !== undefined) {
    throw new ArgoError('ARGO_UNSAFE_PATH', `The local swarm's data folder ${data} is refused: ${reason}`, {
      hint: 'It holds the swarm\'s tokens and Redis password: give a real folder of root with mode 0700 (or a path that does not exist yet).',
      details: { path: data, reason },
    });
  }
}

/** One `build-swarm up` per data folder: a kernel lock, released however this process ends. */
async function lockDataFolder(data: string, logger: Logger): Promise<TargetLock> {
  try {
    return await lockTarget(data, 'build-swarm up', { logger });
  } catch (error) {
    if (!(error instanceof ArgoError) || error.code !== 'ARGO_TARGET_LOCKED') throw error;
    const holder = error.details['holder'] as { pid?: number } | undefined;
    throw new ArgoError('ARGO_TARGET_LOCKED', `A local swarm already runs from ${data}${holder?.pid === undefined ? '' : ` (build-swarm up, pid ${holder.pid})`}`, {
      hint: holder?.pid === undefined ? 'Stop it first (Ctrl-C where it runs), or give another --data.' : `Stop it first (kill -TERM ${holder.pid}), or give another --data.`,
      details: error.details,
    });
  }
}

/**
 * The files of the data folder, each written only when absent (mode 0600, never through a symlink): the
 * swarm configuration, the gateway's tokens and one file per token, Redis's configuration and password.
 */
export async function writeLocalSwarmFiles(layout: LocalSwarmLayout, options: Pick<LocalSwarmOptions, 'emergeCommand' | 'profiles'>): Promise<void> {
  for (const dir of [layout.redisDir, layout.gatewayData, layout.dronesDir, layout.droneLogs, layout.logs]) await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tokens = { admin: token(), read: token(), request: token(), drone: token() };
  if (await writeIfAbsent(layout.tokens, ['# name     scopes   token (written by build-swarm up)', `admin      admin    ${tokens.admin}`, `reader     read     ${tokens.read}`, `requester  request  ${tokens.request}`, `drones     drone    ${tokens.drone}`, ''].join('\n'))) {
    // A new tokens file: each token also alone in its file, for --token-file (old ones would not match it).
    for (const scope of ['admin', 'read', 'request', 'drone'] as const) {
      await fs.rm(layout.tokenFiles[scope], { force: true });
      await writeIfAbsent(layout.tokenFiles[scope], `${tokens[scope]}\n`);
    }
  }
  const password = randomBytes(24).toString('base64url');
  if (await writeIfAbsent(layout.redisPasswordFile, `${password}\n`)) await fs.rm(layout.redisConf, { force: true });
  const port = await freePort();
  const stored = (await fs.readFile(layout.redisPasswordFile, 'utf8')).trim();
  await writeIfAbsent(
    layout.redisConf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'protected-mode yes',
      `dir ${layout.redisDir}`,
      'appendonly yes',
      'appendfsync everysec',
      'save ""',
      'maxmemory-policy noeviction',
      `requirepass ${stored}`,
      'logfile ""',
      'daemonize no',
      '',
    ].join('\n'),
  );
  const config = {
    redis: { url: `redis://127.0.0.1:${await redisPortOf(layout)}`, password_file: layout.redisPasswordFile, prefix: 'argo' },
    orchestrator: { ...LOCAL_TIMINGS.orchestrator },
    drone: {
      ...LOCAL_TIMINGS.drone,
      gateway: `file://${layout.gatewayData}`,
      root: layout.dronesDir,
      log_dir: layout.droneLogs,
      profiles: [...options.profiles],
      ...(options.emergeCommand === undefined ? {} : { emerge_command: [...options.emergeCommand] }),
    },
  };
  await writeIfAbsent(layout.config, `${JSON.stringify(config, null, 2)}\n`);
}

/** True when it wrote the file; false when one was there (kept as it is). */
async function writeIfAbsent(file: string, text: string): Promise<boolean> {
  try {
    await fs.writeFile(file, text, { flag: constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** 48 characters of letters, digits, `-` and `_` (288 random bits). */
function token(): string {
  return randomBytes(36).toString('base64url');
}

/** The port of redis.conf; refused when something else listens there (it is kept across runs). */
async function redisPortOf(layout: LocalSwarmLayout): Promise<number> {
  const text = await fs.readFile(layout.redisConf, 'utf8');
  const port = Number(/^port\s+(\d+)\s*$/m.exec(text)?.[1]);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ArgoError('ARGO_CONFIG_INVALID', `${layout.redisConf} names no TCP port`, { hint: `Give it a line "port N", or remove it (and ${layout.config}) to have new ones written.` });
  }
  return port;
}

/** A free TCP port on 127.0.0.1 now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port on 127.0.0.1');
  return address.port;
}

async function availableCores(): Promise<number> {
  const { availableParallelism } = await import('node:os');
  return availableParallelism();
}

/**
 * A drone's profile root: a copy of the seed when given (a root with make.conf, the repository and an installed
 * system), else a bare one with make.conf asking for binary packages. Never touched once it exists.
 */
async function prepareProfileRoot(root: string, seed: string | undefined): Promise<void> {
  const exists = await fs.lstat(root).then(
    () => true,
    () => false,
  );
  if (exists) return;
  if (seed !== undefined) {
    await fs.cp(seed, root, { recursive: true, verbatimSymlinks: true, errorOnExist: true });
    return;
  }
  await fs.mkdir(join(root, 'etc/portage'), { recursive: true });
  await fs.writeFile(join(root, 'etc/portage/make.conf'), ['PKGDIR="/var/cache/binpkgs"', 'FEATURES="buildpkg binpkg-multi-instance"', ''].join('\n'));
}

/** True once redis-server wrote, after `from` in its log, that it accepts connections. */
async function redisListening(log: string, from: number): Promise<true | undefined> {
  const handle = await fs.open(log, 'r').catch(() => undefined);
  if (handle === undefined) return undefined;
  try {
    const { size } = await handle.stat();
    const length = Math.min(Math.max(0, size - from), 1024 * 1024);
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, from);
    return /Ready to accept connections/.test(buffer.subarray(0, bytesRead).toString('utf8')) ? true : undefined;
  } finally {
    await handle.close();
  }
}

async function redisAnswers(port: number, password: string): Promise<true | undefined> {
  const client = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG' ? true : undefined;
  } finally {
    client.disconnect();
  }
}

async function redisShutdown(port: number, password: string): Promise<boolean> {
  const client = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    // The server closes the connection as it goes: an error here is the expected answer.
    await client.call('SHUTDOWN').catch(() => undefined);
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** The URL of the gateway's `gateway.listening` line in its log, once there. */
async function loggedUrl(log: string): Promise<string | undefined> {
  const text = await fs.readFile(log, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const record = JSON.parse(line) as { event?: unknown; url?: unknown };
      if (record.event === 'gateway.listening' && typeof record.url === 'string') return record.url;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
  }
  return undefined;
}

interface StatusView {
  readonly leader?: string;
  readonly drones?: readonly { readonly id: string; readonly state: string }[];
}

async function gatewayStatus(url: string, readToken: string): Promise<StatusView | undefined> {
  const answer = await fetch(`${url}/api/v1/status`, { headers: { authorization: `Bearer ${readToken}` }, signal: AbortSignal.timeout(5_000) });
  if (!answer.ok) return undefined;
  const body = (await answer.json()) as { leader?: unknown; drones?: unknown };
  const leader = typeof body.leader === 'string' ? body.leader : typeof body.leader === 'object' && body.leader !== null && typeof (body.leader as { id?: unknown }).id === 'string' ? (body.leader as { id: string }).id : undefined;
  const drones = Array.isArray(body.drones) ? (body.drones as { id: string; state: string }[]) : [];
  return { ...(leader === undefined ? {} : { leader }), drones };
}

/** Whether a file is there (the default md5-cache and emerge.log of a Gentoo host, when `up` is given none). */
export function fileExists(path: string): boolean {
  return existsSync(path);
}

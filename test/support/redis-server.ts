/**
 * A real Debian `redis-server` for one test file: a free port, a temp folder, AOF on (`appendfsync everysec`),
 * `noeviction`, a password (in the config file and a 0600 password file, never in argv). `stop()` is a clean
 * shutdown, `kill()` is SIGKILL, `start()` starts it again on the same port from its AOF.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly password: string;
  readonly passwordFile: string;
  readonly pid: () => number | undefined;
  /** A client for the test's own checks (closed by `destroy`). */
  client(): Redis;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'argo-redis-'));
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const config = join(dir, 'redis.conf');
  await writeFile(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      'appendonly yes',
      'appendfsync everysec',
      'save ""',
      'maxmemory-policy noeviction',
      `requirepass ${password}`,
      `logfile ${join(dir, 'redis.log')}`,
      'daemonize no',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  let child: ChildProcess | undefined;
  const clients: Redis[] = [];

  const start = async (): Promise<void> => {
    const started = spawn('redis-server', [config], { stdio: 'ignore' });
    child = started;
    const dead = (): boolean => started.exitCode !== null || started.signalCode !== null;
    await waitForPing(port, password, dead);
    if (dead()) throw new Error(`redis-server on port ${port} exited while starting; see ${join(dir, 'redis.log')}`);
  };
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill(signal);
    await exited;
    child = undefined;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    password,
    passwordFile,
    pid: () => child?.pid,
    client() {
      const client = new Redis({ host: '127.0.0.1', port, password, maxRetriesPerRequest: null });
      // While a test stops the server, reconnection errors are expected; commands wait for it to return.
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    start,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    async destroy() {
      for (const client of clients) client.disconnect();
      await stopWith('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

/** Until the server answers PING (it loads its AOF first). */
async function waitForPing(port: number, password: string, dead: () => boolean): Promise<void> {
  const client = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50, enableOfflineQueue: true });
  client.on('error', () => undefined);
  try {
    while (!dead()) {
      try {
        if (client.status === 'wait' || client.status === 'end') await client.connect();
        if ((await client.ping()) === 'PONG') return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    client.disconnect();
  }
}

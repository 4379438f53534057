/**
 * A gateway for tests: a real redis-server, a data folder, tokens of each scope, and the Fastify app built
 * in-process (inject() and a real socket), with real GPKGs of the clusterhq prefix's installed packages and
 * leases granted the way the leader grants them (a locked BullMQ job named by the package's record).
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Redis } from 'ioredis';
import { writeGpkg } from '../../src/core/gentoo/write-gpkg.ts';
import type { CycleDefinition, PackageRecord } from '../../src/core/swarm/cycle-model.ts';
import type { ProfileSettings } from '../../src/core/swarm/swarm-config.ts';
import { buildGateway } from '../../src/gateway/gateway-server.ts';
import { parseTokens } from '../../src/gateway/gateway-tokens.ts';
import { profileVerifier, releaseStore } from '../../src/cli/commands/swarm-gateway.ts';
import { createCycle } from '../../src/swarm/cycle-store.ts';
import { buildJobId, droneQueueName, swarmKeys } from '../../src/swarm/swarm-keys.ts';
import type { LeaseToken } from '../../src/system/staging-store.ts';
import { CLUSTERHQ_VDB, readFixtureVdb, type FixtureVdbEntry } from './gentoo-fixtures.ts';
import { startRedis, type RedisServer } from './redis-server.ts';

export const KEYS = swarmKeys('argo');
export const DESKTOP: ProfileSettings = { name: 'desktop', use: 'ssl -test', makeConf: {}, binhostPath: 'desktop' };
export const SERVER: ProfileSettings = { name: 'server', use: 'ssl', makeConf: {}, binhostPath: 'amd64/server' };

export interface TestGateway {
  readonly redis: RedisServer;
  readonly client: Redis;
  readonly data: string;
  readonly app: FastifyInstance;
  readonly tokens: { readonly admin: string; readonly drone: string; readonly read: string; readonly request: string };
  /** Everything the gateway logged, as text. */
  logText(): string;
  /** Listens on 127.0.0.1 and a free port; returns the base URL. */
  listen(): Promise<string>;
  destroy(): Promise<void>;
}

export interface TestGatewayOptions {
  readonly maxPackageBytes?: number;
  readonly publicBinhost?: boolean;
  /** Reads (status, events, logs…) without a token, as `build-swarm gateway --public-read`. */
  readonly publicRead?: boolean;
  /** Lets clients start cycles: the repository (md5-cache) and emerge.log files the gateway reads. */
  readonly cycles?: { readonly md5Cache: string; readonly history: readonly string[] };
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const redis = await startRedis();
  const client = redis.client();
  const data = await mkdtemp(join(tmpdir(), 'argo-gateway-'));
  const tokens = { admin: randomBytes(32).toString('hex'), drone: randomBytes(32).toString('hex'), read: randomBytes(32).toString('hex'), request: randomBytes(32).toString('hex') };
  let logged = '';
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    }),
  );
  const app = await buildGateway({
    data,
    redis: client,
    keys: KEYS,
    profiles: { desktop: DESKTOP, server: SERVER },
    tokens: parseTokens(`# test tokens\nadmin admin ${tokens.admin}\ndrone-a drone ${tokens.drone}\ngrafana read ${tokens.read}\ndesktop-1 request ${tokens.request}\n`, 'tokens'),
    publicBinhost: options.publicBinhost ?? false,
    publicMetrics: false,
    publicRead: options.publicRead ?? false,
    maxPackageBytes: options.maxPackageBytes ?? 16 * 1024 ** 2,
    releases: releaseStore(data, 3, logger),
    verify: profileVerifier({ redis: client, keys: KEYS, data, world: undefined, pins: [] }),
    logger,
    ...(options.cycles === undefined ? {} : { cycles: options.cycles }),
    ...(options.https === undefined ? {} : { https: options.https }),
  });
  return {
    redis,
    client,
    data,
    app,
    tokens,
    logText: () => logged,
    async listen() {
      return app.listen({ host: '127.0.0.1', port: 0 });
    },
    async destroy() {
      await app.close();
      await redis.destroy();
      if (process.env.ARGO_TEST_KEEP !== '1') await rm(data, { recursive: true, force: true });
    },
  };
}

/** The clusterhq prefix's installed packages (real VDB metadata), by CATEGORY/PF. */
export function clusterhqPackages(): Map<string, FixtureVdbEntry> {
  return new Map(readFixtureVdb(CLUSTERHQ_VDB).filter((entry) => !entry.pf.startsWith('-MERGING-')).map((entry) => [`${entry.category}/${entry.pf}`, entry]));
}

/** A real GPKG of an installed package: its VDB metadata, a one-file image; `override` changes metadata files. */
export async function gpkgOf(entry: FixtureVdbEntry, override: Readonly<Record<string, string>> = {}, basename = entry.pf): Promise<Uint8Array> {
  const metadata = { ...entry.files, ...override };
  delete (metadata as Record<string, string>).CONTENTS;
  return writeGpkg({
    basename,
    metadata,
    image: [{ path: `/usr/share/doc/${entry.pf}/README`, mode: 0o644, data: `${entry.category}/${entry.pf}\n${randomBytes(8).toString('hex')}\n` }],
    compression: 'zst',
    mtime: 1_700_000_000,
  });
}

/** A running cycle of `profile` over `cpvs` (no edges), as `build-swarm fresh` would write it. */
export async function writeCycle(client: Redis, id: string, profile: string, cpvs: readonly string[]): Promise<void> {
  const definition: CycleDefinition = {
    id,
    profile,
    createdAt: Date.now(),
    source: 'test',
    policy: 'critical-path',
    referenceSpeed: 8,
    nodes: cpvs.map((cpv) => ({ cpv, cp: cpv.replace(/-[0-9].*$/, ''), duration: 10, heavy: false })),
    edges: [],
    cyclesBroken: [],
  };
  await createCycle(client, KEYS, definition);
}

/** Grants the lease of `cpv`'s next attempt to drone `drone`: its record names the job, the job's lock holds a token. */
export async function grantLease(client: Redis, cycle: string, cpv: string, drone = 'd1'): Promise<LeaseToken> {
  const record = JSON.parse((await client.hget(KEYS.packages(cycle), cpv)) ?? 'null') as PackageRecord | null;
  if (record === null) throw new Error(`${cpv} is not in cycle ${cycle}`);
  const attempt = record.attempt + 1;
  const jobId = buildJobId(cycle, cpv, attempt);
  const queue = droneQueueName(drone);
  const token = randomBytes(12).toString('hex');
  await client.set(`${KEYS.bullPrefix}:${queue}:${jobId}:lock`, token, 'PX', 60_000);
  await client.hset(KEYS.packages(cycle), cpv, JSON.stringify({ ...record, state: 'building', attempt, drone, jobId, since: Date.now() } satisfies PackageRecord));
  return { queue, jobId, token, cycle, cpv };
}

/** Marks `cpv` built, as the leader does when its job completes. */
export async function markBuilt(client: Redis, cycle: string, cpv: string, path: string, sha256: string, size: number): Promise<void> {
  const record = JSON.parse((await client.hget(KEYS.packages(cycle), cpv)) ?? 'null') as PackageRecord;
  const built: PackageRecord = { ...record, state: 'built', since: Date.now(), built: { drone: record.drone ?? 'd1', attempt: record.attempt, path, sha256, size, buildId: '', seconds: 1 } };
  await client.hset(KEYS.packages(cycle), cpv, JSON.stringify(built));
}

export function leaseHeaders(lease: LeaseToken): Record<string, string> {
  return { 'x-argo-cpv': lease.cpv, 'x-argo-queue': lease.queue, 'x-argo-job': lease.jobId, 'x-argo-lock': lease.token, 'x-argo-cycle': lease.cycle };
}

/**
 * A build swarm as its clients (argo preflight --swarm, apkg update --request-builds) meet it: a real gateway
 * (test/support/swarm-gateway.ts: real redis-server, real GPKGs of the clusterhq prefix) on a real socket, with
 * root-only token files, and the test playing the rest of the swarm: drones (a lease, the upload, the leader's
 * "built"), the leader finishing a cycle (fenced by its epoch, as the orchestrator does), an admin finalizing.
 * Targets get an `emerge -pv` plan of clusterhq packages, which the gateway's md5-cache can build.
 */

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PackageRecord } from '../../src/core/swarm/cycle-model.ts';
import { finishCycle } from '../../src/swarm/cycle-store.ts';
import { acquireLease, releaseLease } from '../../src/swarm/leader-lease.ts';
import { createSwarmClient } from '../../src/swarm-client/swarm-client.ts';
import { clusterhqPackages, gpkgOf, grantLease, KEYS, leaseHeaders, markBuilt, startTestGateway, writeCycle, type TestGateway } from './swarm-gateway.ts';
import { CLUSTERHQ_EMERGE_LOG, CLUSTERHQ_MD5_CACHE, clusterhqRebuildPlan } from './swarm-plan.ts';

/**
 * Clusterhq packages whose metadata depends on nothing but blockers: any subset of them verifies safe (no
 * unsatisfied dependency), so a test decides what verify says by what it builds or fails.
 */
export const LEAVES = {
  bzip2: 'app-arch/bzip2-1.0.6-r7',
  xz: 'app-arch/xz-utils-5.0.6',
  mimeTypes: 'app-misc/mime-types-9',
  lz4: 'app-arch/lz4-0_p120',
  which: 'sys-apps/which-2.20-r1',
  gdbm: 'sys-libs/gdbm-1.11',
  /** Critical to verify (a release must not lose it): failing it alone refuses a finalize. */
  zlib: 'sys-libs/zlib-1.2.8-r1',
} as const;

export interface ClientSwarm {
  readonly gateway: TestGateway;
  readonly url: string;
  /** Root-only files holding the read and the admin token. */
  readonly tokenFiles: { readonly read: string; readonly admin: string; readonly request: string };
  destroy(): Promise<void>;
}

/** A gateway that can start cycles from plans (the clusterhq md5-cache), listening on a real port. */
export async function startClientSwarm(): Promise<ClientSwarm> {
  const gateway = await startTestGateway({ cycles: { md5Cache: CLUSTERHQ_MD5_CACHE, history: [CLUSTERHQ_EMERGE_LOG] } });
  const url = await gateway.listen();
  const dir = await mkdtemp(join(tmpdir(), 'argo-swarm-tokens-'));
  const tokenFiles = { read: join(dir, 'read.token'), admin: join(dir, 'admin.token'), request: join(dir, 'request.token') };
  await writeFile(tokenFiles.read, `${gateway.tokens.read}\n`, { mode: 0o600 });
  await writeFile(tokenFiles.admin, `${gateway.tokens.admin}\n`, { mode: 0o600 });
  await writeFile(tokenFiles.request, `${gateway.tokens.request}\n`, { mode: 0o600 });
  return {
    gateway,
    url,
    tokenFiles,
    async destroy() {
      await gateway.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Plays a drone: the next lease of `cpv`, a fresh GPKG uploaded under it, and the leader's "built". */
export async function buildAndUpload(gateway: TestGateway, cycle: string, cpv: string, profile = 'desktop'): Promise<void> {
  const entry = clusterhqPackages().get(cpv);
  if (entry === undefined) throw new Error(`${cpv} is not a clusterhq package`);
  const lease = await grantLease(gateway.client, cycle, cpv);
  const answer = await gateway.app.inject({
    method: 'PUT',
    url: `/api/v1/profiles/${profile}/packages/${entry.category}/${entry.pf}.gpkg.tar`,
    headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${gateway.tokens.drone}`, ...leaseHeaders(lease) },
    payload: Buffer.from(await gpkgOf(entry)),
  });
  if (answer.statusCode !== 200) throw new Error(`upload of ${cpv}: ${answer.statusCode} ${answer.body}`);
  const { path, sha256, size } = answer.json() as { path: string; sha256: string; size: number };
  await markBuilt(gateway.client, cycle, cpv, path, sha256, size);
}

/** The leader's verdict that `cpv` failed its build for good. */
export async function markFailed(gateway: TestGateway, cycle: string, cpv: string): Promise<void> {
  const record = JSON.parse((await gateway.client.hget(KEYS.packages(cycle), cpv)) ?? 'null') as PackageRecord | null;
  if (record === null) throw new Error(`${cpv} is not in cycle ${cycle}`);
  const failed: PackageRecord = { ...record, state: 'failed', since: Date.now(), reason: 'emerge failed', failures: [...record.failures, { attempt: record.attempt, drone: 'd1', at: Date.now(), kind: 'package', reason: 'emerge failed' }] };
  await gateway.client.hset(KEYS.packages(cycle), cpv, JSON.stringify(failed));
}

/** Finishes the cycle as the leading orchestrator does: a fenced write under the leader's epoch. */
export async function finishAsLeader(gateway: TestGateway, cycle: string): Promise<void> {
  const lease = await acquireLease(gateway.client, KEYS, 'test-leader', 60_000);
  if (lease === undefined) throw new Error('another leader holds the lease');
  try {
    await finishCycle(gateway.client, KEYS, lease.epoch, cycle, Date.now());
  } finally {
    await releaseLease(gateway.client, KEYS, lease);
  }
}

/** A cycle of `cpvs` built, finished and finalized: the profile's production release. Returns the release id. */
export async function publishRelease(swarm: ClientSwarm, cycle: string, cpvs: readonly string[]): Promise<string> {
  await writeCycle(swarm.gateway.client, cycle, 'desktop', cpvs);
  for (const cpv of cpvs) await buildAndUpload(swarm.gateway, cycle, cpv);
  await finishAsLeader(swarm.gateway, cycle);
  const answer = await createSwarmClient({ url: swarm.url, token: swarm.gateway.tokens.admin }).finalize('desktop', {});
  if (answer.refused || answer.release === undefined) throw new Error(`finalize refused: ${JSON.stringify(answer.verify.components)}`);
  return answer.release.release;
}

/** The ids of the profile's cycles that have not finished, from Redis. */
export async function activeCycles(gateway: TestGateway): Promise<string[]> {
  return gateway.client.smembers(KEYS.activeCycles);
}

/** Waits until `probe` returns something (polling Redis or a file: the thing itself, never a fixed time). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The `emerge -pv @world` a target prints: the clusterhq rebuild lines of `cpvs`, in merge order. */
export async function planOf(cpvs: readonly string[]): Promise<string> {
  const wanted = new Set(cpvs);
  const lines = (await clusterhqRebuildPlan()).split('\n').filter((line) => line.startsWith('[ebuild') && wanted.has(line.split(/\s+/)[3] ?? ''));
  if (lines.length !== cpvs.length) throw new Error(`only ${lines.length} of ${cpvs.length} packages have a plan line`);
  return `\nThese are the packages that would be merged, in order:\n\nCalculating dependencies... done!\n\n${lines.join('\n')}\n\nTotal: ${lines.length} packages (${lines.length} reinstalls), Size of downloads: 0 KiB\n`;
}

/** Writes the plan the target's fake emerge prints, and the date of its repository snapshot. */
export async function prepareTarget(root: string, cpvs: readonly string[], repositoryDate: Date): Promise<void> {
  await writeFile(join(root, 'etc/argo-fake-emerge.plan'), await planOf(cpvs));
  await mkdir(join(root, 'var/db/repos/gentoo/metadata'), { recursive: true });
  await writeFile(join(root, 'var/db/repos/gentoo/metadata/timestamp.chk'), `${repositoryDate.toUTCString().replace('GMT', '+0000')}\n`);
  await mkdir(join(root, 'etc/portage/package.use'), { recursive: true });
  await writeFile(join(root, 'etc/portage/package.use/libxcrypt'), 'sys-libs/libxcrypt compat system\n');
}

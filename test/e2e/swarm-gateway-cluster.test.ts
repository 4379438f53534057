/**
 * The swarm over HTTP, every role its own process of the built CLI: `build-swarm gateway` (real sockets, bearer
 * tokens), an orchestrator, drones that fetch dependencies from the gateway's staging binhost and upload over
 * HTTP, the cycle started through the gateway's API, verify, finalize to production, and a client root whose
 * faithful fake emerge installs from the production binhost.
 */

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePackagesIndex } from '../../src/core/gentoo/parse-packages-index.ts';
import type { CycleStatus } from '../../src/core/swarm/swarm-status.ts';
import { BUILTIN_PROFILES } from '../../src/core/swarm/swarm-config.ts';
import { createSwarmClient, type SwarmClient } from '../../src/swarm-client/swarm-client.ts';
import { droneMerges, FAKE_EMERGE_BIN, PROFILE, prepareProfileRoot, startCluster, type SwarmCluster } from '../support/swarm-cluster.ts';
import { PROJECT } from '../support/run-cli.ts';
import { clusterhqRebuildPlan } from '../support/swarm-plan.ts';

let cluster: SwarmCluster;
let admin: SwarmClient;
let cycle: string;

beforeAll(async () => {
  cluster = await startCluster({ httpGateway: true });
  const http = cluster.http;
  if (http === undefined) throw new Error('no gateway');
  admin = createSwarmClient({ url: http.url, token: http.tokens.admin });
  await cluster.startOrchestrator('orch-1');
  await cluster.startDrone({ id: 'drone-16', cores: 16 });
  await cluster.startDrone({ id: 'sweeper-24', cores: 24, sweeper: true });
}, 120_000);
afterAll(async () => {
  await cluster?.destroy();
});

describe('the swarm over HTTP', { timeout: 600_000 }, () => {
  it('builds a cycle started through the gateway: drones fetch staged dependencies and upload over HTTP', async () => {
    const started = await admin.startCycle(PROFILE, { plan: await clusterhqRebuildPlan() });
    cycle = started.cycle;
    expect(started.packages).toBe(135);
    const status = await cluster.waitForStatus((state) => state.cycles.some((entry) => entry.id === cycle && entry.status === 'finished'), `cycle ${cycle} to finish`);
    const finished = status.cycles.find((entry) => entry.id === cycle) as CycleStatus;
    expect(finished.counts.built).toBe(135);

    // Dependencies reached drones as binaries fetched over HTTP from staging.
    const binaries = (await droneMerges(cluster)).filter((merge) => merge.kind === 'binary');
    expect(binaries.length).toBeGreaterThan(20);
    // The gateway's staging index lists every package, read over HTTP with a read token.
    const reader = createSwarmClient({ url: cluster.http?.url ?? '', token: cluster.http?.tokens.read ?? '' });
    const index = parsePackagesIndex((await reader.fetchText(`/staging/${PROFILE}/Packages`)) ?? '');
    expect(index.packages).toHaveLength(135);
    // Every build log went to the gateway.
    const record = await fetch(`${cluster.http?.url}/api/v1/cycles/${cycle}/packages/sys-libs/${index.packages.find((entry) => entry.fields.CPV?.startsWith('sys-libs/zlib-'))?.fields.CPV?.split('/')[1]}`, { headers: { authorization: `Bearer ${cluster.http?.tokens.read}` } });
    const built = (await record.json()) as { state: string; built: { log: string } };
    expect(built.state).toBe('built');
    const log = await reader.fetchText(new URL(built.built.log).pathname);
    expect(log).toContain('>>> argo drone');
  });

  it('verifies, finalizes to production through the CLI, and a client root installs from production', async () => {
    const verify = await admin.verify(PROFILE);
    expect(verify.components.map((component) => component.id).sort()).toEqual(['coverage', 'critical-use', 'failed', 'slot-conflict', 'unsatisfied-deps']);
    // Every package built, none with unpinned USE: what keeps it from safe is only what this prefix takes from its
    // host (X11 libraries and the like, outside the 135), so the release is forced with that reason.
    expect(verify.components.filter((component) => component.points > 0).map((component) => component.id)).toEqual(['unsatisfied-deps']);
    expect(verify.components.find((component) => component.id === 'unsatisfied-deps')?.packages).toContain('sys-apps/groff-1.22.2 needs x11-libs/libX11');
    const http = cluster.http;
    if (http === undefined) throw new Error('no gateway');
    const finalize = await cluster.run(['finalize', '--profile', PROFILE, '--gateway', http.url, '--token-file', http.tokenFiles.admin, '--force', 'the clusterhq prefix takes X11 from its host', '--json']);
    expect(finalize.code, finalize.stderr).toBe(0);
    const release = (JSON.parse(finalize.stdout) as { release: { release: string; packages: number } }).release;
    expect(release.packages).toBe(135);

    // A client of the profile (its USE: Portage takes a binary only when its USE matches) builds libpcre; its
    // dependencies come from production over HTTP as binaries.
    const client = join(cluster.dir, 'client');
    await prepareProfileRoot(client, [], undefined);
    await mkdir(join(client, 'var/cache/binpkgs'), { recursive: true });
    const production = new URL(`${http.url}/binhost/${PROFILE}`);
    production.username = 'client';
    production.password = http.tokens.read;
    const index = parsePackagesIndex((await createSwarmClient({ url: http.url, token: http.tokens.read }).fetchText(`/binhost/${PROFILE}/Packages`)) ?? '');
    const emerge = spawn(join(FAKE_EMERGE_BIN, 'emerge'), ['--oneshot', '--usepkg', '--getbinpkg', '=dev-libs/libpcre-8.35-r1'], {
      env: { ...process.env, PATH: `${join(PROJECT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`, PORTAGE_CONFIGROOT: client, ROOT: client, PORTAGE_BINHOST: production.toString(), USE: BUILTIN_PROFILES.desktop.use, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    emerge.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    emerge.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(emerge, 'exit')) as [number | null];
    expect(code, output).toBe(0);
    expect(output).not.toContain(http.tokens.read);
    const merges = (await readFile(join(client, 'var/log/argo-fake-emerge.jsonl'), 'utf8')).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { cpv: string; kind: string });
    const binaries = merges.filter((merge) => merge.kind === 'binary');
    expect(binaries.length, output).toBeGreaterThan(0);
    // Each file it fetched is the production release's, byte for byte.
    for (const merge of binaries) {
      const listed = index.packages.find((entry) => entry.fields.CPV === merge.cpv);
      const fetched = await readFile(join(client, 'var/cache/binpkgs', listed?.fields.PATH ?? ''));
      expect(createHash('md5').update(fetched).digest('hex')).toBe(listed?.fields.MD5);
    }
  });

  it('cancels a running cycle through the gateway: what was not built is skipped, and the drones go idle', async () => {
    const started = await admin.startCycle(PROFILE, { plan: await clusterhqRebuildPlan() });
    await cluster.waitForStatus((state) => state.cycles.some((entry) => entry.id === started.cycle && entry.counts.built > 0), `${started.cycle} building`);
    expect((await admin.cancelCycle(started.cycle)).command).toBe('cancel-cycle');
    const status = await cluster.waitForStatus((state) => state.cycles.some((entry) => entry.id === started.cycle && entry.status === 'finished'), `${started.cycle} cancelled`);
    const cancelled = status.cycles.find((entry) => entry.id === started.cycle) as CycleStatus;
    expect(cancelled.counts.skipped).toBeGreaterThan(0);
    expect(cancelled.counts.built + cancelled.counts.skipped).toBe(135);
    await expect(admin.cancelCycle(started.cycle)).rejects.toMatchObject({ code: 'ARGO_FILE_NOT_FOUND', message: expect.stringContaining('No running cycle') });
    await expect(admin.restart('no-such-drone')).rejects.toMatchObject({ code: 'ARGO_FILE_NOT_FOUND', hint: expect.stringContaining('drone-16') });
  });

  it('grounds and ungrounds a drone through the gateway; the leader applies both', async () => {
    const ground = await admin.ground('drone-16', { minutes: 30, reason: 'disk replacement' });
    expect(ground.command).toBe('ground');
    await cluster.waitForStatus((state) => state.drones.some((drone) => drone.id === 'drone-16' && drone.state === 'grounded' && (drone.reason ?? '').includes('disk replacement')), 'drone-16 grounded');
    await admin.unground('drone-16');
    await cluster.waitForStatus((state) => state.drones.some((drone) => drone.id === 'drone-16' && drone.state !== 'grounded'), 'drone-16 back');
    const metrics = await fetch(`${cluster.http?.url}/metrics`, { headers: { authorization: `Bearer ${cluster.http?.tokens.read}` } });
    expect(await metrics.text()).toMatch(/argo_swarm_events\{type="grounded"\} [1-9]/);
  });
});

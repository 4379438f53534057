/**
 * The gateway against a real redis-server, with real GPKGs (the clusterhq prefix's installed packages written by
 * the project's GPKG writer): who may do what, what an upload must be to be published, and that every refused
 * request writes nothing.
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePackagesIndex } from '../../src/core/gentoo/parse-packages-index.ts';
import { readTokens } from '../../src/gateway/gateway-tokens.ts';
import { appendSwarmEvent } from '../../src/swarm/swarm-events.ts';
import { createSwarmClient } from '../../src/swarm-client/swarm-client.ts';
import { clusterhqPlanPrefix, runSwarmCli } from '../support/swarm-cluster.ts';
import { CLUSTERHQ_EMERGE_LOG, CLUSTERHQ_MD5_CACHE } from '../support/swarm-plan.ts';
import { readRecords } from '../../src/swarm/cycle-store.ts';
import { logPath } from '../../src/system/file-gateway.ts';
import { clusterhqPackages, gpkgOf, grantLease, KEYS, leaseHeaders, markBuilt, startTestGateway, writeCycle, type TestGateway } from '../support/swarm-gateway.ts';

let gateway: TestGateway;
const packages = clusterhqPackages();
const CYCLE = 'c-security';
const ZLIB = [...packages.keys()].find((cpv) => cpv.startsWith('sys-libs/zlib-')) as string;
const BASH = [...packages.keys()].find((cpv) => cpv.startsWith('app-shells/bash-')) as string;

beforeAll(async () => {
  gateway = await startTestGateway({ maxPackageBytes: 2 * 1024 ** 2 });
  await writeCycle(gateway.client, CYCLE, 'desktop', [ZLIB, BASH]);
});
afterAll(async () => {
  await gateway?.destroy();
});

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const pfOf = (cpv: string): string => cpv.split('/')[1] as string;
const uploadUrl = (cpv: string, name = `${pfOf(cpv)}.gpkg.tar`, profile = 'desktop'): string => `/api/v1/profiles/${profile}/packages/${cpv.split('/')[0]}/${name}`;

/** Every file under the data folder (staging, logs, releases), for "nothing was written". */
async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name)).sort();
}

async function upload(cpv: string, body: Uint8Array, headers: Record<string, string>, url = uploadUrl(cpv)) {
  return gateway.app.inject({ method: 'PUT', url, headers: { 'content-type': 'application/octet-stream', ...headers }, payload: Buffer.from(body) });
}

describe('the gateway', { timeout: 120_000 }, () => {
  it('publishes a drone\'s upload with the job\'s lease: staging lists it with metadata from the GPKG itself', async () => {
    const entry = packages.get(ZLIB);
    if (entry === undefined) throw new Error('no zlib in the fixture');
    const bytes = await gpkgOf(entry);
    const lease = await grantLease(gateway.client, CYCLE, ZLIB);
    const answer = await upload(ZLIB, bytes, { ...bearer(gateway.tokens.drone), ...leaseHeaders(lease) });
    expect(answer.statusCode, answer.body).toBe(200);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(answer.json()).toEqual({ path: `sys-libs/zlib/${entry.pf}.gpkg.tar`, sha256, size: bytes.length });

    const index = parsePackagesIndex(await readFile(join(gateway.data, 'staging/desktop/Packages'), 'utf8'));
    const listed = index.packages.find((pkg) => pkg.fields.CPV === ZLIB);
    // SHA256 is ours: Portage drops it on read and checks MD5 (and SHA1) of what it downloads.
    expect(listed?.droppedFields.SHA256).toBe(sha256);
    expect(listed?.fields).toMatchObject({
      PATH: `sys-libs/zlib/${entry.pf}.gpkg.tar`,
      SIZE: String(bytes.length),
      SHA1: createHash('sha1').update(bytes).digest('hex'),
      MD5: createHash('md5').update(bytes).digest('hex'),
      SLOT: entry.files.SLOT?.trim(),
      USE: entry.files.USE?.trim().split(/\s+/).join(' '),
    });
    // Served back as a binhost, to a token with the read scope.
    const served = await gateway.app.inject({ method: 'GET', url: `/staging/desktop/sys-libs/zlib/${entry.pf}.gpkg.tar`, headers: bearer(gateway.tokens.read) });
    expect(served.statusCode).toBe(200);
    expect(createHash('sha256').update(served.rawPayload).digest('hex')).toBe(sha256);
  });

  it('never logs a token', () => {
    expect(gateway.logText()).toContain('gateway.package-published');
    for (const token of Object.values(gateway.tokens)) expect(gateway.logText()).not.toContain(token);
  });

  it('refuses requests without a token, with an unknown token, or with a token of another scope', async () => {
    const before = await filesUnder(gateway.data);
    const lease = await grantLease(gateway.client, CYCLE, BASH);
    const entry = packages.get(BASH);
    if (entry === undefined) throw new Error('no bash in the fixture');
    const bytes = await gpkgOf(entry);
    const cases: [Record<string, string>, number][] = [
      [{}, 401],
      [bearer('0'.repeat(64)), 401],
      [{ authorization: `Basic ${Buffer.from(`drone:${'1'.repeat(64)}`).toString('base64')}` }, 401],
      [bearer(gateway.tokens.read), 403],
      [bearer(gateway.tokens.admin), 403],
    ];
    for (const [headers, status] of cases) {
      const answer = await upload(BASH, bytes, { ...headers, ...leaseHeaders(lease) });
      expect(answer.statusCode, JSON.stringify(headers)).toBe(status);
      expect(answer.json()).toMatchObject({ error: { code: 'ARGO_SWARM_UNAUTHORIZED' } });
    }
    const finalize = await gateway.app.inject({ method: 'POST', url: '/api/v1/profiles/desktop/finalize', headers: bearer(gateway.tokens.drone), payload: {} });
    expect(finalize.statusCode).toBe(403);
    const status = await gateway.app.inject({ method: 'GET', url: '/api/v1/status' });
    expect(status.statusCode).toBe(401);
    expect(status.headers['www-authenticate']).toContain('Bearer');
    const binhost = await gateway.app.inject({ method: 'GET', url: '/staging/desktop/Packages' });
    expect(binhost.statusCode).toBe(401);
    // Basic auth with the token as password is how Portage sends credentials from a binhost URL.
    const basic = await gateway.app.inject({ method: 'GET', url: '/staging/desktop/Packages', headers: { authorization: `Basic ${Buffer.from(`drone:${gateway.tokens.drone}`).toString('base64')}` } });
    expect(basic.statusCode).toBe(200);
    expect(await filesUnder(gateway.data)).toEqual(before);
  });

  it('refuses an upload whose lease is stale, whose GPKG holds another package, or that is not a GPKG, writing nothing', async () => {
    const bash = packages.get(BASH);
    const zlib = packages.get(ZLIB);
    if (bash === undefined || zlib === undefined) throw new Error('fixture');
    const lease = await grantLease(gateway.client, CYCLE, BASH);
    const before = await filesUnder(gateway.data);
    const auth = bearer(gateway.tokens.drone);

    const stale = await upload(BASH, await gpkgOf(bash), { ...auth, ...leaseHeaders({ ...lease, token: 'reclaimed-drone-token' }) });
    expect([stale.statusCode, stale.json().error.code]).toEqual([409, 'ARGO_LEASE_LOST']);
    const oldJob = await upload(BASH, await gpkgOf(bash), { ...auth, ...leaseHeaders({ ...lease, jobId: `${CYCLE}:${BASH}:1` }) });
    expect(oldJob.statusCode).toBe(409);

    // A GPKG of zlib sent as bash, under bash's name and lease.
    const impostor = await upload(BASH, await gpkgOf(zlib, {}, bash.pf), { ...auth, ...leaseHeaders(lease) });
    expect([impostor.statusCode, impostor.json().error.code]).toEqual([400, 'ARGO_INVALID_INPUT']);
    expect(impostor.json().error.message).toContain(ZLIB);

    const garbage = await upload(BASH, new TextEncoder().encode('not a tar at all\n'.repeat(100)), { ...auth, ...leaseHeaders(lease) });
    expect(garbage.statusCode).toBe(400);

    const damaged = await gpkgOf(bash);
    damaged[damaged.length - 2000] = (damaged[damaged.length - 2000] ?? 0) ^ 0xff;
    const corrupt = await upload(BASH, damaged, { ...auth, ...leaseHeaders(lease) });
    expect(corrupt.statusCode).toBe(400);

    const wrongHash = await upload(BASH, await gpkgOf(bash), { ...auth, ...leaseHeaders(lease), 'x-argo-sha256': '0'.repeat(64) });
    expect(wrongHash.statusCode).toBe(400);

    const noLease = await upload(BASH, await gpkgOf(bash), auth);
    expect([noLease.statusCode, noLease.json().error.code]).toEqual([400, 'ARGO_INVALID_INPUT']);

    const otherCategory = await upload(BASH, await gpkgOf(bash), { ...auth, ...leaseHeaders(lease) }, `/api/v1/profiles/desktop/packages/sys-libs/${bash.pf}.gpkg.tar`);
    expect(otherCategory.statusCode).toBe(400);
    const unknownProfile = await upload(BASH, await gpkgOf(bash), { ...auth, ...leaseHeaders(lease) }, uploadUrl(BASH, undefined, 'nosuch'));
    expect(unknownProfile.statusCode).toBe(404);

    expect(await filesUnder(gateway.data)).toEqual(before);
  });

  it('refuses an oversize upload by its length and by its bytes, writing nothing', async () => {
    const bash = packages.get(BASH);
    if (bash === undefined) throw new Error('fixture');
    const lease = await grantLease(gateway.client, CYCLE, BASH);
    const before = await filesUnder(gateway.data);
    const big = new Uint8Array(3 * 1024 ** 2);
    const declared = await upload(BASH, big, { ...bearer(gateway.tokens.drone), ...leaseHeaders(lease) });
    expect([declared.statusCode, declared.json().error.code]).toEqual([413, 'ARGO_UPLOAD_TOO_LARGE']);

    // Chunked, no length declared: counted as it arrives.
    const url = await gateway.listen();
    const chunks = async function* () {
      for (let sent = 0; sent < 3 * 1024 ** 2; sent += 64 * 1024) yield new Uint8Array(64 * 1024);
    };
    const streamed = await fetch(`${url}${uploadUrl(BASH)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', ...bearer(gateway.tokens.drone), ...leaseHeaders(lease) },
      body: ReadableStreamFrom(chunks()),
      duplex: 'half',
    } as RequestInit).catch((error: unknown) => error);
    // The gateway answers 413 (or closes the connection once it stopped reading); either way nothing is kept.
    if (streamed instanceof Response) expect(streamed.status).toBe(413);
    expect(await filesUnder(gateway.data)).toEqual(before);
  });

  it('refuses path traversal in every spelling, writing nothing and serving nothing outside the binhost', async () => {
    const before = await filesUnder(gateway.data);
    const lease = await grantLease(gateway.client, CYCLE, BASH);
    const auth = bearer(gateway.tokens.drone);
    const bash = packages.get(BASH);
    if (bash === undefined) throw new Error('fixture');
    const bytes = await gpkgOf(bash);
    for (const path of [
      `/api/v1/profiles/desktop/packages/..%2F..%2F..%2Ftmp/${bash.pf}.gpkg.tar`,
      `/api/v1/profiles/desktop/packages/app-shells/..%2F${bash.pf}.gpkg.tar`,
      `/api/v1/profiles/desktop/packages/app-shells/%2Fetc%2Fpasswd`,
      `/api/v1/profiles/desktop/packages/app-shells/${bash.pf}%00.gpkg.tar`,
      `/api/v1/profiles/desktop/packages/%2e%2e/${bash.pf}.gpkg.tar`,
      `/api/v1/profiles/..%2F..%2Fetc/packages/app-shells/${bash.pf}.gpkg.tar`,
      `/api/v1/profiles/desktop/packages/app-shells/..%5C${bash.pf}.gpkg.tar`,
    ]) {
      const answer = await upload(BASH, bytes, { ...auth, ...leaseHeaders(lease) }, path);
      expect([400, 404], `${path}: ${answer.statusCode} ${answer.body}`).toContain(answer.statusCode);
    }
    const read = bearer(gateway.tokens.read);
    for (const path of ['/staging/desktop/..%2F..%2F..%2Fetc%2Fpasswd', '/staging/desktop/%2e%2e/%2e%2e/etc/passwd', '/binhost/desktop/..%2Fstaging%2Fdesktop%2FPackages', '/staging/desktop/sys-libs/zlib/.hidden', '/staging/desktop/sys-libs%00/x', '/api/v1/logs/..%2F..%2F/app-shells/bash-5/1/d1']) {
      const answer = await gateway.app.inject({ method: 'GET', url: path, headers: read });
      expect([400, 404], `${path}: ${answer.statusCode}`).toContain(answer.statusCode);
    }
    expect(await filesUnder(gateway.data)).toEqual(before);
  });

  it('survives random upload paths and bodies: never a 5xx, never a file outside staging, no temporary left', async () => {
    const lease = await grantLease(gateway.client, CYCLE, BASH);
    const before = await filesUnder(gateway.data);
    const bash = packages.get(BASH);
    if (bash === undefined) throw new Error('fixture');
    // A real GPKG of the job's package half the time, so only the path can be what refuses it.
    const valid = await gpkgOf(bash);
    const segment = fc.oneof(fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', 'app-shells', `${bash.pf}.gpkg.tar`, `..%2F${bash.pf}.gpkg.tar`, '', '%5C..', '%252e%252e'), fc.string({ maxLength: 12 }).map(encodeURIComponent));
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.oneof(fc.uint8Array({ maxLength: 4096 }), fc.constant(valid)), async (segments, body) => {
        const path = segments.join('/');
        const answer = await upload(BASH, body, { ...bearer(gateway.tokens.drone), ...leaseHeaders(lease) }, `/api/v1/profiles/desktop/packages/${path}`);
        expect(answer.statusCode, `${path}: ${answer.body}`).toBeLessThan(500);
        if (path !== `app-shells/${bash.pf}.gpkg.tar` || body !== valid) expect(answer.statusCode, path).not.toBe(200);
      }),
      { numRuns: 200 },
    );
    // Nothing landed outside the job's own folder, and no temporary was left anywhere.
    const after = await filesUnder(gateway.data);
    expect(after.filter((file) => !before.includes(file) && !file.includes(`/staging/desktop/app-shells/bash/${bash.pf}`) && !file.endsWith('/Packages') && !file.endsWith('/Packages.gz'))).toEqual([]);
    expect(after.filter((file) => /\.argo-[0-9a-f]+$/.test(file))).toEqual([]);
  });

  it('refuses a tokens file others can read, and a malformed one naming the line', async () => {
    const file = join(gateway.data, '..', `tokens-${process.pid}`);
    await writeFile(file, `admin admin ${'a'.repeat(40)}\n`, { mode: 0o644 });
    await expect(readTokens(file)).rejects.toMatchObject({ code: 'ARGO_SECRET_FILE_UNSAFE' });
    await writeFile(file, `# ok\nadmin admin,root ${'a'.repeat(40)}\n`, { mode: 0o600 });
    await import('node:fs/promises').then((fs) => fs.chmod(file, 0o600));
    await expect(readTokens(file)).rejects.toMatchObject({ code: 'ARGO_CONFIG_INVALID', message: expect.stringContaining(`${file}:2`) });
    await writeFile(file, 'short admin abc\n');
    await expect(readTokens(file)).rejects.toMatchObject({ message: expect.stringContaining('shorter than 32') });
    await import('node:fs/promises').then((fs) => fs.rm(file));
  });

  it('streams the swarm\'s events as Server-Sent Events, resuming from an id', async () => {
    const url = await gateway.listen().catch(() => `http://127.0.0.1:${(gateway.app.server.address() as { port: number }).port}`);
    await appendSwarmEvent(gateway.client, KEYS, { type: 'grounded', drone: 'd9', reason: 'test' });
    const controller = new AbortController();
    const response = await fetch(`${url}/api/v1/events?since=0`, { headers: bearer(gateway.tokens.read), signal: controller.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const waitFor = async (needle: string): Promise<void> => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await waitFor('event: grounded');
    await appendSwarmEvent(gateway.client, KEYS, { type: 'reclaimed', cycle: CYCLE, cpv: BASH, drone: 'd9', afterMs: '10' });
    await waitFor('event: reclaimed');
    const data = text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)) as { type: string; fields: Record<string, string> });
    expect(data.map((event) => event.type)).toEqual(['grounded', 'reclaimed']);
    expect(data[1]?.fields).toMatchObject({ cpv: BASH, drone: 'd9' });
    controller.abort();
  });

  it('starts no cycle when it has no repository, saying what to give it', async () => {
    const answer = await gateway.app.inject({ method: 'POST', url: '/api/v1/profiles/desktop/cycles', headers: bearer(gateway.tokens.admin), payload: { plan: '[ebuild   R    ] sys-libs/zlib-1.2.8-r1\n' } });
    expect([answer.statusCode, answer.json().error.code]).toEqual([400, 'ARGO_USAGE']);
    expect(answer.json().error.hint).toContain('--md5-cache');
  });

  it('answers /metrics in Prometheus format to a read token', async () => {
    const answer = await gateway.app.inject({ method: 'GET', url: '/metrics', headers: bearer(gateway.tokens.read) });
    expect(answer.statusCode).toBe(200);
    for (const name of ['argo_swarm_leader_epoch', 'argo_swarm_drones', 'argo_swarm_cycle_packages', 'argo_swarm_cycle_build_seconds', 'argo_swarm_ready_packages', 'argo_swarm_events', 'argo_swarm_cycle_makespan_ratio']) {
      expect(answer.body).toContain(`# TYPE ${name}`);
    }
    expect(answer.body).toMatch(/argo_swarm_events\{type="grounded"\} [1-9]/);
    expect(answer.body).toContain(`argo_swarm_cycle_packages{cycle="${CYCLE}",profile="desktop",state="building"}`);
    expect((await gateway.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
  });
});

function ReadableStreamFrom(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  });
}

describe('publishing through the gateway', { timeout: 300_000 }, () => {
  let publisher: TestGateway;
  let url: string;
  const cycle = 'c-publish';
  const chosen = [...packages.keys()].filter((cpv) => !cpv.startsWith('virtual/')).slice(0, 40);

  /** Builds `cpv` again (new bytes) and uploads it under the next lease, as a drone would. */
  const buildAndUpload = async (cpv: string): Promise<void> => {
    const entry = packages.get(cpv);
    if (entry === undefined) throw new Error(cpv);
    const lease = await grantLease(publisher.client, cycle, cpv);
    const bytes = await gpkgOf(entry);
    const answer = await publisher.app.inject({ method: 'PUT', url: uploadUrl(cpv), headers: { 'content-type': 'application/octet-stream', ...bearer(publisher.tokens.drone), ...leaseHeaders(lease) }, payload: Buffer.from(bytes) });
    expect(answer.statusCode, answer.body).toBe(200);
    const { path, sha256, size } = answer.json() as { path: string; sha256: string; size: number };
    await markBuilt(publisher.client, cycle, cpv, path, sha256, size);
  };

  beforeAll(async () => {
    publisher = await startTestGateway();
    url = await publisher.listen();
    await writeCycle(publisher.client, cycle, 'desktop', chosen);
    for (const cpv of chosen) await buildAndUpload(cpv);
  });
  afterAll(async () => {
    await publisher?.destroy();
  });

  it('refuses to finalize while verify says not safe (exit 3), production untouched; --force publishes and keeps the reason', async () => {
    const admin = createSwarmClient({ url, token: publisher.tokens.admin });
    const verify = await admin.verify('desktop');
    expect(verify.safe).toBe(false);
    expect(verify.components.find((component) => component.id === 'unsatisfied-deps')?.points).toBeGreaterThan(0);

    const tokenFile = join(publisher.data, '..', `admin-token-${process.pid}`);
    await writeFile(tokenFile, `${publisher.tokens.admin}\n`, { mode: 0o600 });
    const refused = await runSwarmCli(['finalize', '--profile', 'desktop', '--gateway', url, '--token-file', tokenFile, '--json']);
    expect(refused.code).toBe(3);
    expect(JSON.parse(refused.stdout)).toMatchObject({ refused: true, verify: { safe: false } });
    expect(await readdir(join(publisher.data, 'production')).catch(() => [])).toEqual([]);

    const forced = await runSwarmCli(['finalize', '--profile', 'desktop', '--gateway', url, '--token-file', tokenFile, '--force', 'first release of a partial set', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    const releases = await admin.releases('desktop');
    expect(releases.releases).toHaveLength(1);
    // With a release to serve, traversal out of it is still refused.
    for (const path of ['/binhost/desktop/..%2F..%2Fstaging%2Fdesktop%2FPackages', '/binhost/desktop/release.json', '/binhost/desktop/%2e%2e/%2e%2e/locks', '/binhost/desktop/sys-libs/zlib/.hidden', '/staging/desktop/sys-libs/zlib/x.gpkg.tar.stanza.json']) {
      const answer = await publisher.app.inject({ method: 'GET', url: path, headers: bearer(publisher.tokens.read) });
      expect([400, 404], `${path}: ${answer.statusCode}`).toContain(answer.statusCode);
    }
    expect((await publisher.app.inject({ method: 'GET', url: '/binhost/desktop/Packages', headers: bearer(publisher.tokens.read) })).statusCode).toBe(200);
    expect(releases.releases[0]).toMatchObject({ current: true, forced: expect.stringMatching(/^first release of a partial set \(score \d+, threshold 15\)$/), packages: chosen.length });
    // Published builds leave staging: the next finalize publishes only what is built after.
    expect(parsePackagesIndex(await readFile(join(publisher.data, 'staging/desktop/Packages'), 'utf8')).packages).toEqual([]);
    await rm(tokenFile);
  });

  it('serves a complete index and every file it lists while finalize and rollback switch production', async () => {
    const admin = createSwarmClient({ url, token: publisher.tokens.admin });
    const auth = bearer(publisher.tokens.read);
    const problems: string[] = [];
    const seen = new Set<string>();
    let passes = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const response = await fetch(`${url}/binhost/desktop/Packages`, { headers: auth });
        if (response.status !== 200) {
          problems.push(`Packages: ${response.status}`);
          continue;
        }
        const text = await response.text();
        const index = parsePackagesIndex(text);
        seen.add(index.header.TIMESTAMP ?? '');
        for (const { fields } of index.packages) {
          const file = await fetch(`${url}/binhost/desktop/${fields.PATH}`, { headers: auth });
          const bytes = Buffer.from(await file.arrayBuffer());
          if (file.status !== 200 || String(bytes.length) !== fields.SIZE || createHash('md5').update(bytes).digest('hex') !== fields.MD5) {
            problems.push(`${fields.PATH}: ${file.status}, ${bytes.length} bytes (index: ${fields.SIZE})`);
          }
        }
        if (index.packages.length !== chosen.length) problems.push(`index lists ${index.packages.length} packages, not ${chosen.length}`);
        passes += 1;
      }
    })();
    /** Until the reader finished a whole pass that began after now. */
    const readerCaughtUp = async (): Promise<void> => {
      const target = passes + 2;
      while (passes < target) await new Promise((resolve) => setImmediate(resolve));
    };
    for (let round = 1; round <= 10; round += 1) {
      if (round % 3 === 0) {
        await admin.rollback('desktop');
      } else {
        for (const cpv of chosen.slice(round, round + 4)) await buildAndUpload(cpv);
        const answer = await admin.finalize('desktop', { force: `round ${round}` });
        expect(answer.refused).toBe(false);
      }
      await readerCaughtUp();
    }
    stop = true;
    await reader;
    expect(problems).toEqual([]);
    expect(seen.size).toBeGreaterThanOrEqual(6);
    const releases = await admin.releases('desktop');
    expect(releases.releases.length).toBe(3);
  });
});


describe('cycles started over the API', { timeout: 120_000 }, () => {
  let starter: TestGateway;
  beforeAll(async () => {
    starter = await startTestGateway({ cycles: { md5Cache: CLUSTERHQ_MD5_CACHE, history: [CLUSTERHQ_EMERGE_LOG] } });
  });
  afterAll(async () => {
    await starter?.destroy();
  });

  it('starts a cycle of exactly the plan\'s packages for an admin token, refuses a second one while it runs, and a bad plan by its line', async () => {
    const prefix = await clusterhqPlanPrefix(4);
    const client = createSwarmClient({ url: await starter.listen(), token: starter.tokens.admin });
    const started = await client.startCycle('desktop', { plan: prefix.text });
    expect(started).toMatchObject({ profile: 'desktop', packages: 4 });
    expect([...(await readRecords(starter.client, KEYS, started.cycle)).keys()].sort()).toEqual([...prefix.cpvs].sort());
    expect(started.alreadyRunning).toBe(false);
    // The same plan again is answered with the running cycle; another plan is refused while it runs.
    expect(await client.startCycle('desktop', { plan: prefix.text })).toMatchObject({ cycle: started.cycle, alreadyRunning: true });
    await expect(client.startCycle('desktop', { plan: (await clusterhqPlanPrefix(3)).text })).rejects.toMatchObject({ code: 'ARGO_CYCLE_ACTIVE', details: { cycle: started.cycle, status: 409 } });
    // The same packages built with other USE are other input.
    const otherUse = prefix.text.replace('-right_timezone', 'right_timezone');
    expect(otherUse).not.toBe(prefix.text);
    await expect(client.startCycle('desktop', { plan: otherUse })).rejects.toMatchObject({ code: 'ARGO_CYCLE_ACTIVE', details: { cycle: started.cycle } });
    await expect(client.startCycle('server', { plan: '[ebuild   R    ] not/a valid line\n' })).rejects.toMatchObject({ code: 'ARGO_INVALID_INPUT' });
    const reader = createSwarmClient({ url: client.url, token: starter.tokens.read });
    await expect(reader.startCycle('server', { plan: prefix.text })).rejects.toMatchObject({ code: 'ARGO_SWARM_UNAUTHORIZED' });
    expect(await starter.client.zcard(KEYS.cycles)).toBe(1);
  });

  it('lets a request token start cycles and publish what verify passes, and nothing more', async () => {
    const url = `http://127.0.0.1:${(starter.app.server.address() as { port: number }).port}`;
    const requester = createSwarmClient({ url, token: starter.tokens.request });
    await expect(requester.startCycle('desktop', { plan: (await clusterhqPlanPrefix(2)).text })).rejects.toMatchObject({ code: 'ARGO_CYCLE_ACTIVE' });
    await expect(requester.finalize('desktop', { force: 'I know better' })).rejects.toMatchObject({ code: 'ARGO_SWARM_UNAUTHORIZED' });
    await expect(requester.finalize('desktop', { threshold: 90 })).rejects.toMatchObject({ code: 'ARGO_SWARM_UNAUTHORIZED' });
    await expect(requester.rollback('desktop')).rejects.toMatchObject({ code: 'ARGO_SWARM_UNAUTHORIZED' });
    await expect(requester.ground('d1', { reason: 'x' })).rejects.toMatchObject({ code: 'ARGO_SWARM_UNAUTHORIZED' });
    expect((await requester.status()).cycles).toHaveLength(1);
  });
});

describe('TLS', { timeout: 120_000 }, () => {
  it('serves the API over TLS to a client that trusts its certificate, and to no other', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'argo-tls-'));
    try {
      const cert = join(folder, 'cert.pem');
      const key = join(folder, 'key.pem');
      const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=argo-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
      expect(made.status, made.stderr).toBe(0);
      const secure = await startTestGateway({ https: { cert: await readFile(cert), key: await readFile(key) } });
      try {
        const url = await secure.listen();
        expect(url.startsWith('https://')).toBe(true);
        const tokenFile = join(folder, 'read.token');
        await writeFile(tokenFile, `${secure.tokens.read}\n`, { mode: 0o600 });
        const trusted = await runSwarmCli(['releases', '--profile', 'desktop', '--gateway', url, '--token-file', tokenFile, '--json'], { ...process.env, NO_COLOR: '1', NODE_EXTRA_CA_CERTS: cert });
        expect(trusted.code, trusted.stderr + trusted.stdout).toBe(0);
        expect(JSON.parse(trusted.stdout)).toMatchObject({ profile: 'desktop', releases: [] });
        const untrusted = await runSwarmCli(['releases', '--profile', 'desktop', '--gateway', url, '--token-file', tokenFile, '--json']);
        expect(untrusted.code).toBe(1);
        expect(JSON.parse(untrusted.stdout)).toMatchObject({ error: { code: 'ARGO_SWARM_UNREACHABLE', message: expect.stringContaining(url) } });
      } finally {
        await secure.destroy();
      }
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

describe('live streams', { timeout: 120_000 }, () => {
  let live: TestGateway;
  let url: string;
  const CYCLE = 'desktop-20261130T000000Z-1ive';
  beforeAll(async () => {
    live = await startTestGateway({ publicRead: true });
    url = await live.listen();
    await writeCycle(live.client, CYCLE, 'desktop', ['app-misc/big-1', 'app-misc/live-1']);
  });
  afterAll(async () => {
    await live?.destroy();
  });

  it('streams a long kept log whole and in order, and a running build from its output stream', async () => {
    // A failed attempt whose kept log is 120,000 lines: read as a stream, sent a page at a time.
    const record = { cpv: 'app-misc/big-1', state: 'failed', since: Date.now(), attempt: 1, failures: [{ attempt: 1, drone: 'd1', at: Date.now(), kind: 'package', reason: 'compile' }] };
    await live.client.hset(KEYS.packages(CYCLE), 'app-misc/big-1', JSON.stringify(record));
    const file = logPath(live.data, { cycle: CYCLE, cpv: 'app-misc/big-1', attempt: 1, drone: 'd1' });
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, Array.from({ length: 120_000 }, (_, index) => `line ${index}`).join('\n'));
    const client = createSwarmClient({ url, token: live.tokens.read });
    let count = 0;
    let last = '';
    let state = '';
    for await (const message of client.output(CYCLE, 'app-misc/big-1', { signal: AbortSignal.timeout(60_000) })) {
      if (message.type === 'lines') {
        for (const line of message.lines) {
          expect(line).toBe(`line ${count}`);
          count += 1;
          last = line;
        }
      } else state = message.state;
    }
    expect([count, last, state]).toEqual([120_000, 'line 119999', 'failed']);

    // A running build: what its output stream holds, then what the drone adds, then the end when the record says so.
    const jobId = `${CYCLE}:app-misc/live-1:1`;
    await live.client.hset(KEYS.packages(CYCLE), 'app-misc/live-1', JSON.stringify({ cpv: 'app-misc/live-1', state: 'building', since: Date.now(), attempt: 1, drone: 'd1', jobId, failures: [], startedAt: Date.now() }));
    await live.client.xadd(KEYS.output(jobId), '*', 'lines', JSON.stringify(['>>> Emerging (1 of 1) app-misc/live-1', '>>> Compiling source']));
    const seen: string[] = [];
    let ended = '';
    const reading = (async () => {
      for await (const message of client.output(CYCLE, 'app-misc/live-1', { signal: AbortSignal.timeout(60_000) })) {
        if (message.type === 'lines') {
          seen.push(...message.lines);
          if (seen.length === 2) {
            await live.client.xadd(KEYS.output(jobId), '*', 'lines', JSON.stringify(['make -j8']));
          } else if (seen.length === 3) {
            await live.client.hset(KEYS.packages(CYCLE), 'app-misc/live-1', JSON.stringify({ cpv: 'app-misc/live-1', state: 'built', since: Date.now(), attempt: 1, failures: [] }));
          }
        } else ended = message.state;
      }
    })();
    await reading;
    expect(seen).toEqual(['>>> Emerging (1 of 1) app-misc/live-1', '>>> Compiling source', 'make -j8']);
    expect(ended).toBe('built');
  });

  it('keeps room for token holders: eight streams without a token at most, public-read or not', async () => {
    const controllers = Array.from({ length: 8 }, () => new AbortController());
    try {
      const open = await Promise.all(controllers.map((controller) => fetch(`${url}/api/v1/events`, { signal: controller.signal })));
      expect(open.map((response) => response.status)).toEqual(Array(8).fill(200));
      const ninth = await fetch(`${url}/api/v1/events`);
      expect(ninth.status).toBe(503);
      expect(((await ninth.json()) as { error: { message: string } }).error.message).toContain('without a token');
      const withToken = new AbortController();
      const admitted = await fetch(`${url}/api/v1/events`, { headers: { authorization: `Bearer ${live.tokens.read}` }, signal: withToken.signal });
      expect(admitted.status).toBe(200);
      withToken.abort();
      // Writes never become public: reset without a token is refused.
      expect((await fetch(`${url}/api/v1/reset`, { method: 'POST' })).status).toBe(401);
    } finally {
      for (const controller of controllers) controller.abort();
    }
  });
});

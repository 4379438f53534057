/**
 * `build-swarm fix-blocked` as an operator runs it: the built CLI against a real in-process gateway on a real
 * redis-server, over a cycle whose failed packages kept their logs through the drone's own upload path.
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DagEdge } from '../../src/core/swarm/build-dag.ts';
import type { CycleDefinition, PackageRecord } from '../../src/core/swarm/cycle-model.ts';
import type { FixBlockedReport } from '../../src/core/swarm/diagnose-blocked.ts';
import { createCycle } from '../../src/swarm/cycle-store.ts';
import { createHttpGateway } from '../../src/swarm-client/swarm-client.ts';
import { runSwarmCli } from '../support/swarm-cluster.ts';
import { DESKTOP, grantLease, KEYS, startTestGateway, type TestGateway } from '../support/swarm-gateway.ts';

const CYCLE = 'desktop-fixblocked-1';
const FIXTURES = new URL('../fixtures/emerge-failures/', import.meta.url);
const HOSTILE_LOG = [
  '>>> argo drone d1: x11-libs/hostile-1 (cycle desktop-fixblocked-1, attempt 1, profile desktop)',
  'The following USE changes are necessary to proceed:',
  ' (see "package.use" in the portage(5) man page for more details)',
  '>=x11-libs/evil-1;touch${IFS}/tmp/pwned bar',
  '',
].join('\n');

// B fails (USE change), A needs B, top needs A; libexample fails (fetch); both needs A and libexample;
// hostile fails with a log whose USE line is not an atom; zlib is built.
const NODES = ['sys-libs/zlib-1.3', 'dev-libs/B-1', 'dev-libs/A-1', 'app-misc/top-1', 'media-libs/libexample-2.4.1', 'app-misc/both-1', 'x11-libs/hostile-1'];
const EDGES: DagEdge[] = [
  { from: 'sys-libs/zlib-1.3', to: 'dev-libs/B-1', kind: 'build' },
  { from: 'dev-libs/B-1', to: 'dev-libs/A-1', kind: 'build' },
  { from: 'dev-libs/A-1', to: 'app-misc/top-1', kind: 'build' },
  { from: 'dev-libs/A-1', to: 'app-misc/both-1', kind: 'build' },
  { from: 'media-libs/libexample-2.4.1', to: 'app-misc/both-1', kind: 'build' },
];

let gateway: TestGateway;
let url: string;
let scratch: string;
let tokenFile: string;

async function failWithLog(cpv: string, log: string): Promise<void> {
  const lease = await grantLease(gateway.client, CYCLE, cpv, 'd1');
  const file = join(scratch, `${cpv.replace('/', '_')}.log`);
  await writeFile(file, log);
  const drone = createHttpGateway({ url, token: gateway.tokens.drone, profiles: [DESKTOP] });
  const kept = await drone.storeLog({ cycle: CYCLE, cpv, attempt: 1, drone: 'd1', file, lease });
  const now = Date.now();
  const record: PackageRecord = {
    cpv,
    state: 'failed',
    since: now,
    attempt: 1,
    failures: [{ attempt: 1, drone: 'd1', at: now, kind: 'package', reason: 'emerge --oneshot --buildpkg --usepkg … exited with status 1', log: kept, seconds: 3 }],
    reason: 'failed on d1: emerge --oneshot --buildpkg --usepkg … exited with status 1',
  };
  await gateway.client.hset(KEYS.packages(CYCLE), cpv, JSON.stringify(record));
}

async function setState(cpv: string, state: PackageRecord['state'], reason?: string): Promise<void> {
  const record: PackageRecord = { cpv, state, since: Date.now(), attempt: state === 'built' ? 1 : 0, failures: [], ...(reason === undefined ? {} : { reason }) };
  await gateway.client.hset(KEYS.packages(CYCLE), cpv, JSON.stringify(record));
}

beforeAll(async () => {
  gateway = await startTestGateway();
  url = await gateway.listen();
  scratch = await mkdtemp(join(tmpdir(), 'argo-fix-blocked-'));
  tokenFile = join(scratch, 'read-token');
  await writeFile(tokenFile, `${gateway.tokens.read}\n`, { mode: 0o600 });
  const definition: CycleDefinition = {
    id: CYCLE,
    profile: 'desktop',
    createdAt: Date.now(),
    source: 'test',
    policy: 'critical-path',
    referenceSpeed: 8,
    nodes: NODES.map((cpv) => ({ cpv, cp: cpv.replace(/-[0-9].*$/, ''), duration: 10, heavy: false })),
    edges: EDGES,
    cyclesBroken: [],
  };
  await createCycle(gateway.client, KEYS, definition);
  await setState('sys-libs/zlib-1.3', 'built');
  await failWithLog('dev-libs/B-1', await readFile(new URL('portage-autounmask-use-change.txt', FIXTURES), 'utf8'));
  await failWithLog('media-libs/libexample-2.4.1', await readFile(new URL('synthetic-fetch-failure.txt', FIXTURES), 'utf8'));
  await failWithLog('x11-libs/hostile-1', HOSTILE_LOG);
  await setState('dev-libs/A-1', 'blocked', 'needs dev-libs/B-1, which failed');
  await setState('app-misc/top-1', 'blocked', 'needs dev-libs/B-1, which failed');
  await setState('app-misc/both-1', 'blocked', 'needs media-libs/libexample-2.4.1, which failed');
});

afterAll(async () => {
  await gateway?.destroy();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe('build-swarm fix-blocked', () => {
  it('prints each failure with its evidence and fix, blocked packages under it, in 80 columns; exit 1', async () => {
    const run = await runSwarmCli(['fix-blocked', '--gateway', url, '--token-file', tokenFile]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const text = run.stdout;
    expect(text).toContain(`Cycle ${CYCLE} (profile desktop, running): 3 failed, 3 blocked.`);
    // Shortest first: libexample blocks nothing alone, nor does the hostile one (then by name); B blocks two.
    const order = ['media-libs/libexample-2.4.1 failed: download failed', 'x11-libs/hostile-1 failed: USE change needed', 'dev-libs/B-1 failed: USE change needed (blocks 2)'].map((line) => text.indexOf(line));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(text).toContain("    echo '>=dev-libs/B-1 foo' \\\n      >> /var/lib/argo/drone/desktop/etc/portage/package.use/argo-swarm");
    expect(text).toContain('  Blocked until it builds: app-misc/top-1, dev-libs/A-1');
    expect(text).toContain("    !!! Couldn't download 'libexample-2.4.1.tar.xz'. Aborting.");
    expect(text).toContain('    build-swarm sync');
    expect(text).toContain('  app-misc/both-1 waits on dev-libs/B-1, media-libs/libexample-2.4.1');
    expect(text.replace(/\n +/g, ' ')).toContain('>=x11-libs/evil-1;touch${IFS}/tmp/pwned is not a valid package atom: not turned into a command');
    expect(text).toContain('    build-swarm fresh --profile desktop');
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });

  it('answers the same as JSON, with the DAG traced', async () => {
    const run = await runSwarmCli(['fix-blocked', '--gateway', url, '--token-file', tokenFile, '--cycle', CYCLE, '--json']);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as FixBlockedReport;
    expect(report).toMatchObject({ cycle: CYCLE, profile: 'desktop', traced: 'graph', counts: { failed: 3, blocked: 3 }, retry: 'build-swarm fresh --profile desktop' });
    expect(report.failed.map((pkg) => [pkg.cpv, pkg.cause, pkg.blocks])).toEqual([
      ['media-libs/libexample-2.4.1', 'fetch', []],
      ['x11-libs/hostile-1', 'use-change', []],
      ['dev-libs/B-1', 'use-change', ['app-misc/top-1', 'dev-libs/A-1']],
    ]);
    const b = report.failed.find((pkg) => pkg.cpv === 'dev-libs/B-1');
    expect(b?.log).toBe(`/api/v1/logs/${CYCLE}/dev-libs/B-1/1/d1`);
    expect(b?.findings[0]?.evidence).toContain(">=dev-libs/B-1 foo");
    expect(b?.findings[0]?.fix.commands).toEqual([
      'mkdir -p /var/lib/argo/drone/desktop/etc/portage/package.use',
      "echo '>=dev-libs/B-1 foo' >> /var/lib/argo/drone/desktop/etc/portage/package.use/argo-swarm",
    ]);
    expect(report.failed.find((pkg) => pkg.cpv === 'x11-libs/hostile-1')?.findings[0]?.fix.commands).toEqual([]);
    expect(report.blockedBySeveral).toEqual([{ cpv: 'app-misc/both-1', waitsOn: ['dev-libs/B-1', 'media-libs/libexample-2.4.1'], reason: 'needs media-libs/libexample-2.4.1, which failed' }]);
  });

  it('writes the commands for the drones\' root, quoted', async () => {
    const run = await runSwarmCli(['fix-blocked', '--gateway', url, '--token-file', tokenFile, '--profile', 'desktop', '--drone-root', "/srv/argo's drones", '--json']);
    const report = JSON.parse(run.stdout) as FixBlockedReport;
    expect(report.failed.find((pkg) => pkg.cpv === 'dev-libs/B-1')?.findings[0]?.fix.commands).toContain("echo '>=dev-libs/B-1 foo' >> '/srv/argo'\\''s drones/desktop/etc/portage/package.use/argo-swarm'");
  });

  it('exits 0 with nothing to fix for a profile without failures, and refuses an unknown cycle', async () => {
    const clean = await runSwarmCli(['fix-blocked', '--gateway', url, '--token-file', tokenFile, '--profile', 'server']);
    expect(clean).toMatchObject({ code: 0, stdout: 'Profile server has no cycle: nothing is blocked.\n' });
    const unknown = await runSwarmCli(['fix-blocked', '--gateway', url, '--token-file', tokenFile, '--cycle', 'no-such-cycle']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('The gateway knows no cycle "no-such-cycle"');
    expect(unknown.stderr).toContain(CYCLE);
  });
});

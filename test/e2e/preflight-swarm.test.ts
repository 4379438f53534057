/**
 * `argo preflight --swarm`: the checklist asks a real gateway (real redis-server, real GPKGs of the clusterhq
 * prefix, releases made by its finalize) about the target's update: coverage against the swarm's production
 * index, and the `swarm` check's warnings and failures. The target is a copy of the Debian fixture root with
 * the fake emerge printing a plan of clusterhq packages.
 */

import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { writeCycle } from '../support/swarm-gateway.ts';
import { copyTarget, installFakeEmerge, type TargetCopy } from '../support/debian-target.ts';
import { runBuiltCli, type CliRun } from '../support/run-cli.ts';
import { buildAndUpload, finishAsLeader, LEAVES, markFailed, prepareTarget, publishRelease, startClientSwarm, type ClientSwarm } from '../support/swarm-client-fixtures.ts';

interface Check {
  id: string;
  status: string;
  summary: string;
  advice?: string;
  details: Record<string, unknown>;
}
interface Report {
  verdict: 'go' | 'no-go';
  checks: Check[];
}

const HOUR = 3600_000;
const RELEASED = [LEAVES.bzip2, LEAVES.xz, LEAVES.mimeTypes];

const targets: TargetCopy[] = [];
const swarms: ClientSwarm[] = [];
afterEach(async () => {
  for (const target of targets.splice(0)) await target.remove();
  for (const swarm of swarms.splice(0)) await swarm.destroy();
});

/** A swarm whose production release of `desktop` holds RELEASED. */
async function releasedSwarm(): Promise<ClientSwarm> {
  const swarm = await startClientSwarm();
  swarms.push(swarm);
  await publishRelease(swarm, 'c-base', RELEASED);
  return swarm;
}

/** A target updating to `cpvs`, from a repository snapshot of `repositoryDate`. */
async function target(cpvs: readonly string[], repositoryDate: Date): Promise<TargetCopy> {
  const copy = await copyTarget('base');
  targets.push(copy);
  await installFakeEmerge(copy.root, { BINARY: 'ok' });
  await prepareTarget(copy.root, cpvs, repositoryDate);
  return copy;
}

async function preflight(root: string, args: readonly string[], env: Record<string, string> = {}): Promise<{ run: CliRun; report: Report; check: (id: string) => Check }> {
  const run = await runBuiltCli('argo', ['preflight', '--root', root, '--json', ...args], { env });
  let report: Report;
  try {
    report = JSON.parse(run.stdout) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${run.code}):\n${run.stderr}`);
  }
  return { run, report, check: (id) => report.checks.find((entry) => entry.id === id) as Check };
}

const swarmArgs = (swarm: ClientSwarm): string[] => ['--swarm', swarm.url, '--swarm-profile', 'desktop', '--swarm-token-file', swarm.tokenFiles.read];

describe('argo preflight --swarm', { timeout: 180_000 }, () => {
  it('measures coverage against the swarm\'s production index and names what is missing; a current, safe swarm passes', async () => {
    const swarm = await releasedSwarm();
    const copy = await target([...RELEASED, LEAVES.lz4], new Date(Date.now() - HOUR));
    // The swarm options from the environment, as an admin's profile would set them.
    const { check, report } = await preflight(copy.root, [], { ARGO_SWARM_GATEWAY: swarm.url, ARGO_SWARM_PROFILE: 'desktop', ARGO_SWARM_TOKEN_FILE: swarm.tokenFiles.read });
    expect(check('binhost-coverage')).toMatchObject({
      status: 'warn',
      summary: `3 of 4 packages available as binaries (75%); 1 would be compiled: ${LEAVES.lz4}`,
      details: { total: 4, available: 3, missing: [LEAVES.lz4], reasons: { [LEAVES.lz4]: 'no-binary' }, binhosts: [`${swarm.url}/binhost/desktop/`] },
      advice: expect.stringContaining('--request-builds'),
    });
    expect(check('swarm')).toMatchObject({ status: 'pass', details: { gateway: swarm.url, profile: 'desktop', running: [], unpublished: [], verify: { safe: true } } });
    expect(report.checks.map((entry) => entry.id)).toContain('swarm');

    // Every planned package in production: full coverage.
    const covered = await target(RELEASED, new Date(Date.now() - HOUR));
    const again = await preflight(covered.root, swarmArgs(swarm));
    expect(again.check('binhost-coverage')).toMatchObject({ status: 'pass', details: { total: 3, available: 3, missing: [] } });
  });

  it('warns while a cycle of the profile runs, and when staging holds builds production does not', async () => {
    const swarm = await releasedSwarm();
    const copy = await target([...RELEASED, LEAVES.lz4], new Date(Date.now() - HOUR));
    await writeCycle(swarm.gateway.client, 'c-next', 'desktop', [LEAVES.lz4]);
    const running = await preflight(copy.root, swarmArgs(swarm));
    // Its verify counts lz4 as missing while it builds: not judged until the cycle finishes.
    expect(running.check('swarm')).toMatchObject({
      status: 'warn',
      summary: expect.stringMatching(/^cycle c-next of desktop is running \(0 of 1 built, ~\S+ left\)$/),
      details: { running: [{ id: 'c-next', built: 0, total: 1 }], unpublished: [] },
    });

    await buildAndUpload(swarm.gateway, 'c-next', LEAVES.lz4);
    await finishAsLeader(swarm.gateway, 'c-next');
    const staged = await preflight(copy.root, swarmArgs(swarm));
    expect(staged.check('swarm')).toMatchObject({
      status: 'warn',
      summary: `staging holds 1 build production does not (${LEAVES.lz4})`,
      advice: expect.stringContaining('build-swarm finalize --profile desktop'),
      details: { running: [], unpublished: [`${LEAVES.lz4}`], verify: { safe: true } },
    });
    // Production has not changed: lz4 would still be compiled.
    expect(staged.check('binhost-coverage').details).toMatchObject({ missing: [LEAVES.lz4] });
  });

  it('fails when production is older than the repository snapshot being updated to', async () => {
    const swarm = await releasedSwarm();
    const copy = await target(RELEASED, new Date(Date.now() + HOUR));
    const { check, report, run } = await preflight(copy.root, swarmArgs(swarm));
    expect(check('swarm')).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(/^production release \S+ \(.+\) is older than the repository snapshot \(.+, \/var\/db\/repos\/gentoo\/metadata\/timestamp\.chk\)$/),
      advice: expect.stringContaining('--request-builds'),
    });
    expect(report.verdict).toBe('no-go');
    expect(run.code).toBe(3);
  });

  it('fails when the swarm\'s verify of its newest cycle is not safe', async () => {
    const swarm = await releasedSwarm();
    await writeCycle(swarm.gateway.client, 'c-broken', 'desktop', [LEAVES.zlib, LEAVES.lz4]);
    await buildAndUpload(swarm.gateway, 'c-broken', LEAVES.lz4);
    await markFailed(swarm.gateway, 'c-broken', LEAVES.zlib);
    await finishAsLeader(swarm.gateway, 'c-broken');
    const copy = await target(RELEASED, new Date(Date.now() - HOUR));
    const { check } = await preflight(copy.root, swarmArgs(swarm));
    const swarmCheck = check('swarm');
    expect(swarmCheck.status).toBe('fail');
    expect(swarmCheck.summary).toMatch(/the swarm's verify scores \d+ \(safe below 15\): failed \d+ \(.*sys-libs\/zlib-1\.2\.8-r1/);
    expect(swarmCheck.details).toMatchObject({ verify: { safe: false, components: expect.arrayContaining([expect.objectContaining({ id: 'failed', packages: expect.arrayContaining([expect.stringContaining(LEAVES.zlib)]) })]) } });
    // The failure leads the summary; what is also staged but unpublished is in the details.
    expect(swarmCheck.details).toMatchObject({ unpublished: [LEAVES.lz4] });
  });

  it('names the gateway that does not answer, and does not pass what it could not check', async () => {
    const closed = await closedPort();
    const copy = await target(RELEASED, new Date(Date.now() - HOUR));
    const url = `http://127.0.0.1:${closed}`;
    const { check, report, run } = await preflight(copy.root, ['--swarm', url, '--swarm-profile', 'desktop']);
    for (const id of ['swarm', 'binhost-coverage']) {
      expect(check(id), id).toMatchObject({ status: 'fail', summary: `could not be checked: the swarm gateway ${url} does not answer`, details: { gateway: url, error: { code: 'ARGO_SWARM_UNREACHABLE' } } });
    }
    expect(report.verdict).toBe('no-go');
    expect(run.code).toBe(3);
  });

  it('refuses --binhost with --swarm: they name two binhosts', async () => {
    const copy = await target(RELEASED, new Date(Date.now() - HOUR));
    const run = await runBuiltCli('argo', ['preflight', '--root', copy.root, '--json', '--binhost', '/var/cache/binpkgs', '--swarm', 'http://127.0.0.1:1']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'ARGO_USAGE' } });
  });
});

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

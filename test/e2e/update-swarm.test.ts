/**
 * `apkg update --request-builds`: the packages of the update the swarm's production binhost lacks are asked of a
 * real gateway (real redis-server, real GPKGs, the clusterhq md5-cache), the test plays the drones and the
 * leader while apkg waits and reports progress, apkg finalizes through verify and updates from production, or
 * stops with exit 3 when verify refuses. Targets are btrfs roots (the gate wants its snapshot) with the fake
 * emerge printing a plan of clusterhq packages.
 */

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRecords } from '../../src/swarm/cycle-store.ts';
import { createSwarmClient } from '../../src/swarm-client/swarm-client.ts';
import { useBtrfsDisk } from '../support/btrfs-target.ts';
import { installFakeEmerge } from '../support/debian-target.ts';
import { runBuiltCli, type CliRun } from '../support/run-cli.ts';
import { KEYS, writeCycle } from '../support/swarm-gateway.ts';
import { activeCycles, buildAndUpload, finishAsLeader, LEAVES, markFailed, prepareTarget, publishRelease, startClientSwarm, waitFor, type ClientSwarm } from '../support/swarm-client-fixtures.ts';

interface UpdateReport {
  outcome: string;
  interrupted: boolean;
  preSnapshot?: number;
  refusedBy: { id: string; summary: string }[];
  packages: { planned: number; merged: number; mergedCpvs: string[] };
  builds?: { gateway: string; profile: string; requested: string[]; cycle?: string; outcome: string; release?: string; verify?: { safe: boolean; score: number; components: { id: string; points: number; packages: string[] }[] } };
  phases: { id: string; status: string; reason?: string; error?: { code: string; message: string } }[];
  logDir: string;
}

interface LogLine {
  msg?: string;
  [field: string]: unknown;
}

const HOUR = 3600_000;
const RELEASED = [LEAVES.bzip2, LEAVES.xz, LEAVES.mimeTypes];
const btrfs = useBtrfsDisk();

/** A swarm whose production release of `desktop` holds RELEASED, and a btrfs root updating to `cpvs`. */
async function setUp(name: string, cpvs: readonly string[]): Promise<{ swarm: ClientSwarm; root: string }> {
  const swarm = await startClientSwarm();
  await publishRelease(swarm, 'c-base', RELEASED);
  const root = await btrfs().makeRoot(name);
  await installFakeEmerge(root, { BINARY: 'ok', WORLD_BINHOST_HAS: 'all' });
  await prepareTarget(root, cpvs, new Date(Date.now() - HOUR));
  return { swarm, root };
}

function requestBuilds(swarm: ClientSwarm, root: string, extra: readonly string[], onStart?: (pid: number) => void): Promise<CliRun> {
  const args = ['update', '--root', root, '--request-builds', '--swarm', swarm.url, '--swarm-profile', 'desktop', '--swarm-token-file', swarm.tokenFiles.read, '--swarm-request-token-file', swarm.tokenFiles.request, '--request-poll', '0.1', ...extra];
  return runBuiltCli('apkg', args, onStart === undefined ? {} : { during: onStart });
}

/** The JSON lines of the run's main.log (the one update of the root), or [] before it exists. */
async function mainLog(root: string): Promise<LogLine[]> {
  const runs = (await readdir(join(root, 'var/log/argo')).catch(() => [])).filter((name) => name.startsWith('update-'));
  if (runs.length === 0) return [];
  const text = await readFile(join(root, 'var/log/argo', runs.sort().at(-1) as string, 'main.log'), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine);
}

const logged = (root: string, wanted: (line: LogLine) => boolean) => async (): Promise<LogLine | undefined> => (await mainLog(root)).find(wanted);

async function reportOf(root: string): Promise<UpdateReport> {
  const runs = (await readdir(join(root, 'var/log/argo'))).filter((name) => name.startsWith('update-')).sort();
  return JSON.parse(await readFile(join(root, 'var/log/argo', runs.at(-1) as string, 'report.json'), 'utf8')) as UpdateReport;
}

const statuses = (report: UpdateReport) => Object.fromEntries(report.phases.map((phase) => [phase.id, phase.status]));

describe('apkg update --request-builds', { timeout: 300_000 }, () => {
  it('asks the swarm for exactly the missing packages (after the cycle it was busy with), shows progress, publishes them and updates from production', async () => {
    const { swarm, root } = await setUp('built', [...RELEASED, LEAVES.lz4, LEAVES.which]);
    try {
      // The profile is busy: the request waits for that cycle, then asks again.
      await writeCycle(swarm.gateway.client, 'c-busy', 'desktop', [LEAVES.gdbm]);
      const running = requestBuilds(swarm, root, []);
      await waitFor('apkg waiting for c-busy', logged(root, (line) => line.msg === 'The profile has a running cycle; waiting for it to finish before asking again' && line['cycle'] === 'c-busy'));
      expect(await activeCycles(swarm.gateway)).toEqual(['c-busy']);
      await finishAsLeader(swarm.gateway, 'c-busy');

      const cycle = await waitFor('the requested cycle', async () => (await activeCycles(swarm.gateway)).find((id) => id !== 'c-busy'));
      expect([...(await readRecords(swarm.gateway.client, KEYS, cycle)).keys()].sort()).toEqual([LEAVES.lz4, LEAVES.which].sort());
      // The drones build one package at a time; apkg reports each step while it waits.
      for (const [index, cpv] of [LEAVES.lz4, LEAVES.which].entries()) {
        await buildAndUpload(swarm.gateway, cycle, cpv);
        const progress = await waitFor(`progress after ${cpv}`, logged(root, (line) => line.msg === 'Swarm cycle progress' && line['cycle'] === cycle && line['built'] === index + 1));
        expect(progress).toMatchObject({ total: 2, failed: 0, etaSeconds: expect.any(Number) });
      }
      await finishAsLeader(swarm.gateway, cycle);

      const run = await running;
      expect(run.code, run.stderr).toBe(0);
      // Not a terminal: one progress line per change, with the ETA the swarm estimates.
      // Its first look at the cycle may come before or after the test's drone took the first package.
      expect(run.stderr).toMatch(new RegExp(`^\\[0/2\\] swarm cycle ${cycle}: (waiting for a drone|building \\S+) {2}elapsed \\S+ {2}~\\S+ left$`, 'm'));
      expect(run.stderr).toMatch(new RegExp(`^\\[1/2\\] swarm cycle ${cycle}: `, 'm'));
      expect(run.stderr).toMatch(new RegExp(`^\\[2/2\\] swarm cycle ${cycle}: finished {2}elapsed \\S+ {2}~0s left$`, 'm'));
      const report = await reportOf(root);
      expect(report.outcome).toBe('updated');
      expect(report.builds).toMatchObject({ gateway: swarm.url, profile: 'desktop', cycle, outcome: 'published', verify: { safe: true } });
      expect([...(report.builds?.requested ?? [])].sort()).toEqual([LEAVES.lz4, LEAVES.which].sort());
      expect(statuses(report)).toMatchObject({ 'request-builds': 'succeeded', gate: 'succeeded', 'pre-snapshot': 'succeeded', update: 'succeeded', 'post-snapshot': 'succeeded' });
      expect(report.packages.mergedCpvs.sort()).toEqual([...RELEASED, LEAVES.lz4, LEAVES.which].sort());
      expect(run.stdout).toContain(`built 2 packages (cycle ${cycle}), published as release ${report.builds?.release ?? '?'}`);

      // The release is production now, with what was asked; the gate judged it fully covered.
      const releases = await createSwarmClient({ url: swarm.url, token: swarm.gateway.tokens.read }).releases('desktop');
      expect(releases.releases.find((release) => release.current)?.id).toBe(report.builds?.release);
      const gate = JSON.parse(await readFile(join(report.logDir, 'diagnostics.log'), 'utf8')) as { checks: { id: string; status: string; details: Record<string, unknown> }[] };
      expect(gate.checks.find((check) => check.id === 'binhost-coverage')).toMatchObject({ status: 'pass', details: { missing: [], binhosts: [`${swarm.url}/binhost/desktop/`] } });
      expect(gate.checks.find((check) => check.id === 'swarm')?.status).toBe('pass');
      // emerge installed from the swarm's production binhost, with the token as Basic auth password.
      const trace = await readFile(join(root, 'var/log/argo-fake-emerge.log'), 'utf8');
      const merges = trace.split('\n').filter((line) => line.includes("'--oneshot'"));
      expect(merges.length).toBeGreaterThan(0);
      // The read token goes into the URL (wget's command line); the request token never does.
      for (const line of merges) expect(line).not.toContain(swarm.gateway.tokens.request);
      for (const line of merges) expect(line).toContain(`PORTAGE_BINHOST=http://argo:${swarm.gateway.tokens.read}@${new URL(swarm.url).host}/binhost/desktop/ `);
    } finally {
      await swarm.destroy();
    }
  });

  it('stops with exit 3 when the swarm\'s verify refuses to publish: production unchanged, nothing updated, no snapshot', async () => {
    const { swarm, root } = await setUp('refused', [...RELEASED, LEAVES.zlib, LEAVES.lz4]);
    try {
      const reader = createSwarmClient({ url: swarm.url, token: swarm.gateway.tokens.read });
      const before = { releases: await reader.releases('desktop'), index: await reader.fetchText('/binhost/desktop/Packages') };
      const running = requestBuilds(swarm, root, ['--json']);
      const cycle = await waitFor('the requested cycle', async () => (await activeCycles(swarm.gateway))[0]);
      expect([...(await readRecords(swarm.gateway.client, KEYS, cycle)).keys()].sort()).toEqual([LEAVES.lz4, LEAVES.zlib].sort());
      await buildAndUpload(swarm.gateway, cycle, LEAVES.lz4);
      await markFailed(swarm.gateway, cycle, LEAVES.zlib);
      await finishAsLeader(swarm.gateway, cycle);

      const run = await running;
      expect(run.code, run.stderr).toBe(3);
      const report = JSON.parse(run.stdout) as UpdateReport;
      expect(report.outcome).toBe('refused');
      expect(report.refusedBy).toEqual([{ id: 'request-builds', summary: expect.stringMatching(new RegExp(`^The swarm refused to publish cycle ${cycle}: verify scores \\d+ \\(safe below 15\\): failed 25 \\(${LEAVES.zlib} failed\\)`)) }]);
      expect(report.builds).toMatchObject({ outcome: 'refused', cycle, verify: { safe: false, components: expect.arrayContaining([expect.objectContaining({ id: 'failed', points: 25 })]) } });
      expect(statuses(report)).toMatchObject({ 'request-builds': 'failed', gate: 'skipped', 'pre-snapshot': 'skipped', update: 'skipped', verify: 'skipped', 'post-snapshot': 'skipped' });
      expect(report.preSnapshot).toBeUndefined();
      // Production is what it was; nothing was merged.
      expect(await reader.releases('desktop')).toEqual(before.releases);
      expect(await reader.fetchText('/binhost/desktop/Packages')).toBe(before.index);
      expect(await readFile(join(root, 'var/log/emerge.log'), 'utf8').catch(() => '')).not.toMatch(/>>> emerge/);
      const summary = await readFile(join(report.logDir, 'summary.txt'), 'utf8');
      expect(summary).toMatch(/^REFUSED: the swarm built what was missing, but its verify refused to publish it; production is unchanged/);
      expect(summary).toMatch(/^ {4}failed 25: /m);
    } finally {
      await swarm.destroy();
    }
  });

  it('on Ctrl-C stops waiting and says the cycle goes on in the swarm (build-swarm status); nothing changed', async () => {
    const { swarm, root } = await setUp('interrupted', [...RELEASED, LEAVES.lz4]);
    try {
      let pid = 0;
      const running = requestBuilds(swarm, root, [], (started) => (pid = started));
      const cycle = await waitFor('the requested cycle', async () => (await activeCycles(swarm.gateway))[0]);
      await waitFor('apkg following the cycle', logged(root, (line) => line.msg === 'Swarm cycle progress' && line['cycle'] === cycle));
      process.kill(pid, 'SIGINT');
      const run = await running;
      expect(run.code).toBe(130);
      expect(run.stderr).toContain('Stopped waiting for the swarm; its cycle goes on there (follow it with build-swarm status)');
      expect(run.stdout).toContain(`stopped waiting, the cycle goes on in the swarm.\nFollow it with build-swarm status`);
      const report = await reportOf(root);
      expect(report).toMatchObject({ interrupted: true, builds: { cycle, outcome: 'stopped-waiting', requested: [LEAVES.lz4] } });
      expect(statuses(report)).toMatchObject({ 'request-builds': 'failed', gate: 'skipped', 'pre-snapshot': 'skipped', verify: 'skipped', repair: 'skipped', 'post-snapshot': 'skipped' });
      // The swarm still builds it.
      expect(await activeCycles(swarm.gateway)).toEqual([cycle]);
    } finally {
      await swarm.destroy();
    }
  });

  it('gives up waiting after --request-budget with exit 124; the cycle goes on', async () => {
    const { swarm, root } = await setUp('budget', [...RELEASED, LEAVES.lz4]);
    try {
      const run = await requestBuilds(swarm, root, ['--json', '--request-budget', '1']);
      expect(run.code, run.stderr).toBe(124);
      const report = JSON.parse(run.stdout) as UpdateReport;
      expect(report.phases.find((phase) => phase.id === 'request-builds')).toMatchObject({ status: 'failed', error: { code: 'ARGO_STEP_TIMED_OUT', message: expect.stringContaining('--request-budget of 1s') } });
      expect(report.builds).toMatchObject({ outcome: 'stopped-waiting', requested: [LEAVES.lz4] });
      expect(await activeCycles(swarm.gateway)).toEqual([report.builds?.cycle]);
    } finally {
      await swarm.destroy();
    }
  });

  it('without --request-builds refuses the --swarm options rather than ignore them', async () => {
    const root = await btrfs().makeRoot('no-request');
    await installFakeEmerge(root, { BINARY: 'ok' });
    const run = await runBuiltCli('apkg', ['update', '--root', root, '--json', '--swarm', 'http://127.0.0.1:1']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'ARGO_USAGE', message: expect.stringContaining('--request-builds') } });
  });
});

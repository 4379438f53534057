import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDag } from '../../src/core/swarm/build-dag.ts';
import { checkSchedule } from '../../src/core/swarm/check-schedule.ts';
import { estimateDurations } from '../../src/core/swarm/expected-durations.ts';
import type { ScheduledBuild } from '../../src/core/swarm/simulate-swarm.ts';
import { readSwarmInputs, type SwarmCycleSource } from '../../src/system/swarm-inputs.ts';
import { runBuiltCli } from '../support/run-cli.ts';
import { clusterhqRebuildPlan, CLUSTERHQ_EMERGE_LOG, CLUSTERHQ_MD5_CACHE, JOEPASSS_AMD64_INDEX } from '../support/swarm-plan.ts';

const DRONES = '16,8,14,24,8';
const POLICIES = ['critical-path', 'rdeps', 'fifo'] as const;

interface Summary {
  readonly packages: number;
  readonly edges: number;
  readonly cyclesBroken: readonly { members: string[]; removed: { from: string; to: string; kind: string }[] }[];
  readonly work: number;
  readonly criticalPath: number;
  readonly lowerBound: number;
  readonly makespan: number;
  readonly ratio: number;
  readonly policy: string;
}

let scratch: string;
let planFile: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'argo-swarm-simulate-'));
  planFile = join(scratch, 'clusterhq-rebuild.plan');
  await writeFile(planFile, await clusterhqRebuildPlan());
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe.each([
  ['the joepasss amd64 binhost index', (): string[] => ['--packages-index', JOEPASSS_AMD64_INDEX], (): SwarmCycleSource => ({ kind: 'packages-index', file: JOEPASSS_AMD64_INDEX }), 83],
  ['the clusterhq prefix rebuilt from a plan and its md5-cache', (): string[] => ['--plan', planFile, '--md5-cache', CLUSTERHQ_MD5_CACHE], (): SwarmCycleSource => ({ kind: 'plan', file: planFile, md5Cache: CLUSTERHQ_MD5_CACHE }), 135],
])('build-swarm simulate on %s, drones 16,8,14,24,8, durations from the clusterhq emerge.log', (_name, cycleArgs, source, packages) => {
  const results = new Map<string, { summary: Summary; schedule: ScheduledBuild[] }>();

  beforeAll(async () => {
    for (const policy of POLICIES) {
      const scheduleOut = join(scratch, `${policy}-${packages}.json`);
      const run = await runBuiltCli('build-swarm', ['simulate', ...cycleArgs(), '--history', CLUSTERHQ_EMERGE_LOG, '--drones', DRONES, '--policy', policy, '--schedule-out', scheduleOut, '--json']);
      expect(run.code, run.stderr).toBe(0);
      results.set(policy, { summary: JSON.parse(run.stdout) as Summary, schedule: JSON.parse(await readFile(scheduleOut, 'utf8')) as ScheduledBuild[] });
    }
  });

  it.each(POLICIES)('%s: the written schedule builds every package once, never two at once on a drone, never before its dependencies', async (policy) => {
    // The DAG is rebuilt here from the same files, not taken from the command's word.
    const inputs = await readSwarmInputs(source(), [CLUSTERHQ_EMERGE_LOG]);
    const dag = buildDag(inputs.packages, estimateDurations(inputs.builds));
    const { summary, schedule } = results.get(policy) as { summary: Summary; schedule: ScheduledBuild[] };
    expect(dag.nodes.size).toBe(packages);
    expect(checkSchedule(schedule, dag)).toEqual([]);
    expect([summary.packages, summary.edges, summary.policy]).toEqual([packages, dag.edges.length, policy]);
    expect(Math.max(...schedule.map((build) => build.end))).toBeCloseTo(summary.makespan, 6);
  });

  it.each(POLICIES)('%s: the makespan is at or above the lower bound (ratio ≥ 1), lowerBound = max(CP at the fastest drone, W / Σ speeds)', (policy) => {
    const { summary } = results.get(policy) as { summary: Summary };
    expect(summary.ratio).toBeGreaterThanOrEqual(1);
    expect(summary.lowerBound).toBeCloseTo(Math.max(summary.criticalPath, (summary.work * 24) / 70), 6);
  });

  it('critical-path finishes no later than rdeps and fifo', () => {
    const makespan = (policy: string): number => (results.get(policy) as { summary: Summary }).summary.makespan;
    expect(makespan('critical-path')).toBeLessThanOrEqual(makespan('rdeps'));
    expect(makespan('critical-path')).toBeLessThanOrEqual(makespan('fifo'));
  });

  it('reports every broken cycle with its members and removed edges', () => {
    const { summary } = results.get('critical-path') as { summary: Summary };
    for (const cycle of summary.cyclesBroken) {
      expect(cycle.members.length).toBeGreaterThan(0);
      expect(cycle.removed.length).toBeGreaterThan(0);
      for (const edge of cycle.removed) expect(cycle.members).toEqual(expect.arrayContaining([edge.from, edge.to]));
    }
  });
});

describe('build-swarm simulate on bad input', () => {
  it('prints a short table without --json', async () => {
    const run = await runBuiltCli('build-swarm', ['simulate', '--packages-index', JOEPASSS_AMD64_INDEX, '--drones', DRONES]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^makespan \/ lower bound\s+\d+\.\d{3}$/m);
    expect(run.stdout).toMatch(/^packages\s+83$/m);
  });

  it('reads a gzip-compressed index (Packages.gz) as the same cycle', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'argo-index-gz-'));
    try {
      const compressed = join(folder, 'Packages.gz');
      await writeFile(compressed, gzipSync(await readFile(JOEPASSS_AMD64_INDEX)));
      const plain = await readSwarmInputs({ kind: 'packages-index', file: JOEPASSS_AMD64_INDEX }, []);
      const gz = await readSwarmInputs({ kind: 'packages-index', file: compressed }, []);
      expect(gz.packages.map((pkg) => pkg.cpv)).toEqual(plain.packages.map((pkg) => pkg.cpv));
      expect(gz.packages).toHaveLength(83);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it.each([
    ['no cycle named', ['--drones', DRONES]],
    ['both sources', ['--packages-index', JOEPASSS_AMD64_INDEX, '--plan', 'x', '--md5-cache', 'y', '--drones', DRONES]],
    ['a plan without --md5-cache', ['--plan', 'x', '--drones', DRONES]],
    ['a drone speed that is not a number', ['--packages-index', JOEPASSS_AMD64_INDEX, '--drones', '16,fast']],
    ['more sweepers than drones', ['--packages-index', JOEPASSS_AMD64_INDEX, '--drones', '16,8', '--sweepers', '3']],
    ['an unknown policy', ['--packages-index', JOEPASSS_AMD64_INDEX, '--drones', DRONES, '--policy', 'random']],
  ])('exits 2 on a usage error: %s', async (_name, args) => {
    const run = await runBuiltCli('build-swarm', ['simulate', ...args, '--json']);
    expect(run.code).toBe(2);
    // yargs refuses a bad --policy choice before the handler runs, so before --json is known: the code is on stderr.
    expect(`${run.stdout}${run.stderr}`).toContain('ARGO_USAGE');
  });

  it('names a file that does not exist', async () => {
    const missing = join(scratch, 'no-such-Packages');
    const run = await runBuiltCli('build-swarm', ['simulate', '--packages-index', missing, '--drones', DRONES, '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'ARGO_FILE_NOT_FOUND', message: expect.stringContaining(missing), details: { path: missing } } });
  });

  it('names the file and line of a plan with no package to build', async () => {
    const bad = join(scratch, 'bad.plan');
    await writeFile(bad, '[ebuild  N    ] this is not a package\n');
    const run = await runBuiltCli('build-swarm', ['simulate', '--plan', bad, '--md5-cache', CLUSTERHQ_MD5_CACHE, '--drones', DRONES, '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'ARGO_INVALID_INPUT', message: expect.stringContaining(`${bad}:1`), details: { path: bad, line: 1 } } });
  });

  it('names an emerge.log from which nothing can be read', async () => {
    const bad = join(scratch, 'emerge.log');
    await writeFile(bad, 'not a log line\n');
    const run = await runBuiltCli('build-swarm', ['simulate', '--packages-index', JOEPASSS_AMD64_INDEX, '--history', bad, '--drones', DRONES, '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'ARGO_INVALID_INPUT', message: expect.stringContaining(bad) } });
  });
});

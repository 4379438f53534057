/**
 * Benchmark of the swarm's scheduling core (`build-swarm simulate` without Redis).
 *
 *   node scripts/bench/swarm-simulate.ts [--runs N]
 *
 * - every real DAG we have, with drones of 16, 8, 14, 24, 8 cores (the 24-core one a sweeper), durations from the
 *   clusterhq emerge.log: the joepasss amd64 and aarch64 binhost indexes, and the clusterhq prefix rebuilt from a
 *   plan made of its VDB and its md5-cache. For each policy: packages, edges, makespan, lower bound, their ratio
 *   (target for critical-path ≤ 1.10, and no later than rdeps and fifo);
 * - the time to simulate a synthetic 5,000-package DAG (layered, ~4 dependencies each, durations drawn from the
 *   real log's builds), each policy (target ≤ 2 s).
 *
 * Prints markdown tables; exits 1 when a target is missed.
 */

import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEmergeLog } from '../../src/core/gentoo/parse-emerge-log.ts';
import { buildDag, type BuildDag, type DagNode } from '../../src/core/swarm/build-dag.ts';
import { checkSchedule } from '../../src/core/swarm/check-schedule.ts';
import { estimateDurations, median } from '../../src/core/swarm/expected-durations.ts';
import { SCHEDULING_POLICIES, simulate, type SchedulingPolicy } from '../../src/core/swarm/simulate-swarm.ts';
import { dronesOf } from '../../src/cli/commands/swarm-simulate.ts';
import { readSwarmInputs, type SwarmCycleSource } from '../../src/system/swarm-inputs.ts';
import { clusterhqRebuildPlan, CLUSTERHQ_EMERGE_LOG, CLUSTERHQ_MD5_CACHE, JOEPASSS_AMD64_INDEX } from '../../test/support/swarm-plan.ts';

const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag === -1 ? 7 : Number(process.argv[runsFlag + 1]);
const DRONES = dronesOf('16,8,14,24,8', 1);
const SYNTHETIC_PACKAGES = 5_000;
let failed = false;

const scratch = await mkdtemp(join(tmpdir(), 'argo-bench-swarm-'));
try {
  const planFile = join(scratch, 'clusterhq-rebuild.plan');
  await writeFile(planFile, await clusterhqRebuildPlan());
  const sources: readonly (readonly [string, SwarmCycleSource])[] = [
    ['joepasss amd64 index', { kind: 'packages-index', file: JOEPASSS_AMD64_INDEX }],
    ['joepasss aarch64 index', { kind: 'packages-index', file: JOEPASSS_AMD64_INDEX.replace('/amd64/', '/aarch64/') }],
    ['clusterhq plan + md5-cache', { kind: 'plan', file: planFile, md5Cache: CLUSTERHQ_MD5_CACHE }],
  ];
  process.stdout.write('| DAG | policy | packages | edges | cycles broken (edges) | makespan | lower bound | ratio | ok |\n|---|---|---|---|---|---|---|---|---|\n');
  for (const [name, source] of sources) {
    const inputs = await readSwarmInputs(source, [CLUSTERHQ_EMERGE_LOG]);
    const dag = buildDag(inputs.packages, estimateDurations(inputs.builds));
    const results = SCHEDULING_POLICIES.map((policy) => simulate(dag, DRONES, policy));
    const critical = results[0]!;
    for (const result of results) {
      const problems = checkSchedule(result.schedule, dag);
      const ok =
        problems.length === 0 && (result.policy !== 'critical-path' || (result.ratio <= 1.1 && results.every((other) => critical.makespan <= other.makespan)));
      failed ||= !ok;
      const broken = result.cyclesBroken.reduce((sum, cycle) => sum + cycle.removed.length, 0);
      process.stdout.write(
        `| ${name} | ${result.policy} | ${result.packages} | ${result.edges} | ${result.cyclesBroken.length} (${broken}) | ${result.makespan.toFixed(0)} s | ${result.lowerBound.toFixed(0)} s | ${result.ratio.toFixed(3)} | ${ok ? 'yes' : 'NO'} |\n`,
      );
    }
  }

  const builds = parseEmergeLog(readFileSync(CLUSTERHQ_EMERGE_LOG, 'utf8')).builds.filter((build) => !build.binary);
  const synthetic = syntheticDag(SYNTHETIC_PACKAGES, builds.map((build) => Math.max(1, build.seconds)));
  process.stdout.write(`\n| synthetic DAG (${SYNTHETIC_PACKAGES} packages, ${synthetic.edges.length} edges) | runs | median | ratio | target | ok |\n|---|---|---|---|---|---|\n`);
  for (const policy of SCHEDULING_POLICIES) {
    const times: number[] = [];
    let ratio = 0;
    simulate(synthetic, DRONES, policy); // warm-up
    for (let run = 0; run < RUNS; run += 1) {
      const started = performance.now();
      ratio = simulate(synthetic, DRONES, policy).ratio;
      times.push(performance.now() - started);
    }
    const ok = median(times) <= 2000;
    failed ||= !ok;
    process.stdout.write(`| simulate, ${policy as SchedulingPolicy} | ${RUNS} | ${median(times).toFixed(1)} ms | ${ratio.toFixed(3)} | ≤ 2 s | ${ok ? 'yes' : 'NO'} |\n`);
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;

/** Layers of packages, each depending on up to 4 packages of earlier layers; a fixed seed. */
function syntheticDag(count: number, durations: readonly number[]): BuildDag {
  let state = 12345;
  const random = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const nodes = new Map<string, DagNode>();
  const edges: { from: string; to: string; kind: 'build' | 'runtime' }[] = [];
  const names: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const cpv = `cat-${index % 40}/pkg${index}-1`;
    const duration = durations[Math.floor(random() * durations.length)] as number;
    nodes.set(cpv, { cpv, category: `cat-${index % 40}`, cp: `cat-${index % 40}/pkg${index}`, duration, heavy: duration >= 1800 });
    const deps = new Set<number>();
    const wanted = index === 0 ? 0 : Math.floor(random() * 5);
    for (let pick = 0; pick < wanted; pick += 1) deps.add(Math.floor(random() * index));
    for (const dep of deps) edges.push({ from: names[dep] as string, to: cpv, kind: random() < 0.7 ? 'build' : 'runtime' });
    names.push(cpv);
  }
  return { nodes, edges, cyclesBroken: [], diagnostics: [] };
}

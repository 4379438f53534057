/**
 * The login doctor on each cause of "nobody can log in" (the scenarios of test/e2e/login-doctor.test.ts), one
 * overlay copy of the Debian fixture root per cause and run: `diagnoseLogin` alone, cold (the first call on a
 * freshly broken root, through a freshly opened System) and warm (later calls on the same System), then a whole
 * `argo recover --json` of the built CLI, with its exit code and the status recover gives the cause.
 * Targets: each recovery < 10 s, the diagnostics < 1 s. Needs the fixtures: bash scripts/setup.sh --fixtures.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { createLogger } from '../../src/logging/create-logger.ts';
import { diagnoseLogin } from '../../src/login-path/diagnose-login.ts';
import { openSystem } from '../../src/system/open-system.ts';
import { copyTarget, type TargetCopy } from '../../test/support/debian-target.ts';
import { chroot, PASSWORD, SCENARIOS, SEVERAL_CAUSES, type Report } from '../../test/support/login-scenarios.ts';
import { PROJECT } from '../../test/support/run-cli.ts';

const runs = Number(process.env['ARGO_BENCH_RUNS'] ?? 3);
const warmCalls = 5;
const RECOVER_BUDGET_MS = 120_000;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

interface Case {
  readonly label: string;
  readonly user: string;
  /** Cause ids recover must repair; the status column is theirs. */
  readonly ids: readonly string[];
  /** The status each id must get from recover. */
  readonly expected: string;
  break(root: string): Promise<void>;
}

interface Sample {
  readonly coldMs: number;
  readonly warmMs: number;
  readonly recoverMs: number;
  readonly exit: string;
  readonly status: string;
  /** Ids the diagnosis did not name. */
  readonly missed: readonly string[];
}

const cases: Case[] = [
  ...SCENARIOS.map((scenario) => ({
    label: scenario.name === undefined ? scenario.id : `${scenario.id} (legacy hash)`,
    user: scenario.user ?? 'alice',
    ids: [scenario.id],
    expected: scenario.byPasswordReset ? 'by-password-reset' : 'repaired',
    break: (root: string) => scenario.break(root),
  })),
  { label: `several causes (${SEVERAL_CAUSES.ids.length} on one root)`, user: 'alice', ids: SEVERAL_CAUSES.ids, expected: 'repaired', break: (root: string) => SEVERAL_CAUSES.break(root) },
];

/** Builds dist when a source file is newer than the last build: the benchmark runs the CLI a user would. */
function buildIfStale(): void {
  const built = statSync(join(PROJECT, 'dist/.tsbuildinfo'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const sources = readdirSync(join(PROJECT, 'src'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
  if (sources.every((file) => statSync(join(PROJECT, 'src', file)).mtimeMs <= built)) return;
  process.stderr.write('dist is older than src: building (tsc -p tsconfig.build.json)\n');
  execFileSync(join(PROJECT, 'node_modules/.bin/tsc'), ['-p', join(PROJECT, 'tsconfig.build.json')], { stdio: 'inherit' });
}

const { logger, close: closeLogger } = createLogger({ streams: [] });
/**
 * Ctrl-C cancels the running diagnosis or recover (a real kill of the CLI) and no further case starts, so that
 * each root is unmounted and removed by the finally that owns it: nothing may still run inside a root then.
 * `on`, not `once`: execa's exit hook re-raises a signal that has no other listener left, which would kill
 * this process before its finally blocks run.
 */
const stop = new AbortController();
for (const name of ['SIGINT', 'SIGTERM'] as const) process.on(name, () => stop.abort(new Error(`interrupted by ${name}`)));

async function timeDiagnosis(root: string, user: string, ids: readonly string[]): Promise<{ coldMs: number; warmMs: number; missed: string[] }> {
  const system = openSystem({ root, logger });
  try {
    let started = performance.now();
    const first = await diagnoseLogin(system, { user, signal: stop.signal });
    const coldMs = performance.now() - started;
    const warm: number[] = [];
    for (let call = 0; call < warmCalls; call += 1) {
      started = performance.now();
      await diagnoseLogin(system, { user, signal: stop.signal });
      warm.push(performance.now() - started);
    }
    const named = new Set<string>(first.causes.map((cause) => cause.id));
    return { coldMs, warmMs: median(warm), missed: ids.filter((id) => !named.has(id)) };
  } finally {
    await system.close();
  }
}

async function timeRecovery(target: TargetCopy, user: string, ids: readonly string[]): Promise<{ recoverMs: number; exit: string; status: string }> {
  const passwordFile = join(target.dir, 'password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  const started = performance.now();
  const result = await execa(process.execPath, [join(PROJECT, 'dist/cli/argo.js'), 'recover', '--root', target.root, '--user', user, '--password-file', passwordFile, '--json'], {
    reject: false,
    stdin: 'ignore',
    timeout: RECOVER_BUDGET_MS,
    cancelSignal: stop.signal,
    forceKillAfterDelay: 5_000,
    env: { LANG: 'C', NO_COLOR: '1' },
  });
  const recoverMs = performance.now() - started;
  stop.signal.throwIfAborted();
  const exit = result.timedOut ? 'timed out' : String(result.exitCode ?? result.signal);
  let report: Report | undefined;
  try {
    report = JSON.parse(result.stdout) as Report;
  } catch {
    process.stderr.write(`argo recover --user ${user} on ${target.root} wrote no JSON report (exit ${exit}):\n${result.stderr}\n`);
  }
  const statuses = ids.map((id) => ({ id, status: report?.causes.find((cause) => cause.id === id)?.status ?? 'not named' }));
  // One word when every cause got the same status; else each cause with its own.
  const status = new Set(statuses.map((entry) => entry.status)).size === 1 ? (statuses[0]?.status ?? '-') : statuses.map((entry) => `${entry.id}: ${entry.status}`).join(', ');
  return { recoverMs, exit, status };
}

async function measure(item: Case): Promise<Sample> {
  const target = await copyTarget('base');
  try {
    if (item.user === 'root') await chroot(target.root, 'sh', '-c', `echo 'root:${PASSWORD}' | chpasswd`);
    await item.break(target.root);
    const diagnosis = await timeDiagnosis(target.root, item.user, item.ids);
    const recovery = await timeRecovery(target, item.user, item.ids);
    return { ...diagnosis, ...recovery };
  } finally {
    await target.remove();
  }
}

buildIfStale();
const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`Machine: ${nproc} CPUs (nproc), ${model}; Node.js ${process.version}; load average ${load}; ${runs} runs per cause, a fresh root each, medians\n`);

const samples = new Map<Case, Sample[]>(cases.map((item) => [item, []]));
let failures = 0;
// Run after run over all causes, so that a burst of load elsewhere does not land on one cause's runs alone.
for (let run = 0; run < runs && !stop.signal.aborted; run += 1) {
  for (const item of cases) {
    if (stop.signal.aborted) break;
    try {
      samples.get(item)?.push(await measure(item));
    } catch (error) {
      failures += 1;
      process.stderr.write(`${item.label}: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
}
closeLogger();

const seconds = (ms: number): string => (ms / 1000).toFixed(2);
const distinct = (values: readonly string[]): string => [...new Set(values)].join(' / ');
console.log('| cause | diagnose cold ms | diagnose warm ms | recover s | status | exit |');
console.log('|---|---|---|---|---|---|');
let worstRecovery = { label: '-', ms: 0 };
let worstDiagnosis = { label: '-', ms: 0 };
const notRecovered: string[] = [];
for (const [item, list] of samples) {
  if (list.length === 0) {
    const none = stop.signal.aborted ? 'not run' : 'failed';
    console.log(`| ${item.label} | ${none} | ${none} | ${none} | - | - |`);
    continue;
  }
  const cold = median(list.map((sample) => sample.coldMs));
  const recover = median(list.map((sample) => sample.recoverMs));
  const recovered = list.filter((sample) => sample.exit === '0');
  if (recovered.length < list.length) notRecovered.push(item.label);
  const worstOwnRecovery = Math.max(0, ...recovered.map((sample) => sample.recoverMs));
  const worstOwnDiagnosis = Math.max(...list.map((sample) => sample.coldMs));
  if (worstOwnRecovery > worstRecovery.ms) worstRecovery = { label: item.label, ms: worstOwnRecovery };
  if (worstOwnDiagnosis > worstDiagnosis.ms) worstDiagnosis = { label: item.label, ms: worstOwnDiagnosis };
  const status = distinct(list.map((sample) => sample.status));
  const missed = distinct(list.flatMap((sample) => sample.missed));
  const ok = status === item.expected && list.every((sample) => sample.exit === '0') && missed === '';
  if (!ok) failures += 1;
  const note = `${missed === '' ? '' : ` (diagnosis missed ${missed})`}${list.length < runs ? ` (${list.length} of ${runs} runs)` : ''}`;
  console.log(`| ${item.label} | ${cold.toFixed(0)} | ${median(list.map((sample) => sample.warmMs)).toFixed(0)} | ${seconds(recover)} | ${status}${note} | ${distinct(list.map((sample) => sample.exit))} |`);
}
console.log('');
if (stop.signal.aborted) {
  console.log('Interrupted: no verdict on the targets.');
} else {
  console.log(`Slowest single recovery that succeeded: ${seconds(worstRecovery.ms)} s (${worstRecovery.label}); target < 10 s: ${worstRecovery.ms < 10_000 ? 'met' : 'NOT met'}.`);
  if (notRecovered.length > 0) console.log(`Not recovered in every run (exit not 0), so the target is not met for: ${notRecovered.join('; ')}.`);
  console.log(`Slowest single cold diagnosis: ${worstDiagnosis.ms.toFixed(0)} ms (${worstDiagnosis.label}); target < 1 s: ${worstDiagnosis.ms < 1_000 ? 'met' : 'NOT met'}.`);
}
process.exitCode = stop.signal.aborted ? 130 : failures === 0 ? 0 : 1;

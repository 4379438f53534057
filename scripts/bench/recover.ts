/**
 * `argo recover` on the really broken fixture (libcrypt without SHA512-crypt, the fake emerge's binary
 * package available): wall time of the whole command and time from its start to the successful canary,
 * read from main.log. Target: canary under 60 s. Needs the fixtures: bash scripts/setup.sh --fixtures.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installFakeEmerge } from '../../test/chroot-fixtures/install-fake-emerge.ts';

const project = fileURLToPath(new URL('../../', import.meta.url));
const cache = process.env['ARGO_FIXTURE_CACHE'] ?? '/var/cache/argo-fixtures';
const runs = Number(process.env['ARGO_BENCH_RUNS'] ?? 5);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const wall: number[] = [];
const toCanary: number[] = [];
for (let run = 0; run < runs; run += 1) {
  const dir = mkdtempSync('/var/tmp/argo-bench-');
  const root = join(dir, 'root');
  for (const name of ['root', 'upper', 'work']) mkdirSync(join(dir, name));
  // A private copy of the broken root: an overlay, so the cache stays untouched and nothing is copied.
  execFileSync('mount', ['-t', 'overlay', 'argo-bench', '-o', `lowerdir=${join(cache, 'debian-broken')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, root]);
  try {
    await installFakeEmerge(root, ['BINARY=ok']);
    writeFileSync(join(dir, 'password'), 'correct horse\n', { mode: 0o600 });
    const started = performance.now();
    const result = spawnSync(process.execPath, [join(project, 'dist/cli/argo.js'), 'recover', '--root', root, '--user', 'alice', '--password-file', join(dir, 'password'), '--json'], { encoding: 'utf8' });
    wall.push(performance.now() - started);
    if (result.status !== 0) throw new Error(`argo recover failed (exit ${result.status}):\n${result.stderr}`);
    const report = JSON.parse(result.stdout) as { logDir: string; outcome: string };
    const events = readFileSync(join(report.logDir, 'main.log'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { event?: string; phase?: string; time: string });
    const begin = Date.parse(events.find((event) => event.event === 'run.started')?.time ?? '');
    const canary = Date.parse(events.find((event) => event.event === 'step.succeeded' && event.phase === 'pam-canary')?.time ?? '');
    toCanary.push(canary - begin);
  } finally {
    spawnSync('umount', [root]);
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log('| case | runs | median | target | ok |');
console.log('|---|---|---|---|---|');
console.log(`| argo recover, broken target, binary pivot: start to successful canary | ${runs} | ${(median(toCanary) / 1000).toFixed(2)} s | < 60 s | ${median(toCanary) < 60_000 ? 'yes' : 'NO'} |`);
console.log(`| argo recover, whole command (Node start, mounts, report, unmount) | ${runs} | ${(median(wall) / 1000).toFixed(2)} s | - | - |`);

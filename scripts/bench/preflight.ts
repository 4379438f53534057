/**
 * `argo preflight` on the healthy fixture root, with the binhost a local PKGDIR (no network) and the fake
 * emerge's plan: wall time of the whole command, and the slowest check excluding binhost-coverage and the
 * plan (emerge's own planning time). Target: the checklist under 2 s. Needs bash scripts/setup.sh --fixtures.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installFakeEmerge } from '../../test/chroot-fixtures/install-fake-emerge.ts';
import { unmountBelow } from '../lib/mounts.ts';

const project = fileURLToPath(new URL('../../', import.meta.url));
const cache = process.env['ARGO_FIXTURE_CACHE'] ?? '/var/cache/argo-fixtures';
const runs = Number(process.env['ARGO_BENCH_RUNS'] ?? 7);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const dir = mkdtempSync('/var/tmp/argo-bench-');
const root = join(dir, 'root');
for (const name of ['root', 'upper', 'work']) mkdirSync(join(dir, name), { recursive: true });
execFileSync('mount', ['-t', 'overlay', 'argo-bench', '-o', `lowerdir=${join(cache, 'debian-base')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, root]);
const wall: number[] = [];
const checks: number[] = [];
try {
  await installFakeEmerge(root, ['BINARY=ok']);
  copyFileSync(join(project, 'test/fixtures/preflight/world-update.plan'), join(root, 'etc/argo-fake-emerge.plan'));
  mkdirSync(join(root, 'var/cache/argo-bench-binhost'), { recursive: true });
  copyFileSync(join(project, 'test/fixtures/preflight/Packages'), join(root, 'var/cache/argo-bench-binhost/Packages'));
  mkdirSync(join(root, 'etc/portage/package.use'), { recursive: true });
  writeFileSync(join(root, 'etc/portage/package.use/libxcrypt'), 'sys-libs/libxcrypt compat system\n');
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    const result = spawnSync(process.execPath, [join(project, 'dist/cli/argo.js'), 'preflight', '--root', root, '--json', '--binhost', '/var/cache/argo-bench-binhost'], { encoding: 'utf8' });
    wall.push(performance.now() - started);
    const report = JSON.parse(result.stdout) as { checks: { id: string; durationMs: number }[] };
    checks.push(Math.max(...report.checks.filter((check) => !['binhost-coverage', 'libxcrypt-pin', 'disk-space'].includes(check.id)).map((check) => check.durationMs)));
  }
} finally {
  unmountBelow(root);
  rmSync(dir, { recursive: true, force: true });
}
console.log('| case | runs | median | target | ok |');
console.log('|---|---|---|---|---|');
console.log(`| argo preflight, whole command (Node start, chroot mounts, 14 checks, fake emerge plan, local binhost) | ${runs} | ${(median(wall) / 1000).toFixed(2)} s | < 2 s | ${median(wall) < 2000 ? 'yes' : 'NO'} |`);
console.log(`| slowest check that needs no plan (they run concurrently) | ${runs} | ${median(checks)} ms | - | - |`);

/**
 * `apkg update`'s own cost over a bare emerge run: the same fake emerge and plan (3 packages) on a real btrfs
 * root, once bare (the critical package, then `chroot ROOT emerge --oneshot =CPV…` for the rest) and once through `apkg update`. Overhead =
 * apkg's wall time − the bare run − the two snapshots' time. Target: under 1.5 s plus snapshot time.
 * Needs bash scripts/setup.sh --fixtures.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installFakeEmerge } from '../../test/chroot-fixtures/install-fake-emerge.ts';
import { unmountBelow } from '../lib/mounts.ts';

const project = fileURLToPath(new URL('../../', import.meta.url));
const cache = process.env['ARGO_FIXTURE_CACHE'] ?? '/var/cache/argo-fixtures';
const runs = Number(process.env['ARGO_BENCH_RUNS'] ?? 5);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const sh = (file: string, args: string[]): string => execFileSync(file, args, { encoding: 'utf8' });

const dir = mkdtempSync('/var/tmp/argo-bench-');
const mnt = join(dir, 'mnt');
mkdirSync(mnt);
sh('truncate', ['-s', '6G', join(dir, 'disk.img')]);
const loop = sh('losetup', ['--find', '--show', join(dir, 'disk.img')]).trim();
const bare: number[] = [];
const wrapped: number[] = [];
const snapshots: number[] = [];
try {
  sh('mkfs.btrfs', ['-q', loop]);
  sh('mount', [loop, mnt]);
  sh('btrfs', ['subvolume', 'create', join(mnt, 'pristine')]);
  sh('cp', ['-a', `${join(cache, 'debian-base')}/.`, join(mnt, 'pristine')]);
  const prepare = async (name: string): Promise<string> => {
    const root = join(mnt, name);
    sh('btrfs', ['subvolume', 'snapshot', join(mnt, 'pristine'), root]);
    await installFakeEmerge(root, ['BINARY=ok']);
    copyFileSync(join(project, 'test/fixtures/preflight/update-world.plan'), join(root, 'etc/argo-fake-emerge.plan'));
    mkdirSync(join(root, 'var/cache/argo-bench-binhost'), { recursive: true });
    const stanza = (cpv: string, use: string) => `BUILD_ID: 1\nCPV: ${cpv}\nPATH: ${cpv}-1.gpkg.tar\nSIZE: 1024\nUSE: ${use}\nMTIME: 1733000000\nREPO: gentoo\n\n`;
    writeFileSync(
      join(root, 'var/cache/argo-bench-binhost/Packages'),
      'ARCH: amd64\nCHOST: x86_64-pc-linux-gnu\nPACKAGES: 3\nTIMESTAMP: 1733000000\nVERSION: 0\n\n' +
        stanza('app-editors/nano-8.2', 'amd64 ncurses nls spell unicode') + stanza('app-misc/tmux-3.5a', 'amd64') + stanza('sys-libs/libxcrypt-4.4.36', 'amd64 compat system'),
    );
    mkdirSync(join(root, 'etc/portage/package.use'), { recursive: true });
    writeFileSync(join(root, 'etc/portage/package.use/libxcrypt'), 'sys-libs/libxcrypt compat system\n');
    return root;
  };
  for (let run = 0; run < runs; run += 1) {
    const bareRoot = await prepare(`bare-${run}`);
    for (const fs of ['proc', 'dev']) sh('mount', ['--bind', `/${fs}`, join(bareRoot, fs)]);
    let started = performance.now();
    // The bare run: critical package first, then the rest of the judged plan as =CPV atoms, as apkg does.
    spawnSync('chroot', [bareRoot, 'emerge', '--oneshot', '--usepkgonly', '--getbinpkg', '=sys-libs/libxcrypt-4.4.36'], { stdio: 'ignore' });
    spawnSync('chroot', [bareRoot, 'emerge', '--oneshot', '--getbinpkg', '--usepkgonly', '--color=n', '=app-editors/nano-8.2', '=app-misc/tmux-3.5a'], { stdio: 'ignore' });
    bare.push(performance.now() - started);
    for (const fs of ['dev', 'proc']) sh('umount', [join(bareRoot, fs)]);

    const root = await prepare(`apkg-${run}`);
    started = performance.now();
    const result = spawnSync(process.execPath, [join(project, 'dist/cli/apkg.js'), 'update', '--root', root, '--json', '--binhost', '/var/cache/argo-bench-binhost'], { encoding: 'utf8' });
    wrapped.push(performance.now() - started);
    const report = JSON.parse(result.stdout) as { outcome: string; phases: { id: string; durationMs: number }[] };
    if (report.outcome !== 'updated') throw new Error(`apkg update ended ${report.outcome}:\n${result.stderr}`);
    snapshots.push(report.phases.filter((phase) => phase.id.endsWith('-snapshot')).reduce((sum, phase) => sum + phase.durationMs, 0));
  }
} finally {
  unmountBelow(mnt);
  spawnSync('losetup', ['-d', loop]);
  rmSync(dir, { recursive: true, force: true });
}
const overhead = wrapped.map((value, index) => value - (bare[index] as number) - (snapshots[index] as number));
console.log('| case | runs | median | target | ok |');
console.log('|---|---|---|---|---|');
console.log(`| bare emerge (critical package, then the other 2 as =CPV; 3 packages) | ${runs} | ${(median(bare) / 1000).toFixed(2)} s | - | - |`);
console.log(`| apkg update, whole command | ${runs} | ${(median(wrapped) / 1000).toFixed(2)} s | - | - |`);
console.log(`| the two snapshots (btrfs) | ${runs} | ${(median(snapshots) / 1000).toFixed(2)} s | - | - |`);
console.log(`| apkg update's own cost (whole − bare − snapshots) | ${runs} | ${(median(overhead) / 1000).toFixed(2)} s | < 1.5 s | ${median(overhead) < 1500 ? 'yes' : 'NO'} |`);

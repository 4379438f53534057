import { execFile, spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyTarget, installFakeEmerge, type TargetCopy } from '../support/debian-target.ts';
import { createLiveRoot, LIVE_APKG, LIVE_ARGO, LIVE_PATH, type LiveRoot } from '../support/live-root.ts';
import { PROJECT } from '../support/run-cli.ts';

const run = promisify(execFile);
const EXECUTABLE = join(PROJECT, 'dist/argo-linux-x64');
/** What the file may link against: glibc's libraries and the C++ runtime every glibc system has (GCC's). */
const ALLOWED_LIBRARIES = ['linux-vdso.so.1', 'libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'ld-linux-x86-64.so.2', 'libstdc++.so.6', 'libgcc_s.so.1'];

let version: string;
let buildOutput: string;
beforeAll(async () => {
  // The real build, as CI runs it; when nothing changed since the last one it only checks that (under a second).
  const build = await run('bash', [join(PROJECT, 'scripts/build-executable.sh')], { cwd: PROJECT, maxBuffer: 16 * 1024 * 1024 });
  buildOutput = build.stderr;
  version = (JSON.parse(await readFile(join(PROJECT, 'package.json'), 'utf8')) as { version: string }).version;
}, 600_000);

const copies: TargetCopy[] = [];
/** The scratch folders of this file's roots: nothing may stay mounted under them. */
const removed: string[] = [];
afterEach(async () => {
  for (const copy of copies.splice(0).reverse()) await copy.remove();
  // findmnt: nothing of this test is mounted any more (the live roots' /proc, /sys, /dev, /run and /mnt/gentoo
  // lived in private mount namespaces; the overlays are gone).
  const { stdout } = await run('findmnt', ['-rn', '-o', 'TARGET']);
  expect(stdout.split('\n').filter((point) => removed.some((dir) => point === dir || point.startsWith(`${dir}/`)))).toEqual([]);
});

async function liveRoot(): Promise<LiveRoot> {
  const live = await createLiveRoot(EXECUTABLE);
  copies.push(live);
  removed.push(live.dir);
  return live;
}

async function brokenTarget(): Promise<TargetCopy> {
  const target = await copyTarget('broken');
  copies.push(target);
  removed.push(target.dir);
  await installFakeEmerge(target.root, { BINARY: 'ok' });
  return target;
}

/** Mount points under `dir` in the host's mount namespace, `dir` itself left out. */
async function mountsUnder(dir: string): Promise<string[]> {
  const { stdout } = await run('findmnt', ['-rn', '-o', 'TARGET']);
  return stdout.split('\n').filter((point) => point.startsWith(`${dir}/`));
}

/** A real PAM login inside the target, from the host, as the incident's user would try it. */
async function pamLogin(root: string, password: string): Promise<number | null> {
  const child = spawn('chroot', [root, 'pamtester', 'login', 'alice', 'authenticate'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(`${password}\n`);
  return new Promise((resolve) => child.once('exit', resolve));
}

describe('the single-file executable dist/argo-linux-x64', () => {
  it('is built by scripts/build-executable.sh, at most 120 MB, and a second build finds it up to date', async () => {
    const before = await stat(EXECUTABLE);
    expect(before.mode & 0o111).toBe(0o111);
    expect(before.size).toBeLessThanOrEqual(120 * 1000 * 1000);
    // What the next build compares: a fingerprint over files that exist (a plugin's generated module is no file).
    const stamp = JSON.parse(await readFile(join(PROJECT, 'dist/.argo-linux-x64.stamp.json'), 'utf8')) as { fingerprint: string; inputs: string[] };
    expect(stamp.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(stamp.inputs).toContain('src/cli/argo-executable.ts');
    for (const input of stamp.inputs) await access(join(PROJECT, input));
    const again = await run('bash', [join(PROJECT, 'scripts/build-executable.sh')], { cwd: PROJECT });
    expect(again.stderr, buildOutput).toMatch(/dist\/argo-linux-x64 is up to date/);
    const after = await stat(EXECUTABLE);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('reads nothing from the folders above the current one: a package.json that is a FIFO there does not stop it', async () => {
    // yargs looks for a package.json upwards from where it thinks it is installed; in the single file that
    // must be nowhere a user can write. Opening a FIFO blocks until a writer comes: a hang fails this test.
    const above = await mkdtemp(join(tmpdir(), 'argo-fifo-above-'));
    try {
      await run('mkfifo', [join(above, 'package.json')]);
      await mkdir(join(above, 'work'));
      const answer = await run(EXECUTABLE, ['--version'], { cwd: join(above, 'work'), timeout: 60_000 });
      expect(answer.stdout.trim()).toBe(version);
      const help = await run(EXECUTABLE, ['rescue', '--help'], { cwd: join(above, 'work'), timeout: 60_000 });
      expect(help.stdout).toContain('--mount-point');
    } finally {
      await rm(above, { recursive: true, force: true });
    }
  });

  it('needs no Node.js: it links only glibc and the C++ runtime, and runs in a live root where no node is on PATH', async () => {
    const live = await liveRoot();
    for (const dir of LIVE_PATH.split(':')) {
      for (const name of ['node', 'nodejs']) await expect(access(join(live.root, dir, name))).rejects.toThrow(/ENOENT/);
    }
    const lookup = await live.run(['sh', '-c', 'command -v node nodejs; echo "status $?"']);
    expect(lookup.stdout.trim()).toBe('status 127');

    const ldd = await live.run(['ldd', LIVE_ARGO]);
    expect(ldd.code, ldd.stderr).toBe(0);
    const libraries = ldd.stdout.trim().split('\n').map((line) => (line.trim().split(/\s+/)[0] as string).replace(/^.*\//, ''));
    expect(libraries).toContain('libc.so.6');
    expect(libraries.filter((library) => !ALLOWED_LIBRARIES.includes(library))).toEqual([]);
    expect(ldd.stdout).not.toMatch(/not found|node|libuv|libssl|libicu/);

    const argo = await live.run([LIVE_ARGO, '--version']);
    expect([argo.code, argo.stdout, argo.stderr]).toEqual([0, `${version}\n`, '']);
    const apkg = await live.run([LIVE_APKG, '--version']);
    expect([apkg.code, apkg.stdout, apkg.stderr]).toEqual([0, `${version}\n`, '']);
    const apkgHelp = await live.run([LIVE_APKG, '--help']);
    expect(apkgHelp.stdout).toMatch(/^apkg <command>/);
    expect(apkgHelp.stdout).toContain('apkg rollback');
    const byArgument = await live.run([LIVE_ARGO, 'apkg', '--help']);
    expect(byArgument.stdout).toBe(apkgHelp.stdout);
    const argoHelp = await live.run([LIVE_ARGO, '--help']);
    expect(argoHelp.stdout).toMatch(/^argo <command>/);
    expect(argoHelp.stdout).toContain('argo recover');
    const swarm = await live.run([LIVE_ARGO, 'build-swarm', 'status']);
    expect(swarm.code).toBe(2);
    expect(swarm.stderr).toContain('build-swarm is not part of the single-file executable [ARGO_USAGE]');
    // argo rescue starts the file again inside a mount namespace of its own; only that second argo looks at
    // the devices, so a device it cannot find proves the restart worked (the file's argv is [exe, exe, ...]).
    for (const words of [[LIVE_ARGO], [LIVE_ARGO, 'argo']]) {
      const rescue = await live.run([...words, 'rescue', '--user', 'alice', '--password-file', '/root/none', '-p', '--scan', '/dev/argo-no-such-disk']);
      expect([rescue.code, rescue.stderr]).toEqual([2, expect.stringContaining('/dev/argo-no-such-disk is not a block device of this machine [ARGO_DEVICE_NOT_FOUND]')]);
    }
    expect(await mountsUnder(live.root)).toEqual([]);
  });

  it('repairs a broken install mounted at /mnt/gentoo from inside the live root: preflight names the broken $6$, recover makes the login work', { timeout: 600_000 }, async () => {
    const live = await liveRoot();
    const target = await brokenTarget();
    await writeFile(join(live.root, 'root/password'), 'correct horse\n', { mode: 0o600 });
    expect(await pamLogin(target.root, 'correct horse')).not.toBe(0);

    const preflight = await live.run([LIVE_ARGO, 'preflight', '--root', '/mnt/gentoo', '--json'], { target: target.root });
    const checklist = JSON.parse(preflight.stdout) as { verdict: string; root: string; checks: { id: string; status: string; details: { failing?: string[] } }[] };
    expect(preflight.code, preflight.stderr).toBe(3);
    expect(checklist.verdict).toBe('no-go');
    expect(checklist.root).toBe('/mnt/gentoo');
    expect(checklist.checks.find((check) => check.id === 'libcrypt')).toMatchObject({ status: 'fail', details: { failing: ['$6$'] } });
    expect(checklist.checks.find((check) => check.id === 'pam-stack')?.status).toBe('pass');

    const recover = await live.run([LIVE_ARGO, 'recover', '--root', '/mnt/gentoo', '--user', 'alice', '--password-file', '/root/password', '--json'], { target: target.root });
    expect(recover.code, recover.stderr).toBe(0);
    const report = JSON.parse(recover.stdout) as { outcome: string; login: { user: string; ok: boolean }; logDir: string };
    expect(report.outcome).toBe('recovered');
    expect(report.login).toMatchObject({ user: 'alice', ok: true });
    // The run's logs went into the target, seen from the live root at /mnt/gentoo.
    expect(report.logDir.startsWith('/mnt/gentoo/var/log/argo/recovery-')).toBe(true);
    expect(await readFile(join(target.root, report.logDir.slice('/mnt/gentoo/'.length), 'summary.txt'), 'utf8')).toMatch(/^RECOVERED: alice can log in again/);

    expect(await pamLogin(target.root, 'correct horse')).toBe(0);
    expect(await mountsUnder(live.root)).toEqual([]);
    expect(await mountsUnder(target.root)).toEqual([]);
  });
});

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRunLogDir } from '../../src/logging/run-log-dir.ts';
import { restoreLibcryptFrom } from '../../src/login-path/restore-libcrypt.ts';
import { openSystem } from '../../src/system/open-system.ts';
import { createPrivateDirInside } from '../../src/system/private-dir.ts';
import { createRootedFs } from '../../src/system/rooted-fs.ts';
import { copyTarget, fixtureEnv, type TargetCopy } from '../support/debian-target.ts';
import { createMemoryLogger } from '../support/memory-logger.ts';

const NOBODY = 65534;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs a command as the unprivileged user `nobody`: the local attacker who gets there first. */
function asNobody(file: string, args: string[]): void {
  execFileSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', file, ...args]);
}

async function brokenTargetWithSnapshot(): Promise<TargetCopy> {
  const target = await copyTarget('broken');
  cleanups.push(() => target.remove());
  // nobody must be able to reach the target's /var/tmp, as on a real system.
  await chmod(target.dir, 0o711);
  const env = await fixtureEnv();
  const snapshotLib = join(target.root, '.snapshots/1/snapshot/usr/lib/x86_64-linux-gnu');
  await mkdir(snapshotLib, { recursive: true });
  await copyFile(env['ARGO_FIXTURE_GOOD_LIB'] as string, join(snapshotLib, 'libcrypt.so.1.1.0'));
  return target;
}

describe('restoreLibcryptFrom scratch folder', () => {
  it.each([
    ['a folder nobody made first', (path: string) => asNobody('mkdir', ['-m', '0777', path])],
    ['a symlink nobody planted', (path: string) => asNobody('ln', ['-s', '/tmp/nobody-gets-this', path])],
  ])('never writes through %s at the old fixed path, keeps the replaced library and names the re-emerge', async (_name, plant) => {
    const target = await brokenTargetWithSnapshot();
    const planted = join(target.root, 'var/tmp/argo-libcrypt-check');
    plant(planted);
    const liveFile = join(target.root, 'usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0');
    const brokenBytes = await readFile(liveFile);
    const system = openSystem({ root: target.root, logger: createMemoryLogger().logger });
    let result;
    try {
      result = await restoreLibcryptFrom(system, '/.snapshots/1/snapshot', ['$6$'], new AbortController().signal);
    } finally {
      await system.close();
    }
    expect(result).toMatchObject({ restored: true, file: '/usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0' });
    // Whatever nobody planted is as they left it: nothing was written into it or through it.
    const plantedStats = await lstat(planted);
    expect(plantedStats.uid).toBe(NOBODY);
    if (plantedStats.isDirectory()) expect(await readdir(planted)).toEqual([]);
    expect(await readdir(join(target.root, 'tmp'))).not.toContain('nobody-gets-this');
    expect((await readdir(join(target.root, 'var/tmp'))).filter((name) => name.startsWith('argo-libcrypt-check-'))).toEqual([]);
    if (!result.restored) throw new Error('not restored');
    // The library that was live is kept, root-only, and Portage's record is named as stale.
    const kept = await stat(join(target.root, result.replacedCopy));
    expect([kept.mode & 0o7777, kept.uid]).toEqual([0o600, 0]);
    expect(await readFile(join(target.root, result.replacedCopy))).toEqual(brokenBytes);
    expect(result.portage).toEqual({ cpv: 'sys-libs/libxcrypt-4.4.36', matches: false, reinstall: 'emerge --oneshot sys-libs/libxcrypt' });
    expect(createHash('md5').update(await readFile(liveFile)).digest('hex')).not.toBe(createHash('md5').update(brokenBytes).digest('hex'));
  });
});

describe('createPrivateDirInside', () => {
  it('makes a fresh root-owned 0700 folder each time, and refuses a parent another user owns', async () => {
    const root = await mkdtemp('/var/tmp/argo-private-');
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    await chmod(root, 0o755);
    await mkdir(join(root, 'var/tmp'), { recursive: true });
    await chmod(join(root, 'var/tmp'), 0o1777);
    const target = createRootedFs(root);
    const first = await createPrivateDirInside(target, '/var/tmp', 'argo-test');
    const second = await createPrivateDirInside(target, '/var/tmp', 'argo-test');
    expect(first.inside).not.toBe(second.inside);
    const stats = await lstat(first.host);
    expect([stats.isDirectory(), stats.uid, stats.mode & 0o7777]).toEqual([true, 0, 0o700]);

    asNobody('mkdir', [join(root, 'var/tmp/nobodys')]);
    await expect(createPrivateDirInside(target, '/var/tmp/nobodys', 'argo-test')).rejects.toMatchObject({ code: 'ARGO_UNSAFE_PATH' });
    expect(await readdir(join(root, 'var/tmp/nobodys'))).toEqual([]);
  });
});

describe('openRunLogDir base folder', () => {
  async function stickyTmp(): Promise<string> {
    const parent = await mkdtemp('/var/tmp/argo-logbase-');
    cleanups.push(() => rm(parent, { recursive: true, force: true }));
    await chmod(parent, 0o1777);
    return parent;
  }

  it.each([
    ['a folder nobody made first', (base: string) => asNobody('mkdir', ['-m', '0777', base])],
    ['a symlink nobody planted', (base: string) => asNobody('ln', ['-s', '/var/tmp', base])],
  ])('does not use %s as the /tmp/argo fallback: it pivots to a fresh private folder and says why', async (_name, plant) => {
    const base = join(await stickyTmp(), 'argo');
    plant(base);
    const logs = openRunLogDir([base], 'recovery-1');
    cleanups.push(() => rm(join(logs.dir, '..'), { recursive: true, force: true }));
    expect(logs.dir.startsWith(`${base}/`)).toBe(false);
    expect(logs.pivotedFrom).toEqual([{ dir: join(base, 'recovery-1'), reason: expect.stringMatching(/^unsafe base folder/) }]);
    const stats = await lstat(logs.dir);
    expect([stats.uid, stats.mode & 0o777]).toEqual([0, 0o700]);
    expect(await lstat(join(logs.dir, '..')).then((parent) => [parent.uid, parent.mode & 0o777])).toEqual([0, 0o700]);
    if ((await lstat(base)).isDirectory()) expect(await readdir(base)).toEqual([]);
    expect(await readdir('/var/tmp')).not.toContain('recovery-1');
  });

  it('creates a missing fallback base 0700 and never takes a run folder someone else made', async () => {
    const base = join(await stickyTmp(), 'argo');
    const first = openRunLogDir([base], 'recovery-1');
    expect((await stat(base)).mode & 0o777).toBe(0o700);
    expect(first.dir).toBe(join(base, 'recovery-1'));
    // A run folder name that exists (here an earlier run's) is never reused for a new run.
    expect(openRunLogDir([base], 'recovery-1').dir).toBe(join(base, 'recovery-1-2'));
  });
});

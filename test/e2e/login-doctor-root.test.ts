import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { copyTargetOnSmallDisk } from '../support/debian-target.ts';
import { runBuiltCli } from '../support/run-cli.ts';

/**
 * The root filesystem itself in the way: full (a login cannot write its session files) or read-only (no
 * repair can be written). argo frees what is Portage's alone, and refuses a read-only root before it starts.
 */

const run = promisify(execFile);
const PASSWORD = 'correct horse';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The base fixture with its writes on a small tmpfs (24 MiB), and a root-only password file beside it. */
async function smallRoot(): Promise<{ dir: string; root: string; passwordFile: string }> {
  const target = await copyTargetOnSmallDisk('base', 24);
  cleanups.push(() => target.remove());
  const passwordFile = join(target.dir, 'password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  return { dir: target.dir, root: target.root, passwordFile };
}

async function fill(file: string): Promise<void> {
  await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=64']).catch((error: { code?: number }) => {
    if (error.code !== 1) throw error; // "No space left on device" is the point.
  });
}

async function sessionOpens(root: string): Promise<number | null> {
  const child = spawn('chroot', [root, 'pamtester', '-I', 'tty=tty1', 'login', 'alice', 'authenticate', 'acct_mgmt'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(`${PASSWORD}\n`);
  return new Promise((resolve) => child.once('exit', resolve));
}

describe('argo recover when the root filesystem is in the way', () => {
  it('root-full: frees Portage build folders only (never user data), says it cannot be undone, and proves the login', async () => {
    const { root, passwordFile } = await smallRoot();
    await mkdir(join(root, 'var/tmp/portage/sys-libs/glibc-2.40/work'), { recursive: true });
    await writeFile(join(root, 'home/alice/thesis.tex'), 'user data\n');
    await fill(join(root, 'var/tmp/portage/sys-libs/glibc-2.40/work/build.o'));
    const result = await runBuiltCli('argo', ['recover', '--root', root, '--user', 'alice', '--password-file', passwordFile, '--json']);
    const report = JSON.parse(result.stdout) as { outcome: string; logDir: string; login: { ok: boolean }; causes: { id: string; status: string; note: string }[]; changes: { action: string; path: string }[] };
    expect(result.code, result.stderr).toBe(0);
    expect(report.causes.find((cause) => cause.id === 'root-full')).toMatchObject({ status: 'repaired', note: expect.stringContaining('cannot be undone') });
    expect(report.changes).toEqual([expect.objectContaining({ action: 'remove', path: '/var/tmp/portage' })]);
    expect(await readdir(join(root, 'var/tmp/portage'))).toEqual([]);
    expect(await readdir(join(root, 'home/alice'))).toContain('thesis.tex');
    expect(report.login.ok).toBe(true);
    // The target had no room for the run's logs: they went to the host's /tmp/argo.
    expect(report.logDir.startsWith('/tmp/argo/')).toBe(true);
    expect(await sessionOpens(root)).toBe(0);
  });

  it('root-read-only: refused before anything starts, with the remount to do', async () => {
    const { root, passwordFile } = await smallRoot();
    await run('mount', ['-o', 'remount,ro', root]);
    const result = await runBuiltCli('argo', ['recover', '--root', root, '--user', 'alice', '--password-file', passwordFile]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/read-only/);
    expect(result.stderr).toMatch(/remount|mount -o remount,rw/);
  });
});

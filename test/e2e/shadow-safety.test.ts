import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRootedFs } from '../../src/system/rooted-fs.ts';
import { createHostRunner } from '../../src/system/run-command.ts';
import { replaceShadowLocked } from '../../src/system/shadow-file.ts';
import { withShadowLock } from '../../src/system/shadow-lock.ts';
import { createMemoryLogger } from '../support/memory-logger.ts';

const OLD = 'root:$6$old$hash:19000:0:99999:7:::\nalice:$6$alice$old:19000:0:99999:7:::\n';
const edit = (text: string): string => text.replace('$6$alice$old', '$6$alice$new');

let dir: string;
let root: string;
const children: ChildProcess[] = [];
const commands = createHostRunner({ logger: createMemoryLogger().logger });

beforeEach(async () => {
  // /var/tmp is on the real disk (ext4 here): xattrs and ACLs are the real thing, not tmpfs's.
  dir = await mkdtemp('/var/tmp/argo-shadow-');
  root = join(dir, 'root');
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/shadow'), OLD);
  await chown(join(root, 'etc/shadow'), 0, 42);
  await chmod(join(root, 'etc/shadow'), 0o640);
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** A process that holds lckpwdf's lock (fcntl F_WRLCK on the whole file, what glibc's lckpwdf takes) until killed. */
async function holdPasswordLock(lockFile: string): Promise<ChildProcess> {
  const child = spawn('python3', ['-c', 'import fcntl, os, sys, signal\nfd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)\nfcntl.lockf(fd, fcntl.LOCK_EX)\nprint("locked", flush=True)\nsignal.pause()', lockFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) if (line === 'locked') break;
  return child;
}

/** Whether someone else holds the lock now: a non-blocking lockf from another process. */
function isPasswordLockHeld(lockFile: string): boolean {
  const out = execFileSync('python3', ['-c', 'import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_WRONLY)\ntry:\n  fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n  print("free")\nexcept OSError:\n  print("held")', lockFile], { encoding: 'utf8' });
  return out.trim() === 'held';
}

function xattrsOf(file: string): string {
  return execFileSync('getfattr', ['--dump', '--match=-', '--encoding=base64', '--absolute-names', file], { encoding: 'utf8' }).split('\n').slice(1).join('\n');
}

describe('replaceShadowLocked', () => {
  it('keeps the SELinux label, the ACL and every other xattr of the old file, with its mode and owner', async () => {
    const shadow = join(root, 'etc/shadow');
    execFileSync('setfattr', ['-n', 'security.selinux', '-v', 'system_u:object_r:shadow_t:s0', shadow]);
    execFileSync('setfacl', ['-m', 'u:nobody:r', shadow]);
    execFileSync('setfattr', ['-n', 'user.argo-test', '-v', 'kept', shadow]);
    const before = xattrsOf(shadow);
    const aclBefore = execFileSync('getfacl', ['--omit-header', shadow], { encoding: 'utf8' });
    const modeBefore = (await stat(shadow)).mode & 0o7777;

    const result = await replaceShadowLocked(createRootedFs(root), edit, { runId: 'recovery-1', commands });

    expect(await readFile(shadow, 'utf8')).toBe(edit(OLD));
    expect(xattrsOf(shadow)).toBe(before);
    expect(execFileSync('getfacl', ['--omit-header', shadow], { encoding: 'utf8' })).toBe(aclBefore);
    expect(execFileSync('getfattr', ['--only-values', '-n', 'security.selinux', shadow], { encoding: 'utf8' }).replace(/\0$/, '')).toBe('system_u:object_r:shadow_t:s0');
    const after = await stat(shadow);
    expect([after.mode & 0o7777, after.uid, after.gid]).toEqual([modeBefore, 0, 42]);
    expect(result.xattrs?.names).toEqual(expect.arrayContaining(['security.selinux', 'system.posix_acl_access', 'user.argo-test']));
  });

  it("never overwrites an existing /etc/shadow-, and keeps argo's own root-only backup of the first state of the run", async () => {
    await writeFile(join(root, 'etc/shadow-'), 'the admin backup from last year\n', { mode: 0o600 });
    const target = createRootedFs(root);
    const first = await replaceShadowLocked(target, edit, { runId: 'recovery-1', commands });
    await replaceShadowLocked(target, (text) => text.replace('$6$alice$new', '$6$alice$newer'), { runId: 'recovery-1', commands });

    expect(await readFile(join(root, 'etc/shadow-'), 'utf8')).toBe('the admin backup from last year\n');
    expect(first.systemBackupWritten).toBe(false);
    expect(first.runBackup).toBe('/etc/shadow.argo-recovery-1');
    expect(await readFile(join(root, 'etc/shadow.argo-recovery-1'), 'utf8')).toBe(OLD);
    const backup = await stat(join(root, 'etc/shadow.argo-recovery-1'));
    expect([backup.mode & 0o7777, backup.uid, backup.gid]).toEqual([0o600, 0, 0]);
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toContain('$6$alice$newer');
  });

  it('writes /etc/shadow- when there is none, with the permissions of /etc/shadow', async () => {
    const result = await replaceShadowLocked(createRootedFs(root), edit, { runId: 'recovery-1', commands });
    expect(result.systemBackupWritten).toBe(true);
    expect(await readFile(join(root, 'etc/shadow-'), 'utf8')).toBe(OLD);
    const backup = await stat(join(root, 'etc/shadow-'));
    expect([backup.mode & 0o7777, backup.gid]).toEqual([0o640, 42]);
  });

  it('waits for a passwd that holds /etc/.pwd.lock, and gives up with the shadow file unchanged', async () => {
    const holder = await holdPasswordLock(join(root, 'etc/.pwd.lock'));
    const error = await replaceShadowLocked(createRootedFs(root), edit, { runId: 'recovery-1', commands, lockWaitMs: 700 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ARGO_SHADOW_LOCKED' });
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toBe(OLD);
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    await replaceShadowLocked(createRootedFs(root), edit, { runId: 'recovery-1', commands, lockWaitMs: 5_000 });
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toBe(edit(OLD));
  });

  it('holds the lock while it rewrites (another lckpwdf cannot take it) and releases it afterwards', async () => {
    const lockFile = join(root, 'etc/.pwd.lock');
    let heldDuringEdit = false;
    await replaceShadowLocked(
      createRootedFs(root),
      (text) => {
        heldDuringEdit = isPasswordLockHeld(lockFile);
        return edit(text);
      },
      { runId: 'recovery-1', commands },
    );
    expect(heldDuringEdit).toBe(true);
    expect(isPasswordLockHeld(lockFile)).toBe(false);
    const lock = await stat(lockFile);
    expect([lock.mode & 0o7777, lock.uid]).toEqual([0o600, 0]);
  });

  it('refuses a symlink planted at /etc/.pwd.lock instead of creating or locking its target', async () => {
    const elsewhere = join(dir, 'elsewhere');
    await symlink(elsewhere, join(root, 'etc/.pwd.lock'));
    const error = await replaceShadowLocked(createRootedFs(root), edit, { runId: 'recovery-1', commands }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ARGO_UNSAFE_PATH' });
    expect(await readdir(dir)).not.toContain('elsewhere');
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toBe(OLD);
  });

  it('releases the lock when argo is killed with SIGKILL while it holds it', async () => {
    const script = `
      import { createRootedFs } from ${JSON.stringify(new URL('../../src/system/rooted-fs.ts', import.meta.url).pathname)};
      import { createHostRunner } from ${JSON.stringify(new URL('../../src/system/run-command.ts', import.meta.url).pathname)};
      import { withShadowLock } from ${JSON.stringify(new URL('../../src/system/shadow-lock.ts', import.meta.url).pathname)};
      import { createMemoryLogger } from ${JSON.stringify(new URL('../support/memory-logger.ts', import.meta.url).pathname)};
      const commands = createHostRunner({ logger: createMemoryLogger().logger });
      await withShadowLock(createRootedFs(${JSON.stringify(root)}), commands, () => { console.log('holding'); return new Promise(() => {}); });
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) if (line === 'holding') break;
    expect(isPasswordLockHeld(join(root, 'etc/.pwd.lock'))).toBe(true);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // The holder dies with argo (PR_SET_PDEATHSIG): the lock comes free without waiting for any timeout.
    await withShadowLock(createRootedFs(root), commands, async () => undefined, { waitMs: 10_000 });
  });

  it('writes nothing once the process holding the lock for argo is gone', async () => {
    const lockFile = join(root, 'etc/.pwd.lock');
    const outcome = await withShadowLock(createRootedFs(root), commands, async (assertLocked) => {
      assertLocked(); // held: no error
      // Kill argo's own lock holder (as the OOM killer might), then wait until the kernel has dropped its lock.
      execFileSync('pkill', ['-KILL', '-f', `fcntl.*${lockFile}`]);
      while (isPasswordLockHeld(lockFile)) await new Promise((resolve) => setImmediate(resolve));
      while (true) {
        try {
          assertLocked();
        } catch (error) {
          return error;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    expect(outcome).toMatchObject({ code: 'ARGO_SHADOW_LOCKED' });
  });

  it('removes the temporary file of a writer killed with SIGKILL mid-write on the next run', async () => {
    const shadow = join(root, 'etc/shadow');
    const script = `
      import { writeFileAtomic } from ${JSON.stringify(new URL('../../src/system/atomic-write.ts', import.meta.url).pathname)};
      const big = 'x'.repeat(4_000_000) + '\\n';
      console.log('writing');
      for (;;) await writeFileAtomic(${JSON.stringify(shadow)}, big);
    `;
    const temporaries = async (): Promise<string[]> => (await readdir(join(root, 'etc'))).filter((name) => name.startsWith('.shadow.argo-'));
    let left: string[] = [];
    for (let round = 0; round < 50 && left.length === 0; round += 1) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) if (line === 'writing') break;
      // Kill it as soon as a temporary file exists, i.e. in the middle of a write.
      while ((await temporaries()).length === 0 && child.exitCode === null) await new Promise((resolve) => setImmediate(resolve));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      left = await temporaries();
    }
    expect(left.length).toBeGreaterThan(0);
    await writeFile(shadow, OLD);
    const result = await replaceShadowLocked(createRootedFs(root), edit, { runId: 'recovery-2', commands });
    expect(result.staleTemporariesRemoved).toBe(left.length);
    expect(await temporaries()).toEqual([]);
    expect(await readFile(shadow, 'utf8')).toBe(edit(OLD));
  });
});

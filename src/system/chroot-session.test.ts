import { readFile, rm, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArgoError } from '../core/errors.ts';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { makeTinyRoot } from '../../test/support/tiny-root.ts';
import { createChrootSession } from './chroot-session.ts';
import { createHostRunner } from './run-command.ts';
import { mountPointsUnder, mountSnapshot } from '../../test/support/mount-table.ts';

const mountTable = () => readFile('/proc/self/mountinfo', 'utf8');

let root: string;
let before: string[];
beforeEach(async () => {
  root = await makeTinyRoot();
  before = await mountSnapshot(root);
});
afterEach(async () => {
  // A failing test must not leave mounts behind for the next one.
  for (const point of (await mountPointsUnder(root)).reverse()) {
    await createHostRunner({ logger: createMemoryLogger().logger }).run('umount', ['-R', '--lazy', point], { okExitCodes: [0, 32] });
  }
  await rm(root, { recursive: true, force: true });
});

function session(dryRun = false) {
  const log = createMemoryLogger();
  const host = createHostRunner({ logger: log.logger, dryRun });
  return { log, chroot: createChrootSession({ root, host, logger: log.logger }) };
}

describe('createChrootSession', () => {
  it('mounts what the Handbook mounts, runs inside the root, and unmounts everything', async () => {
    const { chroot, log } = session();
    const result = await chroot.run('sh', ['-c', 'cat /etc/passwd; ls /proc/self >/dev/null && echo proc-ok; ls /dev/null && cat /etc/resolv.conf']);
    expect(result.stdout).toContain('root:x:0:0');
    expect(result.stdout).toContain('proc-ok');
    expect(result.stdout).toContain('/dev/null');
    expect(result.stdout).toBe(result.stdout.replace('192.0.2.53', '')); // the host's resolv.conf was copied in
    const during = await mountPointsUnder(root);
    expect(during).toEqual(expect.arrayContaining([join(root, 'proc'), join(root, 'sys'), join(root, 'dev'), join(root, 'run')]));
    await chroot.close();
    expect(await mountPointsUnder(root)).toEqual([]);
    expect(await mountSnapshot(root)).toEqual(before);
    expect(await readFile(join(root, 'etc/resolv.conf'), 'utf8')).toContain('192.0.2.53');
    expect(log.events('mount.created').map((record) => record['source'])).toEqual(['/proc', '/sys', '/dev', '/run']);
    expect(log.events('chroot.closed')[0]).toMatchObject({ remaining: 0 });
  });

  it('makes the recursive binds slaves, so tearing them down never touches the host', async () => {
    const log = createMemoryLogger();
    const host = createHostRunner({ logger: log.logger });
    const chroot = createChrootSession({ root, host, logger: log.logger });
    await chroot.open();
    // On a host whose mounts are shared the binds become `master:N`; on a private host they stay private.
    // Either way they must never be shared with the host.
    for (const name of ['sys', 'dev', 'run']) {
      const line = (await mountTable()).split('\n').find((entry) => entry.split(' ')[4] === join(root, name));
      expect(line).toBeDefined();
      expect(line).not.toMatch(/ shared:\d+/);
    }
    expect(host.history.map((record) => record.argv.slice(0, 2).join(' '))).toEqual([
      'mount --types', 'mount --rbind', 'mount --make-rslave', 'mount --rbind', 'mount --make-rslave', 'mount --bind', 'mount --make-slave',
    ]);
    await chroot.close();
  });

  it('unmounts even when the command inside fails', async () => {
    const { chroot } = session();
    await expect(chroot.run('sh', ['-c', 'exit 7'])).rejects.toMatchObject({ code: 'ARGO_COMMAND_FAILED' });
    await chroot.close();
    expect(await mountSnapshot(root)).toEqual(before);
  });

  it('unmounts after an interrupt kills the command inside', async () => {
    const { chroot } = session();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new ArgoError('ARGO_INTERRUPTED', 'Interrupted by SIGTERM')), 300);
    await expect(chroot.run('sleep', ['30'], { signal: controller.signal, graceMs: 200 })).rejects.toMatchObject({ code: 'ARGO_INTERRUPTED' });
    await chroot.close();
    expect(await mountSnapshot(root)).toEqual(before);
  });

  it('skips what is already mounted and leaves it mounted', async () => {
    const host = createHostRunner({ logger: createMemoryLogger().logger });
    await host.run('mount', ['--types', 'proc', '/proc', join(root, 'proc')]);
    const { chroot, log } = session();
    await chroot.open();
    await chroot.close();
    expect(log.events('mount.skipped')).toEqual([expect.objectContaining({ target: join(root, 'proc'), reason: 'already mounted' })]);
    expect(await mountPointsUnder(root)).toEqual([join(root, 'proc')]);
    await host.run('umount', [join(root, 'proc')]);
  });

  it('names a missing program inside the target', async () => {
    const { chroot } = session();
    await expect(chroot.run('emerge', ['--version'])).rejects.toMatchObject({ code: 'ARGO_COMMAND_NOT_FOUND' });
    await chroot.close();
  });

  it('refuses a folder that is not a Linux root, mounting nothing', async () => {
    await rm(join(root, 'sys'), { recursive: true });
    const { chroot } = session();
    await expect(chroot.open()).rejects.toMatchObject({ code: 'ARGO_NOT_A_LINUX_ROOT', message: expect.stringContaining('/sys') });
    await chroot.close();
    expect(await mountSnapshot(root)).toEqual(before);
  });

  it('keeps a target resolv.conf symlink as it is', async () => {
    await rm(join(root, 'etc/resolv.conf'));
    await mkdir(join(root, 'run/systemd/resolve'), { recursive: true });
    await symlink('/run/systemd/resolve/resolv.conf', join(root, 'etc/resolv.conf'));
    const { chroot } = session();
    await chroot.open();
    await chroot.close();
    expect(await readFile(join(root, 'etc/resolv.conf'), 'utf8').catch((error) => error.code)).toBe('ENOENT');
  });

  it('close() is safe to call twice and before open()', async () => {
    const { chroot } = session();
    await chroot.close();
    await chroot.close();
    expect(await mountSnapshot(root)).toEqual(before);
  });
});

import { execFile } from 'node:child_process';
import { appendFile, chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoginCause } from '../../src/core/login-doctor/causes.ts';
import { diagnoseLogin, type LoginDiagnosis } from '../../src/login-path/diagnose-login.ts';
import { openSystem } from '../../src/system/open-system.ts';
import { copyTarget, copyTargetOnSmallDisk, type TargetCopy } from '../support/debian-target.ts';
import { chroot, faillockRecords } from '../support/login-scenarios.ts';
import { createMemoryLogger } from '../support/memory-logger.ts';

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function target(): Promise<TargetCopy> {
  const copy = await copyTarget('base');
  cleanups.push(() => copy.remove());
  return copy;
}

async function diagnose(root: string, user: string): Promise<LoginDiagnosis> {
  const system = openSystem({ root, logger: createMemoryLogger().logger });
  try {
    return await diagnoseLogin(system, { user });
  } finally {
    await system.close();
  }
}

const ids = (diagnosis: LoginDiagnosis): [string, string][] => diagnosis.causes.map((cause) => [cause.id, cause.severity]);
const find = (diagnosis: LoginDiagnosis, id: string): LoginCause | undefined => diagnosis.causes.find((cause) => cause.id === id);

describe('diagnoseLogin on real Debian roots', () => {
  it('finds no blocking cause on a healthy root, in well under a second', async () => {
    const copy = await target();
    const system = openSystem({ root: copy.root, logger: createMemoryLogger().logger });
    try {
      const first = await diagnoseLogin(system, { user: 'alice' });
      const warm = await diagnoseLogin(system, { user: 'alice' });
      const root = await diagnoseLogin(system, { user: 'root' });
      expect(first.causes.filter((cause) => cause.severity === 'blocks')).toEqual([]);
      expect(root.causes.filter((cause) => cause.severity === 'blocks')).toEqual([]);
      expect(first.moduleDir).toBe('/lib/x86_64-linux-gnu/security');
      // Two commands inside the target: the loader over every module (never ldd's slow script) and python's
      // crypt_checksalt on the user's hash (given on stdin); never a write.
      expect(system.commands.history.map((record) => record.argv[0]).sort()).toEqual(['find', 'find', 'find', 'python3', 'python3', 'python3']);
      console.info(`diagnoseLogin on the base fixture: first ${first.durationMs} ms, warm ${warm.durationMs} ms, root ${root.durationMs} ms`);
      expect(warm.durationMs).toBeLessThan(1000);
    } finally {
      await system.close();
    }
  });

  it('nologin: /etc/nologin blocks alice, and only warns for root (pam_nologin lets root in)', async () => {
    const { root } = await target();
    await writeFile(join(root, 'etc/nologin'), 'System maintenance\n');
    expect(find(await diagnose(root, 'alice'), 'nologin')).toMatchObject({ severity: 'blocks', evidence: { files: ['/etc/nologin'], pamNologin: true } });
    expect(find(await diagnose(root, 'root'), 'nologin')?.severity).toBe('warns');
  });

  it.each([
    ['account-expired', ['chage', '-E', '0', 'alice'], 'blocks'],
    ['account-locked', ['usermod', '-L', 'alice'], 'blocks'],
    ['password-change-forced', ['chage', '-d', '0', 'alice'], 'warns'],
    ['password-expired-inactive', ['chage', '-d', '2020-01-01', '-M', '30', '-I', '7', 'alice'], 'blocks'],
  ])('%s: chroot ROOT %j', async (id, argv, severity) => {
    const { root } = await target();
    await chroot(root, ...argv);
    const diagnosis = await diagnose(root, 'alice');
    expect(ids(diagnosis)).toEqual([[id, severity]]);
    expect(JSON.stringify(diagnosis)).not.toMatch(/\$6\$/);
  });

  it('password-change-forced: a $1$ hash, which the target\'s libxcrypt marks legacy (crypt_checksalt), and the hash stays out of every argv', async () => {
    const { root } = await target();
    const { stdout } = await run('openssl', ['passwd', '-1', '-salt', 'legacy12', 'correct horse']);
    await chroot(root, 'usermod', '-p', stdout.trim(), 'alice');
    const system = openSystem({ root, logger: createMemoryLogger().logger });
    try {
      const diagnosis = await diagnoseLogin(system, { user: 'alice' });
      expect(ids(diagnosis)).toEqual([['password-change-forced', 'warns']]);
      expect(diagnosis.causes[0]?.evidence).toMatchObject({ reason: 'legacy-hash', method: '$1$', checksalt: 3 });
      for (const record of system.commands.history) expect(record.argv.join(' ')).not.toContain('legacy12');
    } finally {
      await system.close();
    }
  });

  it('shell-missing: alice\'s shell is a zsh that was uninstalled', async () => {
    const { root } = await target();
    await chroot(root, 'usermod', '-s', '/bin/zsh', 'alice');
    await appendFile(join(root, 'etc/shells'), '/bin/zsh\n');
    expect(ids(await diagnose(root, 'alice'))).toEqual([['shell-missing', 'blocks']]);
  });

  it('shell-not-executable: chmod 0644 on bash', async () => {
    const { root } = await target();
    await chmod(join(root, 'usr/bin/bash'), 0o644);
    expect(ids(await diagnose(root, 'alice'))).toEqual([['shell-not-executable', 'blocks']]);
  });

  it('shell-not-listed: /bin/bash removed from /etc/shells (login has no pam_shells on Debian: a warning)', async () => {
    const { root } = await target();
    const shells = await readFile(join(root, 'etc/shells'), 'utf8');
    await writeFile(join(root, 'etc/shells'), shells.replace('/bin/bash\n', ''));
    expect(ids(await diagnose(root, 'alice'))).toEqual([['shell-not-listed', 'warns']]);
    await appendFile(join(root, 'etc/pam.d/login'), 'account required pam_shells.so\n');
    expect(ids(await diagnose(root, 'alice'))).toEqual([['shell-not-listed', 'blocks']]);
  });

  it('pam-module-missing: auth required pam_doesnotexist.so in /etc/pam.d/login', async () => {
    const { root } = await target();
    await appendFile(join(root, 'etc/pam.d/login'), 'auth required pam_doesnotexist.so\nsession optional pam_alsomissing.so\n');
    const diagnosis = await diagnose(root, 'alice');
    expect(ids(diagnosis)).toEqual([['pam-module-missing', 'blocks'], ['pam-module-missing', 'warns']]);
    expect(diagnosis.causes[0]?.evidence).toMatchObject({ module: 'pam_doesnotexist.so', path: '/lib/x86_64-linux-gnu/security/pam_doesnotexist.so' });
  });

  it('pam-line-unparsable: a misspelt control', async () => {
    const { root } = await target();
    await appendFile(join(root, 'etc/pam.d/common-auth'), 'auth requird pam_permit.so\n');
    expect(ids(await diagnose(root, 'alice'))).toEqual([['pam-line-unparsable', 'blocks']]);
  });

  it('pam-service-missing: /etc/pam.d/login gone and Gentoo\'s denying other in its place', async () => {
    const { root } = await target();
    await rm(join(root, 'etc/pam.d/login'));
    await writeFile(join(root, 'etc/pam.d/other'), 'auth required pam_deny.so\naccount required pam_deny.so\npassword required pam_deny.so\nsession required pam_deny.so\n');
    expect(ids(await diagnose(root, 'alice'))).toEqual([['pam-service-missing', 'blocks']]);
  });

  it('pam-module-unloadable: libcrypt.so.1 removed, so pam_unix.so cannot load (and it guards the jump over pam_deny)', async () => {
    const { root } = await target();
    await chroot(root, 'sh', '-c', 'rm /usr/lib/x86_64-linux-gnu/libcrypt.so.1*');
    const diagnosis = await diagnose(root, 'alice');
    expect(ids(diagnosis)).toEqual([['pam-module-unloadable', 'blocks']]);
    expect(diagnosis.causes[0]?.evidence).toMatchObject({ module: 'pam_unix.so', missingLibraries: ['libcrypt.so.1'] });
  });

  it('nsswitch-source-missing: sss added to the passwd line without sssd\'s NSS module', async () => {
    const { root } = await target();
    const text = await readFile(join(root, 'etc/nsswitch.conf'), 'utf8');
    await writeFile(join(root, 'etc/nsswitch.conf'), text.replace(/^passwd:\s+files$/m, 'passwd:         files sss'));
    expect(find(await diagnose(root, 'alice'), 'nsswitch-source-missing')).toMatchObject({ severity: 'warns', evidence: { database: 'passwd', missing: ['sss'] } });
    await writeFile(join(root, 'etc/nsswitch.conf'), text.replace(/^passwd:\s+files$/m, 'passwd:         sss [UNAVAIL=return] files'));
    expect(find(await diagnose(root, 'alice'), 'nsswitch-source-missing')?.severity).toBe('blocks');
  });

  it('unix-chkpwd-unprivileged: chmod g-s unix_chkpwd (getcap finds no capability either)', async () => {
    const { root } = await target();
    await chmod(join(root, 'usr/sbin/unix_chkpwd'), 0o755);
    expect(ids(await diagnose(root, 'alice'))).toEqual([['unix-chkpwd-unprivileged', 'blocks']]);
  });

  it('unix_chkpwd with cap_dac_override and no setgid bit is privileged', async () => {
    const { root } = await target();
    await chmod(join(root, 'usr/sbin/unix_chkpwd'), 0o755);
    await run('setcap', ['cap_dac_override+ep', join(root, 'usr/sbin/unix_chkpwd')]);
    expect(ids(await diagnose(root, 'alice'))).toEqual([]);
  });

  it('shadow-permissions and passwd-permissions: chgrp root /etc/shadow, chmod 0600 /etc/passwd', async () => {
    const { root } = await target();
    await chown(join(root, 'etc/shadow'), 0, 0);
    await chmod(join(root, 'etc/passwd'), 0o600);
    expect(ids(await diagnose(root, 'alice'))).toEqual([['shadow-permissions', 'blocks'], ['passwd-permissions', 'blocks']]);
  });

  it('faillock-tally: three recent failures in /run/faillock/alice, with pam_faillock in the stack', async () => {
    const { root } = await target();
    const now = Math.floor(Date.now() / 1000);
    await mkdir(join(root, 'run/faillock'), { recursive: true });
    await writeFile(join(root, 'run/faillock/alice'), faillockRecords([now - 30, now - 20, now - 10]), { mode: 0o600 });
    // The real faillock(8) of the target reads the same file as three failures: the format is pam_faillock's.
    const { stdout } = await chroot(root, 'faillock', '--user', 'alice');
    expect(stdout.split('\n').filter((line) => / V$/.test(line.trim()))).toHaveLength(3);
    expect(find(await diagnose(root, 'alice'), 'faillock-tally')).toMatchObject({ severity: 'warns', evidence: { failures: 3, locked: true, pamFaillock: false } });
    const auth = await readFile(join(root, 'etc/pam.d/common-auth'), 'utf8');
    await writeFile(join(root, 'etc/pam.d/common-auth'), `auth required pam_faillock.so preauth\n${auth}auth [default=die] pam_faillock.so authfail\n`);
    expect(find(await diagnose(root, 'alice'), 'faillock-tally')?.severity).toBe('blocks');
  });

  it('tally2: /var/log/tallylog with five failures at alice\'s uid', async () => {
    const { root } = await target();
    const bytes = Buffer.alloc(1001 * 64);
    bytes.writeUInt16LE(5, 1000 * 64 + 54);
    bytes.writeBigUInt64LE(BigInt(Math.floor(Date.now() / 1000) - 60), 1000 * 64 + 56);
    await writeFile(join(root, 'var/log/tallylog'), bytes);
    expect(find(await diagnose(root, 'alice'), 'tally2')).toMatchObject({ severity: 'warns', evidence: { failures: 5, uid: 1000 } });
  });

  it('securetty: /etc/securetty without the console keeps root off it once pam_securetty is in the stack', async () => {
    const { root } = await target();
    await writeFile(join(root, 'etc/securetty'), 'ttyS0\n');
    expect(ids(await diagnose(root, 'root'))).toEqual([['securetty', 'warns']]);
    expect(ids(await diagnose(root, 'alice'))).toEqual([]);
    const login = await readFile(join(root, 'etc/pam.d/login'), 'utf8');
    await writeFile(join(root, 'etc/pam.d/login'), `auth requisite pam_securetty.so\n${login}`);
    expect(find(await diagnose(root, 'root'), 'securetty')).toMatchObject({ severity: 'blocks', evidence: { missing: ['console', 'tty1'] } });
  });

  it('root-read-only: the target mounted read-only', async () => {
    const { root } = await target();
    await run('mount', ['--bind', root, root]);
    cleanups.push(async () => void (await run('umount', [root])));
    await run('mount', ['-o', 'remount,bind,ro', root]);
    expect(ids(await diagnose(root, 'alice'))).toEqual([['root-read-only', 'warns']]);
  });

  it('root-full: the target on a filesystem with no space left', async () => {
    const copy = await copyTargetOnSmallDisk('base', 8);
    cleanups.push(() => copy.remove());
    await run('dd', ['if=/dev/zero', `of=${join(copy.root, 'var/tmp/filler')}`, 'bs=1M', 'count=16']).catch((error: { code?: number }) => {
      if (error.code !== 1) throw error; // "No space left on device" is the point.
    });
    expect(ids(await diagnose(copy.root, 'alice'))).toEqual([['root-full', 'blocks']]);
  });

  it('a root with several causes at once yields every one of them', async () => {
    const { root } = await target();
    await writeFile(join(root, 'etc/nologin'), 'maintenance\n');
    await chroot(root, 'chage', '-E', '0', 'alice');
    await chroot(root, 'usermod', '-s', '/bin/zsh', 'alice');
    await appendFile(join(root, 'etc/pam.d/login'), 'auth required pam_doesnotexist.so\n');
    const text = await readFile(join(root, 'etc/nsswitch.conf'), 'utf8');
    await writeFile(join(root, 'etc/nsswitch.conf'), text.replace(/^passwd:\s+files$/m, 'passwd: files sss'));
    await chmod(join(root, 'usr/sbin/unix_chkpwd'), 0o755);
    const diagnosis = await diagnose(root, 'alice');
    expect(ids(diagnosis)).toEqual([
      ['nologin', 'blocks'],
      ['account-expired', 'blocks'],
      ['shell-missing', 'blocks'],
      ['pam-module-missing', 'blocks'],
      ['unix-chkpwd-unprivileged', 'blocks'],
      ['shell-not-listed', 'warns'],
      ['nsswitch-source-missing', 'warns'],
    ]);
    for (const cause of diagnosis.causes) expect(cause.repair).not.toBe('');
    console.info(`diagnoseLogin with seven causes: ${diagnosis.durationMs} ms`);
    expect(diagnosis.durationMs).toBeLessThan(1000);
  });
});

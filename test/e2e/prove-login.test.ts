import { execFile } from 'node:child_process';
import { appendFile, chmod, copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { isArgoError } from '../../src/core/errors.ts';
import { proveLogin } from '../../src/login-path/prove-login.ts';
import { openSystem, type System } from '../../src/system/open-system.ts';
import { copyTarget, type TargetCopy } from '../support/debian-target.ts';
import { createMemoryLogger } from '../support/memory-logger.ts';

const run = promisify(execFile);
const PASSWORD = 'correct horse';

const targets: TargetCopy[] = [];
const systems: System[] = [];
afterEach(async () => {
  for (const system of systems.splice(0)) await system.close();
  for (const target of targets.splice(0)) await target.remove();
});

/**
 * The fixture has ctypes (libpython3.11-stdlib), as every Gentoo python has (dev-lang/python always builds
 * _ctypes). For the pamtester pivot, a copy without it: python3 starts, but cannot load libpam.
 */
const CTYPES = ['usr/lib/python3.11/ctypes', 'usr/lib/python3.11/lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so'];
async function removeCtypes(root: string): Promise<void> {
  for (const file of CTYPES) {
    await stat(join(root, file)).catch(() => {
      throw new Error(`${file} is missing from the fixture root: rebuild it (bash scripts/setup.sh --fixtures)`);
    });
    await rm(join(root, file), { recursive: true });
  }
}

async function target(kind: 'base' | 'broken', options: { ctypes?: boolean } = {}): Promise<TargetCopy> {
  const copy = await copyTarget(kind);
  targets.push(copy);
  if (!(options.ctypes ?? true)) await removeCtypes(copy.root);
  return copy;
}

function open(root: string) {
  const memory = createMemoryLogger();
  const system = openSystem({ root, logger: memory.logger });
  systems.push(system);
  return { system, memory };
}

const chroot = (root: string, ...command: string[]) => run('chroot', [root, ...command]);
const prove = (system: System, services?: string[]) => proveLogin(system, { user: 'alice', password: PASSWORD, signal: AbortSignal.timeout(120_000), ...(services ? { services } : {}) });

describe('proveLogin on a real Debian root with real PAM', () => {
  it('proves a working login with python over libpam, and the password is in no argv and no log line', async () => {
    const { root } = await target('base');
    const { system, memory } = open(root);
    const result = await prove(system);
    expect(result.failed, JSON.stringify(result.failed)).toBeUndefined();
    expect(result.proof).toEqual(['auth', 'account', 'session', 'shell', 'su']);
    expect(result.method).toBe('python-pam');
    expect(result.warnings).toEqual([]);
    expect(result.faillock).toMatchObject({ failures: 0, locked: false });
    expect(result.unixChkpwd).toMatchObject({ privilege: 'setgid', group: 'shadow', problem: undefined, pamVersion: '1.5.2' });

    const argvs = [...system.commands.history, ...system.hostCommands.history].map((record) => record.argv.join('\u0000'));
    expect(argvs.some((argv) => argv.includes('python3'))).toBe(true);
    expect(argvs.some((argv) => argv.includes('su'))).toBe(true);
    for (const argv of argvs) expect(argv).not.toContain(PASSWORD);
    expect(memory.events('command.started').length).toBeGreaterThan(0);
    expect(memory.text()).not.toContain(PASSWORD);
    expect(memory.text()).not.toContain('correct');
    expect(memory.events('login-proof.finished')).toMatchObject([{ user: 'alice', method: 'python-pam', proof: ['auth', 'account', 'session', 'shell', 'su'] }]);
  });

  it("proves a display manager's service as dm:<service>", async () => {
    const { root } = await target('base');
    await copyFile(join(root, 'etc/pam.d/login'), join(root, 'etc/pam.d/lightdm'));
    const { system } = open(root);
    const result = await prove(system, ['login', 'lightdm']);
    expect(result.failed).toBeUndefined();
    expect(result.proof).toEqual(['auth', 'account', 'session', 'shell', 'dm:lightdm', 'su']);
  });

  it('fails where pam_nologin sits in the stack when /etc/nologin exists, and says what the file says', async () => {
    const { root } = await target('base');
    // Debian's login has `auth requisite pam_nologin.so`; Gentoo's system-login has it under account.
    const stackLine = (await readFile(join(root, 'etc/pam.d/login'), 'utf8')).split('\n').find((line) => /^\s*\w+\s.*pam_nologin\.so/.test(line)) as string;
    const expectedStep = stackLine.trim().startsWith('auth') ? 'auth' : 'account';
    await writeFile(join(root, 'etc/nologin'), 'Maintenance until noon\n');
    const { system } = open(root);
    const result = await prove(system);
    expect(result.failed).toMatchObject({ step: expectedStep, service: 'login' });
    expect(result.failed?.reason).toContain('Maintenance until noon');
    expect(result.proof).not.toContain('su');
  });

  it('fails at account for an expired account (chage -E 0)', async () => {
    const { root } = await target('base');
    await chroot(root, 'chage', '-E', '0', 'alice');
    const { system } = open(root);
    const result = await prove(system);
    expect(result.proof).toEqual(['auth']);
    expect(result.failed).toMatchObject({ step: 'account', service: 'login' });
    expect(result.failed?.reason).toMatch(/expired/i);
  });

  it('fails at account with PAM_NEW_AUTHTOK_REQD for an expired password, without trying to change it', async () => {
    const { root } = await target('base');
    await chroot(root, 'passwd', '-e', 'alice');
    const shadowBefore = await readFile(join(root, 'etc/shadow'), 'utf8');
    const { system } = open(root);
    const result = await prove(system);
    expect(result.failed).toMatchObject({ step: 'account', service: 'login' });
    expect(result.failed?.reason).toContain('Authentication token is no longer valid; new one required (PAM code 12)');
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toBe(shadowBefore);
  });

  it('fails at shell when the login shell is not installed, after PAM itself passed', async () => {
    const { root } = await target('base');
    const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
    await writeFile(join(root, 'etc/passwd'), passwd.replace(/^(alice:.*):\/bin\/bash$/m, '$1:/bin/zsh'));
    const { system } = open(root);
    const result = await prove(system);
    expect(result.proof).toEqual(['auth', 'account', 'session']);
    expect(result.failed).toEqual({ step: 'shell', reason: 'the login shell /bin/zsh does not exist in the target' });
  });

  it('proves the PAM services alone with pamOnly: an account without a usable shell passes auth, account and session', async () => {
    const { root } = await target('base');
    const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
    await writeFile(join(root, 'etc/passwd'), passwd.replace(/^(alice:.*):\/bin\/bash$/m, '$1:/usr/sbin/nologin'));
    const { system } = open(root);
    const result = await proveLogin(system, { user: 'alice', password: PASSWORD, signal: AbortSignal.timeout(120_000), pamOnly: true });
    expect(result.failed).toBeUndefined();
    expect(result.proof).toEqual(['auth', 'account', 'session']);
    expect(system.commands.history.map((record) => record.argv[0])).not.toContain('setpriv');
  });

  it('fails at shell when the shell exists but is not in /etc/shells', async () => {
    const { root } = await target('base');
    const shells = await readFile(join(root, 'etc/shells'), 'utf8');
    await writeFile(join(root, 'etc/shells'), shells.split('\n').filter((line) => line !== '/bin/bash').join('\n'));
    const { system } = open(root);
    const result = await prove(system);
    expect(result.failed).toEqual({ step: 'shell', reason: 'the login shell /bin/bash is not listed in /etc/shells' });
  });

  it('fails at auth when the auth stack names a module that does not exist', async () => {
    const { root } = await target('base');
    await appendFile(join(root, 'etc/pam.d/login'), 'auth required pam_doesnotexist.so\n');
    const { system } = open(root);
    const result = await prove(system);
    expect(result.proof).toEqual([]);
    expect(result.failed).toMatchObject({ step: 'auth', service: 'login' });
    expect(result.failed?.reason).toContain('Module is unknown');
  });

  it('fails at auth on the root whose libcrypt cannot verify $6$', async () => {
    const { root } = await target('broken');
    const { system, memory } = open(root);
    const result = await prove(system);
    expect(result.method).toBe('python-pam');
    expect(result.failed).toMatchObject({ step: 'auth', service: 'login' });
    expect(result.failed?.reason).toContain('Authentication failure');
    expect(memory.text()).not.toContain(PASSWORD);
  });

  it('warns about a missing home folder without failing the login', async () => {
    const { root } = await target('base');
    await rm(join(root, 'home/alice'), { recursive: true });
    const { system } = open(root);
    const result = await prove(system);
    expect(result.failed).toBeUndefined();
    expect(result.proof).toEqual(['auth', 'account', 'session', 'shell', 'su']);
    expect(result.warnings).toEqual(['the home folder /home/alice of alice does not exist: the login works, but starts in /']);
  });

  it('pivots to pamtester when python3 has no ctypes, and proves the same steps', async () => {
    const { root } = await target('base', { ctypes: false });
    const { system, memory } = open(root);
    const result = await prove(system);
    expect(result.method).toBe('pamtester');
    expect(result.failed).toBeUndefined();
    expect(result.proof).toEqual(['auth', 'account', 'session', 'shell', 'su']);
    expect(memory.events('login-proof.pivot')).toMatchObject([{ from: 'python-pam', to: 'pamtester', reason: expect.stringContaining("No module named 'ctypes'") }]);
    expect(memory.text()).not.toContain(PASSWORD);
  });

  it('names the failing step through pamtester too (expired account)', async () => {
    const { root } = await target('base', { ctypes: false });
    await chroot(root, 'chage', '-E', '0', 'alice');
    const { system } = open(root);
    const result = await prove(system);
    expect(result.method).toBe('pamtester');
    expect(result.proof).toEqual(['auth']);
    expect(result.failed).toMatchObject({ step: 'account', service: 'login' });
  });

  it('refuses to call it proven when neither python with ctypes nor pamtester can drive PAM', async () => {
    const { root } = await target('base', { ctypes: false });
    await rm(join(root, 'usr/bin/pamtester'));
    const { system } = open(root);
    const error = await prove(system).catch((caught: unknown) => caught);
    expect(isArgoError(error, 'ARGO_LOGIN_UNPROVEN')).toBe(true);
  });

  it('stops before any password attempt when the faillock tally already locks the user', async () => {
    const { root } = await target('base');
    const now = BigInt(Math.floor(Date.now() / 1000));
    const tally = Buffer.alloc(64 * 3);
    for (let index = 0; index < 3; index += 1) {
      tally.write('tty1', index * 64);
      tally.writeUInt16LE(0x1 | 0x4, index * 64 + 54);
      tally.writeBigUInt64LE(now - BigInt(10 * index), index * 64 + 56);
    }
    await mkdir(join(root, 'run/faillock'), { recursive: true });
    await writeFile(join(root, 'run/faillock/alice'), tally);
    const { system } = open(root);
    const result = await prove(system);
    expect(result.failed?.step).toBe('faillock');
    expect(result.faillock).toMatchObject({ file: '/run/faillock/alice', failures: 3, recentFailures: 3, locked: true });
    expect(result.proof).toEqual([]);
    const ran = system.commands.history.map((record) => record.argv.join(' '));
    expect(ran.filter((argv) => argv.includes('pam') || argv.includes('su '))).toEqual([]);
  });

  it('warns, on pam 1.5, about a unix_chkpwd without setgid: root-run logins still work there', async () => {
    const { root } = await target('base');
    await chmod(join(root, 'usr/sbin/unix_chkpwd'), 0o755);
    const { system } = open(root);
    const result = await prove(system);
    expect(result.unixChkpwd).toMatchObject({ privilege: 'none', pamVersion: '1.5.2' });
    expect(result.failed).toBeUndefined();
    expect(result.warnings.some((warning) => warning.includes('unix_chkpwd') && warning.includes('cannot read /etc/shadow'))).toBe(true);
  });
});

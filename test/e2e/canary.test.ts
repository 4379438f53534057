import { spawn } from 'node:child_process';
import { readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openCanaryEntry } from '../../src/core/auth/canary-shadow.ts';
import { CANARY_USER, proveCanaryLogin } from '../../src/login-path/canary-account.ts';
import { openSystem, type System } from '../../src/system/open-system.ts';
import { withPrivateCopy } from '../../src/system/private-copy.ts';
import { copyTarget, type TargetCopy } from '../support/debian-target.ts';
import { createMemoryLogger } from '../support/memory-logger.ts';
import { mountSnapshot } from '../support/mount-table.ts';
import { runBuiltCli } from '../support/run-cli.ts';

const targets: TargetCopy[] = [];
const systems: System[] = [];
afterEach(async () => {
  for (const system of systems.splice(0)) await system.close();
  for (const target of targets.splice(0)) await target.remove();
});

async function target(kind: 'base' | 'broken' = 'base'): Promise<TargetCopy> {
  const copy = await copyTarget(kind);
  targets.push(copy);
  return copy;
}

function open(root: string): System {
  const system = openSystem({ root, logger: createMemoryLogger().logger });
  systems.push(system);
  return system;
}

/** A command inside the target, `input` on its stdin: its exit status. */
async function inside(root: string, command: readonly string[], input: string): Promise<number | null> {
  const child = spawn('chroot', [root, ...command], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(input);
  return new Promise((resolve) => child.once('exit', resolve));
}

/** unix_chkpwd inside the target, the password NUL-terminated on stdin as pam_unix sends it. */
const unixChkpwd = (root: string, password: string) => inside(root, ['unix_chkpwd', CANARY_USER, 'nullok'], `${password}\0`);
/** A full PAM conversation for `service`, as login, sshd or su would hold it. */
const pamtester = (root: string, service: string, password: string) => inside(root, ['pamtester', service, CANARY_USER, 'authenticate', 'acct_mgmt'], `${password}\n`);
/** su from an unprivileged user, so that PAM asks for the password. */
const su = (root: string, password: string) => inside(root, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', 'su', '-s', '/bin/sh', CANARY_USER, '-c', 'true'], `${password}\n`);

const canaryShadowFields = async (root: string) => ((await readFile(join(root, 'etc/shadow'), 'utf8')).split('\n').find((line) => line.startsWith(`${CANARY_USER}:`)) ?? '').split(':');
const canaryPassword = async (root: string) => (await readFile(join(root, 'var/lib/argo/canary-password'), 'utf8')).trim();

/** Debian's sshd PAM stack (openssh-server's /etc/pam.d/sshd, without the optional selinux and keyinit lines). */
const SSHD_PAM = ['@include common-auth', 'account required pam_nologin.so', '@include common-account', '@include common-session', '@include common-password', ''].join('\n');

async function setUp(root: string): Promise<Record<string, unknown>> {
  const run = await runBuiltCli('apkg', ['canary', 'setup', '--root', root, '--json']);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

describe('apkg canary setup', () => {
  it('creates a locked, expired, no-shell system account whose login only the proof can see, and re-keys it still locked', async () => {
    const { root } = await target();
    await writeFile(join(root, 'etc/pam.d/sshd'), SSHD_PAM);
    const first = await setUp(root);
    expect(first).toMatchObject({ user: CANARY_USER, created: true, verifiedWith: 'python-pam', proof: ['auth', 'account', 'session'], wasOpen: false });
    const passwd = (await readFile(join(root, 'etc/passwd'), 'utf8')).split('\n').find((line) => line.startsWith(`${CANARY_USER}:`)) as string;
    expect(passwd).toMatch(/^argo-canary:x:\d+:\d+:argo login canary:\/var\/empty:\/(usr\/)?sbin\/nologin$/);
    const file = join(root, 'var/lib/argo/canary-password');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const password = await canaryPassword(root);

    // On the real root, with the right password, every way in is refused.
    const fields = await canaryShadowFields(root);
    expect(fields[1]).toMatch(/^!\$6\$/);
    expect(fields[7]).toBe('1');
    expect(await unixChkpwd(root, password)).not.toBe(0);
    for (const service of ['login', 'sshd', 'su']) expect(await pamtester(root, service, password), service).not.toBe(0);
    expect(await su(root, password)).not.toBe(0);

    // The same password and PAM stacks accept the canary when its entry is open: the lock is what refuses it.
    const system = open(root);
    const opened = await withPrivateCopy(system.target, '/etc/shadow', (text) => openCanaryEntry(text, CANARY_USER), async (overlay) =>
      system.commands.run('pamtester', ['login', CANARY_USER, 'authenticate', 'acct_mgmt'], { input: `${password}\n`, overlays: [overlay], okExitCodes: [0, 1], mutates: false }),
    );
    expect(opened.exitCode).toBe(0);

    const second = await setUp(root);
    expect(second).toMatchObject({ created: false, wasOpen: false });
    const rekeyed = await canaryPassword(root);
    expect(rekeyed).not.toBe(password);
    expect((await canaryShadowFields(root))[1]).toMatch(/^!\$6\$/);
    expect(await unixChkpwd(root, rekeyed)).not.toBe(0);
    expect(await pamtester(root, 'login', rekeyed)).not.toBe(0);
    // Re-keying does not pile up copies of old hashes in /etc: one root-only backup, the state before the first.
    const backups = (await readdir(join(root, 'etc'))).filter((name) => name.startsWith('shadow.argo-'));
    expect(backups).toEqual(['shadow.argo-canary']);
    expect((await stat(join(root, 'etc/shadow.argo-canary'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(root, 'etc/shadow.argo-canary'), 'utf8')).not.toContain('argo-canary:$6$');
  });

  it('locks an open canary left by an older argo, which preflight warns about first', async () => {
    const { root } = await target();
    await setUp(root);
    // An older argo's canary: a usable hash and no expiry in the real /etc/shadow.
    const shadow = await readFile(join(root, 'etc/shadow'), 'utf8');
    await writeFile(join(root, 'etc/shadow'), openCanaryEntry(shadow, CANARY_USER));
    const password = await canaryPassword(root);
    expect(await unixChkpwd(root, password)).toBe(0);

    const preflight = await runBuiltCli('argo', ['preflight', '--root', root, '--json']);
    const check = (JSON.parse(preflight.stdout) as { checks: { id: string; status: string; summary: string }[] }).checks.find((entry) => entry.id === 'canary');
    expect(check).toMatchObject({ status: 'warn', summary: 'argo-canary can log in outside the proof: run apkg canary setup' });

    const setup = await setUp(root);
    expect(setup).toMatchObject({ created: false, wasOpen: true, proof: ['auth', 'account', 'session'] });
    expect(await unixChkpwd(root, await canaryPassword(root))).not.toBe(0);
    const after = await runBuiltCli('argo', ['preflight', '--root', root, '--json']);
    const passed = (JSON.parse(after.stdout) as { checks: { id: string; status: string }[] }).checks.find((entry) => entry.id === 'canary');
    expect(passed).toMatchObject({ status: 'pass' });
  });

  it('refuses a target whose /etc/shadow is a symlink, before changing anything', async () => {
    const { root } = await target();
    const shadow = await readFile(join(root, 'etc/shadow'), 'utf8');
    await writeFile(join(root, 'etc/shadow.real'), shadow, { mode: 0o640 });
    await rm(join(root, 'etc/shadow'));
    await symlink('shadow.real', join(root, 'etc/shadow'));
    const run = await runBuiltCli('apkg', ['canary', 'setup', '--root', root]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('/etc/shadow');
    expect(run.stderr).toContain('symbolic link');
    expect(await readFile(join(root, 'etc/shadow.real'), 'utf8')).toBe(shadow);
    expect((await readFile(join(root, 'etc/passwd'), 'utf8')).includes(`${CANARY_USER}:`)).toBe(false);
  });

  it('refuses on a broken libcrypt and leaves /etc/shadow as it was', async () => {
    const { root } = await target('broken');
    const shadow = await readFile(join(root, 'etc/shadow'), 'utf8');
    const run = await runBuiltCli('apkg', ['canary', 'setup', '--root', root]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("The target's crypt cannot verify SHA-512-crypt");
    const after = await readFile(join(root, 'etc/shadow'), 'utf8');
    expect(after.split('\n').filter((line) => !line.startsWith('argo-canary:'))).toEqual(shadow.split('\n'));
    expect(after.split('\n').find((line) => line.startsWith('argo-canary:'))).toMatch(/^argo-canary:[!*]/);
  });

  it('says in --help what the account is and what it is not', async () => {
    const run = await runBuiltCli('apkg', ['canary', 'setup', '--help']);
    expect(run.code).toBe(0);
    const help = run.stdout.replace(/\s+/g, ' ');
    for (const words of ['only use is the proof', '/var/lib/argo/canary-password', 'not: a login', 'locked (!) and expired', 'nologin', 'sshd, su', 'private mount namespace', 'never holds an open canary']) {
      expect(help).toContain(words);
    }
  });
});

describe('the canary proof', () => {
  it('passes through the login service while the real /etc/shadow and the host mount table stay exactly as they were', async () => {
    const { root } = await target();
    await setUp(root);
    const shadowBefore = await readFile(join(root, 'etc/shadow'));
    const mountsBefore = await mountSnapshot(root);
    const system = open(root);
    const result = await proveCanaryLogin(system, await canaryPassword(root), AbortSignal.timeout(120_000));
    expect(result.failed, JSON.stringify(result.failed)).toBeUndefined();
    expect(result.proof).toEqual(['auth', 'account', 'session']);
    expect((await readFile(join(root, 'etc/shadow'))).equals(shadowBefore)).toBe(true);
    expect(await mountSnapshot(root)).toEqual(mountsBefore);
    // The private copy is gone, and it was never under the target.
    const copies = system.hostCommands.history.flatMap((record) => record.argv).filter((word) => /\/argo-overlay-[^/]+\/shadow$/.test(word));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      expect(copy.startsWith(root)).toBe(false);
      await expect(stat(copy)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('fails, and names the step, with a wrong password or without a canary line; nothing is opened on disk', async () => {
    const { root } = await target();
    await setUp(root);
    const system = open(root);
    const wrong = await proveCanaryLogin(system, 'not the canary password', AbortSignal.timeout(120_000));
    expect(wrong.failed).toMatchObject({ step: 'auth', service: 'login' });
    const shadow = await readFile(join(root, 'etc/shadow'), 'utf8');
    await writeFile(join(root, 'etc/shadow'), shadow.split('\n').filter((line) => !line.startsWith(`${CANARY_USER}:`)).join('\n'));
    await expect(proveCanaryLogin(system, await canaryPassword(root), AbortSignal.timeout(120_000))).rejects.toMatchObject({ code: 'ARGO_INVALID_INPUT', message: 'There is no entry for argo-canary in the shadow file' });
  });

  it('leaves the real /etc/shadow locked while the proof runs, and unchanged when its command is killed with SIGKILL', async () => {
    const { root } = await target();
    await setUp(root);
    // A PAM module that waits, so that the proof is caught in the middle of its auth stage.
    const login = await readFile(join(root, 'etc/pam.d/login'), 'utf8');
    await writeFile(join(root, 'etc/pam.d/login'), `auth optional pam_exec.so /bin/sleep 3600\n${login}`);
    const password = await canaryPassword(root);
    const shadowBefore = await readFile(join(root, 'etc/shadow'));
    const mountsBefore = await mountSnapshot(root);
    const system = open(root);
    const proving = proveCanaryLogin(system, password, AbortSignal.timeout(120_000));

    const sleeper = await waitForProcess((cmdline) => cmdline === '/bin/sleep 3600' || cmdline === 'sleep 3600');
    const driver = await waitForProcess((cmdline) => cmdline.startsWith('python3 -I -c') && cmdline.includes(CANARY_USER));
    // Mid-proof: on disk, and for every other process, the canary is as locked as ever.
    expect((await readFile(join(root, 'etc/shadow'))).equals(shadowBefore)).toBe(true);
    expect(await unixChkpwd(root, password)).not.toBe(0);
    // (su's stack, not login's: login now waits in pam_exec for everybody.)
    expect(await pamtester(root, 'su', password)).not.toBe(0);
    process.kill(driver, 'SIGKILL');
    const result = await proving;
    expect(result.failed).toMatchObject({ step: 'auth', reason: expect.stringContaining('crashed') });
    await waitUntilGone(sleeper);
    expect((await readFile(join(root, 'etc/shadow'))).equals(shadowBefore)).toBe(true);
    expect(await mountSnapshot(root)).toEqual(mountsBefore);
  });
});

/** The pid of the first process whose command line matches; polls the host's process table. */
async function waitForProcess(matches: (cmdline: string) => boolean, limitMs = 60_000): Promise<number> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean).join(' ');
      if (cmdline !== '' && matches(cmdline)) return Number(pid);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('gave up waiting for the process');
}

async function waitUntilGone(pid: number, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`process ${pid} outlived the namespace`);
}

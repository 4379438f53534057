import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, chmod, chown, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { copyTarget, type TargetCopy } from '../support/debian-target.ts';
import { runBuiltCli, type CliRun } from '../support/run-cli.ts';

/**
 * `argo recover` against each common cause of "nobody can log in", one real broken Debian root per cause
 * (Gentoo's files where they differ): the login is refused before, recover names the cause by its id and
 * repairs it with the smallest change, the login then works through the target's own PAM, and
 * `argo recover --undo RUN` puts the broken file back byte for byte.
 */

const run = promisify(execFile);
const PASSWORD = 'correct horse';

interface ReportCause {
  id: string;
  severity: string;
  status: string;
  note: string;
}
interface Report {
  runId: string;
  outcome: string;
  login: { ok: boolean; proof: string[]; method?: string; failed?: { step: string; reason: string } };
  causes: ReportCause[];
  changes: { path: string; action: string; backup?: string; diff?: string }[];
  undo?: string;
  logDir: string;
  phases: { id: string; status: string }[];
}

const targets: TargetCopy[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const target of targets.splice(0)) await target.remove();
});

async function brokenRoot(): Promise<TargetCopy & { passwordFile: string }> {
  const target = await copyTarget('base');
  targets.push(target);
  const passwordFile = join(target.dir, 'password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  return { ...target, passwordFile };
}

function recover(target: { root: string; passwordFile: string }, user = 'alice', extra: string[] = []): Promise<CliRun> {
  return runBuiltCli('argo', ['recover', '--root', target.root, '--user', user, '--password-file', target.passwordFile, '--json', ...extra]);
}

function reportOf(result: CliRun): Report {
  try {
    return JSON.parse(result.stdout) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${result.code}):\n${result.stderr}`);
  }
}

/** A console login as PAM runs it (authenticate, then account management), the password on stdin. */
async function pamLogin(root: string, user = 'alice'): Promise<number | null> {
  // PAM_TTY as a console login sets it (pam_securetty and pam_faillock read it).
  const child = spawn('chroot', [root, 'pamtester', '-I', 'tty=tty1', 'login', user, 'authenticate', 'acct_mgmt'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(`${PASSWORD}\n`);
  return new Promise((resolve) => child.once('exit', resolve));
}

/** su - USER -c true from nobody: PAM, then the login shell really starts. */
async function suLogin(root: string, user = 'alice'): Promise<number | null> {
  const child = spawn('chroot', [root, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', 'su', '-', user, '-c', 'true'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(`${PASSWORD}\n`);
  return new Promise((resolve) => child.once('exit', resolve));
}

async function loginWorks(root: string, user = 'alice'): Promise<boolean> {
  return (await pamLogin(root, user)) === 0 && (await suLogin(root, user)) === 0;
}

const chroot = (root: string, ...argv: string[]) => run('chroot', [root, ...argv]);
const causeOf = (report: Report, id: string) => report.causes.find((cause) => cause.id === id);

/** Bytes, mode and owner of files, to prove an undo put them back exactly. */
async function fingerprint(root: string, files: readonly string[]): Promise<Record<string, string>> {
  const prints: Record<string, string> = {};
  for (const file of files) {
    try {
      const stats = await stat(join(root, file));
      const bytes = stats.isFile() ? createHash('sha256').update(await readFile(join(root, file))).digest('hex') : '-';
      prints[file] = `${(stats.mode & 0o7777).toString(8)} ${stats.uid}:${stats.gid} ${bytes}`;
    } catch {
      prints[file] = 'absent';
    }
  }
  return prints;
}

function faillockRecords(times: number[]): Buffer {
  const bytes = Buffer.alloc(times.length * 64);
  times.forEach((time, index) => {
    bytes.write('tty1', index * 64, 'latin1');
    bytes.writeUInt16LE(0x5, index * 64 + 54);
    bytes.writeBigUInt64LE(BigInt(time), index * 64 + 56);
  });
  return bytes;
}

interface Scenario {
  /** The cause id recover must name and repair. */
  readonly id: string;
  /** The test's name when one cause has two scenarios. */
  readonly name?: string;
  readonly user?: string;
  /** Files whose bytes, mode and owner undo must restore. */
  readonly files: readonly string[];
  break(root: string): Promise<void>;
  /** Extra checks on the repaired root. */
  check?(root: string, report: Report): Promise<void>;
  /** Some causes stop a login only in ways pamtester and su do not show (a display manager, unix_chkpwd for non-root callers). */
  readonly loginFailsBefore?: boolean;
  /** The password reset repairs it; undo then also puts the old hash back. */
  readonly byPasswordReset?: boolean;
}

/** pam_faillock's preauth ahead of the stack: it refuses a user whose tally holds `deny` recent failures. */
const PAM_FAILLOCK_STACK = (auth: string): string => `auth required pam_faillock.so preauth deny=3 unlock_time=0\n${auth}`;

const SCENARIOS: readonly Scenario[] = [
  {
    id: 'nologin',
    files: ['/etc/nologin'],
    async break(root) {
      await writeFile(join(root, 'etc/nologin'), 'System maintenance until Monday\n');
    },
  },
  {
    id: 'account-expired',
    files: ['/etc/shadow'],
    async break(root) {
      await chroot(root, 'chage', '-E', '2001-01-01', 'alice');
    },
  },
  {
    id: 'account-locked',
    files: ['/etc/shadow'],
    byPasswordReset: true,
    async break(root) {
      await chroot(root, 'usermod', '-L', 'alice');
    },
  },
  {
    id: 'password-expired-inactive',
    files: ['/etc/shadow'],
    byPasswordReset: true,
    async break(root) {
      await chroot(root, 'chage', '-d', '2020-01-01', '-M', '30', '-I', '7', 'alice');
    },
  },
  {
    id: 'password-change-forced',
    files: ['/etc/shadow'],
    byPasswordReset: true,
    async break(root) {
      await chroot(root, 'chage', '-d', '0', 'alice');
    },
  },
  {
    id: 'password-change-forced',
    name: 'password-change-forced (a hash method libxcrypt marks legacy)',
    files: ['/etc/shadow'],
    byPasswordReset: true,
    loginFailsBefore: false,
    async break(root) {
      const { stdout } = await run('openssl', ['passwd', '-1', '-salt', 'legacy12', PASSWORD]);
      await chroot(root, 'usermod', '-p', stdout.trim(), 'alice');
    },
    async check(root, report) {
      expect(report.causes.find((cause) => cause.id === 'password-change-forced')?.severity).toBe('warns');
      expect((await readFile(join(root, 'etc/shadow'), 'utf8')).split('\n').find((line) => line.startsWith('alice:'))).toMatch(/^alice:\$6\$/);
    },
  },
  {
    id: 'shell-missing',
    files: ['/etc/passwd', '/etc/shells'],
    async break(root) {
      await chroot(root, 'usermod', '-s', '/bin/zsh', 'alice');
      await appendFile(join(root, 'etc/shells'), '/bin/zsh\n');
    },
    async check(root) {
      expect((await readFile(join(root, 'etc/passwd'), 'utf8')).split('\n').find((line) => line.startsWith('alice:'))).toMatch(/:\/bin\/bash$/);
    },
  },
  {
    id: 'shell-not-executable',
    files: ['/usr/bin/bash'],
    async break(root) {
      await chmod(join(root, 'usr/bin/bash'), 0o644);
    },
  },
  {
    id: 'shell-not-listed',
    files: ['/etc/shells', '/etc/pam.d/login'],
    async break(root) {
      const shells = await readFile(join(root, 'etc/shells'), 'utf8');
      await writeFile(join(root, 'etc/shells'), shells.replace('/bin/bash\n', ''));
      // Gentoo's system-login has pam_shells; Debian's login does not: add it, so that it matters.
      await appendFile(join(root, 'etc/pam.d/login'), 'account required pam_shells.so\n');
    },
  },
  {
    id: 'pam-module-missing',
    files: ['/etc/pam.d/common-auth'],
    async break(root) {
      // Linux-PAM 1.5 removed pam_tally2; a stack that still names it refuses every login.
      const auth = await readFile(join(root, 'etc/pam.d/common-auth'), 'utf8');
      await writeFile(join(root, 'etc/pam.d/common-auth'), `auth required pam_tally2.so deny=3 onerr=fail\n${auth}`);
    },
    async check(root) {
      const auth = await readFile(join(root, 'etc/pam.d/common-auth'), 'utf8');
      expect(auth).toMatch(/^# argo: pam_tally2\.so is not installed \(argo recover recovery-\S+; undo: argo recover --undo recovery-\S+\)\n#auth required pam_tally2\.so/);
      // Nothing else of the stack changed: pam_unix still decides.
      expect(auth).toContain('pam_unix.so');
    },
  },
  {
    id: 'pam-line-unparsable',
    files: ['/etc/pam.d/common-auth'],
    async break(root) {
      await appendFile(join(root, 'etc/pam.d/common-auth'), 'auth requird pam_permit.so\n');
    },
  },
  {
    id: 'pam-service-missing',
    files: ['/etc/pam.d/login', '/etc/pam.d/other'],
    async break(root) {
      await rm(join(root, 'etc/pam.d/login'));
      // Gentoo's other (sys-auth/pambase templates/other.tpl) denies everything.
      await writeFile(join(root, 'etc/pam.d/other'), 'auth\t\trequired\tpam_deny.so\naccount\t\trequired\tpam_deny.so\npassword   \trequired\tpam_deny.so\nsession    \trequired\tpam_deny.so\n');
    },
    async check(root) {
      expect(await readFile(join(root, 'etc/pam.d/login'), 'utf8')).toContain('@include common-auth');
    },
  },
  {
    id: 'nsswitch-source-missing',
    files: ['/etc/nsswitch.conf'],
    async break(root) {
      const text = await readFile(join(root, 'etc/nsswitch.conf'), 'utf8');
      await writeFile(join(root, 'etc/nsswitch.conf'), text.replace(/^passwd:\s+files$/m, 'passwd:         sss [UNAVAIL=return] files'));
    },
    async check(root) {
      const text = await readFile(join(root, 'etc/nsswitch.conf'), 'utf8');
      expect(text).toMatch(/^#passwd:\s+sss \[UNAVAIL=return\] files$/m);
      expect(text).toMatch(/^passwd:\s+files$/m);
    },
  },
  {
    id: 'unix-chkpwd-unprivileged',
    files: ['/usr/sbin/unix_chkpwd'],
    // pam 1.5.2 (the fixture's) runs unix_chkpwd only for non-root callers: a screen locker, not login or su.
    loginFailsBefore: false,
    async break(root) {
      await chmod(join(root, 'usr/sbin/unix_chkpwd'), 0o755);
    },
    async check(root) {
      const stats = await stat(join(root, 'usr/sbin/unix_chkpwd'));
      expect((stats.mode & 0o7777).toString(8)).toBe('2755');
      // And a non-root caller can check its own password again, as xscreensaver does.
      const child = spawn('chroot', [root, 'setpriv', '--reuid=1000', '--regid=1000', '--clear-groups', '--', '/usr/sbin/unix_chkpwd', 'alice', 'nullok'], { stdio: ['pipe', 'ignore', 'ignore'] });
      child.stdin.end(`${PASSWORD}\0`);
      expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
    },
  },
  {
    id: 'shadow-permissions',
    files: ['/etc/shadow'],
    loginFailsBefore: false,
    async break(root) {
      // unix_chkpwd is setgid shadow: /etc/shadow losing its group locks out every non-root password check.
      await chown(join(root, 'etc/shadow'), 0, 0);
    },
    async check(root) {
      const stats = await stat(join(root, 'etc/shadow'));
      expect([(stats.mode & 0o777).toString(8), stats.uid, stats.gid]).toEqual(['640', 0, 42]);
    },
  },
  {
    id: 'passwd-permissions',
    files: ['/etc/passwd'],
    loginFailsBefore: false,
    async break(root) {
      await chmod(join(root, 'etc/passwd'), 0o600);
    },
  },
  {
    id: 'faillock-tally',
    files: ['/var/lib/faillock/alice', '/etc/pam.d/common-auth', '/etc/security/faillock.conf'],
    async break(root) {
      const now = Math.floor(Date.now() / 1000);
      // A persistent tally folder (/run is the host's inside the chroot, and a tmpfs on a real boot).
      await appendFile(join(root, 'etc/security/faillock.conf'), 'dir = /var/lib/faillock\n');
      await mkdir(join(root, 'var/lib/faillock'), { recursive: true, mode: 0o755 });
      await writeFile(join(root, 'var/lib/faillock/alice'), faillockRecords([now - 30, now - 20, now - 10]), { mode: 0o600 });
      const auth = await readFile(join(root, 'etc/pam.d/common-auth'), 'utf8');
      await writeFile(join(root, 'etc/pam.d/common-auth'), PAM_FAILLOCK_STACK(auth));
    },
  },
  {
    id: 'tally2',
    files: ['/var/log/tallylog', '/etc/pam.d/common-auth'],
    async break(root) {
      // A stack from before Linux-PAM 1.5 (pam_tally2 is gone since) and a tally of five failures at alice's uid.
      const bytes = Buffer.alloc(1001 * 64);
      bytes.writeUInt16LE(5, 1000 * 64 + 54);
      bytes.writeBigUInt64LE(BigInt(Math.floor(Date.now() / 1000) - 60), 1000 * 64 + 56);
      await writeFile(join(root, 'var/log/tallylog'), bytes);
      const auth = await readFile(join(root, 'etc/pam.d/common-auth'), 'utf8');
      await writeFile(join(root, 'etc/pam.d/common-auth'), `auth required pam_tally2.so deny=3 onerr=fail\n${auth}`);
    },
    async check(root, report) {
      expect((await readFile(join(root, 'var/log/tallylog'))).readUInt16LE(1000 * 64 + 54)).toBe(0);
      expect(causeOf(report, 'pam-module-missing')?.status).toBe('repaired');
    },
  },
  {
    id: 'securetty',
    user: 'root',
    files: ['/etc/securetty', '/etc/pam.d/login'],
    async break(root) {
      await writeFile(join(root, 'etc/securetty'), 'ttyS0\n');
      const login = await readFile(join(root, 'etc/pam.d/login'), 'utf8');
      await writeFile(join(root, 'etc/pam.d/login'), `auth requisite pam_securetty.so\n${login}`);
    },
  },
];

describe('argo recover repairs each cause of "nobody can log in", and --undo puts it back', () => {
  it.each(SCENARIOS.map((scenario) => [scenario.name ?? scenario.id, scenario] as const))('%s', async (_name, scenario) => {
    const { id } = scenario;
    const target = await brokenRoot();
    const user = scenario.user ?? 'alice';
    if (user === 'root') await chroot(target.root, 'sh', '-c', `echo 'root:${PASSWORD}' | chpasswd`);
    await scenario.break(target.root);
    if (scenario.loginFailsBefore !== false) expect(await loginWorks(target.root, user)).toBe(false);
    // After the refused login: pam_faillock rewrites its tally (owner and mode) on every attempt.
    const broken = await fingerprint(target.root, scenario.files);

    const result = await recover(target, user);
    const report = reportOf(result);
    expect(result.code, result.stderr).toBe(0);
    expect(report.outcome).toBe('recovered');
    expect(causeOf(report, id), JSON.stringify(report.causes)).toMatchObject({ status: scenario.byPasswordReset ? 'by-password-reset' : 'repaired' });
    expect(report.login).toMatchObject({ ok: true, method: 'python-pam', proof: ['auth', 'account', 'session', 'shell', 'su'] });
    expect(await loginWorks(target.root, user)).toBe(true);
    const summary = await readFile(join(report.logDir, 'summary.txt'), 'utf8');
    expect(summary).toMatch(new RegExp(`^RECOVERED: ${user} can log in again \\(proven: auth, account, session, shell, su;`));
    expect(summary).toContain(`[${id}]`);
    for (const change of report.changes) if (change.backup) expect((await stat(join(target.root, change.backup))).isFile()).toBe(true);
    await scenario.check?.(target.root, report);

    expect(report.undo).toBe(`argo recover --undo ${report.runId} --root ${target.root}`);
    const undo = await runBuiltCli('argo', ['recover', '--root', target.root, '--undo', report.runId, '--json']);
    expect(undo.code, undo.stderr).toBe(0);
    expect(await fingerprint(target.root, scenario.files)).toEqual(broken);
  });

  it('repairs several causes in one run, and the dry run before lists them with their diffs and changes nothing', async () => {
    const target = await brokenRoot();
    await writeFile(join(target.root, 'etc/nologin'), 'maintenance\n');
    await chroot(target.root, 'chage', '-E', '0', 'alice');
    await chroot(target.root, 'usermod', '-s', '/bin/zsh', 'alice');
    await appendFile(join(target.root, 'etc/pam.d/login'), 'auth required pam_doesnotexist.so\n');
    const nsswitch = await readFile(join(target.root, 'etc/nsswitch.conf'), 'utf8');
    await writeFile(join(target.root, 'etc/nsswitch.conf'), nsswitch.replace(/^passwd:\s+files$/m, 'passwd: sss [UNAVAIL=return] files'));
    await chmod(join(target.root, 'usr/sbin/unix_chkpwd'), 0o755);
    const files = ['/etc/nologin', '/etc/shadow', '/etc/passwd', '/etc/shells', '/etc/pam.d/login', '/etc/nsswitch.conf', '/usr/sbin/unix_chkpwd'];
    const broken = await fingerprint(target.root, files);
    const listing = async (): Promise<string[]> => (await readdir(join(target.root, 'etc'))).sort();
    const etcBefore = await listing();
    expect(await loginWorks(target.root)).toBe(false);

    const dry = await recover(target, 'alice', ['--dry-run']);
    const dryReport = reportOf(dry);
    expect(dry.code, dry.stderr).toBe(0);
    expect(await fingerprint(target.root, files)).toEqual(broken);
    expect(await listing()).toEqual(etcBefore);
    const expected = ['nologin', 'account-expired', 'shell-missing', 'pam-module-missing', 'nsswitch-source-missing', 'unix-chkpwd-unprivileged'];
    for (const id of expected) expect(causeOf(dryReport, id)?.status, id).toBe('would-repair');
    expect(dryReport.changes.find((change) => change.path === '/etc/pam.d/login')?.diff).toMatch(/^\+#auth required pam_doesnotexist\.so$/m);
    expect(dryReport.changes.some((change) => change.path === '/etc/shadow' && change.diff !== undefined)).toBe(false);
    expect(await readFile(join(dryReport.logDir, 'summary.txt'), 'utf8')).toContain('Files that would change:');

    const result = await recover(target);
    const report = reportOf(result);
    expect(result.code, result.stderr).toBe(0);
    for (const id of expected) expect(causeOf(report, id)?.status, id).toBe('repaired');
    expect(report.login.proof).toEqual(['auth', 'account', 'session', 'shell', 'su']);
    expect(await loginWorks(target.root)).toBe(true);
    // The diff of /etc/shadow never reaches the report (hashes), but its change does.
    expect(report.changes.find((change) => change.path === '/etc/shadow')).toMatchObject({ action: 'edit' });
    expect(JSON.stringify(report)).not.toMatch(/\$6\$[./0-9A-Za-z]+\$/);

    const undo = await runBuiltCli('argo', ['recover', '--root', target.root, '--undo', report.runId]);
    expect(undo.code, undo.stderr).toBe(0);
    expect(await fingerprint(target.root, files)).toEqual(broken);
    const again = await runBuiltCli('argo', ['recover', '--root', target.root, '--undo', report.runId]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already-original');
  });

  it('never claims a login it could not prove: pam_unix.so gone is reported, not commented out, and the run exits 1', async () => {
    const target = await brokenRoot();
    await rm(join(target.root, 'lib/x86_64-linux-gnu/security/pam_unix.so'));
    const auth = await readFile(join(target.root, 'etc/pam.d/common-auth'), 'utf8');
    const result = await recover(target);
    const report = reportOf(result);
    expect(result.code).toBe(1);
    expect(report.outcome).toBe('failed');
    expect(report.login.ok).toBe(false);
    expect(report.login.failed?.step).toBe('auth');
    expect(causeOf(report, 'pam-module-missing')).toMatchObject({ status: 'not-repaired', note: expect.stringContaining('weaken') });
    // The stack that checks passwords is untouched: never replaced by something that lets anyone in.
    expect(await readFile(join(target.root, 'etc/pam.d/common-auth'), 'utf8')).toBe(auth);
    expect(await readFile(join(report.logDir, 'summary.txt'), 'utf8')).toMatch(/^FAILED: a login of alice is not proven/);
  });

  it('undo leaves a file that changed after the recovery alone unless --force', async () => {
    const target = await brokenRoot();
    await writeFile(join(target.root, 'etc/nologin'), 'maintenance\n');
    await chroot(target.root, 'chage', '-E', '0', 'alice');
    const report = reportOf(await recover(target));
    expect(report.outcome).toBe('recovered');
    await chroot(target.root, 'chage', '-M', '400', 'alice');
    const changed = await readFile(join(target.root, 'etc/shadow'));
    const undo = await runBuiltCli('argo', ['recover', '--root', target.root, '--undo', report.runId, '--json']);
    expect(undo.code).toBe(3);
    const outcomes = (JSON.parse(undo.stdout) as { outcomes: { path: string; status: string }[] }).outcomes;
    expect(outcomes).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/etc/shadow', status: 'conflict' }), expect.objectContaining({ path: '/etc/nologin', status: 'restored' })]));
    expect((await readFile(join(target.root, 'etc/shadow'))).equals(changed)).toBe(true);
    const forced = await runBuiltCli('argo', ['recover', '--root', target.root, '--undo', report.runId, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect((await readFile(join(target.root, 'etc/shadow'))).equals(changed)).toBe(false);
    expect(await runBuiltCli('argo', ['recover', '--root', target.root, '--undo', '../../etc'])).toMatchObject({ code: 2 });
  });
});

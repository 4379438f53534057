import { execFile, spawn } from 'node:child_process';
import { appendFile, chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';

/**
 * The common causes of "nobody can log in", each as a way to break a copy of the Debian fixture root
 * (Gentoo's files where they differ). Shared by the end-to-end test of `argo recover` and its benchmark.
 */

const run = promisify(execFile);
export const PASSWORD = 'correct horse';

export interface ReportCause {
  id: string;
  severity: string;
  status: string;
  note: string;
}
export interface Report {
  runId: string;
  outcome: string;
  login: { ok: boolean; proof: string[]; method?: string; failed?: { step: string; reason: string } };
  causes: ReportCause[];
  changes: { path: string; action: string; backup?: string; diff?: string }[];
  undo?: string;
  logDir: string;
  phases: { id: string; status: string }[];
}

export const chroot = (root: string, ...argv: string[]) => run('chroot', [root, ...argv]);
export const causeOf = (report: Report, id: string) => report.causes.find((cause) => cause.id === id);

/** pam_faillock's tally file: one 64-byte record per failure (source, status valid|tty, time), as it writes them. */
export function faillockRecords(times: number[]): Buffer {
  const bytes = Buffer.alloc(times.length * 64);
  times.forEach((time, index) => {
    bytes.write('tty1', index * 64, 'latin1');
    bytes.writeUInt16LE(0x5, index * 64 + 54);
    bytes.writeBigUInt64LE(BigInt(time), index * 64 + 56);
  });
  return bytes;
}

export interface Scenario {
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
export const PAM_FAILLOCK_STACK = (auth: string): string => `auth required pam_faillock.so preauth deny=3 unlock_time=0\n${auth}`;

export const SCENARIOS: readonly Scenario[] = [
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
      // In place, the note on the rule's own line: the file keeps its line count, and [success=N] jumps their targets.
      expect(auth).toMatch(/^# argo: pam_tally2\.so is not installed \(argo recover recovery-\S+; undo: argo recover --undo recovery-\S+\): auth required pam_tally2\.so/);
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

/** Six causes on one root (the test "repairs several causes in one run" and the benchmark): one run repairs them all. */
export const SEVERAL_CAUSES = {
  ids: ['nologin', 'account-expired', 'shell-missing', 'pam-module-missing', 'nsswitch-source-missing', 'unix-chkpwd-unprivileged'],
  files: ['/etc/nologin', '/etc/shadow', '/etc/passwd', '/etc/shells', '/etc/pam.d/login', '/etc/nsswitch.conf', '/usr/sbin/unix_chkpwd'],
  async break(root: string): Promise<void> {
    await writeFile(join(root, 'etc/nologin'), 'maintenance\n');
    await chroot(root, 'chage', '-E', '0', 'alice');
    await chroot(root, 'usermod', '-s', '/bin/zsh', 'alice');
    // pam_lastlog2 (util-linux's successor of pam_lastlog) is not installed: a required session rule naming it refuses the login.
    await appendFile(join(root, 'etc/pam.d/login'), 'session required pam_lastlog2.so silent\n');
    const nsswitch = await readFile(join(root, 'etc/nsswitch.conf'), 'utf8');
    await writeFile(join(root, 'etc/nsswitch.conf'), nsswitch.replace(/^passwd:\s+files$/m, 'passwd: sss [UNAVAIL=return] files'));
    await chmod(join(root, 'usr/sbin/unix_chkpwd'), 0o755);
  },
} as const;

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { writeGpkg } from '../../src/core/gentoo/write-gpkg.ts';
import { copyTarget, type TargetCopy } from '../support/debian-target.ts';
import { runBuiltCli, type CliRun } from '../support/run-cli.ts';

/**
 * The repairs never weaken authentication, never break a stack that worked, and --undo trusts only records
 * argo itself wrote. Each case here is one a review found against the first version, on a real Debian root.
 */

const run = promisify(execFile);
const PASSWORD = 'correct horse';
const targets: TargetCopy[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const target of targets.splice(0)) await target.remove();
});

interface Report {
  runId: string;
  outcome: string;
  login: { ok: boolean; proof: string[] };
  causes: { id: string; status: string; note: string }[];
}

async function root(): Promise<TargetCopy & { passwordFile: string }> {
  const target = await copyTarget('base');
  targets.push(target);
  const passwordFile = join(target.dir, 'password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  return { ...target, passwordFile };
}

const recover = (target: { root: string; passwordFile: string }): Promise<CliRun> =>
  runBuiltCli('argo', ['recover', '--root', target.root, '--user', 'alice', '--password-file', target.passwordFile, '--json']);

function reportOf(result: CliRun): Report {
  try {
    return JSON.parse(result.stdout) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${result.code}):\n${result.stderr}`);
  }
}

/** authenticate with a password, inside the target: 0 when PAM accepts it. */
async function authenticates(rootDir: string, user: string, password: string): Promise<boolean> {
  const child = spawn('chroot', [rootDir, 'pamtester', '-I', 'tty=tty1', 'login', user, 'authenticate'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(`${password}\n`);
  return (await new Promise((resolve) => child.once('exit', resolve))) === 0;
}

const sha = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

async function setCommonAuth(rootDir: string, lines: readonly string[]): Promise<string> {
  const text = `${lines.join('\n')}\n`;
  await writeFile(join(rootDir, 'etc/pam.d/common-auth'), text);
  return text;
}

describe('the login doctor never weakens a login and never breaks a working stack', () => {
  it('a missing credential module (pam_tcb) is not commented out: the run exits 1 and wrong passwords stay refused', async () => {
    const target = await root();
    const text = await setCommonAuth(target.root, ['auth required pam_env.so', 'auth required pam_tcb.so shadow nullok', 'auth optional pam_permit.so']);
    const result = await recover(target);
    const report = reportOf(result);
    expect(result.code).toBe(1);
    expect(report.outcome).toBe('failed');
    expect(report.causes.find((cause) => cause.id === 'pam-module-missing')).toMatchObject({ status: 'not-repaired', note: expect.stringContaining('weaken') });
    expect(await readFile(join(target.root, 'etc/pam.d/common-auth'), 'utf8')).toBe(text);
    expect(await authenticates(target.root, 'alice', 'wrong')).toBe(false);
    expect(await authenticates(target.root, 'root', '')).toBe(false);
  });

  it('two missing modules around pam_unix: both commented out, in place (no line shifts), pam_unix untouched, a wrong password still refused', async () => {
    const target = await root();
    const original = await readFile(join(target.root, 'etc/pam.d/common-auth'), 'utf8');
    const body = original.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
    await setCommonAuth(target.root, ['auth required pam_tally2.so deny=3', ...body, 'auth required pam_tally.so deny=3']);
    const result = await recover(target);
    const report = reportOf(result);
    expect(result.code, result.stderr).toBe(0);
    const after = (await readFile(join(target.root, 'etc/pam.d/common-auth'), 'utf8')).split('\n');
    expect(after[0]).toMatch(/^# argo: pam_tally2\.so is not installed .*: auth required pam_tally2\.so deny=3$/);
    expect(after.at(-2)).toMatch(/^# argo: pam_tally\.so is not installed .*: auth required pam_tally\.so deny=3$/);
    expect(after.slice(1, -2)).toEqual(body);
    expect(report.causes.filter((cause) => cause.id === 'pam-module-missing').map((cause) => cause.note)).toEqual([
      expect.stringMatching(/common-auth:1 \(.*pam_tally2\.so is not installed; the lock-out after failed logins is gone/),
      expect.stringMatching(new RegExp(`common-auth:${body.length + 2} \\(.*pam_tally\\.so is not installed`)),
    ]);
    expect(await authenticates(target.root, 'alice', PASSWORD)).toBe(true);
    expect(await authenticates(target.root, 'alice', 'wrong')).toBe(false);
  });

  it('a missing module inside a [success=N] jump is left alone: taking it out would move where the jump lands', async () => {
    const target = await root();
    const text = await setCommonAuth(target.root, [
      'auth [success=2 default=ignore] pam_unix.so nullok',
      'auth [success=1 default=ignore] pam_gnome_keyring.so',
      'auth requisite pam_deny.so',
      'auth required pam_permit.so',
    ]);
    expect(await authenticates(target.root, 'alice', PASSWORD)).toBe(true);
    const result = await recover(target);
    const report = reportOf(result);
    expect(result.code, result.stderr).toBe(0);
    expect(report.causes.find((cause) => cause.id === 'pam-module-missing')).toMatchObject({ status: 'not-repaired', note: expect.stringContaining('jump') });
    expect(await readFile(join(target.root, 'etc/pam.d/common-auth'), 'utf8')).toBe(text);
    expect(await authenticates(target.root, 'alice', PASSWORD)).toBe(true);
    expect(await authenticates(target.root, 'alice', 'wrong')).toBe(false);
  });

  it('unix_chkpwd and /etc/shadow are repaired together: setgid shadow, and a shadow its group can read', async () => {
    const target = await root();
    await chmod(join(target.root, 'usr/sbin/unix_chkpwd'), 0o755);
    await chmod(join(target.root, 'etc/shadow'), 0o644);
    const report = reportOf(await recover(target));
    expect(report.login.ok).toBe(true);
    const [chkpwd, shadow] = await Promise.all([stat(join(target.root, 'usr/sbin/unix_chkpwd')), stat(join(target.root, 'etc/shadow'))]);
    expect([(chkpwd.mode & 0o7777).toString(8), chkpwd.gid]).toEqual(['2755', 42]);
    expect([(shadow.mode & 0o7777).toString(8), shadow.uid, shadow.gid]).toEqual(['640', 0, 42]);
  });

  it('undo puts back a file that had both an edit and a mode change', async () => {
    const target = await root();
    await run('chroot', [target.root, 'chage', '-E', '0', 'alice']);
    await chmod(join(target.root, 'etc/shadow'), 0o644);
    const before = { sha: await sha(join(target.root, 'etc/shadow')), mode: (await stat(join(target.root, 'etc/shadow'))).mode & 0o7777 };
    const report = reportOf(await recover(target));
    expect(report.outcome).toBe('recovered');
    const undo = await runBuiltCli('argo', ['recover', '--root', target.root, '--undo', report.runId]);
    expect(undo.code, undo.stdout + undo.stderr).toBe(0);
    expect({ sha: await sha(join(target.root, 'etc/shadow')), mode: (await stat(join(target.root, 'etc/shadow'))).mode & 0o7777 }).toEqual(before);
  });
});

describe('a recovery SIGKILLed in the middle of its repairs', () => {
  it('leaves a record of what it changed; --resume finishes the rest; --undo puts every file back', async () => {
    const target = await root();
    await writeFile(join(target.root, 'etc/nologin'), 'maintenance\n');
    await run('chroot', [target.root, 'chage', '-E', '0', 'alice']);
    const shadowBefore = await sha(join(target.root, 'etc/shadow'));
    // Another program holds the password-file lock (as a running passwd would): the repair of the expiry waits
    // for it, after the nologin file was moved. argo is killed right there.
    const holder = spawn('python3', ['-c', 'import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)\nfcntl.lockf(fd, fcntl.LOCK_EX)\nprint("locked", flush=True)\nsys.stdin.read()', join(target.root, 'etc/.pwd.lock')], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanups.push(async () => void holder.kill('SIGKILL'));
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const logBase = join(target.dir, 'logs');
    const args = ['recover', '--root', target.root, '--user', 'alice', '--password-file', target.passwordFile, '--log-dir', logBase, '--json'];
    const killed = await runBuiltCli('argo', args, {
      during: (pid) => {
        const poll = setInterval(() => {
          void readdir(logBase)
            .then((names) => readFile(join(logBase, names[0] as string, 'changes.json'), 'utf8'))
            .catch(() => '')
            .then(async (record) => {
              if (!record.includes('"cause": "nologin"') || (await stat(join(target.root, 'etc/nologin')).then(() => true, () => false))) return;
              clearInterval(poll);
              process.kill(pid, 'SIGKILL');
            });
        }, 5);
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(await sha(join(target.root, 'etc/shadow'))).toBe(shadowBefore);
    await target.unmountAll();
    holder.stdin.end();
    await new Promise((resolve) => holder.once('exit', resolve));

    const resumed = await runBuiltCli('argo', [...args, '--resume']);
    const report = reportOf(resumed);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(report.outcome).toBe('recovered');
    expect(report.causes.filter((cause) => ['nologin', 'account-expired'].includes(cause.id)).map((cause) => cause.status)).toEqual(['repaired', 'repaired']);
    const undo = await runBuiltCli('argo', ['recover', '--root', target.root, '--undo', report.runId, '--log-dir', logBase]);
    expect(undo.code, undo.stdout + undo.stderr).toBe(0);
    expect(await readFile(join(target.root, 'etc/nologin'), 'utf8')).toBe('maintenance\n');
    expect(await sha(join(target.root, 'etc/shadow'))).toBe(shadowBefore);
  });
});

describe('argo recover --undo trusts only records argo wrote', () => {
  it('refuses a changes.json a local user planted in /tmp/argo, and changes nothing', async () => {
    const target = await root();
    const victim = join(target.root, 'usr/bin/dash');
    const modeBefore = (await stat(victim)).mode & 0o7777;
    const runId = 'recovery-20300101T000000Z';
    const base = '/tmp/argo';
    await mkdir(base, { recursive: true, mode: 0o700 });
    const folder = join(base, runId);
    await mkdir(folder, { mode: 0o755 });
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const forged = { version: 1, runId, root: target.root, entries: [{ cause: 'x', path: '/usr/bin/dash', action: 'mode', summary: 'x', before: { mode: 0o4755, uid: 0, gid: 0 }, after: { mode: modeBefore, uid: 0, gid: 0 }, at: 'now' }] };
    await writeFile(join(folder, 'changes.json'), JSON.stringify(forged), { mode: 0o644 });
    await chown(join(folder, 'changes.json'), 65534, 65534);
    const undo = await runBuiltCli('argo', ['recover', '--root', target.root, '--undo', runId]);
    expect(undo.code).toBe(3);
    expect(undo.stderr).toContain('not trusted');
    expect((await stat(victim)).mode & 0o7777).toBe(modeBefore);
  });
});

describe("a lost PAM file comes back from its own package's binary package, only as CONTENTS recorded it", () => {
  /** sys-auth/pambase installed /etc/pam.d/common-auth (a vdb entry) and FEATURES=buildpkg kept its GPKG in PKGDIR. */
  async function withPambaseBinpkg(rootDir: string, shipped: string, recorded: string): Promise<string> {
    const vdb = join(rootDir, 'var/db/pkg/sys-auth/pambase-20220214');
    await mkdir(vdb, { recursive: true });
    const md5 = createHash('md5').update(recorded).digest('hex');
    await writeFile(join(vdb, 'CONTENTS'), `dir /etc/pam.d\nobj /etc/pam.d/common-auth ${md5} 1700000000\n`);
    await writeFile(join(vdb, 'BUILD_ID'), '1\n');
    const gpkg = await writeGpkg({
      basename: 'pambase-20220214-1',
      metadata: { CATEGORY: 'sys-auth\n', PF: 'pambase-20220214\n', BUILD_ID: '1\n' },
      image: [{ path: '/etc/pam.d/common-auth', mode: 0o644, data: shipped }],
      compression: 'zst',
      mtime: 1_700_000_000,
    });
    const file = join(rootDir, 'var/cache/binpkgs/sys-auth/pambase/pambase-20220214-1.gpkg.tar');
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, gpkg);
    return '/var/cache/binpkgs/sys-auth/pambase/pambase-20220214-1.gpkg.tar';
  }

  it('restores the exact file the package installed, and the login works', async () => {
    const target = await root();
    const original = await readFile(join(target.root, 'etc/pam.d/common-auth'), 'utf8');
    const binpkg = await withPambaseBinpkg(target.root, original, original);
    await rm(join(target.root, 'etc/pam.d/common-auth'));
    const result = await recover(target);
    const report = reportOf(result);
    expect(result.code, result.stderr).toBe(0);
    expect(report.causes.find((cause) => cause.id === 'pam-service-missing')).toMatchObject({ status: 'repaired', note: expect.stringContaining(binpkg) });
    expect(await readFile(join(target.root, 'etc/pam.d/common-auth'), 'utf8')).toBe(original);
    expect(await authenticates(target.root, 'alice', PASSWORD)).toBe(true);
  });

  it('does not take a copy whose md5 is not the one CONTENTS recorded (a newer or tampered package): exit 1, nothing written', async () => {
    const target = await root();
    const original = await readFile(join(target.root, 'etc/pam.d/common-auth'), 'utf8');
    await withPambaseBinpkg(target.root, 'auth sufficient pam_permit.so\n', original);
    await rm(join(target.root, 'etc/pam.d/common-auth'));
    const result = await recover(target);
    const report = reportOf(result);
    expect(result.code).toBe(1);
    expect(report.causes.find((cause) => cause.id === 'pam-service-missing')?.status).toBe('not-repaired');
    expect(await stat(join(target.root, 'etc/pam.d/common-auth')).then(() => true, () => false)).toBe(false);
  });
});

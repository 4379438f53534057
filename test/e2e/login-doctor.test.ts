import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyTarget, type TargetCopy } from '../support/debian-target.ts';
import { causeOf, chroot, PASSWORD, SCENARIOS, SEVERAL_CAUSES, type Report } from '../support/login-scenarios.ts';
import { runBuiltCli, type CliRun } from '../support/run-cli.ts';

/**
 * `argo recover` against each common cause of "nobody can log in", one real broken Debian root per cause
 * (Gentoo's files where they differ): the login is refused before, recover names the cause by its id and
 * repairs it with the smallest change, the login then works through the target's own PAM, and
 * `argo recover --undo RUN` puts the broken file back byte for byte.
 */

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

/** What a recovered login proves on the fixture: the console's login service, the shell, xdm's service, su. */
const PROOF = ['auth', 'account', 'session', 'shell', 'dm:xdm', 'su'];

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
    expect(report.login).toMatchObject({ ok: true, method: 'python-pam', proof: PROOF });
    expect(await loginWorks(target.root, user)).toBe(true);
    const summary = await readFile(join(report.logDir, 'summary.txt'), 'utf8');
    expect(summary).toMatch(new RegExp(`^RECOVERED: ${user} can log in again \\(proven: ${PROOF.join(', ')};`));
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
    await SEVERAL_CAUSES.break(target.root);
    const files = SEVERAL_CAUSES.files;
    const broken = await fingerprint(target.root, files);
    const listing = async (): Promise<string[]> => (await readdir(join(target.root, 'etc'))).sort();
    const etcBefore = await listing();
    expect(await loginWorks(target.root)).toBe(false);

    const dry = await recover(target, 'alice', ['--dry-run']);
    const dryReport = reportOf(dry);
    expect(dry.code, dry.stderr).toBe(0);
    expect(await fingerprint(target.root, files)).toEqual(broken);
    expect(await listing()).toEqual(etcBefore);
    const expected = SEVERAL_CAUSES.ids;
    for (const id of expected) expect(causeOf(dryReport, id)?.status, id).toBe('would-repair');
    expect(dryReport.changes.find((change) => change.path === '/etc/pam.d/login')?.diff).toMatch(/^\+# argo: pam_lastlog2\.so is not installed .*: session required pam_lastlog2\.so silent$/m);
    expect(dryReport.changes.some((change) => change.path === '/etc/shadow' && change.diff !== undefined)).toBe(false);
    expect(await readFile(join(dryReport.logDir, 'summary.txt'), 'utf8')).toContain('Files that would change:');

    const result = await recover(target);
    const report = reportOf(result);
    expect(result.code, result.stderr).toBe(0);
    for (const id of expected) expect(causeOf(report, id)?.status, id).toBe('repaired');
    expect(report.login.proof).toEqual(PROOF);
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

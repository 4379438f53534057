import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyTarget, installFakeEmerge, type TargetCopy } from '../support/debian-target.ts';
import { mountSnapshot } from '../support/mount-table.ts';
import { PROJECT, runBuiltCli, type CliRun } from '../support/run-cli.ts';

interface Report {
  outcome: string;
  login: { user: string; ok: boolean; method?: string; proof: string[]; warnings: string[] };
  resumed: boolean;
  nextSteps: string[];
  logDir: string;
  generatedPasswordFile?: string;
  phases: { id: string; status: string; reason?: string; pivots: { attempt: string; outcome: string; reason?: string }[] }[];
}

const targets: TargetCopy[] = [];
afterEach(async () => {
  for (const target of targets.splice(0)) await target.remove();
});

async function brokenTarget(emerge: Record<string, string>): Promise<TargetCopy & { passwordFile: string }> {
  const target = await copyTarget('broken');
  targets.push(target);
  await installFakeEmerge(target.root, emerge);
  const passwordFile = join(target.dir, 'password');
  await writeFile(passwordFile, 'correct horse\n', { mode: 0o600 });
  return { ...target, passwordFile };
}

function recover(target: { root: string; passwordFile: string }, extra: string[] = [], options: Parameters<typeof runBuiltCli>[2] = {}): Promise<CliRun> {
  return runBuiltCli('argo', ['recover', '--root', target.root, '--user', 'alice', '--password-file', target.passwordFile, '--json', ...extra], options);
}

function reportOf(run: CliRun): Report {
  try {
    return JSON.parse(run.stdout) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${run.code}):\n${run.stderr}`);
  }
}

const statuses = (report: Report) => Object.fromEntries(report.phases.map((phase) => [phase.id, phase.status]));

/** The attempts of libxcrypt-rebuild as [attempt, outcome] pairs, in the order they were tried. */
const rebuildPivots = (report: Report) =>
  (report.phases.find((phase) => phase.id === 'libxcrypt-rebuild')?.pivots ?? []).map((pivot) => [pivot.attempt, pivot.outcome]);
const rebuildPivotReason = (report: Report, index: number) => report.phases.find((phase) => phase.id === 'libxcrypt-rebuild')?.pivots[index]?.reason;

/** A real PAM login inside the target, as the incident's user would try it. */
async function pamLogin(root: string, password: string): Promise<number | null> {
  const child = spawn('chroot', [root, 'pamtester', 'login', 'alice', 'authenticate'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(`${password}\n`);
  return new Promise((resolve) => child.once('exit', resolve));
}

describe('argo recover on a really broken system', () => {
  it('repairs it with the binary package, proves a real PAM login, logs everything, and a second run has nothing to do', async () => {
    const target = await brokenTarget({ BINARY: 'ok' });
    const before = await mountSnapshot(target.root);
    expect(await pamLogin(target.root, 'correct horse')).not.toBe(0);

    const first = await recover(target);
    const report = reportOf(first);
    expect(first.code, first.stderr).toBe(0);
    expect(report.outcome).toBe('recovered');
    // Proven through the target's own PAM, each check named; nothing more is claimed.
    // xdm is the configured display manager: its service is proven too (the fixture has no /etc/pam.d/xdm, so
    // PAM runs `other` for it, which on Debian includes the common-* stacks).
    expect(report.login).toMatchObject({ user: 'alice', ok: true, method: 'python-pam', proof: ['auth', 'account', 'session', 'shell', 'dm:xdm', 'su'] });
    expect(statuses(report)).toMatchObject({
      diagnostics: 'succeeded',
      'process-cleanup': 'skipped',
      'libxcrypt-rebuild': 'succeeded',
      'login-repair': 'skipped',
      'password-reset': 'skipped',
      'pam-canary': 'succeeded',
      'display-manager': 'succeeded',
      'system-state': 'succeeded',
      summary: 'succeeded',
    });
    expect(await pamLogin(target.root, 'correct horse')).toBe(0);
    expect(report.logDir.startsWith(join(target.root, 'var/log/argo/recovery-'))).toBe(true);
    expect((await readdir(report.logDir)).sort()).toEqual(
      ['diagnostics.log', 'error-bundle.txt', 'main.log', 'pivots.log', 'report.json', 'state.json', 'summary.txt', 'system-state.log'].sort(),
    );
    expect(await readFile(join(report.logDir, 'summary.txt'), 'utf8')).toMatch(/^RECOVERED: alice can log in again \(proven: auth, account, session, shell, dm:xdm, su; through the target's PAM with python-pam\)/);
    expect(await readFile(join(report.logDir, 'system-state.log'), 'utf8')).toContain('crypt $6$: failure-token -> verifies');
    expect(await readlink(join(target.root, 'etc/runlevels/default/display-manager'))).toBe('/etc/init.d/display-manager');
    expect(await mountSnapshot(target.root)).toEqual(before);

    const second = await recover(target);
    expect(second.code).toBe(0);
    expect(reportOf(second).outcome).toBe('nothing-to-do');
    expect(await mountSnapshot(target.root)).toEqual(before);
  });

  it('with --dry-run diagnoses and lists what it would run, changing nothing', async () => {
    const target = await brokenTarget({ BINARY: 'ok' });
    const shadow = await readFile(join(target.root, 'etc/shadow'), 'utf8');
    const library = await readFile(join(target.root, 'usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0'));
    const logsBefore = await readdir(join(target.root, 'var/log/argo')).catch((error: NodeJS.ErrnoException) => error.code);
    const run = await recover(target, ['--dry-run']);
    const report = reportOf(run);
    expect(run.code, run.stderr).toBe(0);
    expect(statuses(report)).toMatchObject({ diagnostics: 'succeeded', 'libxcrypt-rebuild': 'succeeded', 'pam-canary': 'skipped' });
    expect(await readFile(join(target.root, 'etc/shadow'), 'utf8')).toBe(shadow);
    expect((await readFile(join(target.root, 'usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0'))).equals(library)).toBe(true);
    const log = await readFile(join(report.logDir, 'main.log'), 'utf8');
    const notRun = log.trim().split('\n').map((line) => JSON.parse(line) as { event?: string; argv?: string[] }).filter((record) => record.event === 'command.not-run');
    // Inside the target (the namespace wrapper ends with the command itself), and not run.
    expect(notRun.map((record) => record.argv?.slice(-5).join(' '))).toContain('emerge --oneshot --usepkgonly --getbinpkg sys-libs/libxcrypt');
    expect(notRun.every((record) => record.argv?.includes('argo-chroot'))).toBe(true);
    expect(await readFile(join(report.logDir, 'summary.txt'), 'utf8')).toMatch(/^DRY RUN: nothing was changed/);
    // Not even the logs go into the target.
    expect(report.logDir.startsWith('/tmp/argo/')).toBe(true);
    expect(await readdir(join(target.root, 'var/log/argo')).catch((error: NodeJS.ErrnoException) => error.code)).toEqual(logsBefore);
    expect(await pamLogin(target.root, 'correct horse')).not.toBe(0);
  });

  it('with --dry-run shows the pivot chain a real run would take (no binary package: the source build)', async () => {
    const target = await brokenTarget({ BINARY: 'missing', SOURCE: 'ok' });
    const library = await readFile(join(target.root, 'usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0'));
    const run = await recover(target, ['--dry-run']);
    const report = reportOf(run);
    expect(run.code, run.stderr).toBe(0);
    expect(rebuildPivots(report)).toEqual([
      ['binary-package', 'failed'],
      ['source-build', 'succeeded'],
    ]);
    expect((await readFile(join(target.root, 'usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0'))).equals(library)).toBe(true);
    expect(await readFile(join(report.logDir, 'pivots.log'), 'utf8')).toMatch(/binary-package failed because .*, trying source-build/);
  });

  it('pivots from a failing binary package to the source build, and says so', async () => {
    const target = await brokenTarget({ BINARY: 'fail', SOURCE: 'ok' });
    const run = await recover(target);
    const report = reportOf(run);
    expect(run.code).toBe(0);
    expect(rebuildPivots(report)).toEqual([
      ['binary-package', 'failed'],
      ['source-build', 'succeeded'],
    ]);
    expect(await readFile(join(report.logDir, 'pivots.log'), 'utf8')).toMatch(/libxcrypt-rebuild\/rebuild: binary-package failed because .*, trying source-build/);
  });

  // Ends in the manual build, which compiles libxcrypt: minutes on a loaded 2-core machine.
  it('does not trust a source build that honours the package.env which broke libcrypt: the crypt test catches it', { timeout: 900_000 }, async () => {
    const target = await brokenTarget({ BINARY: 'missing', SOURCE: 'ok', HONOR_PACKAGE_ENV: '1' });
    const run = await recover(target);
    const report = reportOf(run);
    expect(run.code, run.stderr).toBe(0);
    expect(rebuildPivots(report)).toEqual([
      ['binary-package', 'failed'],
      ['source-build', 'failed'],
      ['manual-build', 'succeeded'],
    ]);
    expect(rebuildPivotReason(report, 1)).toBe('after source-build libcrypt still cannot verify $6$');
    const summary = await readFile(join(report.logDir, 'summary.txt'), 'utf8');
    expect(summary).toContain('Remove the --enable-hashes override from /etc/portage/package.env');
  });

  // The manual build compiles libxcrypt: about 25 s alone, 260 s measured on 2 cores shared with three other test runs.
  it('kills a hanging source build at its inactivity limit and builds by hand from the distfile', { timeout: 900_000 }, async () => {
    const target = await brokenTarget({ BINARY: 'missing', SOURCE: 'hang' });
    // One limit for both builds: long enough for the manual build's quietest step (a configure check, one
    // compile) on a loaded machine, while the hanging source build prints nothing ever again.
    const run = await recover(target, ['--build-inactivity', '30']);
    const report = reportOf(run);
    expect(run.code, run.stderr).toBe(0);
    expect(rebuildPivots(report)).toEqual([
      ['binary-package', 'failed'],
      ['source-build', 'failed'],
      ['manual-build', 'succeeded'],
    ]);
    expect(rebuildPivotReason(report, 1)).toContain('printed nothing');
    expect(await pamLogin(target.root, 'correct horse')).toBe(0);
  });

  it('restores libcrypt from the newest snapshot whose copy passes the crypt test', async () => {
    const target = await brokenTarget({ BINARY: 'missing', SOURCE: 'fail' });
    await rm(join(target.root, 'var/cache/distfiles'), { recursive: true, force: true });
    const libdir = 'usr/lib/x86_64-linux-gnu';
    const base = (await (await import('../support/debian-target.ts')).fixtureEnv())['ARGO_FIXTURE_BASE'] as string;
    for (const [number, source] of [[3, join(base, libdir, 'libcrypt.so.1.1.0')], [4, join(target.root, libdir, 'libcrypt.so.1.1.0')]] as const) {
      const snapshotLib = join(target.root, `.snapshots/${number}/snapshot`, libdir);
      await mkdir(snapshotLib, { recursive: true });
      await writeFile(join(snapshotLib, 'libcrypt.so.1.1.0'), await readFile(source));
      await (await import('node:fs/promises')).symlink('libcrypt.so.1.1.0', join(snapshotLib, 'libcrypt.so.1'));
    }
    const run = await recover(target);
    const report = reportOf(run);
    expect(run.code, run.stderr).toBe(0);
    expect(rebuildPivots(report)).toEqual([
      ['binary-package', 'failed'],
      ['source-build', 'failed'],
      ['manual-build', 'failed'],
      ['snapshot-restore', 'succeeded'],
      ['snapshot /.snapshots/4/snapshot', 'failed'],
    ]);
  });

  it('resumes after SIGTERM in the middle of libxcrypt-rebuild, without a mount left behind', async () => {
    const target = await brokenTarget({ BINARY: 'missing', SOURCE: 'hang' });
    const before = await mountSnapshot(target.root);
    const interrupted = await recover(target, [], {
      during: (pid) => {
        const poll = setInterval(() => {
          void readFile(join(target.root, 'var/log/emerge.log'), 'utf8')
            .catch(() => '')
            .then((log) => {
              if (!log.includes('Compiling/Merging')) return;
              clearInterval(poll);
              try {
                process.kill(pid, 'SIGTERM');
              } catch {
                // it had already finished: the assertions below say so
              }
            });
        }, 100);
      },
    });
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain('Interrupted by SIGTERM; cleaning up');
    expect(reportOf(interrupted).nextSteps).toContain('The run was interrupted: run argo recover again with the same options and --resume (without --ask or -p) to continue where it stopped.');
    expect(statuses(reportOf(interrupted))).toMatchObject({ diagnostics: 'succeeded', 'libxcrypt-rebuild': 'failed', 'password-reset': 'skipped', summary: 'succeeded' });
    expect(await mountSnapshot(target.root)).toEqual(before);

    await installFakeEmerge(target.root, { BINARY: 'missing', SOURCE: 'ok' });
    const resumed = await recover(target, ['--resume']);
    const report = reportOf(resumed);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(report.resumed).toBe(true);
    expect(report.outcome).toBe('recovered');
    expect(await readFile(join(report.logDir, 'main.log'), 'utf8')).toContain('"event":"step.already-done","phase":"diagnostics"');
    expect(await mountSnapshot(target.root)).toEqual(before);
  });

  it('moves its logs to /tmp when the target log folder is read-only', async () => {
    const target = await brokenTarget({ BINARY: 'ok' });
    const logBase = join(target.root, 'var/log/argo');
    await mkdir(logBase, { recursive: true });
    const mounted = await runBuiltCliMount(['-t', 'tmpfs', '-o', 'ro,size=1m', 'argo-ro', logBase]);
    try {
      const run = await recover(target, ['--log-dir', logBase]);
      expect(run.code).toBe(1); // --log-dir names one base only: nothing else to pivot to
      expect(run.stderr).toContain('ARGO_LOG_DIR_UNAVAILABLE');
      const fallback = await recover(target);
      const report = reportOf(fallback);
      expect(fallback.code, fallback.stderr).toBe(0);
      expect(report.logDir.startsWith('/tmp/argo/recovery-')).toBe(true);
      expect(await readFile(join(report.logDir, 'main.log'), 'utf8')).toContain('"event":"log-dir.pivot"');
      await rm(report.logDir, { recursive: true, force: true });
    } finally {
      if (mounted) await runBuiltCliMount(['-u', logBase]);
    }
  });

  it('generates a password, shows it once, keeps it root-only, and never logs it', async () => {
    const target = await copyTarget('broken');
    targets.push(target);
    await installFakeEmerge(target.root, { BINARY: 'ok' });
    const run = await runBuiltCli('argo', ['recover', '--root', target.root, '--user', 'alice', '--generate-password', '--json'], { stdin: 'silent-pipe' });
    const report = reportOf(run);
    expect(run.code, run.stderr).toBe(0);
    const password = /New password for alice: (\S+)/.exec(run.stderr)?.[1] as string;
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(statuses(report)['password-reset']).toBe('succeeded');
    const file = report.generatedPasswordFile as string;
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toBe(password);
    expect(await pamLogin(target.root, password)).toBe(0);
    const shadowLine = (await readFile(join(target.root, 'etc/shadow'), 'utf8')).split('\n').find((line) => line.startsWith('alice:')) as string;
    const hash = shadowLine.split(':')[1] as string;
    for (const name of await readdir(report.logDir)) {
      if (name === 'generated-password') continue;
      const text = await readFile(join(report.logDir, name), 'utf8');
      expect(text, name).not.toContain(password);
      expect(text, name).not.toContain(hash.slice(3, 20));
    }
    expect(await readFile(join(target.root, 'etc/shadow-'), 'utf8')).not.toContain(hash);
  });

  it('leaves /etc/shadow whole, old or new, when killed with SIGKILL while it writes the password', async () => {
    const target = await brokenTarget({ BINARY: 'ok' });
    const original = await readFile(join(target.root, 'etc/shadow'), 'utf8');
    const others = (text: string) => text.split('\n').filter((line) => !line.startsWith('alice:'));
    const alice = (text: string) => text.split('\n').find((line) => line.startsWith('alice:')) as string;
    const outcomes = new Set<string>();
    // Kills at growing delays after the phase starts, and one right after argo logs the replaced file: the
    // rounds reach both sides of the rename however fast or loaded the machine is.
    const kills: { after: string; delay: number }[] = [
      ...[0, 5, 20, 80, 200, 400, 800].map((delay) => ({ after: '"event":"phase.started","phase":"password-reset"', delay })),
      { after: '"event":"file.replaced"', delay: 0 },
    ];
    for (const [round, { after, delay }] of kills.entries()) {
      await writeFile(target.passwordFile, `new password ${round}\n`);
      const logBase = join(target.dir, `logs-${round}`);
      await runBuiltCli('argo', ['recover', '--root', target.root, '--user', 'alice', '--password-file', target.passwordFile, '--log-dir', logBase], {
        during: (pid) => {
          // Kill it without warning a few milliseconds after the password-reset phase starts.
          const poll = setInterval(() => {
            void readdir(logBase)
              .then((names) => readFile(join(logBase, names[0] as string, 'main.log'), 'utf8'))
              .catch(() => '')
              .then((log) => {
                if (!log.includes(after)) return;
                clearInterval(poll);
                setTimeout(() => {
                  try {
                    process.kill(pid, 'SIGKILL');
                  } catch {
                    // it had already finished
                  }
                }, delay);
              });
          }, 2);
        },
      });
      const now = await readFile(join(target.root, 'etc/shadow'), 'utf8');
      expect(others(now)).toEqual(others(original));
      expect(alice(now)).toMatch(/^alice:\$6\$[^:]+:\d+:0:99999:7:::$/);
      outcomes.add(alice(now) === alice(original) ? 'old' : 'new');
      // A SIGKILLed run cannot unmount: take its mounts down before the next round, as an admin would.
      await target.unmountAll();
    }
    // Each round asserted a whole file above; across the rounds the kill landed both before and after the rename.
    expect([...outcomes].sort()).toEqual(['new', 'old']);
  }, 240_000); // eight whole recover runs: on one busy CPU, more than the default minute
});

/** mount/umount on the host for a test's own scratch mounts. */
async function runBuiltCliMount(args: string[]): Promise<boolean> {
  const command = args[0] === '-u' ? ['umount', args[1] as string] : args[0] === '--version' ? ['true'] : ['mount', ...args];
  const child = spawn(command[0] as string, command.slice(1), { stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code === 0)));
}

void PROJECT;

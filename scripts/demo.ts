/**
 * The main job on a sample: `argo recover` on a really broken system. The target is a Debian root shaped like a
 * Gentoo install whose logins broke the way the incident's did: libcrypt built without SHA512-crypt, so real
 * PAM refuses alice's right password. It gets a faithful fake emerge (Portage cannot run here) with a binary
 * package of a good libxcrypt, as a binhost would offer. The demo shows the lock-out, runs the recovery, shows
 * the login working and the report. The fixture cache is never modified: the target is an overlay of it.
 *
 * Run it as `bash scripts/demo.sh` (as root, from a clean clone): that prepares the machine and the fixtures
 * with scripts/setup.sh, then runs this with the project's Node.js.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installFakeEmerge } from '../test/chroot-fixtures/install-fake-emerge.ts';
import { copyTarget } from '../test/support/debian-target.ts';
import { withCleanup } from './lib/on-interrupt.ts';
import { $, input } from './lib/shell.ts';

const PROJECT = join(import.meta.dirname, '..');
const mountCount = (): number => readFileSync('/proc/self/mountinfo', 'utf8').trimEnd().split('\n').length;

interface Report {
  readonly outcome: string;
  readonly login: unknown;
  readonly causes: readonly { id: string; status: string }[];
  readonly phases: readonly { id: string; status: string; durationMs: number; reason?: string }[];
  readonly undo?: string;
}

// A private copy of the broken root (an overlay: the cache stays untouched).
const target = await copyTarget('broken');
const { root } = target;
process.exitCode = await withCleanup(() => target.remove()).run(async () => {
  await installFakeEmerge(root, ['BINARY=ok']);
  // And two more of the common causes on top, as a locked-out admin finds them: a maintenance nologin file left
  // behind, and an account whose expiry date passed.
  writeFileSync(join(root, 'etc/nologin'), 'System maintenance\n');
  await $`chroot ${root} chage -E 2020-01-01 alice`;
  const passwordFile = join(target.dir, 'password');
  writeFileSync(passwordFile, 'correct horse\n', { mode: 0o600 });

  const login = async (): Promise<boolean> =>
    (await input('correct horse\n', { nothrow: true, quiet: true })`chroot ${root} pamtester -I tty=tty1 login alice authenticate acct_mgmt`).exitCode === 0;
  console.log('\n== before: a real PAM login of alice with her right password');
  console.log((await login()) ? '   login works (unexpected: the fixture should be broken)' : '   REFUSED: nobody can log in');
  const mountsBefore = mountCount();

  console.log(`\n== argo recover --root ${root} --user alice --password-file ${passwordFile}`);
  const recover = await $({ stdio: ['ignore', 'inherit', 'inherit'], nothrow: true })`${process.execPath} ${join(PROJECT, 'dist/cli/argo.js')} recover --root ${root} --user alice --password-file ${passwordFile}`;
  const status = recover.exitCode ?? 1;
  console.log(`   (exit ${status})`);

  console.log('\n== after: the same login');
  console.log((await login()) ? '   login works' : '   still refused');
  console.log(`== host mount table: ${mountCount()} entries, ${mountsBefore} before the run`);
  const logs = join(root, 'var/log/argo');
  const latest = readdirSync(logs).filter((name) => name.startsWith('recovery-')).sort().at(-1);
  if (latest === undefined) throw new Error(`argo recover left no run folder under ${logs}`);
  const report = join(logs, latest);
  console.log(`== the run's log folder: ${report}/`);
  await $({ stdio: ['ignore', 'inherit', 'inherit'] })`ls -l ${report}`;
  console.log('== pivots.log:');
  process.stdout.write(readFileSync(join(report, 'pivots.log'), 'utf8'));
  console.log('== report.json (login, causes, phases):');
  const summary = JSON.parse(readFileSync(join(report, 'report.json'), 'utf8')) as Report;
  console.log(summary.outcome, JSON.stringify(summary.login));
  for (const cause of summary.causes) console.log(`   cause ${cause.id.padEnd(24)} ${cause.status}`);
  for (const phase of summary.phases) console.log(`   ${phase.id.padEnd(18)} ${phase.status.padEnd(10)} ${phase.durationMs} ms${phase.reason ? `  (${phase.reason})` : ''}`);
  if (summary.undo) console.log(`   undo: ${summary.undo}`);
  return status;
});

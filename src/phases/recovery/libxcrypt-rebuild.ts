import * as path from 'node:path/posix';
import { compareVersions } from '../../core/gentoo/compare-versions.ts';
import { ArgoError } from '../../core/errors.ts';
import { liveLibcrypt, restoreLibcryptFrom } from '../../login-path/restore-libcrypt.ts';
import { testCrypt, type CryptTestResult } from '../../login-path/test-crypt.ts';
import { createPrivateDirInside } from '../../system/private-dir.ts';
import type { RunOptions } from '../../system/run-command.ts';
import type { Attempt, Phase, StepContext } from '../types.ts';
import { skipUnlessNeeded, type DiagnosticsOutput, type RecoveryDeps } from './recovery-deps.ts';
import { emergeEnv } from '../../system/emerge-env.ts';
import { parseEmergeLog } from '../../core/gentoo/parse-emerge-log.ts';
import { cpOf } from '../../core/update/progress.ts';
import { startProgress } from '../../logging/progress.ts';

type Context = StepContext<RecoveryDeps>;

const MINUTE = 60_000;

/** The output of every attempt: which one fixed it and the crypt test afterwards. */
export interface RebuildOutput {
  readonly method: string;
  readonly crypt: CryptTestResult;
}

/** The prefixes the repair must make verify: $6$ and every method found in /etc/shadow. */
function prefixesToFix(context: Context): string[] {
  const diagnostics = context.outputOf<DiagnosticsOutput>('diagnostics/collect');
  return [...new Set(['$6$', ...(diagnostics?.before.hashPrefixesInUse ?? [])])];
}

/** After each attempt the real crypt test runs again; the attempt counts only if every prefix verifies. */
async function confirmRepaired(context: Context, method: string): Promise<RebuildOutput | { method: string; dryRun: true }> {
  // A dry run changed nothing, so there is nothing to confirm: the plan is the list of recorded commands.
  if (context.dryRun) return { method, dryRun: true };
  const crypt = await testCrypt(context.deps.system.commands, prefixesToFix(context), context.signal);
  if (!crypt.allOk) {
    const failing = crypt.results.filter((result) => !result.ok).map((result) => result.prefix);
    throw new ArgoError('ARGO_STEP_FAILED', `after ${method} libcrypt still cannot verify ${failing.join(' ') || 'anything (no crypt tool ran)'}`, {
      hint: 'The rebuilt library was configured without those hashes: look for EXTRA_ECONF in /etc/portage/package.env.',
      details: { method, failing },
    });
  }
  return { method, crypt };
}

function emergeOptions(context: Context, budgetMs: number, inactivityMs: number): RunOptions {
  return { signal: context.signal, budgetMs, inactivityMs, env: emergeEnv(context.deps.options.binhost), outputLevel: 'info' };
}

/**
 * A dry run runs nothing that changes the target, but it still asks emerge (`--pretend`, read-only) whether
 * this attempt could work at all, so that the dry run shows the pivot chain a real run would take.
 */
async function pretendInDryRun(context: Context, args: readonly string[], options: RunOptions): Promise<void> {
  if (!context.dryRun) return;
  await context.deps.system.commands.run('emerge', ['--pretend', ...args], { ...options, mutates: false });
}

/**
 * How long a libxcrypt build took here before: the median of its source builds in the target's emerge.log
 * (the ETA of this one); undefined when it was never built from source or the log cannot be read (an estimate
 * is no reason to fail a repair).
 */
async function pastBuildMs(context: Context): Promise<number | undefined> {
  let text: string | undefined;
  try {
    text = await context.deps.system.target.readTextIfExists('/var/log/emerge.log');
  } catch (error) {
    if (typeof (error as { code?: unknown }).code === 'string') return undefined;
    throw error;
  }
  const seconds = parseEmergeLog(text ?? '')
    .builds.filter((build) => !build.binary && cpOf(build.cpv) === 'sys-libs/libxcrypt')
    .map((build) => build.seconds)
    .sort((a, b) => a - b);
  return seconds.length === 0 ? undefined : (seconds[Math.floor(seconds.length / 2)] as number) * 1000;
}

/** Runs a build with a `progress` event every few seconds (elapsed, and the time left when emerge.log knows it). */
async function withProgress<T>(context: Context, task: string, expectedMs: number | undefined, build: () => Promise<T>): Promise<T> {
  if (context.dryRun) return build();
  using progress = startProgress(context.logger, { task, expectedMs, heartbeatMs: 2000 });
  const result = await build();
  progress.finish();
  return result;
}

const binaryPackage: Attempt<RecoveryDeps> = {
  id: 'binary-package',
  budgetMs: (deps) => Math.min(30 * MINUTE, deps.options.buildBudgetMs) + 5 * MINUTE,
  async run(context) {
    const { buildBudgetMs, buildInactivityMs } = context.deps.options;
    const options = emergeOptions(context, Math.min(30 * MINUTE, buildBudgetMs), Math.min(10 * MINUTE, buildInactivityMs));
    const args = ['--oneshot', '--usepkgonly', '--getbinpkg', 'sys-libs/libxcrypt'];
    await pretendInDryRun(context, args, options);
    await withProgress(context, 'libxcrypt binary package', undefined, () => context.deps.system.commands.run('emerge', args, options));
    return confirmRepaired(context, 'binary-package');
  },
};

const sourceBuild: Attempt<RecoveryDeps> = {
  id: 'source-build',
  // The build's own budget, plus time for the crypt test that follows it.
  budgetMs: (deps) => deps.options.buildBudgetMs + 5 * MINUTE,
  async run(context) {
    const { buildBudgetMs, buildInactivityMs } = context.deps.options;
    const options = emergeOptions(context, buildBudgetMs, buildInactivityMs);
    await pretendInDryRun(context, ['--oneshot', 'sys-libs/libxcrypt'], options);
    await withProgress(context, 'libxcrypt source build', await pastBuildMs(context), () => context.deps.system.commands.run('emerge', ['--oneshot', 'sys-libs/libxcrypt'], options));
    return confirmRepaired(context, 'source-build');
  },
};

/** The folder holding the target's libcrypt.so.1 now (the manual build installs there). */
async function libcryptDir(context: Context): Promise<string> {
  return (await liveLibcrypt(context.deps.system))?.dir ?? '/usr/lib64';
}

async function newestDistfile(context: Context): Promise<string> {
  const { target } = context.deps.system;
  const distdir = '/var/cache/distfiles';
  const names = (await target.isDirectory(distdir)) ? (await target.readdir(distdir)).map((entry) => entry.name) : [];
  const candidates = names
    .map((name) => /^libxcrypt-(\d[\w.]*)\.tar\.(?:xz|gz|bz2)$/.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .sort((a, b) => compareVersions(a[1] as string, b[1] as string));
  const newest = candidates.at(-1);
  if (newest === undefined) {
    throw new ArgoError('ARGO_FILE_NOT_FOUND', `No libxcrypt source tarball in ${distdir} of the target`, {
      hint: 'Copy libxcrypt-<version>.tar.xz from a mirror into /var/cache/distfiles and run again with --resume.',
    });
  }
  return path.join(distdir, newest[0]);
}

/** Scratch folders of the manual build: `/var/tmp/argo-libxcrypt-build-<pid>-<random>`, fresh for each attempt. */
const SCRATCH_PREFIX = 'argo-libxcrypt-build';

const manualBuild: Attempt<RecoveryDeps> = {
  id: 'manual-build',
  budgetMs: (deps) => deps.options.buildBudgetMs + 10 * MINUTE,
  async run(context) {
    const distfile = await newestDistfile(context);
    const libdir = await libcryptDir(context);
    // A fresh 0700 folder owned by root: a fixed name in /var/tmp could be planted (or a symlink) by a local
    // user, who could then swap a file of the build before `make install` puts it in the library folder.
    // A dry run creates nothing: the recorded commands name a folder of the same shape.
    const scratch = context.dryRun ? undefined : await createPrivateDirInside(context.deps.system.target, '/var/tmp', SCRATCH_PREFIX);
    const work = scratch?.inside ?? `/var/tmp/${SCRATCH_PREFIX}-dry-run`;
    const source = path.join(work, path.basename(distfile).replace(/\.tar\.\w+$/, ''));
    const { buildBudgetMs, buildInactivityMs } = context.deps.options;
    const build: RunOptions = { signal: context.signal, budgetMs: buildBudgetMs, inactivityMs: buildInactivityMs, outputLevel: 'info' };
    try {
      await withProgress(context, 'libxcrypt manual build', await pastBuildMs(context), () => buildInto(context, distfile, work, source, libdir, build));
    } finally {
      scratch?.remove();
    }
    return confirmRepaired(context, 'manual-build');
  },
};

/** Unpacks, configures, builds and installs libxcrypt from `distfile` in the private folder `work`. */
async function buildInto(context: Context, distfile: string, work: string, source: string, libdir: string, build: RunOptions): Promise<void> {
  const { commands } = context.deps.system;
  await commands.run('tar', ['--no-same-owner', '-xf', distfile, '-C', work], { signal: context.signal, budgetMs: 5 * MINUTE });
  // Every hash method, the glibc-compatible libcrypt.so.1, and the library folder the system uses now.
  await commands.run(
    'env',
    ['-C', source, './configure', '--prefix=/usr', `--libdir=${libdir}`, '--enable-hashes=all', '--enable-obsolete-api=glibc', '--disable-static', '--disable-xcrypt-compat-files'],
    build,
  );
  await commands.run('env', ['-C', source, 'make', '-j2'], build);
  await commands.run('env', ['-C', source, 'make', 'install'], build);
  await commands.run('ldconfig', [], { signal: context.signal, budgetMs: 5 * MINUTE, okExitCodes: [0, 1] });
}

/** Snapshots visible inside the target, newest first: snapper's `/.snapshots/<N>/snapshot`. */
async function snapshotRoots(context: Context): Promise<string[]> {
  const { target } = context.deps.system;
  if (!(await target.isDirectory('/.snapshots'))) return [];
  const numbers = (await target.readdir('/.snapshots'))
    .map((entry) => entry.name)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => b - a);
  const roots: string[] = [];
  for (const number of numbers) {
    const root = `/.snapshots/${number}/snapshot`;
    if (await target.isDirectory(root)) roots.push(root);
  }
  return roots;
}

const snapshotRestore: Attempt<RecoveryDeps> = {
  id: 'snapshot-restore',
  budgetMs: 10 * MINUTE,
  async run(context) {
    const snapshots = await snapshotRoots(context);
    if (snapshots.length === 0) {
      throw new ArgoError('ARGO_FILE_NOT_FOUND', 'No snapshot of the target was found under /.snapshots', { hint: 'Without a snapshot there is no known-good copy of libcrypt to restore.' });
    }
    // Restoring writes the library (and a copy of the old one): a dry run only says which snapshot it would try.
    if (context.dryRun) return { method: 'snapshot-restore', dryRun: true as const, from: snapshots };
    for (const snapshot of snapshots) {
      const result = await restoreLibcryptFrom(context.deps.system, snapshot, prefixesToFix(context), context.signal);
      if (result.restored) return confirmRepaired(context, 'snapshot-restore');
      context.notePivot({ attempt: `snapshot ${snapshot}`, outcome: 'failed', reason: result.reason, next: 'an older snapshot' });
    }
    throw new ArgoError('ARGO_STEP_FAILED', 'No snapshot holds a libcrypt that passes the crypt test', { details: { snapshots } });
  },
};

export const libxcryptRebuildPhase: Phase<RecoveryDeps> = {
  id: 'libxcrypt-rebuild',
  dependsOn: ['diagnostics'],
  skip: skipUnlessNeeded('libxcrypt-rebuild'),
  steps: [{ id: 'rebuild', budgetMs: 60 * MINUTE, attempts: [binaryPackage, sourceBuild, manualBuild, snapshotRestore] }],
};

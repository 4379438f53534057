import { computeCoverage } from '../../core/preflight/binhost-coverage.ts';
import { listBinrepos } from '../../core/gentoo/list-binrepos.ts';
import { parseBinreposConf } from '../../core/gentoo/parse-binrepos-conf.ts';
import { parsePackageUse } from '../../core/gentoo/parse-package-use.ts';
import { parsePackagesIndex } from '../../core/gentoo/parse-packages-index.ts';
import { resolvePackageUse } from '../../core/gentoo/resolve-package-use.ts';
import { findInstalled } from '../../core/gentoo/find-installed.ts';
import type { EmergePlanPackage } from '../../core/gentoo/parse-emerge-plan.ts';
import type { PackagesIndexEntry } from '../../core/gentoo/packages-index.ts';
import { fetchBinhostIndex } from '../../system/fetch-binhost-index.ts';
import { readConfigFiles } from '../../system/gentoo/read-config-files.ts';
import { readMakeConf } from '../../system/gentoo/read-make-conf.ts';
import { readVdb } from '../../system/gentoo/read-vdb.ts';
import type { Check, CheckContext } from '../types.ts';
import { readSwarmIndex, swarmProfile, unreachableSwarm } from './swarm-binhost.ts';

/** The binhosts the target would use: --binhost, else binrepos.conf, else PORTAGE_BINHOST, else the local PKGDIR. */
async function binhostsOf(context: CheckContext): Promise<string[]> {
  if (context.options.binhost !== undefined) return [context.options.binhost];
  const { target } = context.system;
  const makeConf = await readMakeConf(target);
  const confs = (await readConfigFiles(target, '/etc/portage/binrepos.conf')).map((file) => parseBinreposConf(file.text, { file: file.path }));
  const portageBinhost = makeConf.vars['PORTAGE_BINHOST'];
  const listed = listBinrepos(portageBinhost === undefined ? { confs } : { confs, portageBinhost });
  const urls = listed.repos.map((repo) => repo.syncUri).filter((uri) => uri !== '');
  return urls.length > 0 ? urls : [makeConf.vars['PKGDIR'] ?? '/var/cache/binpkgs'];
}

/** The indexes coverage is measured against: the swarm's production binhost with --swarm, else the target's binhosts. */
async function indexesOf(context: CheckContext): Promise<{ sources: string[]; entries: PackagesIndexEntry[] }> {
  const swarm = context.options.swarm;
  if (swarm !== undefined) {
    const index = await readSwarmIndex(swarm, await swarmProfile(swarm), 'binhost');
    return { sources: [index.present ? index.url : `${index.url} (no release yet)`], entries: [...index.entries] };
  }
  const entries: PackagesIndexEntry[] = [];
  const sources: string[] = [];
  for (const base of await binhostsOf(context)) {
    const fetched = await fetchBinhostIndex(base, context.system.target, context.signal);
    sources.push(fetched.url);
    entries.push(...parsePackagesIndex(fetched.text, { file: fetched.url }).packages);
  }
  return { sources, entries };
}

export const binhostCoverageCheck: Check = {
  id: 'binhost-coverage',
  budgetMs: 120_000,
  async run(context) {
    const plan = await context.plan();
    let indexes: { sources: string[]; entries: PackagesIndexEntry[] };
    try {
      indexes = await indexesOf(context);
    } catch (error) {
      if (context.options.swarm === undefined) throw error;
      return unreachableSwarm(error, context.options.swarm);
    }
    const { sources, entries } = indexes;
    const coverage = computeCoverage(plan.packages, entries, context.options.criticalPackages);
    const details = { total: coverage.total, available: coverage.available, missing: coverage.missing, percent: coverage.percent, criticalMissing: coverage.criticalMissing, reasons: coverage.reasons, binhosts: sources };
    const headline = `${coverage.available} of ${coverage.total} packages available as binaries (${coverage.percent}%)`;
    if (coverage.criticalMissing.length > 0) {
      return {
        status: 'fail',
        summary: `${headline}; critical packages would be compiled in place: ${coverage.criticalMissing.join(', ')}`,
        details,
        advice: 'Build them on the binhost first (build-swarm), or update them alone with apkg update --allow-compile after a snapshot.',
      };
    }
    if (coverage.missing.length > 0) {
      const named = coverage.missing.length <= 3 ? coverage.missing.join(', ') : `${coverage.missing.slice(0, 3).join(', ')} and ${coverage.missing.length - 3} more`;
      const advice = context.options.swarm === undefined ? {} : { advice: 'apkg update --request-builds asks the swarm to build them first.' };
      return { status: 'warn', summary: `${headline}; ${coverage.missing.length} would be compiled: ${named}`, details, ...advice };
    }
    return { status: 'pass', summary: headline, details };
  },
};

/** Words of the package.use/package.env lines that apply to libxcrypt, in the order Portage applies them. */
async function configFor(context: CheckContext, file: string): Promise<{ flags: string[]; lines: string[] }> {
  const files = await readConfigFiles(context.system.target, file);
  const entries = files.flatMap((config) => parsePackageUse(config.text, { file: config.path, useExpandGroups: file.endsWith('package.use') }).entries);
  const vdb = await readVdb(context.system.target);
  const installed = findInstalled(vdb, 'sys-libs/libxcrypt').at(-1);
  const resolved = resolvePackageUse(entries, installed ?? { cpv: 'sys-libs/libxcrypt-9999' });
  return { flags: [...resolved.flags], lines: resolved.entries.map((entry) => `${entry.file ?? file}:${entry.line}`) };
}

export const libxcryptPinCheck: Check = {
  id: 'libxcrypt-pin',
  budgetMs: 60_000,
  async run(context) {
    const { target } = context.system;
    const use = await configFor(context, '/etc/portage/package.use');
    const env = await configFor(context, '/etc/portage/package.env');
    const droppingEnv: string[] = [];
    for (const name of env.flags) {
      const text = (await target.readTextIfExists(`/etc/portage/env/${name}`)) ?? '';
      if (/--enable-hashes=/.test(text) && !/--enable-hashes=(?:\S*,)?(?:all|strong|glibc|sha512crypt)\b/.test(text)) droppingEnv.push(`/etc/portage/env/${name}`);
    }
    const makeConf = await readMakeConf(target);
    const globalEconf = makeConf.vars['EXTRA_ECONF'] ?? '';
    if (/--enable-hashes=/.test(globalEconf) && !/--enable-hashes=(?:\S*,)?(?:all|strong|glibc|sha512crypt)\b/.test(globalEconf)) droppingEnv.push('/etc/portage/make.conf EXTRA_ECONF');
    // The plan only adds the "USE would change" finding; without emerge the rest still stands.
    const plan = await context.plan().catch((error: unknown) => error as Error);
    const planError = plan instanceof Error ? plan.message : undefined;
    const planned = (plan instanceof Error ? [] : plan.packages).find((entry): entry is EmergePlanPackage => (entry.kind === 'ebuild' || entry.kind === 'binary') && entry.cpv.startsWith('sys-libs/libxcrypt-'));
    const changedFlags = planned?.use.filter((flag) => flag.changed || flag.added || flag.removed).map((flag) => `${flag.enabled ? '' : '-'}${flag.name}`) ?? [];
    const last = (flag: string): boolean | undefined => {
      let state: boolean | undefined;
      for (const word of use.flags) if (word === flag) state = true; else if (word === `-${flag}`) state = false;
      return state;
    };
    const details = { packageUse: use.lines, packageUseFlags: use.flags, packageEnv: env.flags, droppingHashes: droppingEnv, planned: planned?.cpv, changedFlags, planError };
    if (droppingEnv.length > 0) {
      return { status: 'fail', summary: `libxcrypt would be built without SHA512-crypt (${droppingEnv.join(', ')} sets --enable-hashes)`, details, advice: 'Remove that --enable-hashes override before updating: it is how logins broke last time.' };
    }
    if (changedFlags.length > 0) {
      return { status: 'fail', summary: `the update changes libxcrypt's USE (${changedFlags.join(' ')})`, details, advice: 'Pin it: echo "sys-libs/libxcrypt compat system" >> /etc/portage/package.use/libxcrypt' };
    }
    if (last('system') === false || last('compat') === false) {
      return { status: 'fail', summary: `package.use turns off libxcrypt's ${last('system') === false ? 'system' : 'compat'} flag`, details, advice: 'libxcrypt[system] must provide libcrypt.so; remove the -system/-compat setting.' };
    }
    if (last('system') !== true) {
      return { status: 'warn', summary: 'libxcrypt USE is not pinned (system and compat come from defaults)', details, advice: 'echo "sys-libs/libxcrypt compat system" >> /etc/portage/package.use/libxcrypt' };
    }
    if (planError !== undefined) {
      return { status: 'warn', summary: `libxcrypt is pinned, but the update plan could not be computed to see whether it changes (${planError})`, details };
    }
    return { status: 'pass', summary: 'libxcrypt keeps USE=system compat and its build keeps every hash', details };
  },
};

const GIB = 1024 ** 3;

export const diskSpaceCheck: Check = {
  id: 'disk-space',
  budgetMs: 60_000,
  async run(context) {
    const { target } = context.system;
    const makeConf = await readMakeConf(target);
    // Without a plan the minimums still apply: a full disk is no place to start any update.
    const plan = await context.plan().catch(() => undefined);
    const download = plan === undefined ? 0 : (plan.total?.downloadBytes ?? plan.packages.reduce((sum, entry) => sum + ('size' in entry ? (entry.size ?? 0) : 0), 0));
    const places = [
      { name: '/', path: '/', need: Math.max(2 * GIB, download * 2) },
      { name: 'PKGDIR', path: makeConf.vars['PKGDIR'] ?? '/var/cache/binpkgs', need: download },
      { name: 'PORTAGE_TMPDIR', path: makeConf.vars['PORTAGE_TMPDIR'] ?? '/var/tmp', need: Math.max(GIB, download * 3) },
    ];
    const measured = [];
    for (const place of places) {
      const stats = await target.statfs((await target.exists(place.path)) ? place.path : '/');
      measured.push({ ...place, free: stats.bavail * stats.bsize });
    }
    const short = measured.filter((place) => place.free < place.need);
    const details = { downloadBytes: download, planKnown: plan !== undefined, places: measured.map(({ name, path, free, need }) => ({ name, path, free, need })) };
    const gib = (bytes: number): string => `${(bytes / GIB).toFixed(1)} GiB`;
    if (short.length > 0) {
      return { status: 'fail', summary: `not enough space: ${short.map((place) => `${place.name} ${gib(place.free)} free, needs ${gib(place.need)}`).join('; ')}`, details, advice: 'Free space (eclean-dist, eclean-pkg, old kernels) before updating.' };
    }
    return { status: 'pass', summary: measured.map((place) => `${place.name} ${gib(place.free)} free`).join(', '), details };
  },
};

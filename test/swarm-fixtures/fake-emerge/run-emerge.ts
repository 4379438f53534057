/**
 * One run of `emerge --oneshot --buildpkg --usepkg --getbinpkg =CAT/PF` in PORTAGE_CONFIGROOT/ROOT: checks the
 * command line and the atom before it touches anything, resolves the merge list, then merges each package in
 * order (binaries fetched from the binhost, sources "built" by sleeping a scaled real build time), printing and
 * logging what Portage prints and logs. Returns the exit code.
 */

import { appendFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ArgoError } from '../../../src/core/errors.ts';
import { compareVersions } from '../../../src/core/gentoo/compare-versions.ts';
import { findMatches } from '../../../src/core/gentoo/match-atom.ts';
import { tryParseAtom, type Atom } from '../../../src/core/gentoo/parse-atom.ts';
import { tryParseCpv, type Cpv } from '../../../src/core/gentoo/parse-cpv.ts';
import { readGpkg } from '../../../src/core/gentoo/read-gpkg.ts';
import { buildSecondsLookup, scaledSeconds } from './build-durations.ts';
import type { Cleanup } from './cleanup.ts';
import { EmergeLog } from './emerge-log.ts';
import { withFileLock } from './file-lock.ts';
import { mergeToRoot, type InstallEntry, type MergeResult } from './merge-to-root.ts';
import { binpkgMetadata, stackIncremental, type BuildSettings, type SlotLookup } from './package-metadata.ts';
import { parseEmergeArgs, settleOptions, type EffectiveOptions } from './parse-emerge-args.ts';
import { Pkgdir } from './pkgdir.ts';
import { syncRepos } from './sync-repos.ts';
import { planMerges, type BinhostPackage, type PlannedMerge, type RepoPackage } from './plan-merges.ts';
import { fetchBinpkg, verifyBinpkg } from './fetch-binpkg.ts';
import {
  buildDirs,
  dieLines,
  digestFailureLines,
  digestSuccessLine,
  hideUrlPassword,
  malformedSizeMessage,
  NO_BINHOST_MESSAGE,
  emergingMessage,
  failedPackageLines,
  mergeMessage,
  phaseLinesAfterCompile,
  phaseLinesBeforeCompile,
  portageRoot,
  startedEmergeOn,
  statusLines,
} from './portage-messages.ts';
import { installedLookup, readBinhosts, readMd5Entry, repositoryLookup, toRepoPackage, type BinhostReading } from './read-packages.ts';
import { readSettings, SettingsProblem, type TargetSettings } from './read-settings.ts';

export interface RunEmergeOptions {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cleanup: Cleanup;
  /** Called once emerge.log is in use, so that a signal can log ` *** terminating.` to it. */
  readonly onLogOpened: (log: EmergeLog) => void;
}

/** argparse prints its usage block before `emerge: error:`; the chroot fake keeps Portage's, generated. */
const USAGE_FILE = fileURLToPath(new URL('../../chroot-fixtures/fake-emerge/usage.txt', import.meta.url));
/** A watchdog of a few seconds must never see a silent build: a compile line at least this often. */
const MAX_LINE_GAP_SECONDS = 0.25;
const BUILD_NOTE = 'argo-fake-build.txt';

function usageText(): string {
  try {
    const text = readFileSync(USAGE_FILE, 'utf8');
    return text.endsWith('\n') ? text : `${text}\n`;
  } catch {
    return 'usage: emerge [options] [atom ...]\n';
  }
}

/** The CPV of `=CAT/PF` (optionally `::gentoo`); anything else is not something this fake can satisfy. */
function targetCpv(atom: Atom): Cpv | undefined {
  if (atom.operator !== '=' || atom.version === undefined || atom.blocker !== undefined || atom.wildcard) return undefined;
  if (atom.slot !== undefined || atom.slotOperator !== undefined || atom.use.length > 0) return undefined;
  if (atom.repo !== undefined && atom.repo !== 'gentoo') return undefined;
  const cpv = tryParseCpv(`${atom.cp}-${atom.version.text}`);
  return cpv.ok ? cpv.value : undefined;
}

/** A binhost PATH must stay inside the binhost (a hostile index must not make the fake read or write elsewhere). */
function isCleanRelativePath(path: string | undefined): path is string {
  if (path === undefined || path === '' || path.startsWith('/')) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** The slot an `:=` atom binds to: that of the newest installed package matching it, read from the VDB now. */
function newestInstalled(root: string): SlotLookup {
  const installed = installedLookup(root);
  return (atom) => {
    const matches = findMatches({ ...atom, slotOperator: undefined }, installed(atom.cp));
    const best = matches.sort((a, b) => compareVersions(b.pvr, a.pvr))[0];
    return best === undefined ? undefined : { slot: best.slot, subSlot: best.subSlot };
  };
}

class Run {
  private readonly out: (line: string) => void;
  private readonly err: (line: string) => void;
  private readonly log: EmergeLog;
  private readonly pkgdir: Pkgdir;
  /** Real build seconds of a CATEGORY/PN (DURATIONS_LOG), if known. */
  private readonly durations: (cp: string) => number | undefined;
  private readonly buildSettings: BuildSettings;
  private readonly settings: TargetSettings;
  private readonly options: EffectiveOptions;
  private readonly cleanup: Cleanup;

  constructor(run: RunEmergeOptions, settings: TargetSettings, options: EffectiveOptions, log: EmergeLog, durations: (cp: string) => number | undefined) {
    this.out = (line) => run.stdout(`${line}\n`);
    this.err = (line) => run.stderr(`${line}\n`);
    this.cleanup = run.cleanup;
    this.settings = settings;
    this.options = options;
    this.log = log;
    this.durations = durations;
    const features = new Set(settings.features);
    if (options.buildpkg) features.add('buildpkg');
    else features.delete('buildpkg');
    this.buildSettings = {
      useTokens: settings.useTokens,
      features: [...features].sort(),
      ...(settings.chost === undefined ? {} : { chost: settings.chost }),
      ...(settings.cflags === undefined ? {} : { cflags: settings.cflags }),
      ...(settings.cxxflags === undefined ? {} : { cxxflags: settings.cxxflags }),
      ...(settings.ldflags === undefined ? {} : { ldflags: settings.ldflags }),
    };
    this.pkgdir = new Pkgdir(
      settings.pkgdir,
      {
        ...(settings.chost === undefined ? {} : { chost: settings.chost }),
        features: this.buildSettings.features,
        use: stackIncremental([settings.useTokens]),
        compressIndex: features.has('compress-index'),
      },
      run.cleanup,
    );
  }

  private status(message: string): void {
    for (const line of statusLines(message)) this.out(line);
  }

  private get root(): string {
    return portageRoot(this.settings.root);
  }

  async merge(merges: readonly PlannedMerge[]): Promise<number> {
    if (merges.some((merge) => merge.kind === 'source')) this.status('Verifying ebuild manifests');
    for (const [position, merge] of merges.entries()) {
      const ok = merge.kind === 'source' ? await this.buildFromSource(merge.pkg, merge.use, position + 1, merges.length) : await this.mergeBinary(merge.pkg, position + 1, merges.length);
      if (!ok) {
        await this.log.write(" *** exiting unsuccessfully with status '1'.");
        await this.log.write(' *** terminating.');
        return 1;
      }
    }
    await this.log.write(' *** Finished. Cleaning up...');
    await this.log.write(' *** exiting successfully.');
    await this.log.write(' *** terminating.');
    return 0;
  }

  private async buildFromSource(pkg: RepoPackage, use: readonly string[], index: number, total: number): Promise<boolean> {
    const cpv = pkg.parsed;
    const tag = `(${index} of ${total})`;
    const ebuild = posix.join(this.settings.repository, cpv.category, cpv.pn, `${cpv.pf}.ebuild`);
    const fake = this.settings.fake;
    const wantsBinpkg = this.options.buildpkg && !fake.noBinaryCpvs.has(cpv.cpv);
    const start = await this.log.write(` >>> emerge ${tag} ${cpv.cpv} to ${this.root}`);
    this.status(emergingMessage('source', index, total, cpv.cpv, this.settings.root));

    const dirs = buildDirs(cpv.category, cpv.pf);
    const tmpCategory = posix.join(this.settings.configRoot, 'var/tmp/portage', cpv.category);
    mkdirSync(tmpCategory, { recursive: true });
    return withFileLock(posix.join(tmpCategory, `.${cpv.pf}.argo-fake-emerge.lock`), this.cleanup, async () => {
      const buildDir = posix.join(tmpCategory, cpv.pf);
      const buildLog = posix.join(this.settings.configRoot, dirs.buildLog);
      this.cleanup.add(buildDir);
      rmSync(buildDir, { recursive: true, force: true });
      mkdirSync(posix.dirname(buildLog), { recursive: true });
      const emit = (line: string, stream: 'out' | 'err' = 'out'): void => {
        (stream === 'out' ? this.out : this.err)(line);
        appendFileSync(buildLog, `${line}\n`);
      };

      await this.log.write(` === ${tag} Cleaning (${cpv.cpv}::${ebuild})`);
      await this.log.write(` === ${tag} ${wantsBinpkg ? 'Compiling/Packaging' : 'Compiling/Merging'} (${cpv.cpv}::${ebuild})`);
      for (const line of phaseLinesBeforeCompile(dirs)) emit(line);

      const seconds = scaledSeconds(this.durations(cpv.cp) ?? fake.defaultSeconds, fake.timeScale, fake.minSeconds);
      const compiler = this.settings.chost === undefined ? 'gcc' : `${this.settings.chost}-gcc`;
      const flags = this.settings.cflags ?? '-O2 -pipe';
      const compileLine = (part: number): string => `${compiler} ${flags} -c -o ${cpv.pn}-part${part}.o ${cpv.pn}-part${part}.c`;
      if (fake.hangCpvs.has(cpv.cpv)) {
        emit(compileLine(1));
        // Silent until a signal ends the process: the case an inactivity watchdog exists for.
        await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
      }
      const lines = Math.max(2, Math.ceil(seconds / MAX_LINE_GAP_SECONDS));
      for (let part = 1; part <= lines; part += 1) {
        await sleep((seconds * 1000) / lines);
        emit(compileLine(part));
      }

      if (fake.fail === 'always' || fake.failCpvs.has(cpv.cpv)) {
        for (const line of dieLines(cpv.cpv, dirs)) emit(line, 'err');
        for (const line of failedPackageLines(cpv.cpv, this.settings.root, dirs)) this.out(line);
        // Portage keeps a failed build's directory (and its build.log) for the user to read.
        this.cleanup.forget(buildDir);
        return false;
      }
      for (const line of phaseLinesAfterCompile(cpv.cpv, dirs, wantsBinpkg)) emit(line);

      const buildTime = Math.floor(Date.now() / 1000);
      const note = new TextEncoder().encode(`${cpv.cpv} built by argo's fake emerge\nBUILD_TIME ${buildTime} (${new Date(buildTime * 1000).toISOString()})\n`);
      const notePath = `/usr/share/doc/${cpv.pf}/${BUILD_NOTE}`;
      const lookup = newestInstalled(this.settings.root);
      const metadataFor = (buildId: number | undefined): ReadonlyMap<string, string> =>
        binpkgMetadata(
          { cpv, entry: pkg.entry, use, buildTime, installedSize: note.byteLength, repository: 'gentoo', ...(buildId === undefined ? {} : { buildId }) },
          this.buildSettings,
          lookup,
        );
      const written = wantsBinpkg
        ? await this.pkgdir.addBuiltPackage(cpv, {
            metadata: metadataFor,
            image: [{ path: notePath, mode: 0o644, data: note }],
            compression: this.settings.compression,
            buildTime,
          })
        : undefined;

      await this.log.write(` === ${tag} Merging (${cpv.cpv}::${ebuild})`);
      const image: InstallEntry[] = [
        ...['/usr', '/usr/share', '/usr/share/doc', `/usr/share/doc/${cpv.pf}`].map((path): InstallEntry => ({ path, type: 'dir', mode: 0o755, mtime: buildTime })),
        { path: notePath, type: 'file', mode: 0o644, data: note, mtime: buildTime },
      ];
      await this.install(cpv, written?.metadata ?? metadataFor(undefined), written?.md5, image, index, total);
      await this.log.write(` === ${tag} Post-Build Cleaning (${cpv.cpv}::${ebuild})`);
      rmSync(buildDir, { recursive: true, force: true });
      this.cleanup.forget(buildDir);
      const end = await this.log.write(` ::: completed emerge ${tag} ${cpv.cpv} to ${this.root}`);
      await this.log.record({ cpv: cpv.cpv, kind: 'source', start, end, ...(written === undefined ? {} : { buildId: written.buildId }), pid: process.pid });
      this.status(mergeMessage('Completed', index, total, cpv.cpv, this.settings.root));
      return true;
    });
  }

  private async mergeBinary(pkg: BinhostPackage, index: number, total: number): Promise<boolean> {
    const tag = `(${index} of ${total})`;
    const fields = pkg.fields;
    const start = await this.log.write(` >>> emerge ${tag} ${pkg.cpv} to ${this.root}`);
    this.status(emergingMessage('binary', index, total, pkg.cpv, this.settings.root));
    const failed = (): false => {
      for (const line of statusLines(`Failed to emerge ${pkg.cpv}${this.settings.root === '/' ? '' : ` for ${this.root}`}`)) this.out(line);
      return false;
    };
    if (!isCleanRelativePath(fields.PATH)) {
      this.err(`!!! The binhost index ${hideUrlPassword(pkg.binhost.uri)} gives ${pkg.cpv} no usable PATH: ${JSON.stringify(fields.PATH ?? '')}`);
      return failed();
    }
    const path = fields.PATH;
    const local = posix.join(this.settings.pkgdir, path);
    // BinpkgFetcher fetches to `<allocated path>.partial` and Binpkg logs that name.
    const partial = `${local}.partial`;
    await this.log.write(` --- ${tag} Fetching Binary (${pkg.cpv}::${partial})`);
    await mkdir(posix.dirname(local), { recursive: true });
    // distlocks: one fetcher per file at a time.
    const lock = posix.join(posix.dirname(local), `.${posix.basename(partial)}.argo-fake-emerge.lock`);
    const fetched = await withFileLock(lock, this.cleanup, async (): Promise<{ binpkg: string; bytes: Uint8Array } | undefined> => {
      this.cleanup.add(partial);
      try {
        if (!(await fetchBinpkg(pkg.base, path, fields, partial, this.out))) return undefined;
        const bytes = await readFile(partial);
        const verdict = verifyBinpkg(fields, bytes);
        if (verdict.kind === 'failed') {
          for (const line of digestFailureLines(partial, verdict.digest, verdict.got, verdict.expected)) this.out(line);
          return undefined;
        }
        if (verdict.kind === 'unchecked' && verdict.malformedSize) this.err(malformedSizeMessage(pkg.cpv).trimEnd());
        if (verdict.kind === 'verified') this.out(digestSuccessLine(posix.basename(local), verdict.digests));
        return { binpkg: await this.pkgdir.addFetchedPackage(partial, fields), bytes };
      } finally {
        // Gone once renamed; after a failure Portage keeps it (see README), the fake leaves nothing in PKGDIR.
        await rm(partial, { force: true });
        this.cleanup.forget(partial);
      }
    });
    if (fetched === undefined) return failed();
    const { binpkg, bytes } = fetched;
    await this.log.write(` === ${tag} Merging Binary (${pkg.cpv}::${binpkg})`);
    this.out('>>> Extracting info');
    let gpkg;
    try {
      gpkg = await readGpkg(bytes, { imageData: true, strict: true });
    } catch (error) {
      if (!(error instanceof ArgoError)) throw error;
      this.err(`!!! ${error.message}`);
      return failed();
    }
    this.out(`>>> Extracting ${pkg.cpv}`);
    const metadata = new Map<string, string>();
    for (const [key, value] of gpkg.metadata) if (typeof value === 'string') metadata.set(key, value);
    const image = gpkg.image.flatMap((entry): InstallEntry[] => {
      if (entry.type === 'directory') return [{ path: entry.path, type: 'dir', mode: entry.mode, mtime: entry.mtime }];
      if (entry.type === 'file') return [{ path: entry.path, type: 'file', mode: entry.mode, data: entry.data ?? new Uint8Array(), mtime: entry.mtime }];
      if (entry.type === 'symlink') return [{ path: entry.path, type: 'symlink', mode: entry.mode, target: entry.linkTarget ?? '', mtime: entry.mtime }];
      return [];
    });
    const parsed = pkg.parsed;
    await this.install(parsed, metadata, createHash('md5').update(bytes).digest('hex'), image, index, total);
    await this.log.write(` === ${tag} Post-Build Cleaning (${pkg.cpv}::${binpkg})`);
    const end = await this.log.write(` ::: completed emerge ${tag} ${pkg.cpv} to ${this.root}`);
    const buildId = Number.parseInt(fields.BUILD_ID ?? '', 10);
    const buildTime = Number.parseInt(fields.BUILD_TIME ?? '', 10);
    await this.log.record({
      cpv: pkg.cpv,
      kind: 'binary',
      start,
      end,
      ...(Number.isNaN(buildId) ? {} : { buildId }),
      ...(Number.isNaN(buildTime) ? {} : { binhostBuildTime: buildTime }),
      pid: process.pid,
    });
    this.status(mergeMessage('Completed', index, total, pkg.cpv, this.settings.root));
    return true;
  }

  /** PackageMerge + vartree `merge`: the Installing status, the merge output and the AUTOCLEAN records. */
  private async install(cpv: Cpv, metadata: ReadonlyMap<string, string>, binpkgMd5: string | undefined, image: readonly InstallEntry[], index: number, total: number): Promise<MergeResult> {
    this.status(mergeMessage('Installing', index, total, cpv.cpv, this.settings.root));
    const result = await mergeToRoot(
      {
        root: this.settings.root,
        cpv,
        metadata,
        ...(binpkgMd5 === undefined ? {} : { binpkgMd5 }),
        image,
      },
      this.cleanup,
    );
    this.out(`>>> Merging ${cpv.cpv} to ${this.root}`);
    for (const line of result.contents) {
      const [kind, path] = line.split(' ');
      this.out(kind === 'dir' ? `--- ${path}/` : `>>> ${path}`);
    }
    for (const path of result.skipped) this.err(`!!! argo fake emerge: not installing ${path}: a folder on its way in ${this.root} is a symlink`);
    const slot = (metadata.get('SLOT') ?? '0').trim().split('/')[0] || '0';
    await this.log.write(` >>> AUTOCLEAN: ${cpv.cp}:${slot}`);
    for (const old of result.replaced) {
      this.out('>>> Safely unmerging already-installed instance...');
      await this.log.write(` === Unmerging... (${old})`);
      await this.log.write(` >>> unmerge success: ${old}`);
      this.out('>>> Original instance of package unmerged safely.');
    }
    this.out(`>>> ${cpv.cpv} merged.`);
    return result;
  }
}

export async function runEmerge(run: RunEmergeOptions): Promise<number> {
  if (run.argv.length === 1 && run.argv[0] === '--sync') return syncRepos(run.env, run.stdout, run.stderr);
  const parsed = parseEmergeArgs(run.argv);
  if (!parsed.ok) {
    run.stderr(`${usageText()}emerge: error: ${parsed.message}\n`);
    return 2;
  }
  const args = parsed.args;

  let settings: TargetSettings;
  try {
    settings = await readSettings(run.env);
  } catch (error) {
    if (!(error instanceof SettingsProblem)) throw error;
    run.stderr(`!!! ${error.message}\n`);
    return 1;
  }

  // The atom is checked before anything is written: a refused atom leaves the roots untouched.
  const atom = tryParseAtom(args.atom);
  if (!atom.ok) {
    run.stderr(`!!! '${args.atom}' is not a valid package atom.\n!!! Please check ebuild(5) for full details.\n`);
    return 1;
  }
  const cpv = targetCpv(atom.value);
  const entry = cpv === undefined ? undefined : await readMd5Entry(settings.repository, cpv);
  if (cpv === undefined || entry === undefined) {
    run.stderr(`\nemerge: there are no ebuilds to satisfy "${args.atom}".\n`);
    return 1;
  }

  let durations = (_cp: string): number | undefined => undefined;
  if (settings.fake.durationsLog !== undefined) {
    try {
      durations = buildSecondsLookup(await readFile(settings.fake.durationsLog, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      run.stderr(`!!! DURATIONS_LOG=${settings.fake.durationsLog} does not exist\n`);
      return 1;
    }
  }
  const options = settleOptions(args, settings.features);
  // run_action populates the binary tree (fetching the binhosts' indexes) before it logs `Started emerge on`.
  if (options.getbinpkg && settings.binhosts.length === 0) run.stderr(NO_BINHOST_MESSAGE);
  const binhosts: BinhostReading = options.getbinpkg ? await readBinhosts(settings.binhosts) : { packages: [], problems: [] };
  for (const problem of binhosts.problems) run.stderr(problem);
  if (binhosts.fatal !== undefined) {
    run.stderr(binhosts.fatal);
    return 1;
  }

  const log = new EmergeLog(settings.root, run.cleanup);
  await log.write(startedEmergeOn(new Date()));
  run.onLogOpened(log);
  await log.write(` *** emerge ${[...options.logWords, args.atom].join(' ')}`);
  const began = performance.now();
  run.stdout('Calculating dependencies ...');
  const merges = await planMerges(toRepoPackage(cpv, entry), {
    repository: repositoryLookup(settings.repository),
    binhost: (cp) => binhosts.packages.filter((pkg) => pkg.parsed.cp === cp),
    installed: installedLookup(settings.root),
    useTokens: settings.useTokens,
  });
  run.stdout(' done!\n');
  run.stdout(`Dependency resolution took ${((performance.now() - began) / 1000).toFixed(2)} s.\n\n`);

  const runner = new Run(run, settings, options, log, durations);
  return runner.merge(merges);
}

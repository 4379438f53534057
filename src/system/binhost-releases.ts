/**
 * The release store of the swarm gateway. A profile's staging binhost becomes a release: a complete folder of
 * hard links with its own index, `DATA/releases/<binhost>/<id>/`, built under a temporary name and renamed into
 * place once everything in it is on disk. `DATA/production/<binhost>` is a relative symlink to the release
 * clients get, switched by renaming a new symlink over it (one rename(2): there is never a moment without one).
 * Readers therefore see one complete release or the next, never an index listing a file that is not there;
 * a client that read an index just before a switch still downloads from the releases kept after it.
 *
 * Layout and invariants (docs/SWARM.md, "Publishing"):
 * - a folder named like a release id is complete: it gets that name (from `<id>.tmp-<hex>`) only once its files
 *   and index are synced, and loses it (back to a `.tmp-` name) before it is deleted; the `.tmp-` leftovers of
 *   a killed run go at the next finalize;
 * - package file names are never reused with other content, so any kept release's copy of a path is right
 *   (finalize refuses a staged file under a name a kept release uses for another file);
 * - finalize and rollback of one binhost take its lock, so they never interleave.
 */

import { createHash, randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { type FileHandle, link, lstat, mkdir, open, readdir, readFile, readlink, realpath, rename, rm, stat, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ArgoError, isArgoError } from '../core/errors.ts';
import { formatPackagesIndex } from '../core/gentoo/format-packages-index.ts';
import { gzipPackagesIndex } from '../core/gentoo/packages-index-gzip.ts';
import type { PackagesIndex, PackagesIndexEntry } from '../core/gentoo/packages-index.ts';
import { parsePackagesIndex } from '../core/gentoo/parse-packages-index.ts';
import { tryParseCpv } from '../core/gentoo/parse-cpv.ts';
import { newestPerSlot, slotKeyOf } from '../core/swarm/release-selection.ts';
import { removeStaleTemporaries, temporaryNamePattern } from './atomic-write.ts';
import { isMissing } from './fs-errors.ts';
import { lockTarget, type TargetLock } from './target-lock.ts';
import { rebuildStagingIndex } from './staging-store.ts';

/** Releases kept by default: the current one and the two before it. */
export const DEFAULT_KEEP = 3;
/** How long finalize or rollback waits for another run on the same binhost to finish. */
export const DEFAULT_LOCK_WAIT_MS = 5 * 60_000;

/** The points between finalize's steps, in order; `afterStep` runs at each (a test crashes the run there). */
export const FINALIZE_STEPS = ['planned', 'linked', 'indexed', 'renamed', 'switched', 'pruned'] as const;
export type FinalizeStep = (typeof FINALIZE_STEPS)[number];

/** `20261129T221500Z-a1b2c3`: the UTC second it was made, then 6 random hex digits. */
const RELEASE_ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;
/** A release being built (`<id>.tmp-<hex>`) or deleted; never served, removed by the next finalize. */
const RELEASE_LEFTOVER = /^\d{8}T\d{6}Z-[0-9a-f]{6}\.tmp-[0-9a-f]{12}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** What a release says about itself (`release.json`). */
const ReleaseRecordSchema = z.object({
  id: z.string().regex(RELEASE_ID),
  /** Creation order: ids sort by second only, and the clock may step back. */
  sequence: z.number().int().positive(),
  createdAt: z.string(),
  binhost: z.string(),
  /** The staging folder it was made from, relative to the data folder. */
  staging: z.string(),
  cycle: z.string().optional(),
  /** The verify risk score finalize was given. */
  score: z.number().optional(),
  /** Why finalize was forced past verify, when it was. */
  forced: z.string().optional(),
  packages: z.number().int().nonnegative(),
  /** The release production pointed at when this one was made. */
  previous: z.string().optional(),
});
export type ReleaseRecord = z.infer<typeof ReleaseRecordSchema>;

export interface ReleaseMeta {
  readonly cycle?: string;
  readonly score?: number;
  readonly forced?: string;
}

interface BinhostTarget {
  /** The gateway's data folder (`staging/`, `releases/`, `production/`). */
  readonly data: string;
  /** A profile's binhost path: `desktop`, `amd64/desktop`. */
  readonly binhost: string;
}

interface LockedRunOptions extends BinhostTarget {
  readonly logger: Logger;
  /** Default DEFAULT_LOCK_WAIT_MS. */
  readonly lockWaitMs?: number;
  readonly signal?: AbortSignal;
}

export interface FinalizeOptions extends LockedRunOptions {
  /** Releases to keep, the new one included; at least 2. Default 3. */
  readonly keep?: number;
  readonly meta?: ReleaseMeta;
  readonly now?: () => Date;
  readonly afterStep?: (step: FinalizeStep) => void | Promise<void>;
  /**
   * Judges the exact release before anything is linked, under the lock (so no upload lands between the judgement
   * and the switch): throws to refuse, returns what to record. `meta` is used when there is no gate.
   */
  readonly gate?: (plan: ReleasePlan) => Promise<ReleaseMeta>;
}

/** The packages a finalize would publish: every entry of the new index, and which of them come from staging. */
export interface ReleasePlan {
  readonly packages: readonly PackagesIndexEntry[];
  readonly staged: readonly PackagesIndexEntry[];
  /** Packages of the current release kept (staging provides nothing in their slot). */
  readonly carried: readonly PackagesIndexEntry[];
}

export interface Finalized {
  readonly release: string;
  /** The release production pointed at before, if any. */
  readonly previous: string | undefined;
  readonly packages: number;
  /** Release ids deleted. */
  readonly pruned: readonly string[];
}

export interface RollbackOptions extends LockedRunOptions {
  /** The release to switch to; default the one made before the current one. */
  readonly to?: string;
}

export interface RolledBack {
  readonly release: string;
  readonly previous: string | undefined;
}

export interface ListedRelease {
  readonly id: string;
  readonly current: boolean;
  readonly record: ReleaseRecord;
}

interface Layout {
  readonly data: string;
  readonly binhost: string;
  readonly staging: string;
  /** The folder holding this binhost's releases. */
  readonly releases: string;
  /** The production symlink. */
  readonly production: string;
  readonly lockDir: string;
}

/** An index entry and the folder its file is linked from. */
interface PlannedPackage {
  readonly entry: PackagesIndexEntry;
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly from: 'staging' | 'production';
}

/**
 * Publishes staging: a new release holding every staged package plus every package of the current release whose
 * (category/pn, SLOT) staging does not provide, then production switched to it and old releases pruned.
 * Production is left as it was when anything fails before the switch (ARGO_FILE_NOT_FOUND for a listed file
 * that is missing, ARGO_INDEX_INVALID for a size or SHA256 that does not match its index).
 */
export async function finalizeRelease(options: FinalizeOptions): Promise<Finalized> {
  const keep = options.keep ?? DEFAULT_KEEP;
  if (!Number.isInteger(keep) || keep < 2) {
    throw new ArgoError('ARGO_INVALID_INPUT', `Cannot keep ${keep} releases`, {
      hint: 'Keep at least 2: a client that read the previous index still downloads its files from the previous release.',
      details: { keep },
    });
  }
  const layout = layoutOf(options);
  const afterStep = options.afterStep ?? (() => undefined);
  await using _lock = await lockBinhost(layout, 'finalize', options);
  await removeLeftovers(layout);
  const releases = await readReleases(layout);
  const previous = await readCurrent(layout);
  const { header, packages, stagedIndex } = await planRelease(layout, previous);
  // Nothing built since the current release: finalize again is a no-op (a script re-running it after a lost
  // answer must not make a copy that prunes a real rollback target).
  if (previous !== undefined && stagedIndex.length === 0) return { release: previous, previous, packages: packages.length, pruned: [] };
  const meta = options.gate === undefined ? options.meta : await options.gate(releasePlanOf(packages));
  await afterStep('planned');

  const createdAt = (options.now ?? (() => new Date()))();
  const id = releaseIdAt(createdAt);
  const record: ReleaseRecord = {
    id,
    sequence: Math.max(0, ...releases.map((release) => release.record.sequence)) + 1,
    createdAt: createdAt.toISOString(),
    binhost: layout.binhost,
    staging: relative(layout.data, layout.staging),
    ...definedMeta(meta),
    packages: packages.length,
    ...(previous === undefined ? {} : { previous }),
  };
  const building = join(layout.releases, `${id}.tmp-${randomBytes(6).toString('hex')}`);
  const built = join(layout.releases, id);
  let renamed = false;
  try {
    await mkdir(building, { mode: 0o755 });
    await linkPackages(layout, previous, building, packages, releases.map((release) => release.id));
    await afterStep('linked');
    const index = { header, packages: packages.map((planned) => planned.entry) };
    await writeReleaseFiles(building, index, record, createdAt);
    await afterStep('indexed');
    await rename(building, built);
    renamed = true;
    await syncFolder(layout.releases);
    await afterStep('renamed');
    await switchProduction(layout, id);
    await afterStep('switched');
  } catch (error) {
    await discardUnpublished(layout, renamed ? built : building, id);
    throw error;
  }
  await consumeStaging(layout, stagedIndex);
  const pruned = await pruneReleases(layout, keep, id, previous);
  await afterStep('pruned');
  return { release: id, previous, packages: packages.length, pruned };
}

/** What finalize would publish now, without publishing it (the preview verify judges). */
export async function planNextRelease(target: BinhostTarget): Promise<ReleasePlan> {
  const layout = layoutOf(target);
  return releasePlanOf((await planRelease(layout, await readCurrent(layout))).packages);
}

function releasePlanOf(packages: readonly PlannedPackage[]): ReleasePlan {
  return {
    packages: packages.map((item) => item.entry),
    staged: packages.filter((item) => item.from === 'staging').map((item) => item.entry),
    carried: packages.filter((item) => item.from === 'production').map((item) => item.entry),
  };
}

/**
 * Once published, staging's builds are the release's (hard links): they leave staging, so the next finalize
 * publishes only what was built since, a rollback is not undone by the builds it rolled back, and old builds
 * do not pile up. Only what this finalize read is removed: an upload that landed meanwhile stays.
 */
async function consumeStaging(layout: Layout, stagedIndex: readonly PackagesIndexEntry[]): Promise<void> {
  for (const entry of stagedIndex) {
    const path = entry.fields['PATH'] ?? '';
    if (!isRelativeFilePath(path)) continue;
    await rm(join(layout.staging, `${path}.stanza.json`), { force: true });
    await rm(join(layout.staging, path), { force: true });
  }
  await rebuildStagingIndex(layout.staging);
}

/**
 * Switches production to `to`, or to the release made just before the current one. Refuses with
 * ARGO_INVALID_INPUT, naming the releases there are, when there is no such release.
 */
export async function rollbackRelease(options: RollbackOptions): Promise<RolledBack> {
  const layout = layoutOf(options);
  await using _lock = await lockBinhost(layout, 'rollback', options);
  const releases = await readReleases(layout);
  const current = await readCurrent(layout);
  const target = options.to === undefined ? releaseBefore(releases, current) : releases.find((release) => release.id === options.to);
  if (target === undefined) throw nothingToRollBackTo(layout, releases, current, options.to);
  if (target.id !== current) await switchProduction(layout, target.id);
  return { release: target.id, previous: current };
}

/** The complete releases of a binhost, newest first. Folders without a readable release.json or Packages are not releases. */
export async function listReleases(target: BinhostTarget): Promise<ListedRelease[]> {
  const layout = layoutOf(target);
  const current = await readCurrent(layout);
  return (await readReleases(layout)).map((release) => ({ ...release, current: release.id === current }));
}

/**
 * The host path of `path` (as a client requests it, relative to the binhost) in the current release, else in
 * the newest other release that has it; undefined when none has it as a regular file inside its own folder.
 * Refuses (ARGO_INVALID_INPUT) a path that is absolute or has `.`, `..` or empty segments, a NUL or a backslash.
 * Decoding `%2e` and the like is the caller's job.
 */
export async function resolveReleaseFile(request: BinhostTarget & { readonly path: string }): Promise<string | undefined> {
  const layout = layoutOf(request);
  if (!isRelativeFilePath(request.path)) {
    throw new ArgoError('ARGO_INVALID_INPUT', `Refusing to serve ${JSON.stringify(request.path)} from binhost ${layout.binhost}`, {
      hint: 'Ask for a path relative to the binhost, without . or .. segments, backslashes or NUL.',
      details: { binhost: layout.binhost },
    });
  }
  const releasesRoot = await realpathIfExists(layout.releases);
  if (releasesRoot === undefined) return undefined;
  const current = await readCurrent(layout);
  const others = (await releaseFolderNames(layout)).filter((id) => id !== current).reverse();
  for (const id of current === undefined ? others : [current, ...others]) {
    const found = await resolveInside(join(releasesRoot, id), request.path);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** As the swarm configuration allows a profile's `binhost_path`: relative, no `.` or `..` segment. */
function isBinhostPath(path: string): boolean {
  return /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(path) && !path.split('/').some((part) => part === '.' || part === '..');
}

function isRelativeFilePath(path: string): boolean {
  if (path === '' || path.includes('\0') || path.includes('\\') || path.startsWith('/')) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

function layoutOf(target: BinhostTarget): Layout {
  if (!isBinhostPath(target.binhost)) {
    throw new ArgoError('ARGO_INVALID_INPUT', `Not a binhost path: ${JSON.stringify(target.binhost)}`, {
      hint: "A profile's binhost_path is relative, without . or .. segments.",
    });
  }
  const data = resolve(target.data);
  return {
    data,
    binhost: target.binhost,
    staging: join(data, 'staging', target.binhost),
    releases: join(data, 'releases', target.binhost),
    production: join(data, 'production', target.binhost),
    lockDir: join(data, 'locks'),
  };
}

/**
 * Takes the binhost's lock (target-lock's flock, keyed by its releases folder), waiting while another finalize
 * or rollback holds it. The kernel drops a killed holder's lock, so a crash never blocks the next run.
 */
async function lockBinhost(layout: Layout, command: string, options: LockedRunOptions): Promise<TargetLock> {
  await mkdir(layout.releases, { recursive: true, mode: 0o755 });
  const deadline = performance.now() + (options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
  for (let wait = 10; ; wait = Math.min(wait * 2, 500)) {
    try {
      return await lockTarget(layout.releases, `${command} ${layout.binhost}`, { logger: options.logger, lockDir: layout.lockDir });
    } catch (error) {
      if (!isArgoError(error, 'ARGO_TARGET_LOCKED') || performance.now() + wait > deadline) throw error;
    }
    await delay(wait, undefined, options.signal === undefined ? {} : { signal: options.signal });
  }
}

/** What a run killed mid-way left: release folders being built or deleted, and production symlinks not yet renamed. Call with the lock held. */
async function removeLeftovers(layout: Layout): Promise<void> {
  for (const name of await readdir(layout.releases)) {
    if (RELEASE_LEFTOVER.test(name)) await rm(join(layout.releases, name), { recursive: true, force: true });
  }
  try {
    await removeStaleTemporaries(dirname(layout.production), temporaryNamePattern(basename(layout.production)));
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
}

/** Release ids with a folder, oldest first by id (to the second). */
async function releaseFolderNames(layout: Layout): Promise<string[]> {
  try {
    return (await readdir(layout.releases)).filter((name) => RELEASE_ID.test(name)).sort();
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

/** Every complete release (a real folder with a valid release.json and a Packages), newest first. */
async function readReleases(layout: Layout): Promise<{ id: string; record: ReleaseRecord }[]> {
  const releases: { id: string; record: ReleaseRecord }[] = [];
  for (const id of await releaseFolderNames(layout)) {
    const folder = join(layout.releases, id);
    if (!(await isRealFolder(folder))) continue;
    const record = await readRecord(join(folder, 'release.json'));
    if (record === undefined || record.id !== id || !(await isRegularFile(join(folder, 'Packages')))) continue;
    releases.push({ id, record });
  }
  return releases.sort((a, b) => b.record.sequence - a.record.sequence);
}

async function readRecord(file: string): Promise<ReleaseRecord | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  try {
    const parsed = ReleaseRecordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** The release production points at, or undefined when there is no production symlink yet. */
async function readCurrent(layout: Layout): Promise<string | undefined> {
  let target: string;
  try {
    target = await readlink(layout.production);
  } catch (error) {
    if (isMissing(error)) return undefined;
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
    throw notAReleaseLink(layout, 'it is not a symbolic link');
  }
  const id = basename(target);
  if (!RELEASE_ID.test(id) || resolve(dirname(layout.production), target) !== join(layout.releases, id)) {
    throw notAReleaseLink(layout, `it points at ${target}`);
  }
  return id;
}

function notAReleaseLink(layout: Layout, reason: string): ArgoError {
  return new ArgoError('ARGO_INVALID_INPUT', `${layout.production} is not a link to a release of ${layout.binhost}: ${reason}`, {
    hint: `Move it away; production must be a symlink to ../releases/${layout.binhost}/<id> (rollback --to <id> makes one).`,
    details: { path: layout.production, binhost: layout.binhost },
  });
}

/** Staging's packages, then the current release's packages in a (category/pn, SLOT) that staging does not provide. */
async function planRelease(layout: Layout, current: string | undefined): Promise<{ header: PackagesIndex['header']; packages: PlannedPackage[]; stagedIndex: readonly PackagesIndexEntry[] }> {
  const staged = await readIndex(join(layout.staging, 'Packages'), 'Nothing is staged: run a build cycle for this profile first.');
  const planned = newestPerSlot(staged.packages).map((entry) => planPackage(entry, 'staging', layout.staging));
  if (current !== undefined) {
    const released = await readIndex(join(layout.releases, current, 'Packages'), `Roll back to a complete release (rollback --to <id>), then finalize again.`);
    const provided = new Set(planned.map((item) => slotKeyOf(item.entry)));
    for (const entry of released.packages) {
      if (!provided.has(slotKeyOf(entry))) planned.push(planPackage(entry, 'production', join(layout.releases, current)));
    }
  }
  const paths = new Set<string>();
  for (const item of planned) {
    if (paths.has(item.path)) throw invalidEntry(item.entry, layout.staging, `PATH ${item.path} is listed twice`);
    paths.add(item.path);
  }
  return { header: staged.header, packages: planned, stagedIndex: staged.packages };
}

async function readIndex(file: string, hintWhenMissing: string): Promise<PackagesIndex> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (!isMissing(error)) throw error;
    throw new ArgoError('ARGO_FILE_NOT_FOUND', `There is no index ${file}; production is unchanged`, { hint: hintWhenMissing, details: { path: file } });
  }
  const index = parsePackagesIndex(text, { file });
  // A line or stanza Portage ignores would leave clients with another package list than the one checked here.
  const ignored = index.diagnostics.find((diagnostic) => diagnostic.action === 'ignored');
  if (ignored !== undefined) {
    throw new ArgoError('ARGO_INDEX_INVALID', `${file} line ${ignored.line ?? '?'}: ${ignored.message}; production is unchanged`, {
      hint: 'Rebuild the index from its packages (upload again), then finalize again.',
      details: { path: file, line: ignored.line },
    });
  }
  return index;
}

function planPackage(entry: PackagesIndexEntry, from: PlannedPackage['from'], folder: string): PlannedPackage {
  const path = entry.fields['PATH'] ?? '';
  const size = entry.fields['SIZE'] ?? '';
  // Portage drops SHA256 on read (not one of its index keys), so the parser keeps it aside.
  const sha256 = entry.fields['SHA256'] ?? entry.droppedFields['SHA256'] ?? '';
  if (!isRelativeFilePath(path)) throw invalidEntry(entry, folder, `PATH ${JSON.stringify(path)} is not a relative path inside the binhost`);
  if (!/^\d+$/.test(size)) throw invalidEntry(entry, folder, `SIZE ${JSON.stringify(size)} is not a byte count`);
  if (!SHA256_HEX.test(sha256)) throw invalidEntry(entry, folder, `SHA256 ${JSON.stringify(sha256)} is not a SHA-256 digest`);
  if (!tryParseCpv(entry.fields['CPV'] ?? '').ok) throw invalidEntry(entry, folder, 'its CPV is not valid');
  return { entry, path, size: Number(size), sha256, from };
}


function invalidEntry(entry: PackagesIndexEntry, folder: string, reason: string): ArgoError {
  const cpv = entry.fields['CPV'] ?? '?';
  return new ArgoError('ARGO_INDEX_INVALID', `The index of ${folder} lists ${cpv}, but ${reason}; production is unchanged`, {
    hint: 'Rebuild the index from its packages (upload again), then finalize again.',
    details: { folder, cpv },
  });
}

/**
 * Links every planned file into the release being built, then checks the linked file itself (a regular file
 * of the listed SIZE, and for staged files the listed SHA256 and a name no kept release uses for another file):
 * what is checked is what gets published. Released files were checked when their release was made.
 */
async function linkPackages(layout: Layout, current: string | undefined, building: string, packages: readonly PlannedPackage[], releases: readonly string[]): Promise<void> {
  const roots = {
    staging: await realpathIfExists(layout.staging),
    production: current === undefined ? undefined : join(await realpath(layout.releases), current),
  };
  const folders = new Set<string>([building]);
  for (const item of packages) {
    const root = roots[item.from];
    const label = item.from === 'staging' ? layout.staging : join(layout.releases, current ?? '');
    const source = root === undefined ? undefined : await resolveInside(root, item.path);
    if (source === undefined) throw missingPackage(item, label);
    const target = join(building, item.path);
    for (let folder = dirname(target); folder !== building; folder = dirname(folder)) folders.add(folder);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    try {
      await link(source, target);
    } catch (error) {
      throw linkFailed(item, label, building, error);
    }
    const linked = await checkLinked(target, item, label);
    if (item.from === 'staging') await checkNameUnused(layout, releases, item, linked);
  }
  for (const folder of folders) await syncFolder(folder);
}

async function checkLinked(file: string, item: PlannedPackage, label: string): Promise<Stats> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw missingPackage(item, label);
    if (stats.size !== item.size) throw mismatch(item, label, `is ${stats.size} bytes, but the index lists SIZE ${item.size}`);
    if (item.from !== 'staging') return stats;
    const sha256 = await hashOpenFile(handle);
    if (sha256 !== item.sha256) throw mismatch(item, label, `has SHA256 ${sha256}, but the index lists ${item.sha256}`);
    return stats;
  } finally {
    await handle.close();
  }
}

/**
 * resolveReleaseFile serves a path from any kept release, which is right only while a name is never reused for
 * other content. The gateway picks names unused in staging; this catches one reused after staging was emptied.
 */
async function checkNameUnused(layout: Layout, releases: readonly string[], item: PlannedPackage, linked: Stats): Promise<void> {
  for (const id of releases) {
    const other = join(layout.releases, id, item.path);
    let stats: Stats;
    try {
      stats = await lstat(other);
    } catch (error) {
      if (isMissing(error)) continue;
      throw error;
    }
    if (stats.dev === linked.dev && stats.ino === linked.ino) continue;
    if (stats.isFile() && stats.size === item.size && (await hashFile(other)) === item.sha256) continue;
    throw new ArgoError('ARGO_INDEX_INVALID', `${join(layout.staging, item.path)} is a new build under a name release ${id} uses for another file; production is unchanged`, {
      hint: "Clients holding that release's index would download the wrong file. Stage the build as PF-N.gpkg.tar with an N no release uses, then finalize again.",
      details: { path: item.path, release: id, cpv: item.entry.fields['CPV'] },
    });
  }
}

async function hashFile(file: string): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await hashOpenFile(handle);
  } finally {
    await handle.close();
  }
}

async function hashOpenFile(handle: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of handle.createReadStream({ autoClose: false, start: 0 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function missingPackage(item: PlannedPackage, folder: string): ArgoError {
  return new ArgoError('ARGO_FILE_NOT_FOUND', `${join(folder, item.path)} is listed in ${join(folder, 'Packages')} but is not there; production is unchanged`, {
    hint: item.from === 'staging' ? 'Upload the package again (or rebuild it), then finalize again.' : 'Restore the file in that release, or roll back to another release, then finalize again.',
    details: { path: join(folder, item.path), cpv: item.entry.fields['CPV'] },
  });
}

function mismatch(item: PlannedPackage, folder: string, reason: string): ArgoError {
  return new ArgoError('ARGO_INDEX_INVALID', `${join(folder, item.path)} ${reason}; production is unchanged`, {
    hint: 'The file or its index changed after the upload: upload the package again (or rebuild it), then finalize again.',
    details: { path: join(folder, item.path), cpv: item.entry.fields['CPV'] },
  });
}

function linkFailed(item: PlannedPackage, folder: string, building: string, cause: unknown): ArgoError {
  const code = (cause as NodeJS.ErrnoException).code;
  return new ArgoError('ARGO_FILE_WRITE_FAILED', `Cannot link ${join(folder, item.path)} into the new release; production is unchanged`, {
    cause,
    hint: code === 'EXDEV' ? 'Keep staging/ and releases/ on one filesystem: a release is made of hard links.' : 'See the cause; fix it and finalize again.',
    details: { path: join(folder, item.path), release: building, errno: code },
  });
}

/** release.json, then Packages.gz and Packages last (clients read Packages.gz first), all synced with their folder. */
async function writeReleaseFiles(building: string, index: PackagesIndex, record: ReleaseRecord, createdAt: Date): Promise<void> {
  const text = formatPackagesIndex(index, { refreshHeaderAt: createdAt });
  await writeNewFile(join(building, 'release.json'), `${JSON.stringify(record, null, 2)}\n`);
  await writeNewFile(join(building, 'Packages.gz'), gzipPackagesIndex(text, { mtime: createdAt.getTime() / 1000 }));
  await writeNewFile(join(building, 'Packages'), text);
  await syncFolder(building);
}

/** A file no one else can see yet (the release folder is still under its temporary name): written and synced. */
async function writeNewFile(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A new symlink at a temporary name renamed over the old one: production is never missing, not for a moment. */
async function switchProduction(layout: Layout, id: string): Promise<void> {
  const folder = dirname(layout.production);
  await mkdir(folder, { recursive: true, mode: 0o755 });
  const temporary = join(folder, `.${basename(layout.production)}.argo-${randomBytes(6).toString('hex')}`);
  await symlink(relative(folder, join(layout.releases, id)), temporary);
  try {
    await rename(temporary, layout.production);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await syncFolder(folder);
}

/**
 * After a failure, removes the release being built, or the built one if production does not point at it (the
 * switch may have happened before a later step failed). What cannot be removed now goes at the next finalize.
 */
async function discardUnpublished(layout: Layout, folder: string, id: string): Promise<void> {
  try {
    if (basename(folder) === id && (await readCurrent(layout)) === id) return;
    await rm(folder, { recursive: true, force: true });
  } catch {
    // The run's own error is the one to report; a release folder nobody points at is harmless until then.
  }
}

/**
 * Keeps the current release, the one it replaced (clients may still be downloading what its index listed) and
 * the newest others up to `keep`. A release goes by a rename to a `.tmp-` name first, so a run killed while
 * deleting never leaves a half-deleted folder under a release id.
 */
async function pruneReleases(layout: Layout, keep: number, current: string, previous: string | undefined): Promise<string[]> {
  const releases = await readReleases(layout);
  const kept = new Set([current, ...(previous === undefined ? [] : [previous])]);
  for (const release of releases) {
    if (kept.size >= keep) break;
    kept.add(release.id);
  }
  const doomed: string[] = [];
  const pruned: string[] = [];
  for (const release of releases) {
    if (kept.has(release.id)) continue;
    const trash = join(layout.releases, `${release.id}.tmp-${randomBytes(6).toString('hex')}`);
    await rename(join(layout.releases, release.id), trash);
    doomed.push(trash);
    pruned.push(release.id);
  }
  if (doomed.length > 0) await syncFolder(layout.releases);
  for (const trash of doomed) await rm(trash, { recursive: true, force: true });
  return pruned;
}

function releaseBefore(releases: readonly { id: string; record: ReleaseRecord }[], current: string | undefined): { id: string; record: ReleaseRecord } | undefined {
  const sequence = releases.find((release) => release.id === current)?.record.sequence;
  if (sequence === undefined) return undefined;
  return releases.find((release) => release.record.sequence < sequence);
}

function nothingToRollBackTo(layout: Layout, releases: readonly { id: string }[], current: string | undefined, to: string | undefined): ArgoError {
  const names = releases.map((release) => (release.id === current ? `${release.id} (current)` : release.id));
  const existing = names.length === 0 ? 'there are no releases' : `releases: ${names.join(', ')}`;
  const message =
    to !== undefined
      ? `There is no complete release ${to} of ${layout.binhost} (${existing}); production is unchanged`
      : current === undefined
        ? `Production of ${layout.binhost} points at no release, so there is nothing to roll back from (${existing})`
        : `There is no release of ${layout.binhost} older than the current one, ${current} (${existing}); production is unchanged`;
  return new ArgoError('ARGO_INVALID_INPUT', message, {
    hint: names.length === 0 ? 'Finalize a release first.' : 'Name one of the releases listed with rollback --to <id>.',
    details: { binhost: layout.binhost, current, releases: releases.map((release) => release.id) },
  });
}

/**
 * The real path of `relativePath` under `root` (a folder whose own path has no symlink in it), if it is a regular
 * file there. A symlink anywhere on the way that leads outside `root` makes it not found.
 */
async function resolveInside(root: string, relativePath: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(join(root, relativePath));
  } catch (error) {
    if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ELOOP') return undefined;
    throw error;
  }
  if (!real.startsWith(`${root}${sep}`)) return undefined;
  return (await isRegularFile(real)) ? real : undefined;
}

/** A folder itself, not a symlink to one; false when it is gone (a finalize may be pruning it). */
async function isRealFolder(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

async function realpathIfExists(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function releaseIdAt(time: Date): string {
  const stamp = time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

function definedMeta(meta: ReleaseMeta | undefined): Pick<ReleaseRecord, 'cycle' | 'score' | 'forced'> {
  return {
    ...(meta?.cycle === undefined ? {} : { cycle: meta.cycle }),
    ...(meta?.score === undefined ? {} : { score: meta.score }),
    ...(meta?.forced === undefined ? {} : { forced: meta.forced }),
  };
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

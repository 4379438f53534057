import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { isMissing } from '../system/fs-errors.ts';
import { lstatIfExists, type RootedFs } from '../system/rooted-fs.ts';
import { comparePaths } from './parse-snapper-status.ts';
import type { SnapshotChange } from './types.ts';

/** Inode number of the empty directory that stands in a snapshot for a nested subvolume (BTRFS_EMPTY_SUBVOL_DIR_OBJECTID). */
const EMPTY_SUBVOLUME_INO = 2;

export interface ChangeListOptions {
  readonly signal?: AbortSignal | undefined;
  /**
   * Called once for each path left out because a name on it is not UTF-8: paths are strings here, so such a
   * name (shown with U+FFFD) cannot be looked at, compared or restored.
   */
  readonly onUnrepresentable?: ((path: string) => void) | undefined;
}

/**
 * Compares two trees of one btrfs subvolume (two read-only snapshots, or a snapshot and the live
 * subvolume) and returns every path that was created, deleted or modified from `older` to `newer`, with
 * paths relative to the tree tops (`/etc/hostname`). Like snapper: a directory counts as modified only
 * when its type, mode or owner changed, not because its entries did; a file when its type, mode, owner,
 * size or content changed (not its times or xattrs). Unchanged inodes of a snapshot keep their inode number
 * and ctime, so content is read only for files whose inode data differs. Nested subvolumes, other mounts and
 * `/.snapshots` are not entered; names that are not UTF-8 are left out (`onUnrepresentable`).
 */
export async function diffTrees(older: RootedFs, newer: RootedFs, options: ChangeListOptions = {}): Promise<SnapshotChange[]> {
  const walk = await startWalk(older, newer, options);
  await compareDirectory(walk, '/');
  return walk.changes.sort((a, b) => comparePaths(a.path, b.path));
}

export interface CandidateOptions extends ChangeListOptions {
  /**
   * The other names, in `tree`, of the file at `rel` (its link count is above one): a change of its inode is a
   * change under each of its names, and a list of changed paths may name only one of them.
   */
  readonly otherNames?: ((tree: RootedFs, rel: string, stats: Stats) => Promise<readonly string[]>) | undefined;
}

/** Paths looked at in parallel; file contents are compared four at a time (each comparison holds both files). */
const STAT_CONCURRENCY = 16;
const READ_CONCURRENCY = 4;

/**
 * The change list of `diffTrees`, with the same rules, for trees known to differ at most at `candidates` (and
 * below those that were created, deleted or changed type, which are listed whole): what btrfs send names.
 * Nothing else is walked.
 */
export async function compareCandidates(older: RootedFs, newer: RootedFs, candidates: readonly string[], options: CandidateOptions = {}): Promise<SnapshotChange[]> {
  const walk = await startWalk(older, newer, options);
  const stats = await statCandidates(walk, candidates, options.otherNames);
  const listed = new Set<string>();
  const same: string[] = [];
  for (const rel of [...stats.keys()].sort(comparePaths)) {
    walk.signal?.throwIfAborted();
    if (hasAncestorIn(rel, listed)) continue;
    const [before, after] = stats.get(rel) as StatPair;
    if (isBoundary(before, walk.olderDev) || isBoundary(after, walk.newerDev)) listed.add(rel);
    else if (before === undefined || after === undefined || typeOf(before) !== typeOf(after)) {
      if (await compareEntry(walk, rel, before, after)) listed.add(rel);
    } else if (before.isDirectory() && before.ino !== after.ino) {
      // Another folder took this name (folders swapped): its entries came with it, and no list names them.
      await compareEntry(walk, rel, before, after);
      await compareDirectory(walk, rel);
      listed.add(rel);
    } else same.push(rel);
  }
  // What remains exists on both sides with one type; comparing it reads no folder, so order does not matter.
  const modified = await mapConcurrently(same, READ_CONCURRENCY, async (rel) => {
    walk.signal?.throwIfAborted();
    const [before, after] = stats.get(rel) as [Stats, Stats];
    return isModified(walk, rel, before, after);
  });
  same.forEach((rel, index) => {
    if (modified[index]) walk.changes.push({ path: rel, status: 'modified' });
  });
  return walk.changes.sort((a, b) => comparePaths(a.path, b.path));
}

type StatPair = readonly [Stats | undefined, Stats | undefined];

/** lstat of every candidate on both sides, plus the other names of files with several (and theirs). */
async function statCandidates(walk: TreeWalk, candidates: readonly string[], otherNames: CandidateOptions['otherNames']): Promise<Map<string, StatPair>> {
  const stats = new Map<string, StatPair>();
  const resolved = new Set<string>();
  const wanted = (rel: string): boolean => rel !== '/' && rel !== '/.snapshots' && !rel.startsWith('/.snapshots/') && !stats.has(rel);
  let pending = [...new Set(candidates)].filter(wanted);
  while (pending.length > 0) {
    const pairs = await mapConcurrently(pending, STAT_CONCURRENCY, async (rel): Promise<StatPair> => {
      walk.signal?.throwIfAborted();
      return Promise.all([lstatIfExists(walk.older, rel), lstatIfExists(walk.newer, rel)]);
    });
    pending.forEach((rel, index) => stats.set(rel, pairs[index] as StatPair));
    const next = new Set<string>();
    if (otherNames !== undefined) {
      for (const [index, rel] of pending.entries()) {
        for (const [side, tree, stat] of [['older', walk.older, pairs[index]?.[0]], ['newer', walk.newer, pairs[index]?.[1]]] as const) {
          if (stat === undefined || stat.isDirectory() || stat.nlink < 2 || resolved.has(`${side}:${stat.ino}`)) continue;
          resolved.add(`${side}:${stat.ino}`);
          for (const other of await otherNames(tree, rel, stat)) if (wanted(other)) next.add(other);
        }
      }
    }
    pending = [...next];
  }
  return stats;
}

/** `work` over `items` with at most `limit` running at once; results in the order of `items`. */
async function mapConcurrently<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

interface TreeWalk {
  readonly older: RootedFs;
  readonly newer: RootedFs;
  readonly olderDev: number;
  readonly newerDev: number;
  readonly changes: SnapshotChange[];
  readonly signal: AbortSignal | undefined;
  readonly unrepresentable: Set<string>;
  readonly onUnrepresentable: ((path: string) => void) | undefined;
}

async function startWalk(older: RootedFs, newer: RootedFs, options: ChangeListOptions): Promise<TreeWalk> {
  return {
    older,
    newer,
    olderDev: (await older.lstat('/')).dev,
    newerDev: (await newer.lstat('/')).dev,
    changes: [],
    signal: options.signal,
    unrepresentable: new Set(),
    onUnrepresentable: options.onUnrepresentable,
  };
}

function hasAncestorIn(rel: string, folders: ReadonlySet<string>): boolean {
  for (let dir = path.posix.dirname(rel); dir !== '/'; dir = path.posix.dirname(dir)) if (folders.has(dir)) return true;
  return false;
}

/** A name read from a folder that lstat cannot find: it was not UTF-8 and came back with U+FFFD. */
const UNREPRESENTABLE = Symbol('unrepresentable');

async function lstatEntry(walk: TreeWalk, tree: RootedFs, rel: string): Promise<Stats | typeof UNREPRESENTABLE> {
  try {
    return await tree.lstat(rel);
  } catch (error) {
    if (!isMissing(error) || !path.posix.basename(rel).includes('\uFFFD')) throw error;
    if (!walk.unrepresentable.has(rel)) {
      walk.unrepresentable.add(rel);
      walk.onUnrepresentable?.(rel);
    }
    return UNREPRESENTABLE;
  }
}

async function compareDirectory(walk: TreeWalk, dir: string): Promise<void> {
  walk.signal?.throwIfAborted();
  const olderNames = new Set((await walk.older.readdir(dir)).map((entry) => entry.name));
  const newerNames = new Set((await walk.newer.readdir(dir)).map((entry) => entry.name));
  const names = [...new Set([...olderNames, ...newerNames])].sort();
  for (const name of names) {
    const rel = path.posix.join(dir, name);
    if (rel === '/.snapshots') continue;
    const before = olderNames.has(name) ? await lstatEntry(walk, walk.older, rel) : undefined;
    const after = newerNames.has(name) ? await lstatEntry(walk, walk.newer, rel) : undefined;
    if (before === UNREPRESENTABLE || after === UNREPRESENTABLE) continue;
    const listed = await compareEntry(walk, rel, before, after);
    if (!listed && before?.isDirectory()) await compareDirectory(walk, rel);
  }
}

/**
 * Records how one path changed; true when what is below it was listed whole (created, deleted, or its type
 * changed), false when it is a folder on both sides whose entries still need comparing (or nothing is there).
 */
async function compareEntry(walk: TreeWalk, rel: string, before: Stats | undefined, after: Stats | undefined): Promise<boolean> {
  if (isBoundary(before, walk.olderDev) || isBoundary(after, walk.newerDev)) return true;
  if (before && !after) {
    await listSubtree(walk, walk.older, walk.olderDev, rel, before, 'deleted');
    return true;
  }
  if (!before && after) {
    await listSubtree(walk, walk.newer, walk.newerDev, rel, after, 'created');
    return true;
  }
  if (!before || !after) return false;
  if (typeOf(before) !== typeOf(after)) {
    walk.changes.push({ path: rel, status: 'modified' });
    if (before.isDirectory()) await listChildren(walk, walk.older, walk.olderDev, rel, 'deleted');
    if (after.isDirectory()) await listChildren(walk, walk.newer, walk.newerDev, rel, 'created');
    return true;
  }
  if (await isModified(walk, rel, before, after)) walk.changes.push({ path: rel, status: 'modified' });
  return false;
}

async function listSubtree(walk: TreeWalk, tree: RootedFs, dev: number, rel: string, stats: Stats, status: 'created' | 'deleted'): Promise<void> {
  walk.changes.push({ path: rel, status });
  if (stats.isDirectory()) await listChildren(walk, tree, dev, rel, status);
}

async function listChildren(walk: TreeWalk, tree: RootedFs, dev: number, dir: string, status: 'created' | 'deleted'): Promise<void> {
  walk.signal?.throwIfAborted();
  for (const entry of await tree.readdir(dir)) {
    const rel = path.posix.join(dir, entry.name);
    const stats = await lstatEntry(walk, tree, rel);
    if (stats === UNREPRESENTABLE || isBoundary(stats, dev)) continue;
    await listSubtree(walk, tree, dev, rel, stats, status);
  }
}

function isBoundary(stats: Stats | undefined, rootDev: number): boolean {
  if (stats === undefined) return false;
  return stats.dev !== rootDev || (stats.isDirectory() && stats.ino === EMPTY_SUBVOLUME_INO);
}

function typeOf(stats: Stats): number {
  return stats.mode & 0o170000;
}

async function isModified(walk: Pick<TreeWalk, 'older' | 'newer'>, rel: string, before: Stats, after: Stats): Promise<boolean> {
  if ((before.mode & 0o7777) !== (after.mode & 0o7777) || before.uid !== after.uid || before.gid !== after.gid) return true;
  if (before.isDirectory()) return false;
  if (before.isSymbolicLink()) return (await walk.older.readlink(rel)) !== (await walk.newer.readlink(rel));
  if (!before.isFile()) return before.rdev !== after.rdev;
  if (before.size !== after.size) return true;
  const sameInode = before.ino === after.ino && before.mtimeMs === after.mtimeMs && before.ctimeMs === after.ctimeMs;
  if (sameInode) return false;
  const [a, b] = await Promise.all([walk.older.readBytes(rel), walk.newer.readBytes(rel)]);
  return !a.equals(b);
}

/**
 * The paths among `paths` that differ between two trees (one exists and the other not, or type, mode, owner,
 * size, link target or content differ; a folder only by type, mode or owner), by the same rules as
 * diffTrees, without walking the trees.
 */
export async function differingPaths(older: RootedFs, newer: RootedFs, paths: readonly string[], signal?: AbortSignal): Promise<Set<string>> {
  const walk = { older, newer };
  const differing = new Set<string>();
  for (const rel of paths) {
    signal?.throwIfAborted();
    const [before, after] = await Promise.all([lstatIfExists(older, rel), lstatIfExists(newer, rel)]);
    if (before === undefined && after === undefined) continue;
    if (before === undefined || after === undefined || typeOf(before) !== typeOf(after) || (await isModified(walk, rel, before, after))) differing.add(rel);
  }
  return differing;
}

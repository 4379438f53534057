import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { lstatIfExists, type RootedFs } from '../system/rooted-fs.ts';
import { comparePaths } from './parse-snapper-status.ts';
import type { SnapshotChange } from './types.ts';

/** Inode number of the empty directory that stands in a snapshot for a nested subvolume (BTRFS_EMPTY_SUBVOL_DIR_OBJECTID). */
const EMPTY_SUBVOLUME_INO = 2;

/**
 * Compares two trees of one btrfs subvolume (two read-only snapshots, or a snapshot and the live
 * subvolume) and returns every path that was created, deleted or modified from `older` to `newer`, with
 * paths relative to the tree tops (`/etc/hostname`). Like snapper: a directory counts as modified only
 * when its type, mode or owner changed, not because its entries did; a file when its type, mode, owner,
 * size or content changed. Unchanged inodes of a snapshot keep their inode number and ctime, so content
 * is read only for files whose inode data differs. Nested subvolumes, other mounts and `/.snapshots` are
 * not entered.
 */
export async function diffTrees(older: RootedFs, newer: RootedFs, signal?: AbortSignal): Promise<SnapshotChange[]> {
  const walk: TreeWalk = {
    older,
    newer,
    olderDev: (await older.lstat('/')).dev,
    newerDev: (await newer.lstat('/')).dev,
    changes: [],
    signal,
  };
  await compareDirectory(walk, '/');
  return walk.changes.sort((a, b) => comparePaths(a.path, b.path));
}

interface TreeWalk {
  readonly older: RootedFs;
  readonly newer: RootedFs;
  readonly olderDev: number;
  readonly newerDev: number;
  readonly changes: SnapshotChange[];
  readonly signal: AbortSignal | undefined;
}

async function compareDirectory(walk: TreeWalk, dir: string): Promise<void> {
  walk.signal?.throwIfAborted();
  const olderNames = new Set((await walk.older.readdir(dir)).map((entry) => entry.name));
  const newerNames = new Set((await walk.newer.readdir(dir)).map((entry) => entry.name));
  const names = [...new Set([...olderNames, ...newerNames])].sort();
  for (const name of names) {
    const rel = path.posix.join(dir, name);
    if (rel === '/.snapshots') continue;
    const before = olderNames.has(name) ? await walk.older.lstat(rel) : undefined;
    const after = newerNames.has(name) ? await walk.newer.lstat(rel) : undefined;
    if (isBoundary(before, walk.olderDev) || isBoundary(after, walk.newerDev)) continue;
    if (before && !after) {
      await listSubtree(walk, walk.older, walk.olderDev, rel, before, 'deleted');
    } else if (!before && after) {
      await listSubtree(walk, walk.newer, walk.newerDev, rel, after, 'created');
    } else if (before && after) {
      if (typeOf(before) !== typeOf(after)) {
        walk.changes.push({ path: rel, status: 'modified' });
        if (before.isDirectory()) await listChildren(walk, walk.older, walk.olderDev, rel, 'deleted');
        if (after.isDirectory()) await listChildren(walk, walk.newer, walk.newerDev, rel, 'created');
        continue;
      }
      if (await isModified(walk, rel, before, after)) walk.changes.push({ path: rel, status: 'modified' });
      if (before.isDirectory()) await compareDirectory(walk, rel);
    }
  }
}

async function listSubtree(walk: TreeWalk, tree: RootedFs, dev: number, rel: string, stats: Stats, status: 'created' | 'deleted'): Promise<void> {
  walk.changes.push({ path: rel, status });
  if (stats.isDirectory()) await listChildren(walk, tree, dev, rel, status);
}

async function listChildren(walk: TreeWalk, tree: RootedFs, dev: number, dir: string, status: 'created' | 'deleted'): Promise<void> {
  walk.signal?.throwIfAborted();
  for (const entry of await tree.readdir(dir)) {
    const rel = path.posix.join(dir, entry.name);
    const stats = await tree.lstat(rel);
    if (isBoundary(stats, dev)) continue;
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

async function isModified(walk: TreeWalk, rel: string, before: Stats, after: Stats): Promise<boolean> {
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
  const walk: TreeWalk = { older, newer, olderDev: 0, newerDev: 0, changes: [], signal };
  const differing = new Set<string>();
  for (const rel of paths) {
    signal?.throwIfAborted();
    const [before, after] = await Promise.all([lstatIfExists(older, rel), lstatIfExists(newer, rel)]);
    if (before === undefined && after === undefined) continue;
    if (before === undefined || after === undefined || typeOf(before) !== typeOf(after) || (await isModified(walk, rel, before, after))) differing.add(rel);
  }
  return differing;
}


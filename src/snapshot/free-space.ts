import type { RootedFs } from '../system/rooted-fs.ts';
import { snapshotError } from './snapshot-errors.ts';

/** Default minimum free space before a snapshot: an update needs room after it, not just the snapshot. */
export const DEFAULT_MIN_FREE_BYTES = 1024 ** 3;

export interface FreeSpace {
  readonly freeBytes: number;
  readonly totalBytes: number;
}

export async function readFreeSpace(fs: RootedFs, path: string): Promise<FreeSpace> {
  const stats = await fs.statfs(path);
  return { freeBytes: Number(stats.bavail) * Number(stats.bsize), totalBytes: Number(stats.blocks) * Number(stats.bsize) };
}

/**
 * Refuses to go on when the filesystem holding `path` has less than `minFreeBytes` available to root's
 * processes. btrfs reports an estimate (metadata and RAID profiles shift it); it errs on the low side.
 */
export async function assertFreeSpace(fs: RootedFs, path: string, minFreeBytes: number): Promise<FreeSpace> {
  const space = await readFreeSpace(fs, path);
  if (space.freeBytes < minFreeBytes) {
    const where = fs.root === '/' ? path : `${path} (in ${fs.root})`;
    throw snapshotError(
      'ARGO_SNAPSHOT_NO_SPACE',
      `Not enough free space for a snapshot on the filesystem of ${where}: ${formatBytes(space.freeBytes)} free, ${formatBytes(minFreeBytes)} needed`,
      {
        hint: 'Free space first (eclean-dist, eclean-pkg, deleting old snapshots with argo snapshot delete), or lower the minimum with --min-free.',
        details: { path, root: fs.root, freeBytes: space.freeBytes, minFreeBytes, totalBytes: space.totalBytes },
      },
    );
  }
  return space;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ArgoError, isArgoError } from '../core/errors.ts';
import type { System } from '../system/open-system.ts';
import { lstatIfExists } from '../system/rooted-fs.ts';
import { snapshotError } from './snapshot-errors.ts';

/**
 * `btrfs send` reads read-only subvolumes only, so comparing with the live system goes through a read-only
 * snapshot of it taken for that one comparison, in the `.snapshots` folder beside the numbered ones, and deleted
 * afterwards, on error and interruption too. A run killed in between (SIGKILL, power loss) cannot delete it, so
 * its name says whose it is: `argo-diff-<boot id>-<pid>-<process start time>-<random>`. Every later comparison
 * first deletes those whose process is gone (another boot, no such pid, or a pid reused by a process that
 * started at another time); those of runs still going are left alone.
 */

const PREFIX = 'argo-diff-';
const NAME = /^argo-diff-([0-9a-f]{8})-([1-9]\d*)-(\d+)-[0-9a-f]{12}$/;
/** Inode number of every subvolume's top folder (BTRFS_FIRST_FREE_OBJECTID). */
const SUBVOLUME_TOP_INO = 256;

export interface ScratchOwner {
  /** The first 8 hex digits of /proc/sys/kernel/random/boot_id. */
  readonly boot: string;
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot when the process started. */
  readonly startTime: string;
}

export function scratchName(owner: ScratchOwner, random: string): string {
  return `${PREFIX}${owner.boot}-${owner.pid}-${owner.startTime}-${random}`;
}

export function parseScratchName(name: string): ScratchOwner | undefined {
  const match = NAME.exec(name);
  return match ? { boot: match[1] as string, pid: Number(match[2]), startTime: match[3] as string } : undefined;
}

/** Field 22 (starttime) of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
export function startTimeOf(procStat: string): string | undefined {
  const fields = procStat.slice(procStat.lastIndexOf(')') + 2).split(' ');
  const value = fields[19];
  return value !== undefined && /^\d+$/.test(value) ? value : undefined;
}

export interface ScratchSnapshot {
  /** The snapshot's path inside the target root. */
  readonly path: string;
  /** Deletes it. Idempotent; a failed delete is logged, not thrown, and left to a sweep after this process ends. */
  remove(): Promise<void>;
}

export interface ScratchOptions {
  /** The live subvolume, as a path inside the target root. */
  readonly subvolume: string;
  /** Its `.snapshots` folder, as a path inside the target root. */
  readonly snapshotsDir: string;
  readonly signal?: AbortSignal | undefined;
}

/** Takes a read-only snapshot of the live subvolume for one comparison, after sweeping those of dead runs. */
export async function takeScratchSnapshot(system: System, options: ScratchOptions): Promise<ScratchSnapshot> {
  if (system.hostCommands.dryRun) {
    throw snapshotError('ARGO_SNAPSHOT_UNAVAILABLE', 'A dry run takes no temporary snapshot of the live subvolume', {
      hint: 'The live system is compared by walking its tree instead.',
      details: { subvolume: options.subvolume },
    });
  }
  if (!(await isRootOnly(system, options.snapshotsDir))) {
    throw new ArgoError('ARGO_UNSAFE_PATH', `${options.snapshotsDir} in ${system.root} is not a folder only root can change: no temporary snapshot is put there`, {
      hint: 'Make it root\'s and not writable by group or others (chmod 0750); the live system is compared by walking its tree meanwhile.',
      details: { path: options.snapshotsDir },
    });
  }
  await sweepScratchSnapshots(system, options.snapshotsDir, options.signal);
  const owner = await ownScratchOwner(system);
  const inside = path.posix.join(options.snapshotsDir, scratchName(owner, randomBytes(6).toString('hex')));
  const host = path.join(await system.target.resolve(options.snapshotsDir), path.posix.basename(inside));
  try {
    await system.hostCommands.run('btrfs', ['subvolume', 'snapshot', '-r', await system.target.resolve(options.subvolume), host], { signal: options.signal });
  } catch (error) {
    // Killed by an interruption after the kernel made it: it is ours, so it goes now, not at the next sweep.
    if ((await lstatIfExists(system.target, inside)) !== undefined) await deleteSubvolume(system, host, 'done');
    throw error;
  }
  let removed = false;
  return {
    path: inside,
    async remove() {
      if (removed) return;
      removed = true;
      // Without the caller's signal: after an interruption this is the one command that must still run.
      await deleteSubvolume(system, host, 'done');
    },
  };
}

/**
 * Deletes the scratch snapshots of runs that are gone. Only in a `.snapshots` folder that only root can change
 * (scratch snapshots are made nowhere else), and only real subvolumes (not a symlink or folder planted under such a name); failures are logged, not thrown.
 */
export async function sweepScratchSnapshots(system: System, snapshotsDir: string, signal?: AbortSignal): Promise<void> {
  if (!(await isRootOnly(system, snapshotsDir))) return;
  const self = await ownScratchOwner(system);
  for (const entry of await system.target.readdir(snapshotsDir)) {
    signal?.throwIfAborted();
    const owner = parseScratchName(entry.name);
    if (owner === undefined || entry.type !== 'directory' || (await isAlive(system, self, owner))) continue;
    const inside = path.posix.join(snapshotsDir, entry.name);
    const stats = await system.target.lstat(inside);
    if (!stats.isDirectory() || stats.ino !== SUBVOLUME_TOP_INO) continue;
    system.logger.info({ path: inside, pid: owner.pid }, 'Deleting the temporary snapshot of a comparison that did not finish');
    await deleteSubvolume(system, await system.target.resolveParent(inside), 'stale');
  }
}

/** Another user who could rename entries there could swap a temporary snapshot for a subvolume of theirs. */
async function isRootOnly(system: System, folder: string): Promise<boolean> {
  const stats = await lstatIfExists(system.target, folder);
  return stats !== undefined && stats.isDirectory() && stats.uid === 0 && (stats.mode & 0o022) === 0;
}

async function deleteSubvolume(system: System, host: string, why: 'done' | 'stale'): Promise<void> {
  try {
    await system.hostCommands.run('btrfs', ['subvolume', 'delete', host]);
  } catch (error) {
    if (!isArgoError(error)) throw error;
    system.logger.warn({ path: host, why, err: error }, 'A temporary snapshot could not be deleted; a comparison after this run has ended deletes it');
  }
}

async function ownScratchOwner(system: System): Promise<ScratchOwner> {
  const [bootId, stat] = await Promise.all([system.host.readText('/proc/sys/kernel/random/boot_id'), system.host.readText('/proc/self/stat')]);
  const startTime = startTimeOf(stat);
  if (startTime === undefined) throw new Error(`unexpected /proc/self/stat: ${stat}`);
  return { boot: bootId.replace(/-/g, '').slice(0, 8), pid: process.pid, startTime };
}

async function isAlive(system: System, self: ScratchOwner, owner: ScratchOwner): Promise<boolean> {
  if (owner.boot !== self.boot) return false;
  let stat: string | undefined;
  try {
    stat = await system.host.readTextIfExists(`/proc/${owner.pid}/stat`);
  } catch {
    // ESRCH while it exits, EACCES on a hardened /proc: not known to be gone, so its snapshot stays.
    return true;
  }
  return stat !== undefined && startTimeOf(stat) === owner.startTime;
}

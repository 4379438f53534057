import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArgoError } from '../core/errors.ts';
import { LSBLK_COLUMNS, parseBlkidExport, parseLsblk, type BlockDevice, type ProbedFilesystem } from '../core/rescue/block-devices.ts';
import { parseOsRelease, type RootEvidence } from '../core/rescue/rescue-plan.ts';
import { isPidAlive } from './pid-alive.ts';
import { createRootedFs } from './rooted-fs.ts';
import { readOsRelease } from './validate-root.ts';
import type { CommandRunner } from './run-command.ts';

/**
 * The side of `argo rescue` that touches the machine: lists and probes block devices, mounts and unmounts.
 * Every mount here is made in argo's own mount namespace (see private-namespace.ts), so that nothing is left
 * mounted on the live system however argo ends.
 */

const BUDGET_MS = 60_000;

export async function listBlockDevices(runner: CommandRunner, signal: AbortSignal): Promise<BlockDevice[]> {
  const result = await runner.run('lsblk', ['--json', '--bytes', '--output', LSBLK_COLUMNS.join(',')], { mutates: false, budgetMs: BUDGET_MS, signal });
  return parseLsblk(result.stdout);
}

/** `blkid -p`: reads the device itself (no cache, no udev). Exit 2 means nothing was found on it. */
export async function probeFilesystem(runner: CommandRunner, device: string, signal: AbortSignal): Promise<ProbedFilesystem | undefined> {
  const result = await runner.run('blkid', ['-p', '-o', 'export', '--', device], { mutates: false, budgetMs: BUDGET_MS, okExitCodes: [0, 2], signal });
  if (result.exitCode === 2) return undefined;
  return parseBlkidExport(result.stdout);
}

export interface MountRequest {
  readonly device: string;
  readonly at: string;
  readonly fsType: string;
  readonly options: readonly string[];
  /** A read-only look (probe, --pretend): runs in a dry run too. */
  readonly lookOnly: boolean;
}

/**
 * mount(8), read-write with -w (without it, mount falls back to read-only on a write-protected device and
 * says so only in a warning) or read-only with -r. A read-only look at anything but btrfs goes through a
 * read-only loop device (`-o loop`): ext4 cleans up orphan inodes even on a read-only mount, without the
 * journal when `noload` is given, and XFS or f2fs may replay logs; on a read-only block device none of them
 * can write. btrfs keeps the direct mount (a second device with the same fsid confuses its device registry)
 * with `rescue=nologreplay`.
 */
export async function mountDevice(runner: CommandRunner, request: MountRequest, signal: AbortSignal): Promise<void> {
  const options = request.lookOnly && request.fsType !== 'btrfs' ? ['loop', ...request.options] : [...request.options];
  const args = [request.lookOnly ? '-r' : '-w', '-t', request.fsType, ...(options.length === 0 ? [] : ['-o', options.join(',')]), '--', request.device, request.at];
  await runner.run('mount', args, { mutates: !request.lookOnly, budgetMs: BUDGET_MS, signal });
}

/**
 * Unmounts `at`; a busy filesystem is retried once after syncing, then detached lazily (it goes when its
 * last user does, and in argo's private namespace that is argo itself). Returns how it went.
 */
export async function unmount(runner: CommandRunner, at: string, lookOnly: boolean): Promise<'unmounted' | 'detached'> {
  // Clean-up runs after an interrupt too: no signal, a budget of its own.
  try {
    await runner.run('umount', ['--', at], { mutates: !lookOnly, budgetMs: BUDGET_MS });
    return 'unmounted';
  } catch {
    await runner.run('umount', ['--lazy', '--', at], { mutates: !lookOnly, budgetMs: BUDGET_MS });
    return 'detached';
  }
}

/**
 * The default subvolume (its path from the top level and its id), or undefined when it is the top level (ID 5).
 * btrfs-progs takes no `--` here; the path is argo's own private folder.
 */
export async function btrfsDefaultSubvolume(runner: CommandRunner, mountedTop: string, signal: AbortSignal): Promise<{ path: string; id: string } | undefined> {
  const result = await runner.run('btrfs', ['subvolume', 'get-default', mountedTop], { mutates: false, budgetMs: BUDGET_MS, signal });
  // `ID 5 (FS_TREE)` or `ID 256 gen 9 top level 5 path @`
  const text = result.stdout.trim();
  const id = /^ID (\d+)\b/.exec(text)?.[1];
  if (id === undefined) throw new ArgoError('ARGO_INVALID_INPUT', `btrfs subvolume get-default printed ${JSON.stringify(text)}`, { hint: 'Check the btrfs-progs version (btrfs --version).' });
  if (id === '5') return undefined;
  const subvolume = / path (.+)$/.exec(text)?.[1];
  if (subvolume === undefined) throw new ArgoError('ARGO_INVALID_INPUT', `btrfs subvolume get-default printed no path: ${JSON.stringify(text)}`, { hint: 'Check the btrfs-progs version (btrfs --version).' });
  return { path: subvolume, id };
}

/** The id of the subvolume at `dir` (`btrfs inspect-internal rootid`). */
export async function btrfsSubvolumeId(runner: CommandRunner, dir: string, signal: AbortSignal): Promise<string> {
  const result = await runner.run('btrfs', ['inspect-internal', 'rootid', dir], { mutates: false, budgetMs: BUDGET_MS, signal });
  const id = result.stdout.trim();
  if (!/^\d+$/.test(id)) throw new ArgoError('ARGO_INVALID_INPUT', `btrfs inspect-internal rootid printed ${JSON.stringify(id)}`, { hint: 'Check the btrfs-progs version (btrfs --version).' });
  return id;
}

/** Whether `dir` (under a mounted btrfs top level) is a subvolume: the root inode of a subvolume is 256. */
export async function isBtrfsSubvolume(dir: string): Promise<boolean> {
  try {
    const stats = await fs.lstat(dir);
    return stats.isDirectory() && stats.ino === 256;
  } catch {
    return false;
  }
}

/** What a mounted filesystem holds, read inside it (symlinks resolved within it, never onto the live system). */
export async function readRootEvidence(mounted: string): Promise<RootEvidence> {
  const tree = createRootedFs(mounted);
  const isDir = async (target: string): Promise<boolean> => tree.isDirectory(target).catch(() => false);
  // An os-release that cannot be read (a disk's I/O error) is an os-release that is not there.
  const osText = await readOsRelease(tree).catch(() => undefined);
  const osRelease = osText === undefined ? { id: undefined, idLike: [], name: undefined } : parseOsRelease(osText);
  const hasShell = await tree.exists('/bin/sh').catch(() => false);
  return {
    osId: osRelease.id,
    osIdLike: osRelease.idLike,
    osName: osRelease.name,
    hasVarDbPkg: await isDir('/var/db/pkg'),
    hasEtcPortage: await isDir('/etc/portage'),
    looksLikeLinuxRoot: (await isDir('/etc')) && (await isDir('/usr')) && hasShell,
  };
}

/**
 * A fresh 0700 folder for a probe mount, in the host's temporary folder (mkdtemp: a random name, never an
 * existing entry), named with this argo's pid for sweepMountDirs. Not tmp's folders (private-dir.ts): their
 * removal is recursive, and a removal that ran while something was still mounted there would delete the
 * Gentoo root's files. Removed with rmdir only.
 */
export async function createMountDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `argo-rescue-${process.pid}-`));
}

const ABANDONED_MOUNT_DIR = /^argo-rescue-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * Removes the empty probe folders of rescues that were killed (SIGKILL, power loss of the stick's session):
 * their mounts lived in the dead argo's own mount namespace and went with it, the folders stayed. Only our
 * own folders (our uid, a real folder, the name createMountDir gives) of a pid that no longer runs, and only
 * with rmdir: a folder that is not empty stays. Returns what it removed.
 */
export async function sweepMountDirs(base = os.tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  const euid = process.geteuid?.() ?? 0;
  for (const name of await fs.readdir(base).catch(() => [] as string[])) {
    const pid = ABANDONED_MOUNT_DIR.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isPidAlive(Number(pid))) continue;
    const folder = path.join(base, name);
    const stats = await fs.lstat(folder).catch(() => undefined);
    if (stats === undefined || !stats.isDirectory() || stats.uid !== euid) continue;
    try {
      await fs.rmdir(folder);
      removed.push(folder);
    } catch {
      // Not empty, busy, gone meanwhile, or not removable here: it stays; a sweep never stops a rescue.
    }
  }
  return removed;
}

/** rmdir, never rm -r: if anything is still mounted there, the folder is not empty and stays (and we say so). */
export async function removeMountDir(dir: string): Promise<void> {
  await fs.rmdir(dir);
}

/**
 * Makes sure the mount point for the chosen root can be used: created (0755) when missing, and refused
 * when it is a symbolic link, not a folder, not empty, or already a mount point (the admin mounted
 * something there: use it with `argo recover --root`, or choose another --mount-point).
 */
export async function prepareMountPoint(mountPoint: string): Promise<void> {
  const absolute = path.resolve(mountPoint);
  let stats;
  try {
    stats = await fs.lstat(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await fs.mkdir(absolute, { recursive: true, mode: 0o755 });
    stats = await fs.lstat(absolute);
  }
  const refuse = (reason: string, hint: string): never => {
    throw new ArgoError('ARGO_UNSAFE_PATH', `The mount point ${absolute} cannot be used: ${reason}`, { hint, details: { mountPoint: absolute } });
  };
  if (stats.isSymbolicLink()) refuse('it is a symbolic link', 'Give a real folder with --mount-point.');
  if (!stats.isDirectory()) refuse('it is not a folder', 'Give a folder with --mount-point.');
  const parent = await fs.stat(path.dirname(absolute));
  if (parent.dev !== stats.dev || (await fs.readdir(absolute)).length > 0) {
    refuse(
      'something is mounted there or it holds files',
      `If the Gentoo root is already mounted there, run argo recover --root ${absolute} instead; otherwise unmount it (umount ${absolute}) or choose another --mount-point.`,
    );
  }
}

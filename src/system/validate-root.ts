import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ArgoError } from '../core/errors.ts';
import { parseOsRelease } from '../core/rescue/rescue-plan.ts';
import { createRootedFs, type RootedFs } from './rooted-fs.ts';

/** What a command needs of its target root, checked before it creates anything. */
export interface RootRequirements {
  /** The command, for messages: `argo recover`. */
  readonly command: string;
  /** The command works with Portage (emerge, /var/db/pkg): refuse a root that is not a Gentoo system. */
  readonly gentoo?: boolean;
  /** The command changes the target: refuse a root on a read-only filesystem. */
  readonly writable?: boolean;
  /**
   * The command runs programs inside the target (default): the root needs what a chroot needs. Without it
   * (snapshots work on the files alone) a root needs /etc: an empty folder or a data disk is still refused.
   */
  readonly chroot?: boolean;
}

/** Longer than any real mount point; longer paths are a mistake (or an attack) and are refused as usage. */
const MAX_ROOT_LENGTH = 1024;
/** An os-release file is a few hundred bytes; a bigger one (or a device) is not read. */
const MAX_OS_RELEASE_BYTES = 64 * 1024;

/** What every Linux root has (the Handbook's chroot mounts on the four folders); the chroot session checks the same. */
export const LINUX_ROOT_FOLDERS = ['/etc', '/proc', '/sys', '/dev', '/run'] as const;

/**
 * Checks `--root` at the door: it exists, is a folder, looks like a Linux root, is a Gentoo system when the
 * command needs one, and is writable when the command changes it. Reads only; creates nothing. Returns the
 * root's real path (symlinks resolved on the host, where the user named it).
 */
export async function validateTargetRoot(root: string, needs: RootRequirements): Promise<string> {
  if (root === '' || root.length > MAX_ROOT_LENGTH || root.includes('\0')) {
    throw new ArgoError('ARGO_USAGE', `${needs.command}: --root must be a folder path of at most ${MAX_ROOT_LENGTH} characters`, {
      hint: 'e.g. --root /mnt/gentoo',
      details: { length: root.length },
    });
  }
  const resolved = path.resolve(root);
  let real: string;
  try {
    real = await fs.realpath(resolved);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ArgoError('ARGO_ROOT_NOT_FOUND', `The target root ${resolved} does not exist`, {
        cause: error,
        hint: 'Check the spelling, and mount the installed system first (e.g. mount /dev/sdXN /mnt/gentoo).',
        details: { root: resolved },
      });
    }
    if (code === 'ELOOP' || code === 'ENAMETOOLONG' || code === 'EACCES') {
      throw new ArgoError('ARGO_ROOT_NOT_FOUND', `The target root ${resolved} cannot be reached (${code})`, {
        cause: error,
        hint: 'Pass the folder where the installed system is mounted, e.g. --root /mnt/gentoo.',
        details: { root: resolved, code },
      });
    }
    throw error;
  }
  if (!(await fs.stat(real)).isDirectory()) {
    throw new ArgoError('ARGO_ROOT_NOT_A_DIRECTORY', `The target root ${resolved} is a file, not a folder`, {
      hint: 'Pass the folder where the installed system is mounted, e.g. --root /mnt/gentoo.',
      details: { root: resolved },
    });
  }
  const target = createRootedFs(real);
  const missing: string[] = [];
  const chroot = needs.chroot ?? true;
  for (const folder of chroot ? LINUX_ROOT_FOLDERS : ['/etc']) if (!(await target.isDirectory(folder))) missing.push(folder);
  if (chroot && !(await target.exists('/bin/sh'))) missing.push('/bin/sh');
  if (missing.length > 0) {
    throw new ArgoError('ARGO_NOT_A_LINUX_ROOT', `${resolved} does not look like a Linux root: missing ${missing.join(', ')}`, {
      hint: "Pass the folder where the installed system's root partition is mounted (the one holding etc/, usr/, proc/).",
      details: { root: resolved, missing },
    });
  }
  if (needs.gentoo === true && !(await isGentooRoot(target))) {
    throw new ArgoError('ARGO_NOT_A_GENTOO_ROOT', `${needs.command} works on Gentoo systems, and ${resolved} is not one`, {
      hint: 'It has no /etc/portage, no /var/db/pkg and no ID=gentoo in /etc/os-release: check that --root is the Gentoo install.',
      details: { root: resolved },
    });
  }
  if (needs.writable === true && (await isReadOnly(real))) {
    throw new ArgoError('ARGO_ROOT_READ_ONLY', `${needs.command} changes the target, and ${resolved} is on a read-only filesystem`, {
      hint: `Remount it read-write (mount -o remount,rw ${resolved}) and run again; --dry-run works on a read-only root.`,
      details: { root: resolved },
    });
  }
  return real;
}

/** Gentoo: Portage's configuration or its package database, or an os-release that says so. */
export async function isGentooRoot(target: RootedFs): Promise<boolean> {
  if ((await target.isDirectory('/etc/portage')) || (await target.isDirectory('/var/db/pkg'))) return true;
  const osRelease = await readOsRelease(target);
  if (osRelease === undefined) return false;
  const { id, idLike } = parseOsRelease(osRelease);
  return id === 'gentoo' || idLike.includes('gentoo');
}

/** The text of the root's os-release (/etc, else /usr/lib); a device or a file past 64 KiB planted there is never read. */
export async function readOsRelease(target: RootedFs): Promise<string | undefined> {
  for (const file of ['/etc/os-release', '/usr/lib/os-release']) {
    let stats;
    try {
      stats = await target.stat(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') continue;
      throw error;
    }
    // A device or a huge file (a planted /etc/os-release -> /dev/zero) is never read.
    if (!stats.isFile() || stats.size > MAX_OS_RELEASE_BYTES) continue;
    return target.readText(file);
  }
  return undefined;
}

/** access(W_OK) answers EROFS for a read-only mount, also for root (who passes every permission check). */
async function isReadOnly(real: string): Promise<boolean> {
  try {
    await fs.access(real, fs.constants.W_OK);
    return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EROFS') return true;
    throw error;
  }
}

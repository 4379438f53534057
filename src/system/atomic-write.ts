import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ArgoError } from '../core/errors.ts';

export interface AtomicWriteOptions {
  /** Mode for a file that does not exist yet; an existing file keeps its own mode. Default 0o644. */
  readonly mode?: number;
  /** Owner for a file that does not exist yet; an existing file keeps its own owner and group. */
  readonly uid?: number;
  readonly gid?: number;
  /**
   * Keep the old content here first (`/etc/shadow-` style), with the old file's mode and owner. The backup is
   * itself written atomically, before the new content replaces the file.
   */
  readonly backupPath?: string | undefined;
  /**
   * Runs on the complete temporary file (host path) after its mode and owner are set and before it is synced
   * and renamed over the target: e.g. to copy the old file's extended attributes (SELinux label, ACLs).
   */
  readonly beforeRename?: ((temporary: string) => Promise<void>) | undefined;
}

/**
 * Replaces `target` so that a crash at any moment leaves either the old or the new content, never a mix:
 * write a temporary file in the same directory, fsync it, rename it over the target, fsync the directory.
 * The rename is atomic only within one filesystem, hence the same directory.
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const existing = await statIfExists(target);
  const mode = existing ? existing.mode & 0o7777 : (options.mode ?? 0o644);
  const uid = existing ? existing.uid : options.uid;
  const gid = existing ? existing.gid : options.gid;
  try {
    if (existing && options.backupPath !== undefined) {
      await replaceFile(options.backupPath, await fs.readFile(target), { mode, uid, gid }, options.beforeRename);
    }
    await replaceFile(target, data, { mode, uid, gid }, options.beforeRename);
  } catch (error) {
    if (error instanceof ArgoError) throw error;
    throw new ArgoError('ARGO_FILE_WRITE_FAILED', `Could not replace ${target}; it is unchanged`, {
      cause: error,
      hint: hintFor(error),
      details: { path: target, errno: (error as NodeJS.ErrnoException).code },
    });
  }
}

interface Ownership {
  readonly mode: number;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
}

/** The temporary file's name pattern: `.<name>.argo-<12 hex digits>` in the target's own folder. */
export function temporaryNamePattern(name: string): RegExp {
  return new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.argo-[0-9a-f]{12}$`);
}

/**
 * Removes the temporary files (see temporaryNamePattern) that a killed writer left in `directory` (a SIGKILL
 * between create and rename). Only call this while holding a lock that keeps every other writer out, or a
 * live writer's temporary file would go. Returns the host paths removed.
 */
export async function removeStaleTemporaries(directory: string, pattern: RegExp): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.readdir(directory)) {
    if (!pattern.test(name)) continue;
    // unlink removes a symlink itself, never what it points to.
    await fs.rm(path.join(directory, name), { force: true });
    removed.push(path.join(directory, name));
  }
  return removed;
}

async function replaceFile(target: string, data: string | Uint8Array, owner: Ownership, beforeRename?: (temporary: string) => Promise<void>): Promise<void> {
  const directory = path.dirname(target);
  const temporary = path.join(directory, `.${path.basename(target)}.argo-${randomBytes(6).toString('hex')}`);
  // 0o600 until the content is complete: a reader never sees a partial file with the final permissions.
  const handle = await fs.open(temporary, 'wx', 0o600);
  let renamed = false;
  try {
    await handle.writeFile(data);
    if (needsChown(owner)) await handle.chown(owner.uid ?? -1, owner.gid ?? -1);
    await handle.chmod(owner.mode);
    if (beforeRename !== undefined) await beforeRename(temporary);
    await handle.sync();
    await handle.close();
    await fs.rename(temporary, target);
    renamed = true;
    try {
      await syncDirectory(directory);
    } catch (error) {
      // The new content is in place; only its durability across a power loss is in doubt.
      throw new ArgoError('ARGO_FILE_WRITE_FAILED', `Replaced ${target}, but its folder could not be synced to disk`, {
        cause: error,
        hint: 'The new content is in place; run sync, and check dmesg for I/O errors before rebooting.',
        details: { path: target, replaced: true, errno: (error as NodeJS.ErrnoException).code },
      });
    }
  } finally {
    if (!renamed) {
      await handle.close().catch(() => undefined);
      await fs.rm(temporary, { force: true });
    }
  }
}

function needsChown(owner: Ownership): boolean {
  const uidDiffers = owner.uid !== undefined && owner.uid !== process.getuid?.();
  const gidDiffers = owner.gid !== undefined && owner.gid !== process.getgid?.();
  return uidDiffers || gidDiffers;
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await fs.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function statIfExists(target: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function hintFor(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'ENOSPC':
      return 'The filesystem is full: free some space (df -h) and run again.';
    case 'EROFS':
      return 'The filesystem is mounted read-only: remount it read-write (mount -o remount,rw) and run again.';
    case 'EACCES':
    case 'EPERM':
      return 'Run as root, and check the file is not immutable (lsattr).';
    default:
      return 'See the cause in the log; the original file was left as it was.';
  }
}

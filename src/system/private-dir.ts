import type { Stats } from 'node:fs';
import { chmodSync, lstatSync, realpathSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import tmp from 'tmp';
import { ArgoError } from '../core/errors.ts';
import type { RootedFs } from './rooted-fs.ts';

/** A scratch folder only root can enter: `inside` for commands run in the target, `host` for file access. */
export interface PrivateDir {
  readonly inside: string;
  readonly host: string;
  /** Removes the folder and what it holds; later calls do nothing. */
  remove(): void;
}

/**
 * Why a folder argo is about to trust is unsafe, or undefined when it is a real directory (not a symlink)
 * owned by the user argo runs as, with no permission bits for anyone else (0700).
 */
export function unsafeDirReason(stats: Stats, euid: number = process.geteuid?.() ?? 0): string | undefined {
  if (stats.isSymbolicLink()) return 'it is a symbolic link';
  if (!stats.isDirectory()) return 'it is not a directory';
  if (stats.uid !== euid) return `it is owned by uid ${stats.uid}, not ${euid}`;
  if ((stats.mode & 0o777) !== 0o700) return `its mode is ${(stats.mode & 0o777).toString(8).padStart(4, '0')}, not 0700`;
  return undefined;
}

/**
 * Why `parent` cannot hold a private folder: another user could rename or replace what argo creates in it.
 * A folder writable by others is fine only with the sticky bit (`/tmp`, `/var/tmp`), which stops them from
 * renaming entries they do not own.
 */
function unsafeParentReason(stats: Stats, euid: number): string | undefined {
  if (!stats.isDirectory()) return 'it is not a directory';
  if (stats.uid !== 0 && stats.uid !== euid) return `it is owned by uid ${stats.uid}`;
  if ((stats.mode & 0o022) !== 0 && (stats.mode & 0o1000) === 0) return 'others can write to it and it has no sticky bit';
  return undefined;
}

/**
 * Creates a fresh folder `<parent>/<prefix>-<pid>-<random>` inside the target with mode 0700, for scratch work
 * that commands inside the target (chroot) use. The parent must keep others from renaming what we create in it.
 * The folder comes from tmp, whose mkdir never follows a symlink and fails on anything already there, so a name
 * a local user planted first is never reused; it is then checked with lstat (a real directory, owned by root,
 * 0700) before anyone writes into it. `remove` deletes it with what it holds.
 */
export async function createPrivateDirInside(target: RootedFs, parent: string, prefix: string): Promise<PrivateDir> {
  const euid = process.geteuid?.() ?? 0;
  const hostParent = await target.resolve(parent);
  const parentReason = unsafeParentReason(await fs.stat(hostParent), euid);
  if (parentReason !== undefined) {
    throw new ArgoError('ARGO_UNSAFE_PATH', `${parent} in ${target.root} cannot hold a private scratch folder: ${parentReason}`, {
      hint: `Make ${parent} owned by root and not writable by others, or give it the sticky bit (chmod 1777).`,
      details: { root: target.root, path: parent, reason: parentReason },
    });
  }
  const made = makePrivateDir(hostParent, prefix);
  const inside = path.posix.join(parent, path.basename(made.dir));
  if (made.reason !== undefined) {
    throw new ArgoError('ARGO_UNSAFE_PATH', `The scratch folder ${inside} in ${target.root} is not private: ${made.reason}`, {
      hint: 'Another user may be interfering with the scratch folder; look at who owns it (ls -ld).',
      details: { root: target.root, path: inside, reason: made.reason },
    });
  }
  return { inside, host: made.dir, remove: made.remove };
}

/**
 * Runs `work` with a fresh private folder (createPrivateTempDir) and removes the folder with what it holds when
 * `work` ends, however it ends. Never for a mount point: the removal is recursive.
 */
export async function withPrivateTempDir<T>(prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const made = createPrivateTempDir(prefix);
  try {
    return await work(made.dir);
  } finally {
    made.remove();
  }
}

/**
 * A fresh private folder (0700, random name, owned by us) under the host's temporary folder. The temporary
 * folder itself must keep others from renaming what we create in it (root's, or sticky): in a folder anyone
 * may rename entries in, the private folder could be swapped for another between this check and its use.
 * `remove` deletes it with what it holds (recursively: never use it for a mount point).
 */
export function createPrivateTempDir(prefix: string): { readonly dir: string; remove(): void } {
  const base = realpathSync(os.tmpdir());
  const parentReason = unsafeParentReason(statSync(base), process.geteuid?.() ?? 0);
  if (parentReason !== undefined) {
    throw new ArgoError('ARGO_UNSAFE_PATH', `The temporary folder ${base} cannot hold a private folder: ${parentReason}`, {
      hint: 'Check the host temporary folder (TMPDIR, /tmp) is a root-owned folder with mode 1777.',
      details: { path: base, reason: parentReason },
    });
  }
  const made = makePrivateDir(base, prefix);
  if (made.reason !== undefined) {
    throw new ArgoError('ARGO_UNSAFE_PATH', `The temporary folder ${made.dir} is not private: ${made.reason}`, {
      hint: 'Check the host temporary folder (TMPDIR, /tmp) is a root-owned folder with mode 1777.',
      details: { path: made.dir, reason: made.reason },
    });
  }
  return { dir: made.dir, remove: made.remove };
}

/**
 * `<parent>/<prefix>-<pid>-<random>` made by tmp (mode 0700) and checked with lstat, with the reason when it is
 * not private: such a folder is left where it is for a person to look at. tmp keeps the folder on its list until
 * `remove`, so a process that turns on tmp's graceful cleanup also removes, when it exits, what its work left.
 */
function makePrivateDir(parent: string, prefix: string): { readonly dir: string; readonly reason: string | undefined; remove(): void } {
  const made = tmp.dirSync({ tmpdir: parent, prefix, mode: 0o700, unsafeCleanup: true });
  // The umask may have taken bits away; never add any.
  chmodSync(made.name, 0o700);
  return {
    dir: made.name,
    reason: unsafeDirReason(lstatSync(made.name)),
    remove: () => {
      try {
        made.removeCallback();
      } catch (error) {
        // Removed already, by the work itself or by hand.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    },
  };
}

import { constants as fsConstants, type Stats, type StatsFs } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ArgoError } from '../core/errors.ts';
import { writeFileAtomic, type AtomicWriteOptions } from './atomic-write.ts';
import { isMissing } from './fs-errors.ts';

/** Linux's limit on symbolic links followed while resolving one path (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface DirEntry {
  readonly name: string;
  readonly type: EntryType;
}

/**
 * File access inside one target root (`/`, `/mnt/gentoo`, a fixture copy). Every path is a path *inside*
 * the root; symbolic links are resolved as the kernel would after `chroot(root)`: an absolute target is
 * taken from the root, `..` stops at the root. Nothing here ever follows a link onto the host.
 */
export interface RootedFs {
  readonly root: string;
  /** Host path of `target`, with every symlink along it resolved inside the root. */
  resolve(target: string): Promise<string>;
  /** `target` with every symlink resolved, as a path inside the root. */
  realpath(target: string): Promise<string>;
  /** Host path of `target` with the parent resolved but the last component left as it is (for lstat, readlink). */
  resolveParent(target: string): Promise<string>;
  readText(target: string): Promise<string>;
  readBytes(target: string): Promise<Buffer>;
  /** The text, or undefined when the file does not exist (only ENOENT/ENOTDIR count as "does not exist"). */
  readTextIfExists(target: string): Promise<string | undefined>;
  /** The bytes, or undefined when the file does not exist (as readTextIfExists). */
  readBytesIfExists(target: string): Promise<Buffer | undefined>;
  readdir(target: string): Promise<DirEntry[]>;
  readlink(target: string): Promise<string>;
  stat(target: string): Promise<Stats>;
  lstat(target: string): Promise<Stats>;
  /** Free and total space of the filesystem holding `target`. */
  statfs(target: string): Promise<StatsFs>;
  exists(target: string): Promise<boolean>;
  isDirectory(target: string): Promise<boolean>;
  mkdir(target: string, mode?: number): Promise<void>;
  writeFileAtomic(target: string, data: string | Uint8Array, options?: AtomicWriteOptions): Promise<void>;
  copyFile(from: string, to: string): Promise<void>;
  remove(target: string): Promise<void>;
  /** rename(2) of the entries themselves (links are not followed), both inside the root. */
  rename(from: string, to: string): Promise<void>;
  /** chmod and chown of what `target` resolves to inside the root. */
  chmod(target: string, mode: number): Promise<void>;
  chown(target: string, uid: number, gid: number): Promise<void>;
}

export function createRootedFs(root: string): RootedFs {
  const hostRoot = path.resolve(root);
  return new RootedFsImpl(hostRoot);
}

function toEntryType(entry: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryType {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'directory';
  if (entry.isSymbolicLink()) return 'symlink';
  return 'other';
}

class RootedFsImpl implements RootedFs {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  async resolve(target: string): Promise<string> {
    return this.toHost(await this.resolveInside(target, true));
  }

  async realpath(target: string): Promise<string> {
    return this.resolveInside(target, true);
  }

  async resolveParent(target: string): Promise<string> {
    return this.toHost(await this.resolveInside(target, false));
  }

  async readText(target: string): Promise<string> {
    return fs.readFile(await this.resolve(target), 'utf8');
  }

  async readBytes(target: string): Promise<Buffer> {
    return fs.readFile(await this.resolve(target));
  }

  async readBytesIfExists(target: string): Promise<Buffer | undefined> {
    try {
      return await this.readBytes(target);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async readTextIfExists(target: string): Promise<string | undefined> {
    try {
      return await this.readText(target);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async readdir(target: string): Promise<DirEntry[]> {
    const entries = await fs.readdir(await this.resolve(target), { withFileTypes: true });
    return entries
      .map((entry) => ({ name: entry.name, type: toEntryType(entry) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async readlink(target: string): Promise<string> {
    return fs.readlink(await this.resolveParent(target));
  }

  async stat(target: string): Promise<Stats> {
    return fs.stat(await this.resolve(target));
  }

  async lstat(target: string): Promise<Stats> {
    return fs.lstat(await this.resolveParent(target));
  }

  async statfs(target: string): Promise<StatsFs> {
    return fs.statfs(await this.resolve(target));
  }

  async exists(target: string): Promise<boolean> {
    try {
      await fs.access(await this.resolve(target), fsConstants.F_OK);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async isDirectory(target: string): Promise<boolean> {
    try {
      return (await this.stat(target)).isDirectory();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async mkdir(target: string, mode = 0o755): Promise<void> {
    // Create one component at a time so that each new parent is resolved inside the root.
    const parts = splitInside(target);
    let current = '/';
    for (const part of parts) {
      current = path.posix.join(current, part);
      const host = await this.resolve(current);
      try {
        await fs.mkdir(host, { mode });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
  }

  async writeFileAtomic(target: string, data: string | Uint8Array, options?: AtomicWriteOptions): Promise<void> {
    const host = await this.resolve(target);
    const backup = options?.backupPath === undefined ? undefined : await this.resolve(options.backupPath);
    await writeFileAtomic(host, data, { ...options, backupPath: backup });
  }

  async copyFile(from: string, to: string): Promise<void> {
    await fs.copyFile(await this.resolve(from), await this.resolve(to));
  }

  async remove(target: string): Promise<void> {
    await fs.rm(await this.resolveParent(target), { recursive: true, force: true });
  }

  async rename(from: string, to: string): Promise<void> {
    await fs.rename(await this.resolveParent(from), await this.resolveParent(to));
  }

  async chmod(target: string, mode: number): Promise<void> {
    await fs.chmod(await this.resolve(target), mode);
  }

  async chown(target: string, uid: number, gid: number): Promise<void> {
    await fs.chown(await this.resolve(target), uid, gid);
  }

  private toHost(inside: string): string {
    return inside === '/' ? this.root : path.join(this.root, inside);
  }

  /**
   * Walks `target` one component at a time from the root, the way path resolution works after chroot:
   * a symlink's absolute target restarts at the root, a relative one continues from its directory, and
   * `..` at the root stays at the root. Components that do not exist yet are kept as they are, so a path
   * to a file about to be created resolves too. Returns the resolved path inside the root.
   */
  private async resolveInside(target: string, followLast: boolean): Promise<string> {
    const pending = splitInside(target);
    const resolved: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const candidate = [...resolved, part];
      const isLast = pending.length === 0;
      if (isLast && !followLast) {
        resolved.push(part);
        break;
      }
      const host = path.join(this.root, ...candidate);
      let link: string | undefined;
      try {
        link = await fs.readlink(host);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // EINVAL: not a symlink; ENOENT/ENOTDIR: does not exist (yet).
        if (code !== 'EINVAL' && code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      }
      if (link === undefined) {
        resolved.push(part);
        continue;
      }
      hops += 1;
      if (hops > MAX_SYMLINKS) {
        throw new ArgoError('ARGO_SYMLINK_LOOP', `Too many symbolic links while resolving ${target} in ${this.root}`, {
          hint: 'Look for a symlink loop under the target root (ls -l along the path).',
          details: { root: this.root, path: target },
        });
      }
      const linkParts = splitInside(link);
      if (link.startsWith('/')) resolved.length = 0;
      pending.unshift(...linkParts);
    }
    return '/' + resolved.join('/');
  }
}

/** Splits a path inside the root into components; leading `/` and empty components are dropped. */
function splitInside(target: string): string[] {
  if (target.includes('\0')) {
    throw new ArgoError('ARGO_PATH_OUTSIDE_ROOT', 'A path contains a NUL byte', { details: { path: target } });
  }
  return target.split('/').filter((part) => part !== '');
}

/** lstat of a path inside the root, or undefined when it (or a folder on the way) does not exist. */
export async function lstatIfExists(tree: RootedFs, target: string): Promise<Stats | undefined> {
  try {
    return await tree.lstat(target);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/**
 * Merging into ROOT: the image's files are installed, then the VDB entry is assembled in `CAT/-MERGING-PF` and
 * renamed into place as `CAT/PF` (vartree.py's dbtmpdir), replacing every installed instance of the same
 * `CAT/PN:SLOT` ("others in slot"). Runs under a lock on the VDB, which also guards `/var/cache/edb/counter`.
 *
 * The fake does not unmerge the replaced instances' files, and never writes through a symlink: an image path
 * under a symlinked directory of ROOT is skipped (Portage would follow it; outside a chroot that could leave ROOT).
 */

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Cpv } from '../../../src/core/gentoo/parse-cpv.ts';
import type { Cleanup } from './cleanup.ts';
import { withFileLock } from './file-lock.ts';
import { highestInstalledCounter, readInstalledCp } from './read-packages.ts';

export interface InstallEntry {
  /** Absolute installed path: `/usr/share/doc/foo-1/x.txt`. */
  readonly path: string;
  readonly type: 'dir' | 'file' | 'symlink';
  readonly mode: number;
  readonly data?: Uint8Array;
  readonly target?: string;
  /** Epoch seconds. */
  readonly mtime: number;
}

export interface MergeResult {
  /** CPVs of the installed instances this merge replaced (same CPV included). */
  readonly replaced: readonly string[];
  /** Image paths left out because a directory on the way is a symlink. */
  readonly skipped: readonly string[];
  /** CONTENTS lines, for the merge output. */
  readonly contents: readonly string[];
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

/** True when every existing component of `path` below `root` is a real directory (no symlink on the way). */
async function hasPlainParents(root: string, path: string): Promise<boolean> {
  const parts = path.split('/').filter((part) => part !== '');
  let current = root;
  for (const part of parts.slice(0, -1)) {
    current = posix.join(current, part);
    try {
      const info = await lstat(current);
      if (!info.isDirectory()) return false;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return true;
      throw error;
    }
  }
  return true;
}

async function installImage(root: string, image: readonly InstallEntry[]): Promise<{ contents: string[]; skipped: string[] }> {
  const contents: string[] = [];
  const skipped: string[] = [];
  for (const entry of [...image].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (entry.path === '/' || !(await hasPlainParents(root, entry.path))) {
      if (entry.path !== '/') skipped.push(entry.path);
      continue;
    }
    const target = posix.join(root, entry.path);
    if (entry.type === 'dir') {
      await mkdir(target, { recursive: true, mode: entry.mode });
      contents.push(`dir ${entry.path}`);
    } else if (entry.type === 'symlink') {
      await rm(target, { force: true });
      await symlink(entry.target ?? '', target);
      contents.push(`sym ${entry.path} -> ${entry.target ?? ''} ${entry.mtime}`);
    } else {
      const existing = await lstat(target).catch(() => undefined);
      if (existing?.isSymbolicLink() === true) await rm(target);
      await mkdir(posix.dirname(target), { recursive: true });
      const data = entry.data ?? new Uint8Array();
      await writeFile(target, data, { mode: entry.mode });
      await chmod(target, entry.mode);
      contents.push(`obj ${entry.path} ${createHash('md5').update(data).digest('hex')} ${entry.mtime}`);
    }
  }
  return { contents, skipped };
}

/**
 * The next COUNTER: one more than the counter file and than every installed COUNTER (`counter_tick_core`, whose
 * `get_counter_tick_core` checks the installed ones too).
 */
async function nextCounter(root: string, cleanup: Cleanup): Promise<number> {
  const file = posix.join(root, 'var/cache/edb/counter');
  let counter = 0;
  try {
    counter = Number.parseInt(await readFile(file, 'utf8'), 10) || 0;
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  counter = Math.max(counter, highestInstalledCounter(root)) + 1;
  await mkdir(posix.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.argo-tmp`;
  cleanup.add(temp);
  await writeFile(temp, String(counter));
  await rename(temp, file);
  cleanup.forget(temp);
  return counter;
}

export interface MergeInput {
  readonly root: string;
  readonly cpv: Cpv;
  /** The binpkg's `metadata/` files (text ones), which become the VDB entry. */
  readonly metadata: ReadonlyMap<string, string>;
  readonly binpkgMd5?: string;
  readonly image: readonly InstallEntry[];
}

export async function mergeToRoot(input: MergeInput, cleanup: Cleanup): Promise<MergeResult> {
  const vdb = posix.join(input.root, 'var/db/pkg');
  await mkdir(vdb, { recursive: true });
  return withFileLock(posix.join(vdb, '.argo-fake-emerge.lock'), cleanup, async () => {
    const { contents, skipped } = await installImage(input.root, input.image);
    // Read under the lock, so that the view is current: the instances of this CATEGORY/PN and the COUNTERs.
    const installed = readInstalledCp(input.root, input.cpv.cp);
    const counter = await nextCounter(input.root, cleanup);

    const categoryDir = posix.join(vdb, input.cpv.category);
    const merging = posix.join(categoryDir, `-MERGING-${input.cpv.pf}`);
    cleanup.add(merging);
    await rm(merging, { recursive: true, force: true });
    await mkdir(merging, { recursive: true });
    // Some thirty small files: written synchronously, as one thread-pool round trip each costs more than the write.
    for (const [name, value] of input.metadata) writeFileSync(posix.join(merging, name), value);
    if (input.binpkgMd5 !== undefined) writeFileSync(posix.join(merging, 'BINPKGMD5'), `${input.binpkgMd5}\n`);
    writeFileSync(posix.join(merging, 'COUNTER'), String(counter));
    writeFileSync(posix.join(merging, 'CONTENTS'), contents.map((line) => `${line}\n`).join(''));

    const slot = (input.metadata.get('SLOT') ?? '0').trim().split('/')[0] || '0';
    const replaced = installed.filter((pkg) => pkg.slot === slot);
    for (const pkg of replaced) await rm(posix.join(vdb, pkg.category, pkg.pf), { recursive: true, force: true });
    await rename(merging, posix.join(categoryDir, input.cpv.pf));
    cleanup.forget(merging);
    return { replaced: replaced.map((pkg) => pkg.cpv), skipped, contents };
  });
}

import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ArgoError, isArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import { startProgress } from '../logging/progress.ts';
import type { System } from '../system/open-system.ts';
import { lstatIfExists } from '../system/rooted-fs.ts';
import type { SnapshotChange } from './types.ts';

export interface RestoreChangesOptions {
  /** The snapshot's read-only tree, as a path inside the target root (`/.snapshots/5/snapshot`). */
  readonly snapshotTree: string;
  /** The subvolume the snapshot was taken of, as a path inside the target root. */
  readonly subvolume: string;
  /** The changes to undo, paths inside the target root. */
  readonly changes: readonly SnapshotChange[];
  readonly signal?: AbortSignal | undefined;
}

/**
 * Puts each changed path back as it is in the snapshot, in the current system: a file or symlink is copied
 * with its mode, owner, times and xattrs (`cp -a`, reflinked on btrfs) to a temporary name beside it and
 * renamed over the current one, so a reader sees the old or the restored file, never a partial one; a
 * directory gets the snapshot's mode and owner. Parents come before children. Then the paths the snapshot
 * does not have are removed, children before parents: a file is unlinked, a folder removed only once it is
 * empty (`rmdir`), so whatever is below it that was not asked for (another mount, a file left out of the
 * changes) stays, and the folder with it (`restore.folder-kept`). In a dry run nothing is changed.
 */
export async function restoreChanges(system: System, options: RestoreChangesOptions): Promise<void> {
  const runner = system.hostCommands;
  const run = (file: string, args: string[]): Promise<unknown> => runner.run(file, args, { signal: options.signal });
  const ordered = [...options.changes].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  await assertRootOnlyParents(system, ordered.map((change) => change.path));
  // One `progress` event a second at most (the console draws it; see log-events.md), each path counted once.
  using progress = startProgress(system.logger, { task: 'snapshot restore', unit: 'paths', total: ordered.length, now: () => system.clock.monotonicMs() });
  const removals: string[] = [];
  for (const change of ordered) {
    options.signal?.throwIfAborted();
    const rel = path.posix.relative(options.subvolume, change.path);
    const source = path.posix.join(options.snapshotTree, rel);
    const before = await lstatIfExists(system.target, source);
    if (before === undefined) {
      removals.push(change.path);
      continue;
    }
    progress.advance(1, change.path);
    const currentHost = await system.target.resolveParent(change.path);
    const current = await lstatIfExists(system.target, change.path);
    const sourceHost = await system.target.resolveParent(source);
    if (before.isDirectory()) {
      if (current !== undefined && !current.isDirectory() && !runner.dryRun) await system.target.remove(change.path);
      if (current === undefined || !current.isDirectory()) await run('mkdir', ['-p', '--', currentHost]);
      await run('chown', ['--no-dereference', `--reference=${sourceHost}`, '--', currentHost]);
      await run('chmod', [`--reference=${sourceHost}`, '--', currentHost]);
      continue;
    }
    await run('mkdir', ['-p', '--', path.dirname(currentHost)]);
    const temporary = path.join(path.dirname(currentHost), `.${path.basename(currentHost)}.argo-restore-${randomBytes(6).toString('hex')}`);
    await run('cp', ['-a', '--reflink=auto', '--no-target-directory', '--', sourceHost, temporary]);
    try {
      if (current?.isDirectory() && !runner.dryRun) await system.target.remove(change.path);
      await run('mv', ['-f', '--no-target-directory', '--', temporary, currentHost]);
    } catch (error) {
      if (!runner.dryRun) await system.host.remove(temporary);
      throw error;
    }
  }
  for (const target of removals.reverse()) {
    options.signal?.throwIfAborted();
    progress.advance(1, target);
    const current = await lstatIfExists(system.target, target);
    if (current === undefined) continue;
    if (!current.isDirectory()) {
      if (!runner.dryRun) await system.target.remove(target);
      continue;
    }
    try {
      await runner.run('rmdir', ['--', await system.target.resolveParent(target)], { signal: options.signal });
    } catch (error) {
      if (!isArgoError(error, 'ARGO_COMMAND_FAILED')) throw error;
      logEvent(system.logger, 'restore.folder-kept', { path: target, reason: 'not empty' });
    }
  }
  progress.finish();
}

/**
 * The restore works by path (mkdir, chown, chmod, cp, mv, rm as root), so a user who can write to a folder on
 * the way could swap an entry for a symlink between two of those steps and have root change a file elsewhere
 * (chmod --reference follows links). Every existing folder above a path to restore must therefore be root's and
 * writable by root only; otherwise nothing is restored and the folders are named.
 */
async function assertRootOnlyParents(system: System, paths: readonly string[]): Promise<void> {
  const verdicts = new Map<string, boolean>();
  const unsafe = new Set<string>();
  for (const target of paths) {
    for (let dir = path.posix.dirname(target); ; dir = path.posix.dirname(dir)) {
      let safe = verdicts.get(dir);
      if (safe === undefined) {
        const stats = await system.target.stat(dir).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
          throw error;
        });
        safe = stats === undefined || (stats.uid === 0 && (stats.mode & 0o022) === 0);
        verdicts.set(dir, safe);
      }
      if (!safe) unsafe.add(dir);
      if (dir === '/') break;
    }
  }
  if (unsafe.size > 0) {
    throw new ArgoError('ARGO_UNSAFE_PATH', `Nothing was restored: ${[...unsafe].sort().join(', ')} can be changed by users other than root`, {
      hint: 'A file to restore lies below a folder another user may write to; restore it by hand after checking it, or leave it out with --paths.',
      details: { folders: [...unsafe].sort() },
    });
  }
}


/** Keeps the changes at or below one of `paths` (paths inside the target root); all of them without paths. */
export function selectChanges(changes: readonly SnapshotChange[], paths: readonly string[] | undefined): SnapshotChange[] {
  if (paths === undefined || paths.length === 0) return [...changes];
  const wanted = paths.map((candidate) => path.posix.resolve('/', candidate));
  return changes.filter((change) => wanted.some((want) => change.path === want || change.path.startsWith(want === '/' ? '/' : `${want}/`)));
}

import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { ArgoError } from '../core/errors.ts';
import type { System } from '../system/open-system.ts';
import { createPrivateTempDir } from '../system/private-dir.ts';
import { createRootedFs, lstatIfExists, type RootedFs } from '../system/rooted-fs.ts';
import { replaySendStream } from './btrfs-send-replay.ts';
import { parseSendStream } from './btrfs-send-stream.ts';
import { compareCandidates, type ChangeListOptions } from './diff-trees.ts';
import type { SnapshotChange } from './types.ts';

/**
 * The change list of `diffTrees` for two read-only snapshots of one subvolume, from btrfs' own list of what
 * differs: `btrfs send --no-data -p OLDER NEWER` (metadata only, written to a private scratch file) names every
 * inode and name that changed; those paths, and the other names of hard-linked files among them, are then
 * compared by the same rules as the tree walk. Its cost follows the size of the change, not of the trees.
 * `older` and `newer` are paths inside the target root (`/.snapshots/5/snapshot`); the paths returned are
 * relative to the tree tops (`/etc/hostname`), sorted. Throws when send or the stream fails: the caller falls
 * back to the tree walk.
 */
export async function sendChanges(system: System, older: string, newer: string, options: ChangeListOptions = {}): Promise<SnapshotChange[]> {
  const { signal } = options;
  const olderHost = await system.target.resolve(older);
  const newerHost = await system.target.resolve(newer);
  const scratch = createPrivateTempDir('argo-send');
  let stream: Buffer;
  try {
    const file = path.join(scratch.dir, 'stream');
    // Reads the snapshots only; the stream goes to our own scratch folder on the host, so it runs in a dry run too.
    await system.hostCommands.run('btrfs', ['send', '--no-data', '-p', olderHost, '-f', file, newerHost], { signal, mutates: false });
    stream = await system.host.readBytes(file);
  } finally {
    scratch.remove();
  }
  const candidates = replaySendStream(parseSendStream(stream));
  for (const rel of candidates.unrepresentable) options.onUnrepresentable?.(rel);
  return compareCandidates(createRootedFs(olderHost), createRootedFs(newerHost), candidates.paths, {
    ...options,
    otherNames: (tree, rel, stats) => otherNamesOf(system, tree, rel, stats, options),
  });
}

/**
 * A file with several names is named once in a send stream, but every one of its names changed with it. Its
 * names come from `btrfs inspect-internal inode-resolve`, which reads the inode's back references, never the
 * tree. That prints one raw path per line, so a name with a newline cannot be told apart: every line must name a
 * path inside the tree that has that inode, or the send-based list is given up.
 */
async function otherNamesOf(system: System, tree: RootedFs, rel: string, stats: Stats, options: ChangeListOptions): Promise<string[]> {
  const result = await system.hostCommands.run('btrfs', ['inspect-internal', 'inode-resolve', String(stats.ino), tree.root], { signal: options.signal, mutates: false });
  const names: string[] = [];
  for (const line of result.stdout.split('\n')) {
    if (line === '') continue;
    const other = line.startsWith(`${tree.root}/`) ? line.slice(tree.root.length) : undefined;
    const otherStats = other === undefined ? undefined : await lstatIfExists(tree, other);
    if (other !== undefined && otherStats?.ino === stats.ino && otherStats.dev === stats.dev) {
      names.push(other);
    } else if (other?.includes('\uFFFD') === true) {
      options.onUnrepresentable?.(other);
    } else {
      throw new ArgoError('ARGO_INVALID_INPUT', `btrfs inode-resolve printed a line that is no other name of ${rel} in ${tree.root}`, {
        hint: 'A name with a newline among the hard links; the change list is made by walking both trees instead.',
        details: { path: rel, ino: stats.ino, line },
      });
    }
  }
  return names;
}

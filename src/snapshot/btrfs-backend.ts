import * as path from 'node:path';
import { isArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import { createRootedFs } from '../system/rooted-fs.ts';
import type { System } from '../system/open-system.ts';
import { sendChanges } from './btrfs-send-changes.ts';
import { takeScratchSnapshot } from './btrfs-send-scratch.ts';
import { diffTrees, type ChangeListOptions } from './diff-trees.ts';
import { assertFreeSpace, DEFAULT_MIN_FREE_BYTES } from './free-space.ts';
import { restoreChanges, selectChanges } from './restore-changes.ts';
import { formatSnapshotInfo, parseSnapshotInfo } from './snapshot-info.ts';
import { snapshotError } from './snapshot-errors.ts';
import { CURRENT, type CreateSnapshotRequest, type Snapshot, type SnapshotBackend, type SnapshotChange } from './types.ts';
import { validateRequest } from './validate-request.ts';

export interface BtrfsBackendOptions {
  readonly system: System;
  /** The subvolume to snapshot, as a path inside the target root. Default `/`. */
  readonly subvolume?: string | undefined;
  readonly minFreeBytes?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * How `diff` finds the changes: `send` from btrfs' own list (btrfs-send-changes.ts), `walk` by walking both
   * trees (diff-trees.ts), `auto` (default) send, and the walk when send is unavailable or fails (a `pivot` is
   * logged with why). Both give the same list; `send` and `walk` exist to prove that and to measure them.
   */
  readonly diffMethod?: DiffMethod | undefined;
}

export type DiffMethod = 'auto' | 'send' | 'walk';

/**
 * Snapshots with plain `btrfs` in snapper's layout: `<subvolume>/.snapshots/<N>/snapshot` (read-only) with an
 * `info.json` beside it. `btrfs` runs on the host (it acts on host paths of the target), so it works from a
 * live USB without entering the target.
 */
export function createBtrfsBackend(options: BtrfsBackendOptions): SnapshotBackend {
  const { system, signal } = options;
  const subvolume = options.subvolume ?? '/';
  const minFreeBytes = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  const snapshotsDir = path.posix.join(subvolume, '.snapshots');
  const snapshotPath = (id: number): string => path.posix.join(snapshotsDir, String(id), 'snapshot');
  const treePath = (id: number): string => (id === CURRENT ? subvolume : snapshotPath(id));
  const btrfs = (args: string[], mutates = true) => system.hostCommands.run('btrfs', args, { signal, mutates });
  const diffMethod = options.diffMethod ?? 'auto';

  async function numbers(): Promise<number[]> {
    if (!(await system.target.isDirectory(snapshotsDir))) return [];
    return (await system.target.readdir(snapshotsDir))
      .filter((entry) => entry.type === 'directory' && /^[1-9]\d*$/.test(entry.name))
      .map((entry) => Number(entry.name))
      .sort((a, b) => a - b);
  }

  /**
   * Claims the next snapshot number by creating its folder with a plain mkdir, which fails when the folder
   * exists: two runs at once never share a number (and never delete each other's snapshot on failure).
   */
  async function claimNumber(): Promise<number> {
    for (let attempt = 0; ; attempt += 1) {
      const id = ((await numbers()).at(-1) ?? 0) + 1;
      try {
        await system.hostCommands.run('mkdir', ['-m', '0755', '--', await system.target.resolve(path.posix.join(snapshotsDir, String(id)))], { signal });
        return id;
      } catch (error) {
        if (!isArgoError(error, 'ARGO_COMMAND_FAILED') || attempt >= 5) throw error;
      }
    }
  }

  async function requireSnapshot(id: number): Promise<void> {
    if (id === CURRENT) return;
    if (!(await system.target.isDirectory(snapshotPath(id)))) {
      throw snapshotError('ARGO_SNAPSHOT_NOT_FOUND', `Snapshot ${id} does not exist in ${path.posix.join(system.root, snapshotsDir)}`, {
        hint: 'List the snapshots with argo snapshot list.',
        details: { id, subvolume },
      });
    }
  }

  async function readTree(id: number) {
    await requireSnapshot(id);
    return createRootedFs(await system.target.resolve(treePath(id)));
  }

  async function changeList(from: number, to: number): Promise<SnapshotChange[]> {
    if (from === to) return [];
    const listOptions: ChangeListOptions = {
      signal,
      onUnrepresentable: (rel) => system.logger.warn({ path: path.posix.join(subvolume, rel) }, 'Left out of the change list: a name on the path is not UTF-8'),
    };
    // --pretend changes nothing, not even for a moment: no temporary snapshot, so the live system is walked.
    const live = from === CURRENT || to === CURRENT;
    if (diffMethod === 'auto' && live && system.hostCommands.dryRun) {
      system.logger.info({ from, to }, 'A dry run compares the live system by walking its tree (send would need a temporary snapshot)');
    } else if (diffMethod !== 'walk') {
      try {
        return await sendChangeList(from, to, listOptions);
      } catch (error) {
        if (diffMethod === 'send' || signal?.aborted) throw error;
        logEvent(system.logger, 'pivot', {
          phase: 'snapshot',
          step: 'diff',
          attempt: 'btrfs-send',
          outcome: isArgoError(error) ? error.code : 'bug',
          reason: error instanceof Error ? error.message : String(error),
          next: 'tree-walk',
        });
      }
    }
    return diffTrees(await readTree(from), await readTree(to), listOptions);
  }

  /** The live system (0) is compared through a temporary read-only snapshot of it: send reads read-only subvolumes only. */
  async function sendChangeList(from: number, to: number, listOptions: ChangeListOptions): Promise<SnapshotChange[]> {
    const scratch = from === CURRENT || to === CURRENT ? await takeScratchSnapshot(system, { subvolume, snapshotsDir, signal }) : undefined;
    try {
      const tree = (id: number): string => (id === CURRENT ? (scratch?.path as string) : snapshotPath(id));
      return await sendChanges(system, tree(from), tree(to), listOptions);
    } finally {
      await scratch?.remove();
    }
  }

  const backend: SnapshotBackend = {
    name: 'btrfs',
    subvolume,
    snapshotPath,

    async create(request: CreateSnapshotRequest): Promise<Snapshot> {
      validateRequest(request);
      if (request.preId !== undefined) await requireSnapshot(request.preId);
      await assertFreeSpace(system.target, subvolume, minFreeBytes);
      if (!(await system.target.exists(snapshotsDir))) {
        await btrfs(['subvolume', 'create', await system.target.resolve(snapshotsDir)]);
      }
      const date = system.clock.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
      const describe = (id: number): Snapshot => ({
        id,
        kind: request.kind,
        preId: request.kind === 'post' ? request.preId : undefined,
        date,
        description: request.description,
        userdata: { ...request.userdata },
        cleanup: request.cleanup ?? '',
      });
      // A dry run records the btrfs command and writes nothing: no folder, no info.json (snapper's create
      // is not run either and reports snapshot 0 the same way).
      if (system.hostCommands.dryRun) {
        const next = ((await numbers()).at(-1) ?? 0) + 1;
        await btrfs(['subvolume', 'snapshot', '-r', await system.target.resolve(subvolume), await system.target.resolve(snapshotPath(next))]);
        return describe(CURRENT);
      }
      const id = await claimNumber();
      const folder = path.posix.join(snapshotsDir, String(id));
      const snapshot = describe(id);
      let taken = false;
      try {
        await btrfs(['subvolume', 'snapshot', '-r', await system.target.resolve(subvolume), await system.target.resolve(snapshotPath(id))]);
        taken = true;
        await system.target.writeFileAtomic(path.posix.join(folder, 'info.json'), formatSnapshotInfo(snapshot), { mode: 0o644 });
      } catch (error) {
        // Only what this call made is taken down: the number was claimed by our own mkdir.
        if (taken) await btrfs(['subvolume', 'delete', await system.target.resolve(snapshotPath(id))]);
        await system.target.remove(folder);
        throw error;
      }
      return snapshot;
    },

    async list(): Promise<Snapshot[]> {
      const snapshots: Snapshot[] = [];
      for (const id of await numbers()) {
        if (!(await system.target.isDirectory(snapshotPath(id)))) continue;
        const info = await system.target.readTextIfExists(path.posix.join(snapshotsDir, String(id), 'info.json'));
        // A snapshot without info.json (made by hand, or by snapper with info.xml) is listed, not hidden.
        snapshots.push(info === undefined ? { id, kind: 'single', date: '', description: '', userdata: {}, cleanup: '' } : parseSnapshotInfo(info, id));
      }
      return snapshots;
    },

    async diff(from: number, to: number): Promise<SnapshotChange[]> {
      await requireSnapshot(from);
      await requireSnapshot(to);
      const changes = await changeList(from, to);
      return changes.map((change) => ({ ...change, path: path.posix.join(subvolume, change.path) }));
    },

    async restore(from: number, to = CURRENT, paths?: readonly string[]): Promise<SnapshotChange[]> {
      const changes = selectChanges(await backend.diff(from, to), paths);
      await backend.undo(from, to, changes);
      return changes;
    },

    async undo(from: number, to: number, changes: readonly SnapshotChange[]): Promise<void> {
      await requireSnapshot(from);
      await requireSnapshot(to);
      await restoreChanges(system, { snapshotTree: snapshotPath(from), subvolume, changes, signal });
    },

    async delete(id: number): Promise<void> {
      await requireSnapshot(id);
      await btrfs(['subvolume', 'delete', await system.target.resolve(snapshotPath(id))]);
      if (!system.hostCommands.dryRun) await system.target.remove(path.posix.join(snapshotsDir, String(id)));
    },
  };
  return backend;
}

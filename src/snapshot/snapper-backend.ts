import * as path from 'node:path';
import { ArgoError } from '../core/errors.ts';
import type { System } from '../system/open-system.ts';
import type { CommandRunner } from '../system/run-command.ts';
import { assertFreeSpace, DEFAULT_MIN_FREE_BYTES } from './free-space.ts';
import { parseSnapperList } from './parse-snapper-list.ts';
import { parseSnapperStatus } from './parse-snapper-status.ts';
import { restoreChanges, selectChanges } from './restore-changes.ts';
import { snapshotError } from './snapshot-errors.ts';
import { CURRENT, type CreateSnapshotRequest, type Snapshot, type SnapshotBackend, type SnapshotChange } from './types.ts';
import { formatUserdata, validateRequest } from './validate-request.ts';

/**
 * How snapper is run (see README.md in this folder):
 * - `host`: root is `/`; `snapper --no-dbus` on this machine.
 * - `host-root`: a foreign root (live USB); the live system's snapper with `--no-dbus --root ROOT`, so a
 *   target broken by the update it is being repaired from need not run. Its undochange is not used:
 *   snapper 0.10.4 resolves undochange paths on the host with --root (it fails and still exits 0), so
 *   restore copies files back from the snapshot itself.
 * - `chroot`: a foreign root whose live system has no snapper; the target's own snapper inside the chroot.
 */
export type SnapperInvocation = 'host' | 'host-root' | 'chroot';

export interface SnapperBackendOptions {
  readonly system: System;
  readonly config: string;
  /** The config's SUBVOLUME as a path inside the target root. Default `/`. */
  readonly subvolume?: string | undefined;
  readonly invocation?: SnapperInvocation | undefined;
  readonly minFreeBytes?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export function createSnapperBackend(options: SnapperBackendOptions): SnapshotBackend {
  const { system, config, signal } = options;
  const subvolume = options.subvolume ?? '/';
  const invocation = options.invocation ?? (system.isForeignRoot ? 'host-root' : 'host');
  const minFreeBytes = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  const runner: CommandRunner = invocation === 'chroot' ? system.commands : system.hostCommands;
  const globalArgs = ['--no-dbus', ...(invocation === 'host-root' ? ['--root', system.root] : []), '--utc', '-c', config];
  const snapper = (args: readonly string[], mutates: boolean, onLine?: (line: string, stream: 'stdout' | 'stderr') => void) =>
    runner.run('snapper', [...globalArgs, ...args], { signal, mutates, onLine });
  const snapshotPath = (id: number): string => path.posix.join(subvolume, '.snapshots', String(id), 'snapshot');

  async function list(): Promise<Snapshot[]> {
    const result = await snapper(['--jsonout', 'list', '--disable-used-space'], false);
    return parseSnapperList(result.stdout, config);
  }

  async function requireSnapshots(...ids: number[]): Promise<Snapshot[]> {
    const snapshots = await list();
    for (const id of ids) {
      if (id !== CURRENT && !snapshots.some((snapshot) => snapshot.id === id)) {
        throw snapshotError('ARGO_SNAPSHOT_NOT_FOUND', `Snapshot ${id} does not exist in snapper config ${config}`, {
          hint: 'List the snapshots with argo snapshot list.',
          details: { id, config },
        });
      }
    }
    return snapshots;
  }

  async function diff(from: number, to: number): Promise<SnapshotChange[]> {
    await requireSnapshots(from, to);
    const result = await snapper(['status', `${from}..${to}`], false);
    return parseSnapperStatus(result.stdout);
  }

  /** Paths per undochange call: they go on its command line, and argv has a limit. */
  const UNDO_BATCH = 500;

  async function undoChanges(from: number, to: number, changes: readonly SnapshotChange[], everything: boolean): Promise<void> {
    if (invocation === 'host-root') {
      await restoreChanges(system, { snapshotTree: snapshotPath(from), subvolume, changes, signal });
      return;
    }
    // snapper undochange reports per-file failures ("failed to modify /etc/x") and still exits 0.
    // Comparing against the writable current tree warns "special btrfs cmpDirs failed": not a failure.
    const failures: string[] = [];
    const onLine = (line: string): void => {
      if (/failed/i.test(line) && !/cmpDirs failed|not read-only snapshots/.test(line)) failures.push(line);
    };
    if (everything) {
      await snapper(['undochange', `${from}..${to}`], true, onLine);
    } else {
      for (let start = 0; start < changes.length; start += UNDO_BATCH) {
        await snapper(['undochange', `${from}..${to}`, ...changes.slice(start, start + UNDO_BATCH).map((change) => change.path)], true, onLine);
      }
    }
    if (failures.length > 0) {
      throw new ArgoError('ARGO_COMMAND_FAILED', `snapper undochange ${from}..${to} could not restore every file`, {
        hint: 'The lines in the details name the files; restore them from the snapshot folder by hand if needed.',
        details: { config, from, to, lines: failures.slice(0, 40) },
      });
    }
  }

  return {
    name: 'snapper',
    subvolume,
    snapshotPath,
    list,
    diff,

    async create(request: CreateSnapshotRequest): Promise<Snapshot> {
      validateRequest(request);
      if (request.preId !== undefined) await requireSnapshots(request.preId);
      await assertFreeSpace(system.target, subvolume, minFreeBytes);
      const args = ['create', '--type', request.kind];
      if (request.preId !== undefined) args.push('--pre-number', String(request.preId));
      if (request.cleanup !== undefined) args.push('--cleanup-algorithm', request.cleanup);
      args.push('--print-number', '--description', request.description);
      const userdata = formatUserdata(request.userdata ?? {});
      if (userdata !== '') args.push('--userdata', userdata);
      const result = await snapper(args, true);
      if (!result.ran) {
        return { id: CURRENT, kind: request.kind, preId: request.preId, date: '', description: request.description, userdata: { ...request.userdata }, cleanup: request.cleanup ?? '' };
      }
      const id = Number(result.stdout.trim());
      if (!Number.isInteger(id) || id <= 0) {
        throw new ArgoError('ARGO_INVALID_INPUT', 'snapper create did not print a snapshot number', { details: { stdout: result.stdout.slice(0, 200) } });
      }
      const created = (await list()).find((snapshot) => snapshot.id === id);
      if (created === undefined) throw snapshotError('ARGO_SNAPSHOT_NOT_FOUND', `snapper printed snapshot ${id} but does not list it`, { details: { id, config } });
      return created;
    },

    async restore(from: number, to = CURRENT, paths?: readonly string[]): Promise<SnapshotChange[]> {
      const changes = selectChanges(await diff(from, to), paths);
      if (changes.length === 0) return [];
      await undoChanges(from, to, changes, paths === undefined || paths.length === 0);
      return changes;
    },

    async undo(from: number, to: number, changes: readonly SnapshotChange[]): Promise<void> {
      await requireSnapshots(from, to);
      if (changes.length > 0) await undoChanges(from, to, changes, false);
    },

    async delete(id: number): Promise<void> {
      await requireSnapshots(id);
      await snapper(['delete', String(id)], true);
    },
  };
}

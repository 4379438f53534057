import { isArgoError } from '../core/errors.ts';
import { mountContaining, parseMountinfo } from '../core/system-state/parse-mountinfo.ts';
import type { System } from '../system/open-system.ts';
import { parseDefaultSubvolume, snapshotIdOfSubvolume } from './booted-snapshot.ts';
import { snapshotError } from './snapshot-errors.ts';
import type { SnapshotBackend } from './types.ts';
import { findUpdatePair, planRetention, type RetentionPlan, type UpdatePair } from './update-pairs.ts';

export interface ProtectedSnapshot {
  readonly id: number;
  /** `mounted`: the subvolume mounted as the root (what the running system booted from, on `/`); `default`: the btrfs default subvolume (what boots next without subvol=). */
  readonly why: 'mounted' | 'default';
}

/**
 * Snapshots that must never be deleted. The mounted one comes from mountinfo: the `root` field of the
 * btrfs mount holding the subvolume is the subvolume path that is mounted (`/@/.snapshots/12/snapshot`
 * after booting a snapshot). The default one from `btrfs subvolume get-default`, which snapper rollback sets.
 */
export async function findProtectedSnapshots(system: System, backend: SnapshotBackend, signal?: AbortSignal): Promise<ProtectedSnapshot[]> {
  const found: ProtectedSnapshot[] = [];
  const hostPath = await system.target.resolve(backend.subvolume);
  const mount = mountContaining(parseMountinfo(await system.host.readText('/proc/self/mountinfo')), hostPath);
  const mountedId = mount?.fsType === 'btrfs' ? snapshotIdOfSubvolume(mount.root) : undefined;
  if (mountedId !== undefined) found.push({ id: mountedId, why: 'mounted' });
  try {
    const result = await system.hostCommands.run('btrfs', ['subvolume', 'get-default', hostPath], { signal, mutates: false });
    const defaultPath = parseDefaultSubvolume(result.stdout);
    const defaultId = defaultPath === undefined ? undefined : snapshotIdOfSubvolume(defaultPath);
    if (defaultId !== undefined) found.push({ id: defaultId, why: 'default' });
  } catch (error) {
    if (!isArgoError(error, 'ARGO_COMMAND_FAILED')) throw error;
  }
  return found;
}

/** Deletes one snapshot unless it is protected (ARGO_SNAPSHOT_PROTECTED). */
export async function deleteSnapshot(system: System, backend: SnapshotBackend, id: number, signal?: AbortSignal): Promise<void> {
  const guard = (await findProtectedSnapshots(system, backend, signal)).find((entry) => entry.id === id);
  if (guard !== undefined) {
    throw snapshotError('ARGO_SNAPSHOT_PROTECTED', `Snapshot ${id} is ${guard.why === 'mounted' ? 'the mounted root (the system runs from it)' : 'the default subvolume (the system boots from it)'}`, {
      hint: 'Boot another snapshot or set another default subvolume first.',
      details: { id, why: guard.why },
    });
  }
  await backend.delete(id);
}

export interface RetentionResult extends RetentionPlan {
  readonly deleted: readonly number[];
}

/** Keeps the snapshots of the last `keepPairs` updates, deletes older update snapshots, never a protected one. */
export async function applyRetention(
  system: System,
  backend: SnapshotBackend,
  options: { readonly keepPairs: number; readonly signal?: AbortSignal | undefined },
): Promise<RetentionResult> {
  const protectedIds = new Set((await findProtectedSnapshots(system, backend, options.signal)).map((entry) => entry.id));
  const plan = planRetention(await backend.list(), { keepPairs: options.keepPairs, protectedIds });
  const deleted: number[] = [];
  // Posts before their pres: snapper refuses nothing here, but a half-done run then leaves whole pairs.
  for (const snapshot of [...plan.delete].sort((a, b) => b.id - a.id)) {
    await backend.delete(snapshot.id);
    deleted.push(snapshot.id);
  }
  return { ...plan, deleted };
}

export async function findUpdateSnapshots(backend: SnapshotBackend, updateId: string): Promise<UpdatePair> {
  return findUpdatePair(await backend.list(), updateId);
}

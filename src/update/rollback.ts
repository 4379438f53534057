import { ArgoError } from '../core/errors.ts';
import { findUpdateSnapshots } from '../snapshot/retention.ts';
import type { SnapshotBackend, SnapshotChange } from '../snapshot/types.ts';

export interface RollbackResult {
  readonly updateId: string;
  readonly backend: string;
  readonly pre: number;
  readonly post: number | undefined;
  readonly restored: readonly SnapshotChange[];
}

/** Paths per restore call: snapper undochange takes them as arguments, and argv has a limit. */
const RESTORE_BATCH = 500;

function isArgoLog(file: string): boolean {
  return file === '/var/log/argo' || file.startsWith('/var/log/argo/');
}

/** The newest update id that has a pre snapshot. */
async function latestUpdateId(backend: SnapshotBackend): Promise<string | undefined> {
  const pres = (await backend.list()).filter((snapshot) => snapshot.kind === 'pre' && snapshot.userdata['argo-update'] !== undefined);
  return pres.at(-1)?.userdata['argo-update'];
}

/**
 * `apkg rollback`: file-level undo of an update. Every file that changed between the update's pre and post
 * snapshots is put back as it was in the pre snapshot, in the running system (snapper undochange pre..post,
 * or the btrfs backend's copy-back). Files changed after the post snapshot, and argo's own logs, are left alone.
 */
export async function rollbackUpdate(backend: SnapshotBackend, updateId: string | undefined): Promise<RollbackResult> {
  const id = updateId ?? (await latestUpdateId(backend));
  if (id === undefined) {
    throw new ArgoError('ARGO_SNAPSHOT_NOT_FOUND', 'No apkg update snapshots were found', { hint: 'argo snapshot list shows the snapshots; updates carry argo-update=<id>.' });
  }
  const pair = await findUpdateSnapshots(backend, id);
  if (pair.pre === undefined) {
    throw new ArgoError('ARGO_SNAPSHOT_NOT_FOUND', `No pre-update snapshot for update ${id}`, { hint: 'argo snapshot list --update ID shows what exists.', details: { update: id } });
  }
  // argo's own logs (of this very update among them) stay: a rollback must not erase the record of why.
  const changes = (await backend.diff(pair.pre.id, pair.post?.id ?? 0)).filter((change) => !isArgoLog(change.path));
  const restored: SnapshotChange[] = [];
  for (let start = 0; start < changes.length; start += RESTORE_BATCH) {
    const paths = changes.slice(start, start + RESTORE_BATCH).map((change) => change.path);
    restored.push(...(await backend.restore(pair.pre.id, pair.post?.id ?? 0, paths)));
  }
  return { updateId: id, backend: backend.name, pre: pair.pre.id, post: pair.post?.id, restored };
}

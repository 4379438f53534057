import type { Snapshot } from './types.ts';

/** Userdata key that ties a snapshot to an `apkg update` run. */
export const UPDATE_KEY = 'argo-update';
export const STATUS_KEY = 'argo-status';

export interface UpdatePair {
  readonly updateId: string;
  readonly pre: Snapshot | undefined;
  readonly post: Snapshot | undefined;
}

/** The pre/post snapshots of one update: the newest pre with that id and the post that names it. */
export function findUpdatePair(snapshots: readonly Snapshot[], updateId: string): UpdatePair {
  const tagged = snapshots.filter((snapshot) => snapshot.userdata[UPDATE_KEY] === updateId);
  const pre = tagged.filter((snapshot) => snapshot.kind === 'pre').sort((a, b) => b.id - a.id)[0];
  const post = tagged
    .filter((snapshot) => snapshot.kind === 'post' && (pre === undefined || snapshot.preId === pre.id))
    .sort((a, b) => b.id - a.id)[0];
  return { updateId, pre, post };
}

export interface RetentionPlan {
  /** Update ids whose snapshots are kept, newest first. */
  readonly keptUpdates: readonly string[];
  readonly delete: readonly Snapshot[];
  /** Snapshots that retention would delete but that are protected (booted, default subvolume). */
  readonly protected: readonly Snapshot[];
}

/**
 * Keeps the snapshots of the newest `keepPairs` updates (by their newest snapshot number) and selects
 * the snapshots of older updates for deletion, except protected ones. Snapshots without an update id are
 * never touched: they belong to someone else (snapper's timeline, a person).
 */
export function planRetention(
  snapshots: readonly Snapshot[],
  options: { readonly keepPairs: number; readonly protectedIds: ReadonlySet<number> },
): RetentionPlan {
  const newest = new Map<string, number>();
  for (const snapshot of snapshots) {
    const updateId = snapshot.userdata[UPDATE_KEY];
    if (updateId === undefined) continue;
    newest.set(updateId, Math.max(newest.get(updateId) ?? 0, snapshot.id));
  }
  const ordered = [...newest.entries()].sort((a, b) => b[1] - a[1]).map(([updateId]) => updateId);
  const kept = new Set(ordered.slice(0, Math.max(0, options.keepPairs)));
  const doomed = snapshots.filter((snapshot) => {
    const updateId = snapshot.userdata[UPDATE_KEY];
    return updateId !== undefined && !kept.has(updateId);
  });
  return {
    keptUpdates: ordered.filter((updateId) => kept.has(updateId)),
    delete: doomed.filter((snapshot) => !options.protectedIds.has(snapshot.id)),
    protected: doomed.filter((snapshot) => options.protectedIds.has(snapshot.id)),
  };
}

/** The shared vocabulary of snapshot backends (snapper, plain btrfs). Types only. */

export type SnapshotKind = 'single' | 'pre' | 'post';

/** Snapshot number 0 means "the current system", as in snapper (`status 5..0`). */
export const CURRENT = 0;

export interface Snapshot {
  /** The snapshot number: the folder `.snapshots/<id>/snapshot` of the snapshotted subvolume. */
  readonly id: number;
  readonly kind: SnapshotKind;
  /** For a post snapshot, the number of its pre snapshot. */
  readonly preId?: number | undefined;
  /** ISO 8601 in UTC (`2026-11-22T04:02:28Z`); empty when the backend does not know it. */
  readonly date: string;
  readonly description: string;
  readonly userdata: Readonly<Record<string, string>>;
  /** Cleanup algorithm (`number`), empty when none. */
  readonly cleanup: string;
}

export interface CreateSnapshotRequest {
  readonly kind: SnapshotKind;
  /** Required for a post snapshot. */
  readonly preId?: number | undefined;
  readonly description: string;
  /** e.g. `{ 'argo-update': '<id>', 'argo-status': 'failed' }`. Keys must not contain `,` or `=`, values no `,`. */
  readonly userdata?: Readonly<Record<string, string>> | undefined;
  readonly cleanup?: 'number' | undefined;
}

export type ChangeStatus = 'created' | 'deleted' | 'modified';

export interface SnapshotChange {
  /** Path inside the target root (`/etc/hostname`). */
  readonly path: string;
  /** Relative to the older side: `created` exists only in the newer tree. */
  readonly status: ChangeStatus;
}

/**
 * One place snapshots live: a btrfs subvolume of the target with its `.snapshots` folder. Both backends
 * pass the same conformance suite (snapshot-conformance.ts).
 */
export interface SnapshotBackend {
  readonly name: 'snapper' | 'btrfs';
  /** The snapshotted subvolume, as a path inside the target root (`/` for a root filesystem). */
  readonly subvolume: string;
  /** Fails with ARGO_SNAPSHOT_NO_SPACE (see snapshot-errors.ts) before creating when free space is short. */
  create(request: CreateSnapshotRequest): Promise<Snapshot>;
  /** Every snapshot, oldest first; never the "current" pseudo-snapshot 0. */
  list(): Promise<Snapshot[]>;
  /** Paths that differ from snapshot `from` to `to` (0: the current system), sorted by path. */
  diff(from: number, to: number): Promise<SnapshotChange[]>;
  /**
   * File-level undo: puts the files changed between `from` and `to` (default 0, the current system) back as
   * they were in `from`, in the current system. With `paths`, only those paths (and what is below them).
   * Returns the changes that were undone.
   */
  restore(from: number, to?: number, paths?: readonly string[]): Promise<SnapshotChange[]>;
  /**
   * Puts exactly `changes` (a subset of `diff(from, to)`) back as they were in `from`, in the current
   * system, without diffing again. The caller chose them; nothing else is touched.
   */
  undo(from: number, to: number, changes: readonly SnapshotChange[]): Promise<void>;
  delete(id: number): Promise<void>;
  /** Path inside the target root of a snapshot's read-only tree (`/.snapshots/5/snapshot`). */
  snapshotPath(id: number): string;
}

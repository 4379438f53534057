import * as path from 'node:path';
import { ArgoError } from '../core/errors.ts';
import { mountsUnder, parseMountinfo } from '../core/system-state/parse-mountinfo.ts';
import { isBelow, planRollback, selectUpdateChanges, type ConflictMode, type PathChange } from '../core/update/rollback-plan.ts';
import { logEvent } from '../core/log-events.ts';
import { differingPaths } from '../snapshot/diff-trees.ts';
import { findUpdateSnapshots } from '../snapshot/retention.ts';
import { CURRENT, type SnapshotBackend } from '../snapshot/types.ts';
import { UPDATE_KEY } from '../snapshot/update-pairs.ts';
import type { System } from '../system/open-system.ts';
import { createRootedFs } from '../system/rooted-fs.ts';
import { changedSinceUpdate, readUpdateFileRecord, type PackageRecord, type UpdateWindow } from './rollback-record.ts';

/** Userdata key of the snapshot taken just before a rollback: the update it rolls back. */
export const ROLLBACK_KEY = 'argo-rollback-of';

export interface NotCovered {
  /** Mount point inside the target root (`/boot`). */
  readonly path: string;
  readonly fsType: string;
  /** Files of the update's packages on it: they are not in the snapshots and stay as they are. */
  readonly files: number;
}

export interface RollbackResult {
  readonly updateId: string;
  readonly backend: string;
  readonly pre: number;
  /** Absent when the update was interrupted before its post snapshot: then the live system is compared. */
  readonly post: number | undefined;
  readonly window: UpdateWindow;
  readonly packages: readonly PackageRecord[];
  /** What is (or, with --pretend, would be) restored, removed or put back; sorted by path. */
  readonly restore: readonly PathChange[];
  /** Changes since the pre snapshot that are not the update's: left alone. */
  readonly other: { readonly count: number; readonly sample: readonly string[] };
  /** The update's paths changed again after it. */
  readonly changedAfter: readonly PathChange[];
  readonly conflicts: ConflictMode;
  /** Folders the update created that stay, because something that is not restored lives in them. */
  readonly keptFolders: readonly string[];
  readonly notCovered: readonly NotCovered[];
  /** The snapshot of the state just before the rollback (undo the rollback with it). */
  readonly safetySnapshot: number | undefined;
  /** False for --pretend: nothing was changed. */
  readonly done: boolean;
}

export interface RollbackOptions {
  /** The update to roll back; default the newest one with a pre snapshot. */
  readonly updateId?: string | undefined;
  /** What to do with the update's files that changed again after it. */
  readonly conflicts: ConflictMode;
  /** Plan and report only; change nothing, take no snapshot. */
  readonly pretend: boolean;
  /** Asked with the plan before anything changes (a person at a terminal); false stops with ARGO_NOT_CONFIRMED. */
  readonly confirm?: ((plan: RollbackResult) => Promise<boolean>) | undefined;
  readonly signal: AbortSignal;
}

/** The newest update id that has a pre snapshot. */
async function latestUpdateId(backend: SnapshotBackend): Promise<string | undefined> {
  const pres = (await backend.list()).filter((snapshot) => snapshot.kind === 'pre' && snapshot.userdata[UPDATE_KEY] !== undefined);
  return pres.at(-1)?.userdata[UPDATE_KEY];
}

/**
 * `apkg rollback`: puts back what one update changed, and nothing else. The update's record (its pre/post
 * snapshots, the packages emerge.log says it merged, their CONTENTS before and after) decides the paths; of
 * those, what changed from the pre snapshot to the post snapshot (or to the live system when the update was
 * cut off before its post snapshot) is restored from the pre snapshot. A path changed again after the update
 * is refused unless `conflicts` says otherwise. A safety snapshot of the current state comes first.
 */
export async function rollbackUpdate(system: System, backend: SnapshotBackend, options: RollbackOptions): Promise<RollbackResult> {
  const { signal } = options;
  const id = options.updateId ?? (await latestUpdateId(backend));
  if (id === undefined) {
    throw new ArgoError('ARGO_SNAPSHOT_NOT_FOUND', 'No apkg update snapshots were found', { hint: 'argo snapshot list shows the snapshots; updates carry argo-update=<id>.' });
  }
  const pair = await findUpdateSnapshots(backend, id);
  if (pair.pre === undefined) {
    throw new ArgoError('ARGO_SNAPSHOT_NOT_FOUND', `No pre-update snapshot for update ${id}`, { hint: 'argo snapshot list --update ID shows what exists.', details: { update: id } });
  }
  const pre = pair.pre;
  const post = pair.post;
  const tree = async (snapshot: number) => createRootedFs(await system.target.resolve(backend.snapshotPath(snapshot)));
  const preTree = await tree(pre.id);
  const afterTree = post === undefined ? system.target : await tree(post.id);

  const changes = await backend.diff(pre.id, post?.id ?? CURRENT);
  const record = await readUpdateFileRecord({
    pre: preTree,
    after: afterTree,
    live: system.target,
    updateId: id,
    preDate: pre.date,
    postDate: post?.date,
    changed: new Set(changes.map((change) => change.path)),
    nowSeconds: Math.floor(system.clock.now().getTime() / 1000),
    signal,
  });
  let selection = selectUpdateChanges(changes, record.paths);
  let changedAfter: Set<string>;
  if (post !== undefined) {
    const paths = selection.update.map((change) => change.path);
    // Already back as before the update (a rollback run twice): nothing to do, and no conflict either.
    const stillChanged = await differingPaths(preTree, system.target, paths, signal);
    selection = { update: selection.update.filter((change) => stillChanged.has(change.path)), other: selection.other };
    changedAfter = await differingPaths(afterTree, system.target, [...stillChanged], signal);
  } else {
    changedAfter = await changedSinceUpdate(system.target, record, selection.update, signal);
  }
  const plan = planRollback(selection, changedAfter, options.conflicts);
  const result: RollbackResult = {
    updateId: id,
    backend: backend.name,
    pre: pre.id,
    post: post?.id,
    window: record.window,
    packages: record.packages,
    restore: plan.restore,
    other: { count: plan.other.length, sample: plan.other.slice(0, 10).map((change) => change.path) },
    changedAfter: plan.changedAfter,
    conflicts: options.conflicts,
    keptFolders: plan.keptFolders,
    notCovered: await notCoveredMounts(system, backend, record.paths.owned),
    safetySnapshot: undefined,
    done: false,
  };
  logEvent(system.logger, 'rollback.planned', {
    updateId: id,
    pre: pre.id,
    post: post?.id,
    restore: plan.restore.length,
    other: plan.other.length,
    changedAfter: plan.changedAfter.length,
    merged: record.merges.completed.slice(),
    unfinished: record.merges.unfinished.slice(),
  });
  if (options.pretend) return result;
  if (plan.refused) {
    throw new ArgoError('ARGO_ROLLBACK_CONFLICT', `${plan.changedAfter.length} files of update ${id} were changed again after the update: ${plan.changedAfter.slice(0, 5).map((change) => change.path).join(', ')}${plan.changedAfter.length > 5 ? ', …' : ''}`, {
      hint: 'Nothing was changed. apkg rollback --pretend lists them; --keep-changed rolls back the rest and keeps them, --overwrite-changed puts them back too.',
      details: { update: id, changedAfter: plan.changedAfter.slice(0, 200).map((change) => change.path) },
    });
  }
  if (plan.restore.length === 0) return { ...result, done: true };
  if (options.confirm !== undefined && !(await options.confirm(result))) {
    throw new ArgoError('ARGO_NOT_CONFIRMED', `Rollback of update ${id} was not confirmed`, { hint: 'Nothing was changed. Run with --yes to skip the question.' });
  }
  signal.throwIfAborted();
  const safety = await backend.create({ kind: 'single', description: `before apkg rollback of ${id}`, userdata: { [ROLLBACK_KEY]: id }, cleanup: 'number' });
  logEvent(system.logger, 'rollback.safety-snapshot', { updateId: id, id: safety.id });
  const started = system.clock.monotonicMs();
  await backend.undo(pre.id, post?.id ?? CURRENT, plan.restore);
  logEvent(system.logger, 'rollback.finished', { updateId: id, restored: plan.restore.length, durationMs: Math.round(system.clock.monotonicMs() - started) });
  return { ...result, safetySnapshot: safety.id, done: true };
}

/**
 * Filesystems mounted below the snapshotted subvolume (`/boot`, an ESP, a separate `/usr/src`) are not in
 * its snapshots: the update's files there are not rolled back. Each one holding such files is named.
 */
async function notCoveredMounts(system: System, backend: SnapshotBackend, owned: ReadonlySet<string>): Promise<NotCovered[]> {
  const top = await system.target.resolve(backend.subvolume);
  const mounts = mountsUnder(parseMountinfo(await system.host.readText('/proc/self/mountinfo')), top).filter((entry) => entry.mountPoint !== top);
  const found: NotCovered[] = [];
  for (const mount of mounts) {
    const inside = path.posix.join(backend.subvolume, path.posix.relative(top, mount.mountPoint));
    let files = 0;
    for (const file of owned) if (isBelow(file, inside)) files += 1;
    if (files > 0 && !found.some((entry) => isBelow(inside, entry.path))) found.push({ path: inside, fsType: mount.fsType, files });
  }
  return found.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * What `apkg rollback` puts back: only what the update changed. The update's own record names the packages
 * it merged; their CONTENTS (new versions after the update, replaced versions before it), their
 * `/var/db/pkg` entries, the configuration files Portage set aside for them (`._cfg0000_name`), and the files
 * Portage itself keeps up to date while merging are the update's paths. Of those, the ones that really changed
 * between the pre snapshot and the post snapshot (or the live system when the update left no post snapshot)
 * are restored. Everything else that changed since the pre snapshot (a home directory, a database, an `/etc`
 * file nobody merged) is left alone.
 */

export type PathChangeStatus = 'created' | 'deleted' | 'modified';

export interface PathChange {
  readonly path: string;
  readonly status: PathChangeStatus;
}

/** Files Portage writes while merging that no package owns. */
export const PORTAGE_STATE_FILES: readonly string[] = [
  '/etc/ld.so.cache',
  '/etc/profile.env',
  '/etc/csh.env',
  '/etc/ld.so.conf',
  '/var/lib/portage/world',
  '/var/lib/portage/world_sets',
  '/var/lib/portage/preserved_libs_registry',
];
/** Folders whose every file is Portage's own bookkeeping (the COUNTER, mtimedb). */
export const PORTAGE_STATE_DIRS: readonly string[] = ['/var/cache/edb'];

/** argo's own logs: a rollback never erases the record of why it ran. */
const ARGO_LOGS = '/var/log/argo';

export interface UpdatePaths {
  /** Canonical paths listed in the CONTENTS of the merged packages and of the versions they replaced. */
  readonly owned: ReadonlySet<string>;
  /** `/var/db/pkg/CAT/PF` (and `-MERGING-PF`) folders of the merged and replaced packages. */
  readonly vdbEntries: readonly string[];
}

export function isBelow(candidate: string, dir: string): boolean {
  return candidate === dir || candidate.startsWith(dir === '/' ? '/' : `${dir}/`);
}

function parentOf(file: string): string {
  const slash = file.lastIndexOf('/');
  return slash <= 0 ? '/' : file.slice(0, slash);
}

const CFG_PROTECT = /^\._cfg\d{4}_(.+)$/;

function isUpdatePath(change: PathChange, paths: UpdatePaths): boolean {
  if (paths.owned.has(change.path)) return true;
  if (paths.vdbEntries.some((entry) => isBelow(change.path, entry))) return true;
  if (PORTAGE_STATE_FILES.includes(change.path) || PORTAGE_STATE_DIRS.some((dir) => isBelow(change.path, dir) && change.path !== dir)) return true;
  // A config file Portage set aside instead of overwriting the admin's (CONFIG_PROTECT).
  const name = change.path.slice(change.path.lastIndexOf('/') + 1);
  const protectedName = CFG_PROTECT.exec(name)?.[1];
  if (protectedName !== undefined && change.status === 'created') {
    const dir = parentOf(change.path);
    return paths.owned.has(dir === '/' ? `/${protectedName}` : `${dir}/${protectedName}`);
  }
  return false;
}

export interface UpdateChangeSelection {
  /** Changes the update made: candidates to restore. */
  readonly update: readonly PathChange[];
  /** Changes since the pre snapshot that are not the update's: never touched. */
  readonly other: readonly PathChange[];
}

/**
 * Splits the changes since the pre snapshot into the update's and everybody else's. A folder the update
 * created or deleted counts as the update's when something of the update's is below it.
 */
export function selectUpdateChanges(changes: readonly PathChange[], paths: UpdatePaths): UpdateChangeSelection {
  const chosen = new Set<string>();
  for (const change of changes) {
    if (isBelow(change.path, ARGO_LOGS)) continue;
    if (isUpdatePath(change, paths)) chosen.add(change.path);
  }
  const byPath = new Map(changes.map((change) => [change.path, change]));
  for (const file of [...chosen]) {
    for (let dir = parentOf(file); dir !== '/'; dir = parentOf(dir)) {
      const change = byPath.get(dir);
      if (change === undefined || change.status === 'modified' || isBelow(dir, ARGO_LOGS)) break;
      chosen.add(dir);
    }
  }
  return {
    update: changes.filter((change) => chosen.has(change.path)),
    other: changes.filter((change) => !chosen.has(change.path)),
  };
}

export type ConflictMode = 'refuse' | 'overwrite' | 'keep';

export interface RollbackPlan {
  /** Restored (modified, deleted) or removed (created) in this order's sense; sorted by path. */
  readonly restore: readonly PathChange[];
  /** Not the update's changes: left as they are. */
  readonly other: readonly PathChange[];
  /** The update's paths that changed again after it. */
  readonly changedAfter: readonly PathChange[];
  /** Folders the update created that stay, because something that is not restored lives below them. */
  readonly keptFolders: readonly string[];
  /** True when changedAfter is not empty and the mode is `refuse`: nothing may be done. */
  readonly refused: boolean;
}

/**
 * The final plan: the update's changes minus those changed again after the update (unless `overwrite`),
 * minus created folders that hold anything that is not restored (removing them would take it along).
 */
export function planRollback(selection: UpdateChangeSelection, changedAfter: ReadonlySet<string>, mode: ConflictMode): RollbackPlan {
  const conflicts = selection.update.filter((change) => changedAfter.has(change.path));
  let restore = mode === 'overwrite' ? [...selection.update] : selection.update.filter((change) => !changedAfter.has(change.path));
  const staying = [...selection.other, ...(mode === 'overwrite' ? [] : conflicts)].map((change) => change.path);
  const keptFolders: string[] = [];
  restore = restore.filter((change) => {
    if (change.status !== 'created') return true;
    const holdsOther = staying.some((other) => other !== change.path && isBelow(other, change.path));
    if (holdsOther) keptFolders.push(change.path);
    return !holdsOther;
  });
  return {
    restore: restore.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    other: selection.other,
    changedAfter: conflicts,
    keptFolders,
    refused: mode === 'refuse' && conflicts.length > 0,
  };
}

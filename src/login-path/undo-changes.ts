import * as path from 'node:path/posix';
import { ArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import type { System } from '../system/open-system.ts';
import { replaceShadowLocked, type PasswordFile } from '../system/shadow-file.ts';
import { sha256, type ChangeJournalFile, type JournalEntry } from './change-journal.ts';

export type UndoStatus = 'restored' | 'already-original' | 'conflict' | 'cannot-undo';

export interface UndoOutcome {
  readonly path: string;
  readonly status: UndoStatus;
  readonly detail: string;
}

export interface UndoOptions {
  /** Names the backup argo keeps of the repaired state before putting the old one back. */
  readonly undoRunId: string;
  /** Put files back even when they changed after the recovery (the later change is kept in the undo backup). */
  readonly force: boolean;
  readonly dryRun: boolean;
  readonly signal?: AbortSignal | undefined;
}

const PASSWORD_FILES = new Set<string>(['/etc/shadow', '/etc/passwd']);

/**
 * Puts back every file a recovery changed, newest change first, one path at a time. A file that changed again
 * after the recovery (its content, mode or owner is not what the recovery left) is a conflict and stays as it
 * is, unless `force`. A file that already holds its old state is left alone, so undo can run twice. Deleted
 * build folders (a full root) cannot come back, and say so.
 */
export async function undoChanges(system: System, journal: ChangeJournalFile, options: UndoOptions): Promise<UndoOutcome[]> {
  const byPath = new Map<string, JournalEntry[]>();
  for (const entry of journal.entries) byPath.set(entry.path, [...(byPath.get(entry.path) ?? []), entry]);
  const paths = [...byPath.keys()].reverse();
  const outcomes: UndoOutcome[] = [];
  for (const file of paths) {
    options.signal?.throwIfAborted();
    const entries = byPath.get(file) as JournalEntry[];
    const outcome = await undoPath(system, file, entries, options);
    logEvent(system.logger, 'recover.undo', { path: file, status: outcome.status, detail: outcome.detail });
    outcomes.push(outcome);
  }
  return outcomes;
}

/**
 * One path's changes, newest first: a mode change (made after an edit of the same file) is put back before the
 * content, which then keeps the old mode. Both must agree to call the path restored.
 */
async function undoPath(system: System, file: string, entries: readonly JournalEntry[], options: UndoOptions): Promise<UndoOutcome> {
  const removed = entries.find((entry) => entry.action === 'remove');
  if (removed !== undefined) return { path: file, status: 'cannot-undo', detail: removed.summary };
  if (entries.some((entry) => entry.action === 'move-aside')) return undoMoveAside(system, file, entries, options);
  const modes = entries.filter((entry) => entry.action === 'mode');
  const contents = entries.filter((entry) => entry.action === 'edit' || entry.action === 'create');
  const parts: UndoOutcome[] = [];
  if (modes.length > 0) parts.push(await undoMode(system, file, modes, options));
  if (contents.length > 0 && !parts.some((part) => part.status === 'conflict')) parts.push(await undoContent(system, file, contents, options));
  const conflict = parts.find((part) => part.status === 'conflict');
  if (conflict !== undefined) return conflict;
  const restored = parts.filter((part) => part.status === 'restored');
  return restored.length > 0 ? { path: file, status: 'restored', detail: restored.map((part) => part.detail).join('; ') } : (parts[0] as UndoOutcome);
}

async function undoContent(system: System, file: string, entries: readonly JournalEntry[], options: UndoOptions): Promise<UndoOutcome> {
  const last = entries.at(-1) as JournalEntry;
  const first = entries.find((entry) => entry.action === 'edit' || entry.action === 'create') as JournalEntry;
  const current = await system.target.readBytesIfExists(file);
  const backupPath = entries.find((entry) => entry.backup !== undefined)?.backup;
  const backup = backupPath === undefined ? undefined : await system.target.readBytesIfExists(backupPath);
  if (first.action === 'create') {
    if (current === undefined) return { path: file, status: 'already-original', detail: `${file} does not exist, as before the recovery` };
    if (sha256(current) !== last.afterSha256 && !options.force) return conflict(file, 'its content changed after the recovery');
    if (!options.dryRun) await system.target.rename(file, `${file}.argo-${options.undoRunId}`);
    return { path: file, status: 'restored', detail: `removed ${file}, which the recovery created (kept as ${path.basename(file)}.argo-${options.undoRunId})` };
  }
  if (backup === undefined) return { path: file, status: 'conflict', detail: `its backup ${backupPath ?? '(none recorded)'} is gone: put ${file} back by hand` };
  if (current !== undefined && current.equals(backup)) return { path: file, status: 'already-original', detail: `${file} already holds its content from before the recovery` };
  if ((current === undefined || sha256(current) !== last.afterSha256) && !options.force) return conflict(file, 'it changed after the recovery');
  if (!options.dryRun) {
    if (PASSWORD_FILES.has(file)) {
      // Under lckpwdf's lock, as every password-file write; the repaired file is kept as <file>.argo-<undo run>.
      const old = backup.toString('utf8');
      await replaceShadowLocked(system.target, () => old, { runId: options.undoRunId, commands: system.hostCommands, file: file as PasswordFile, ...(options.signal ? { signal: options.signal } : {}) });
    } else {
      if (current !== undefined) await system.target.writeFileAtomic(`${file}.argo-${options.undoRunId}`, current, { mode: 0o600, uid: 0, gid: 0 });
      await system.target.writeFileAtomic(file, backup);
    }
  }
  return { path: file, status: 'restored', detail: `put back ${file} from ${backupPath}` };
}

async function undoMoveAside(system: System, file: string, entries: readonly JournalEntry[], options: UndoOptions): Promise<UndoOutcome> {
  const backup = (entries.at(-1) as JournalEntry).backup as string;
  const [original, moved] = await Promise.all([system.target.lstat(file).then(() => true, () => false), system.target.lstat(backup).then(() => true, () => false)]);
  if (!moved) return original ? { path: file, status: 'already-original', detail: `${file} is back in place` } : conflict(file, `${backup} is gone`);
  if (original) return conflict(file, `a new ${file} exists; the recovery's copy is ${backup}`);
  if (!options.dryRun) await system.target.rename(backup, file);
  return { path: file, status: 'restored', detail: `moved ${backup} back to ${file}` };
}

async function undoMode(system: System, file: string, entries: readonly JournalEntry[], options: UndoOptions): Promise<UndoOutcome> {
  const before = entries.find((entry) => entry.before !== undefined)?.before;
  const after = [...entries].reverse().find((entry) => entry.after !== undefined)?.after;
  if (before === undefined || after === undefined) return conflict(file, 'its record has no mode');
  const stats = await system.target.stat(file);
  const now = { mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
  const same = (a: typeof now, b: typeof now): boolean => a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
  if (same(now, before)) return { path: file, status: 'already-original', detail: `${file} already has mode ${before.mode.toString(8)}` };
  if (!same(now, after) && !options.force) return conflict(file, `its mode or owner changed after the recovery (now ${now.mode.toString(8)} ${now.uid}:${now.gid})`);
  if (!options.dryRun) {
    await system.target.chown(file, before.uid, before.gid);
    await system.target.chmod(file, before.mode);
  }
  return { path: file, status: 'restored', detail: `set ${file} back to mode ${before.mode.toString(8)}, owner ${before.uid}:${before.gid}` };
}

function conflict(file: string, why: string): UndoOutcome {
  return { path: file, status: 'conflict', detail: `${file} was left as it is: ${why} (--force puts the old version back anyway)` };
}

/** A run id as argo names them: the log folder's name. Anything else (a path, `..`) is refused. */
export function assertRunId(runId: string): void {
  if (!/^recovery-[0-9A-Za-z-]{1,64}$/.test(runId)) {
    throw new ArgoError('ARGO_USAGE', `--undo ${JSON.stringify(runId)} is not a recovery run id`, { hint: 'Give the run folder name, e.g. --undo recovery-20261129T163000Z (ls /var/log/argo).' });
  }
}

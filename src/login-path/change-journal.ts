import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import { z } from 'zod';
import * as path from 'node:path/posix';
import type { Logger } from 'pino';
import { ArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import { isMissing } from '../system/fs-errors.ts';
import type { System } from '../system/open-system.ts';
import type { RootedFs } from '../system/rooted-fs.ts';
import { replaceShadowLocked, type PasswordFile } from '../system/shadow-file.ts';

/**
 * Every file a recovery changes, recorded before the change is made, so that `argo recover --undo RUN` can put
 * each one back and a person can read what happened. The record (changes.json in the run's log folder) and the
 * backups beside the originals (`<file>.argo-<run>`, the file as it was before the run's first change to it)
 * are written first; a recovery killed between the record and the change leaves an entry whose file still
 * holds its old content, which undo recognises and leaves alone.
 */

export type ChangeAction = 'edit' | 'create' | 'move-aside' | 'mode' | 'remove';

export interface FileMeta {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export interface JournalEntry {
  /** The cause id this change repairs (`nologin`, `pam-module-missing`, …), or `password-reset`. */
  readonly cause: string;
  /** Path inside the target. */
  readonly path: string;
  readonly action: ChangeAction;
  /** One line for people: what changed. */
  readonly summary: string;
  /** edit: the file before the run's first change to it; move-aside: where the file went. Inside the target. */
  readonly backup?: string;
  /** sha256 of the content after this change (edit, create). */
  readonly afterSha256?: string;
  /** mode: the permission bits and owner before and after. */
  readonly before?: FileMeta;
  readonly after?: FileMeta;
  /** Unified diff of a text edit (never of /etc/shadow: its hashes stay out of reports). */
  readonly diff?: string;
  readonly at: string;
}

export interface ChangeJournalFile {
  readonly version: 1;
  readonly runId: string;
  readonly root: string;
  readonly entries: readonly JournalEntry[];
}

/** Files whose content never goes into a diff, a log or a report. */
const SECRET_FILES = new Set(['/etc/shadow', '/etc/gshadow']);

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The backup name of a file changed by run `runId`: beside it, so it survives the log folder and is found by ls. */
export function backupPathOf(file: string, runId: string): string {
  return `${file}.argo-${runId}`;
}

export function unifiedDiff(file: string, before: string, after: string): string {
  return createTwoFilesPatch(`a${file}`, `b${file}`, before, after, undefined, undefined, { context: 2 }).replace(/^=+\n/, '');
}

export interface ChangeJournalOptions {
  readonly system: System;
  readonly runId: string;
  /** Host path of changes.json; undefined in a dry run (nothing is written). */
  readonly journalFile: string | undefined;
  readonly dryRun: boolean;
  readonly logger: Logger;
  readonly signal?: AbortSignal | undefined;
}

/**
 * One run's changes to the target. Each method makes the smallest change, records it, and returns the entry;
 * it returns undefined when there is nothing to change (a second run, a resumed run). In a dry run the entry
 * is computed (with its diff) and nothing is written.
 */
export class ChangeJournal {
  readonly #options: ChangeJournalOptions;
  readonly #entries: JournalEntry[] = [];

  constructor(options: ChangeJournalOptions) {
    this.#options = options;
  }

  /** Continues the record of an interrupted run (--resume): its earlier entries stay. */
  static async open(options: ChangeJournalOptions): Promise<ChangeJournal> {
    const journal = new ChangeJournal(options);
    if (options.journalFile !== undefined) {
      const earlier = await readJournal(options.system.host, options.journalFile);
      if (earlier !== undefined) journal.#entries.push(...earlier.entries);
    }
    return journal;
  }

  get entries(): readonly JournalEntry[] {
    return this.#entries;
  }

  get #target(): RootedFs {
    return this.#options.system.target;
  }

  /**
   * Rewrites a text file with `edit` (the current text in, the new text out; undefined in means the file does
   * not exist). The first change of the run keeps the old file as `<file>.argo-<run>`; the new file keeps the
   * old one's mode and owner (a created file gets `createMode`, root's).
   */
  async editText(cause: string, file: string, edit: (current: string | undefined) => string, summary: string, createMode = 0o644): Promise<JournalEntry | undefined> {
    const current = await this.#target.readTextIfExists(file);
    const after = edit(current);
    if (after === current) return undefined;
    await this.#refuseUnsafeFolder(file);
    const backup = backupPathOf(file, this.#options.runId);
    const entry: JournalEntry = {
      cause,
      path: file,
      action: current === undefined ? 'create' : 'edit',
      summary,
      ...(current === undefined ? {} : { backup }),
      afterSha256: sha256(after),
      ...(SECRET_FILES.has(file) ? {} : { diff: unifiedDiff(file, current ?? '', after) }),
      at: this.#now(),
    };
    if (this.#options.dryRun) return this.#remember(entry);
    if (current !== undefined && !(await this.#target.exists(backup))) await this.#target.writeFileAtomic(backup, current, { mode: 0o600, uid: 0, gid: 0 });
    await this.#record(entry);
    await this.#target.writeFileAtomic(file, after, { mode: createMode, uid: 0, gid: 0 });
    logEvent(this.#options.logger, 'file.replaced', { path: file, backup: entry.backup, bytes: Buffer.byteLength(after) });
    return entry;
  }

  /** A binary file (pam_tally2's /var/log/tallylog), with the same backup and record as a text edit. */
  async editBytes(cause: string, file: string, edit: (current: Buffer) => Buffer, summary: string): Promise<JournalEntry | undefined> {
    const current = await this.#target.readBytes(file);
    const after = edit(current);
    if (after.equals(current)) return undefined;
    await this.#refuseUnsafeFolder(file);
    const backup = backupPathOf(file, this.#options.runId);
    const entry: JournalEntry = { cause, path: file, action: 'edit', summary, backup, afterSha256: sha256(after), at: this.#now() };
    if (this.#options.dryRun) return this.#remember(entry);
    if (!(await this.#target.exists(backup))) await this.#target.writeFileAtomic(backup, current, { mode: 0o600, uid: 0, gid: 0 });
    await this.#record(entry);
    await this.#target.writeFileAtomic(file, after);
    return entry;
  }

  /**
   * Deletes what a folder holds (Portage's build folders on a full root): the one change that cannot be
   * undone, recorded as such. Undefined when the folder is empty.
   */
  async removeFolderContents(cause: string, folder: string, summary: string, alsoOwnedBy?: number): Promise<JournalEntry | undefined> {
    const entries = await this.#target.readdir(folder);
    if (entries.length === 0) return undefined;
    // A folder of root's or, for Portage's build folder, the portage user's (group portage may write there, as
    // Portage sets it up), never one anybody may write to. Entries are removed without following links: an entry
    // swapped for a symlink meanwhile loses the link, never what it points to.
    const stats = await this.#target.lstat(folder);
    if (!stats.isDirectory() || (stats.uid !== 0 && stats.uid !== alsoOwnedBy) || (stats.mode & 0o002) !== 0) {
      throw new ArgoError('ARGO_UNSAFE_PATH', `Refusing to empty ${folder}: it is not a folder of root's or Portage's alone (uid ${stats.uid}, mode ${(stats.mode & 0o7777).toString(8)})`, {
        hint: `Check ${folder}'s owner and mode, then free space by hand.`,
        details: { path: folder },
      });
    }
    const entry: JournalEntry = { cause, path: folder, action: 'remove', summary: `${summary}: ${entries.map((dirent) => dirent.name).join(', ')}`, at: this.#now() };
    if (this.#options.dryRun) return this.#remember(entry);
    await this.#record(entry);
    for (const dirent of entries) await this.#target.remove(path.join(folder, dirent.name));
    return entry;
  }

  /**
   * /etc/shadow or /etc/passwd, under lckpwdf's lock (a concurrent passwd or useradd is neither lost nor mixed
   * in). The edit runs again inside the lock on the file as read there, and the record is made there, before
   * anything is written.
   */
  async editPasswordFile(cause: string, file: PasswordFile, edit: (current: string) => string, summary: string): Promise<JournalEntry | undefined> {
    const current = await this.#target.readText(file);
    const predicted = edit(current);
    if (predicted === current) return undefined;
    const backup = backupPathOf(file, this.#options.runId);
    const base = { cause, path: file, action: 'edit' as const, summary, backup, ...(SECRET_FILES.has(file) ? {} : { diff: unifiedDiff(file, current, predicted) }) };
    if (this.#options.dryRun) return this.#remember({ ...base, afterSha256: sha256(predicted), at: this.#now() });
    let entry: JournalEntry | undefined;
    let bytes = 0;
    await replaceShadowLocked(this.#target, edit, {
      runId: this.#options.runId,
      commands: this.#options.system.hostCommands,
      file,
      ...(this.#options.signal ? { signal: this.#options.signal } : {}),
      beforeWrite: async (after) => {
        bytes = Buffer.byteLength(after);
        entry = { ...base, afterSha256: sha256(after), at: this.#now() };
        await this.#record(entry);
      },
    });
    if (entry !== undefined) logEvent(this.#options.logger, 'file.replaced', { path: file, backup, bytes });
    return entry;
  }

  /**
   * The hook for a step that writes a password file itself (the password reset: same run id, so the same
   * backup): pass it as replaceShadowLocked's beforeWrite, and the change is recorded before it is made.
   */
  recordBeforeWrite(cause: string, file: PasswordFile, summary: string): (after: string) => Promise<void> {
    return async (after) => {
      await this.#record({ cause, path: file, action: 'edit', summary, backup: backupPathOf(file, this.#options.runId), afterSha256: sha256(after), at: this.#now() });
    };
  }

  /** Renames a file (a nologin file, a faillock tally) to `<file>.argo-<run>`: nothing is deleted. */
  async moveAside(cause: string, file: string, summary: string): Promise<JournalEntry | undefined> {
    const stats = await this.#target.lstat(file).catch((error: unknown) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    if (stats === undefined) return undefined;
    await this.#refuseUnsafeFolder(file);
    let backup = backupPathOf(file, this.#options.runId);
    for (let suffix = 2; await this.#target.lstat(backup).then(() => true, () => false); suffix += 1) backup = `${backupPathOf(file, this.#options.runId)}-${suffix}`;
    const entry: JournalEntry = { cause, path: file, action: 'move-aside', summary, backup, at: this.#now() };
    if (this.#options.dryRun) return this.#remember(entry);
    await this.#record(entry);
    await this.#target.rename(file, backup);
    return entry;
  }

  /** chmod/chown of one file to `wanted`; the old bits and owner are in the record. */
  async setMeta(cause: string, file: string, wanted: FileMeta, summary: string): Promise<JournalEntry | undefined> {
    const stats = await this.#target.stat(file);
    const before: FileMeta = { mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
    if (before.mode === wanted.mode && before.uid === wanted.uid && before.gid === wanted.gid) return undefined;
    await this.#refuseUnsafeFolder(file);
    const entry: JournalEntry = { cause, path: file, action: 'mode', summary, before, after: wanted, at: this.#now() };
    if (this.#options.dryRun) return this.#remember(entry);
    await this.#record(entry);
    // chown first: it clears setuid/setgid bits, which the chmod then sets.
    if (before.uid !== wanted.uid || before.gid !== wanted.gid) await this.#target.chown(file, wanted.uid, wanted.gid);
    await this.#target.chmod(file, wanted.mode);
    return entry;
  }

  #now(): string {
    return this.#options.system.clock.now().toISOString();
  }

  #remember(entry: JournalEntry): JournalEntry {
    this.#entries.push(entry);
    return entry;
  }

  async #record(entry: JournalEntry): Promise<void> {
    this.#entries.push(entry);
    const { journalFile, runId, system } = this.#options;
    if (journalFile === undefined) return;
    const body: ChangeJournalFile = { version: 1, runId, root: system.root, entries: this.#entries };
    await system.host.writeFileAtomic(journalFile, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, uid: 0, gid: 0 });
  }

  /**
   * A folder another user may write to could have its entry swapped for a symlink between our check and our
   * write: such a folder is refused, before anything is changed.
   */
  async #refuseUnsafeFolder(file: string): Promise<void> {
    const folder = await this.#target.realpath(path.dirname(file));
    const stats = await this.#target.stat(folder);
    if (stats.uid !== 0 || (stats.mode & 0o022) !== 0) {
      throw new ArgoError('ARGO_UNSAFE_PATH', `Refusing to change ${file}: its folder ${folder} is not root's alone (uid ${stats.uid}, mode ${(stats.mode & 0o7777).toString(8)})`, {
        hint: `Check who made ${folder} writable, fix its owner and mode (chown root:root; chmod go-w), then run again.`,
        details: { path: file, folder },
      });
    }
  }
}

const META = z.object({ mode: z.number().int().min(0).max(0o7777), uid: z.number().int().min(0), gid: z.number().int().min(0) });
const ABSOLUTE = z.string().refine((value) => value.startsWith('/') && path.normalize(value) === value && !value.includes('\0'), 'an absolute, normalised path');
const JOURNAL = z.object({
  version: z.literal(1),
  runId: z.string(),
  root: z.string(),
  entries: z.array(
    z.object({
      cause: z.string(),
      path: ABSOLUTE,
      action: z.enum(['edit', 'create', 'move-aside', 'mode', 'remove']),
      summary: z.string(),
      backup: ABSOLUTE.optional(),
      afterSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
      before: META.optional(),
      after: META.optional(),
      diff: z.string().optional(),
      at: z.string(),
    }),
  ),
});

/**
 * Reads a change record. It is trusted only from where argo writes it: a regular file of root's that no one
 * else may write, in a run folder of root's that no one else may enter; each backup must be the one argo
 * names for its path and run (`<path>.argo-<run>`, `-N` for a second move), so a forged record cannot make
 * undo rename or chmod arbitrary files.
 */
export async function readJournal(host: RootedFs, file: string): Promise<ChangeJournalFile | undefined> {
  const text = await host.readTextIfExists(file);
  if (text === undefined) return undefined;
  const [folder, record] = await Promise.all([host.lstat(path.dirname(file)), host.lstat(file)]);
  if (!folder.isDirectory() || folder.uid !== 0 || (folder.mode & 0o077) !== 0 || !record.isFile() || record.uid !== 0 || (record.mode & 0o022) !== 0) {
    throw new ArgoError('ARGO_UNSAFE_PATH', `${file} is not trusted: a change record must be root's own (a 0700 run folder, a file no one else may write)`, {
      hint: 'Someone else could have written it; put files back by hand from their <file>.argo-<run> backups.',
      details: { path: file },
    });
  }
  try {
    const parsed: ChangeJournalFile = JOURNAL.parse(JSON.parse(text));
    for (const entry of parsed.entries) {
      const expected = backupPathOf(entry.path, parsed.runId);
      if (entry.backup !== undefined && entry.backup !== expected && !new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9]+$`).test(entry.backup)) {
        throw new Error(`the backup of ${entry.path} is not ${expected}`);
      }
    }
    return parsed;
  } catch (error) {
    throw new ArgoError('ARGO_STATE_FILE_INVALID', `${file} is not a change record argo can read: ${(error as Error).message}`, {
      cause: error,
      hint: 'Each changed file has its backup beside it (<file>.argo-<run>); put them back by hand.',
      details: { path: file },
    });
  }
}

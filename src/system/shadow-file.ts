import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ArgoError } from '../core/errors.ts';
import { removeStaleTemporaries, writeFileAtomic } from './atomic-write.ts';
import { copyXattrs, type CopiedXattrs } from './copy-xattrs.ts';
import type { RootedFs } from './rooted-fs.ts';
import type { CommandRunner } from './run-command.ts';
import { withShadowLock } from './shadow-lock.ts';

export const SHADOW_FILE = '/etc/shadow';
/** shadow-utils' backup of the previous version. Argo writes it only when there is none. */
export const SHADOW_SYSTEM_BACKUP = '/etc/shadow-';

/** Argo's own copy of /etc/shadow as it was before the run's first change: 0600 root, never overwritten. */
export function shadowRunBackup(runId: string, file: PasswordFile = SHADOW_FILE): string {
  return `${file}.argo-${runId}`;
}

/** Temporary files of the atomic writer for /etc/shadow, /etc/shadow- and argo's backups. */
const STALE_TEMPORARY = {
  '/etc/shadow': /^\.shadow(?:-|\.argo-[A-Za-z0-9._-]+)?\.argo-[0-9a-f]{12}$/,
  '/etc/passwd': /^\.passwd(?:-|\.argo-[A-Za-z0-9._-]+)?\.argo-[0-9a-f]{12}$/,
} as const;

/** The files lckpwdf's lock guards that argo edits. */
export type PasswordFile = keyof typeof STALE_TEMPORARY;
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface ReplaceShadowOptions {
  /** Names argo's backup (`/etc/shadow.argo-<runId>`); the same id keeps the first backup of the run. */
  readonly runId: string;
  /** Runs on the machine argo runs on: the lock holder and the xattr copy (paths are host paths). */
  readonly commands: CommandRunner;
  readonly signal?: AbortSignal;
  /** How long to wait for /etc/.pwd.lock. Default 15 s, as lckpwdf. */
  readonly lockWaitMs?: number;
  /** The file to rewrite: /etc/shadow (default) or /etc/passwd, under the same lock and with the same care. */
  readonly file?: PasswordFile;
  /**
   * Runs inside the lock with the new content once it is known to differ, before anything is written: a
   * caller records the change here (argo's change journal), so that a kill after the rename leaves a record.
   */
  readonly beforeWrite?: (after: string) => Promise<void>;
}

export interface ShadowReplaced {
  /** False when the edit changed nothing (nothing was written). */
  readonly changed: boolean;
  /** Argo's copy of the file before this run's first change, inside the target. */
  readonly runBackup: string;
  /** Whether /etc/shadow- was written now; an existing one (an older admin's backup) is never overwritten. */
  readonly systemBackupWritten: boolean;
  /** Extended attributes (SELinux label, ACLs) carried over from the old file; undefined when nothing was written. */
  readonly xattrs: CopiedXattrs | undefined;
  /** Temporary files of a killed earlier writer that were removed. */
  readonly staleTemporariesRemoved: number;
  readonly bytes: number;
}

/**
 * Rewrites the target's /etc/shadow as `edit` says, the way shadow-utils does it and safer:
 * - under lckpwdf's lock (/etc/.pwd.lock), read fresh inside the lock, so a concurrent passwd or useradd is
 *   neither lost nor interleaved;
 * - temporary files left by a killed earlier argo are removed first (safe: the lock keeps other writers out);
 * - argo's own copy of the old file goes to /etc/shadow.argo-<runId> (0600 root) once per run;
 * - /etc/shadow- is written only when missing: an existing one may be the admin's only pre-argo backup;
 * - the new file keeps the old one's mode, owner, group and every extended attribute (SELinux label, ACLs),
 *   copied onto the temporary file before the atomic rename.
 */
export async function replaceShadowLocked(target: RootedFs, edit: (current: string) => string, options: ReplaceShadowOptions): Promise<ShadowReplaced> {
  if (!RUN_ID.test(options.runId)) throw new Error(`invalid run id for a shadow backup name: ${options.runId}`);
  const lockOptions = { ...(options.signal !== undefined && { signal: options.signal }), ...(options.lockWaitMs !== undefined && { waitMs: options.lockWaitMs }) };
  return withShadowLock(
    target,
    options.commands,
    async (assertLocked) => {
      const file = options.file ?? SHADOW_FILE;
      const shadow = await target.resolve(file);
      const stale = await removeStaleTemporaries(path.dirname(shadow), STALE_TEMPORARY[file]);
      const current = await fs.readFile(shadow, 'utf8');
      const after = edit(current);
      const runBackup = shadowRunBackup(options.runId, file);
      if (after === current) {
        return { changed: false, runBackup, systemBackupWritten: false, xattrs: undefined, staleTemporariesRemoved: stale.length, bytes: Buffer.byteLength(after) };
      }
      await options.beforeWrite?.(after);
      assertLocked();
      const runBackupHost = await target.resolveParent(runBackup);
      if (!(await existsNoFollow(runBackupHost))) await writeFileAtomic(runBackupHost, current, { mode: 0o600, uid: 0, gid: 0 });
      const stats = await fs.stat(shadow);
      const keepXattrs = async (temporary: string): Promise<void> => {
        xattrs = await copyXattrs(options.commands, shadow, temporary, options.signal);
        assertLocked();
      };
      let xattrs: CopiedXattrs | undefined;
      const systemBackupHost = await target.resolveParent(`${file}-`);
      const systemBackupWritten = !(await existsNoFollow(systemBackupHost));
      if (systemBackupWritten) {
        await writeFileAtomic(systemBackupHost, current, { mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid, beforeRename: keepXattrs });
      }
      await writeFileAtomic(shadow, after, { beforeRename: keepXattrs });
      return { changed: true, runBackup, systemBackupWritten, xattrs, staleTemporariesRemoved: stale.length, bytes: Buffer.byteLength(after) };
    },
    lockOptions,
  ).catch((error: unknown) => {
    if (error instanceof ArgoError) throw error;
    throw new ArgoError('ARGO_FILE_WRITE_FAILED', `Could not replace ${options.file ?? SHADOW_FILE} in ${target.root}; it is unchanged`, { cause: error, details: { root: target.root } });
  });
}

async function existsNoFollow(host: string): Promise<boolean> {
  try {
    await fs.lstat(host);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

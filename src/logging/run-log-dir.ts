import { appendFileSync, existsSync, lstatSync, mkdirSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { DestinationStream } from 'pino';
import tmp from 'tmp';
import { ArgoError } from '../core/errors.ts';
import { writeFileAtomic } from '../system/atomic-write.ts';

/**
 * The files of one run's log folder. Logging is, with src/system, the only code that writes files: its
 * own log files, nothing else.
 */
export const RUN_LOG_FILES = {
  main: 'main.log',
  diagnostics: 'diagnostics.log',
  systemState: 'system-state.log',
  errorBundle: 'error-bundle.txt',
  pivots: 'pivots.log',
  summary: 'summary.txt',
  report: 'report.json',
  state: 'state.json',
  changes: 'changes.json',
} as const;

export type RunLogFile = keyof typeof RUN_LOG_FILES;

export interface RunLogDir {
  readonly dir: string;
  path(file: RunLogFile): string;
  /** The folders tried before this one, and why each could not be used. Log them once a logger exists. */
  readonly pivotedFrom: readonly { readonly dir: string; readonly reason: string }[];
  /** Replaces one of the run's files atomically (mode 0600). */
  write(file: RunLogFile, text: string): Promise<void>;
}

/** Probe size: a folder on a filesystem too full to take this will not take a run's logs either. */
const PROBE_BYTES = 64 * 1024;

/** Run folders tried per base before giving up on it (`<name>`, `<name>-2`, … taken by earlier runs). */
const MAX_SUFFIX = 1000;

/**
 * Creates `<base>/<name>` in the first base folder that can take it (mode 0700: logs describe accounts and may
 * hold a generated password), proving each with a real write. A read-only or full target pivots to the next
 * base, e.g. the host's /tmp. A new run never shares a folder: when `<name>` exists it becomes `<name>-2`,
 * `-3`, …; `reuse` opens an existing folder instead (--resume).
 *
 * A base another user could control is never written through: one that is a symlink, is owned by someone else,
 * or is writable by others without the sticky bit (a local user could pre-create `/tmp/argo` or point it
 * elsewhere). Such a base pivots to a fresh private folder from the `tmp` package (0700, random name) with the
 * reason. The run folder itself is always created fresh by this run (mkdir, never an existing one) or, with
 * `reuse`, checked to be a real 0700 folder of ours.
 */
export function openRunLogDir(bases: readonly string[], name: string, options: { reuse?: boolean } = {}): RunLogDir {
  const pivotedFrom: { dir: string; reason: string }[] = [];
  const candidates = [...bases];
  for (let index = 0; index < candidates.length; index += 1) {
    const base = candidates[index] as string;
    const prepared = tryPrepare(base, name, options.reuse ?? false);
    if ('dir' in prepared) {
      const dir = prepared.dir;
      return {
        dir,
        pivotedFrom,
        path: (file) => path.join(dir, RUN_LOG_FILES[file]),
        write: (file, text) => writeFileAtomic(path.join(dir, RUN_LOG_FILES[file]), text, { mode: 0o600 }),
      };
    }
    pivotedFrom.push({ dir: path.join(base, name), reason: prepared.reason });
    if (prepared.unsafe && !options.reuse) candidates.splice(index + 1, 0, tmp.dirSync({ prefix: 'argo-logs', mode: 0o700, keep: true }).name);
  }
  throw new ArgoError('ARGO_LOG_DIR_UNAVAILABLE', `No folder for the run logs could be created (${pivotedFrom.map((p) => `${p.dir}: ${p.reason}`).join('; ')})`, {
    hint: 'Pass a writable folder with --log-dir (e.g. on a USB stick or under /tmp).',
    details: { tried: pivotedFrom },
  });
}

type Prepared = { readonly dir: string } | { readonly reason: string; readonly unsafe: boolean };

function tryPrepare(base: string, name: string, reuse: boolean): Prepared {
  let probe: string | undefined;
  try {
    makeFolders(base);
    const unsafe = unsafeBaseReason(base);
    if (unsafe !== undefined) return { reason: `unsafe base folder ${base}: ${unsafe}`, unsafe: true };
    const dir = reuse ? reusedRunDir(path.join(base, name)) : createRunDir(base, name);
    if (typeof dir !== 'string') return dir;
    probe = path.join(dir, '.argo-probe');
    writeFileSync(probe, Buffer.alloc(PROBE_BYTES), { mode: 0o600, flag: 'wx' });
    rmSync(probe);
    return { dir };
  } catch (error) {
    if (probe !== undefined) rmSync(probe, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'EROFS' ? 'read-only filesystem'
      : code === 'ENOSPC' || code === 'EDQUOT' ? 'no space left'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'ENOTDIR' || code === 'EEXIST' ? 'a file is in the way'
      : (code ?? String(error));
    return { reason, unsafe: false };
  }
}

/** A new run folder, made by this mkdir (never one that was already there, whoever made it). */
function createRunDir(base: string, name: string): string | Prepared {
  for (let suffix = 1; suffix <= MAX_SUFFIX; suffix += 1) {
    const dir = path.join(base, suffix === 1 ? name : `${name}-${suffix}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    const unsafe = unsafeRunDirReason(lstatSync(dir));
    return unsafe === undefined ? dir : { reason: `unsafe run folder ${dir}: ${unsafe}`, unsafe: true };
  }
  return { reason: `${MAX_SUFFIX} run folders named ${name} already exist`, unsafe: false };
}

/** The folder of the run being resumed: it must still be a real 0700 folder of ours. */
function reusedRunDir(dir: string): string | Prepared {
  const unsafe = unsafeRunDirReason(lstatSync(dir));
  return unsafe === undefined ? dir : { reason: `unsafe run folder ${dir}: ${unsafe}`, unsafe: true };
}

function unsafeRunDirReason(stats: Stats): string | undefined {
  const euid = process.geteuid?.() ?? 0;
  if (stats.isSymbolicLink()) return 'it is a symbolic link';
  if (!stats.isDirectory()) return 'it is not a directory';
  if (stats.uid !== euid) return `it is owned by uid ${stats.uid}`;
  if ((stats.mode & 0o077) !== 0) return `its mode is ${(stats.mode & 0o777).toString(8).padStart(4, '0')}, not 0700`;
  return undefined;
}

/**
 * Why another user could control what is created in `base`: it is a symlink (followed, it could lead anywhere),
 * it or its parent is owned by someone else, or it is writable by others without the sticky bit (they could
 * rename our run folder away and put theirs in its place).
 */
function unsafeBaseReason(base: string): string | undefined {
  const euid = process.geteuid?.() ?? 0;
  const stats = lstatSync(base);
  if (stats.isSymbolicLink()) return 'it is a symbolic link';
  if (!stats.isDirectory()) return 'it is not a directory';
  if (stats.uid !== euid) return `it is owned by uid ${stats.uid}, not ${euid}`;
  if ((stats.mode & 0o022) !== 0 && (stats.mode & 0o1000) === 0) return 'others can write to it and it has no sticky bit';
  const parent = statSync(path.dirname(base));
  if (parent.uid !== 0 && parent.uid !== euid) return `its parent folder is owned by uid ${parent.uid}`;
  if ((parent.mode & 0o022) !== 0 && (parent.mode & 0o1000) === 0) return 'others can write to its parent folder and it has no sticky bit';
  return undefined;
}

/**
 * mkdir -p, one component at a time: Node's recursive mkdir reports ENOENT on a read-only filesystem,
 * while a plain mkdir of the first missing component gives the real reason (EROFS).
 */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let current = dir; !existsSync(current); current = path.dirname(current)) missing.unshift(current);
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode: folder === dir ? 0o700 : 0o755 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/**
 * A pino destination that writes `pivot` events as the plain sentences of pivots.log, synchronously:
 * `2026-11-22T03:40:00Z libxcrypt-rebuild/rebuild: binary-package failed because …, trying source-build`.
 */
export function createPivotLog(file: string): DestinationStream {
  // The file exists from the start: an empty pivots.log says "nothing had to fall back".
  appendFileSync(file, '', { mode: 0o600 });
  return {
    write(line: string): void {
      if (!line.includes('"event":"pivot"')) return;
      const record = JSON.parse(line) as Record<string, string>;
      appendFileSync(
        file,
        `${record['time']} ${record['phase']}/${record['step']}: ${record['attempt']} ${record['outcome']} because ${record['reason']}, trying ${record['next']}\n`,
        { mode: 0o600 },
      );
    },
  };
}

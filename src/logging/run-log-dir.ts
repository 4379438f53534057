import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { DestinationStream } from 'pino';
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

/**
 * Creates `<base>/<name>` in the first base folder that can take it (mode 0700: logs describe accounts),
 * proving each with a real write. A read-only or full target pivots to the next base, e.g. the host's /tmp.
 * A new run never shares a folder: when `<name>` exists it becomes `<name>-2`, `-3`, …; `reuse` opens an
 * existing folder instead (--resume).
 */
export function openRunLogDir(bases: readonly string[], name: string, options: { reuse?: boolean } = {}): RunLogDir {
  const pivotedFrom: { dir: string; reason: string }[] = [];
  for (const base of bases) {
    let dir = path.join(base, name);
    for (let suffix = 2; !options.reuse && existsSync(dir); suffix += 1) dir = path.join(base, `${name}-${suffix}`);
    const reason = tryPrepare(dir);
    if (reason === undefined) {
      return {
        dir,
        pivotedFrom,
        path: (file) => path.join(dir, RUN_LOG_FILES[file]),
        write: (file, text) => writeFileAtomic(path.join(dir, RUN_LOG_FILES[file]), text, { mode: 0o600 }),
      };
    }
    pivotedFrom.push({ dir, reason });
  }
  throw new ArgoError('ARGO_LOG_DIR_UNAVAILABLE', `No folder for the run logs could be created (${pivotedFrom.map((p) => `${p.dir}: ${p.reason}`).join('; ')})`, {
    hint: 'Pass a writable folder with --log-dir (e.g. on a USB stick or under /tmp).',
    details: { tried: pivotedFrom },
  });
}

function tryPrepare(dir: string): string | undefined {
  const probe = path.join(dir, '.argo-probe');
  try {
    makeFolders(dir);
    writeFileSync(probe, Buffer.alloc(PROBE_BYTES), { mode: 0o600 });
    rmSync(probe);
    return undefined;
  } catch (error) {
    rmSync(probe, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return 'read-only filesystem';
    if (code === 'ENOSPC' || code === 'EDQUOT') return 'no space left';
    if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
    if (code === 'ENOTDIR' || code === 'EEXIST') return 'a file is in the way';
    return code ?? String(error);
  }
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

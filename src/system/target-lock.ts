import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { ArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';

/** Where the locks of target roots live: on the machine argo runs on, never inside a target (it may be read-only). */
export const DEFAULT_LOCK_DIR = '/run/argo/locks';

/** What the lock file says about the run holding it (written after the lock is taken, cleared on release). */
export interface LockHolder {
  readonly pid: number;
  readonly command: string;
  readonly root: string;
  readonly startedAt: string;
  /**
   * The root's birth time (statx btime, nanoseconds) when its filesystem keeps one: the lock file is named by
   * device and inode, and a deleted root's inode number is given to new folders; a new folder is born later.
   */
  readonly rootBirth?: string;
}

export interface TargetLock extends AsyncDisposable {
  readonly file: string;
  /** Clears the holder and drops the lock. Idempotent. */
  release(): Promise<void>;
}

export interface LockTargetOptions {
  readonly logger: Logger;
  /** Default /run/argo/locks. */
  readonly lockDir?: string;
  readonly now?: () => Date;
}

const FLOCK_CONFLICT = 75;
const MAX_HOLDER_BYTES = 4096;

/**
 * Takes the one lock of a target root, or refuses with ARGO_TARGET_LOCKED naming the run that holds it.
 *
 * The lock is a flock(2) on `<lockDir>/root-<device>-<inode>.lock`: one per root, whatever path (symlink,
 * bind mount) names it. It belongs to this process's open file description, so the kernel drops it when the
 * process ends in any way, SIGKILL and power loss included: a dead run never blocks the next one. Node.js has
 * no flock, so util-linux's `flock` takes it on our descriptor (passed as its fd 3) and exits; the lock stays
 * with the descriptor we keep open. This is the one spawn outside run-command.ts: the runner's stdio model
 * has no way to share a descriptor, and the lock must be taken before any logger or System exists.
 * (libuv opens every file close-on-exec: the commands argo runs do not inherit the lock.)
 */
export async function lockTarget(realRoot: string, command: string, options: LockTargetOptions): Promise<TargetLock> {
  const lockDir = options.lockDir ?? DEFAULT_LOCK_DIR;
  await preparePrivateDir(lockDir);
  const rootStats = await fs.stat(realRoot, { bigint: true });
  const file = path.join(lockDir, `root-${rootStats.dev}-${rootStats.ino}.lock`);
  // 0 where the filesystem keeps none. (Where statx(2) is refused, an old container's seccomp filter, libuv
  // fills it from ctime, which changes as the root's entries do: a takeover there can be logged as recycled,
  // at debug. The lock itself does not depend on it.)
  const rootBirth = rootStats.birthtimeNs > 0n ? rootStats.birthtimeNs.toString() : undefined;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    throw lockFailed(`The lock file ${file} cannot be opened`, file, error);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.uid !== (process.geteuid?.() ?? 0) || stats.nlink !== 1) {
      throw lockFailed(`The lock file ${file} is not a private regular file`, file);
    }
    const taken = await flockNonBlocking(handle.fd, file);
    if (!taken) {
      const holder = parseHolder(await readAll(handle));
      const who = holder === undefined ? 'another run (it is starting)' : `${holder.command} (pid ${holder.pid}, since ${holder.startedAt})`;
      throw new ArgoError('ARGO_TARGET_LOCKED', `${command}: ${realRoot} is being changed by ${who}`, {
        hint: holder === undefined ? 'Wait for it to finish, then run again.' : `Wait for pid ${holder.pid} to finish (ps -p ${holder.pid}), then run again.`,
        details: { root: realRoot, lock: file, ...(holder === undefined ? {} : { holder }) },
      });
    }
    const previous = parseHolder(await readAll(handle));
    // We hold the lock, so a holder still written in the file ended without releasing it: a run that died.
    // On this root, unless both birth times are known and differ: then it died on a root that was deleted
    // and whose inode number this root got, and nothing is taken over from it. (Not by its path: a root is
    // renamed or mounted elsewhere, and an old path may hang on a dead network mount.)
    if (previous !== undefined) {
      const fields = { root: realRoot, lock: file, pid: previous.pid, command: previous.command, startedAt: previous.startedAt };
      if (previous.rootBirth !== undefined && rootBirth !== undefined && previous.rootBirth !== rootBirth) {
        logEvent(options.logger, 'lock.recycled', { ...fields, previousRoot: previous.root });
      } else {
        logEvent(options.logger, 'lock.taken-over', fields);
      }
    }
    const holder: LockHolder = {
      pid: process.pid,
      command,
      root: realRoot,
      startedAt: (options.now ?? (() => new Date()))().toISOString(),
      ...(rootBirth === undefined ? {} : { rootBirth }),
    };
    await handle.truncate(0);
    await handle.write(`${JSON.stringify(holder)}\n`, 0);
    await handle.sync();
    logEvent(options.logger, 'lock.taken', { root: realRoot, lock: file });
  } catch (error) {
    await handle.close();
    throw error;
  }
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    try {
      // Cleared while still held: an empty file means "released", a holder left in it means "died".
      await handle.truncate(0);
    } finally {
      await handle.close();
    }
  };
  return { file, release, [Symbol.asyncDispose]: release };
}

async function preparePrivateDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw lockFailed(`The lock folder ${dir} cannot be created`, dir, error);
  }
  const euid = process.geteuid?.() ?? 0;
  // Every folder from the lock folder up to the first one argo did not make must be root's own and closed to others.
  const stats = await fs.lstat(dir);
  if (stats.isSymbolicLink() || !stats.isDirectory() || stats.uid !== euid || (stats.mode & 0o022) !== 0) {
    throw lockFailed(`The lock folder ${dir} is a symbolic link, not owned by uid ${euid}, or writable by others`, dir);
  }
  const parent = await fs.lstat(path.dirname(dir));
  if (parent.isSymbolicLink() || parent.uid !== euid || (parent.mode & 0o022) !== 0) {
    throw lockFailed(`The folder ${path.dirname(dir)} above the locks is a symbolic link, not owned by uid ${euid}, or writable by others`, dir);
  }
}

/** flock(LOCK_EX | LOCK_NB) on our descriptor, by util-linux's flock. True when taken, false when another holds it. */
function flockNonBlocking(fd: number, file: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', '--nonblock', '--conflict-exit-code', String(FLOCK_CONFLICT), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => reject(lockFailed('flock (util-linux) cannot be run', file, error)));
    child.once('close', (code) => {
      if (code === 0) resolve(true);
      else if (code === FLOCK_CONFLICT) resolve(false);
      else reject(lockFailed(`flock exited with ${code}: ${stderr.trim()}`, file));
    });
  });
}

async function readAll(handle: fs.FileHandle): Promise<string> {
  const buffer = Buffer.alloc(MAX_HOLDER_BYTES);
  const { bytesRead } = await handle.read(buffer, 0, MAX_HOLDER_BYTES, 0);
  return buffer.subarray(0, bytesRead).toString('utf8');
}

function parseHolder(text: string): LockHolder | undefined {
  if (text.trim() === '') return undefined;
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === 'number' && typeof value.command === 'string') {
      return {
        pid: value.pid,
        command: value.command,
        root: String(value.root ?? ''),
        startedAt: String(value.startedAt ?? ''),
        ...(typeof value.rootBirth === 'string' && /^\d+$/.test(value.rootBirth) ? { rootBirth: value.rootBirth } : {}),
      };
    }
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  return undefined;
}

function lockFailed(message: string, file: string, cause?: unknown): ArgoError {
  return new ArgoError('ARGO_LOCK_FAILED', message, {
    ...(cause === undefined ? {} : { cause }),
    hint: 'Nothing was changed. Look at who made the folder, remove it, and run again (flock comes with util-linux).',
    details: { lock: file },
  });
}

/**
 * An exclusive lock between processes, in Node alone: the lock is a file created with O_EXCL (`wx`) holding the
 * owner's pid. A lock whose owner is dead (a drone killed with SIGKILL) is broken, under a second O_EXCL file so
 * that two waiters never both break it and then each take it.
 *
 * The file calls are synchronous: a run takes a lock some twenty times (every emerge.log record), nearly always
 * free, and each call through the thread pool of `fs/promises` costs more than the work it guards. Only the wait
 * for a held lock sleeps.
 */

import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cleanup } from './cleanup.ts';

const RETRY_MS = 10;
const DEFAULT_TIMEOUT_MS = 120_000;
/** A breaker file this old belongs to a process that died while breaking a lock. */
const STALE_BREAKER_MS = 5_000;
/** An owner that died between creating the lock and writing its pid leaves an empty file; give it this long. */
const EMPTY_LOCK_GRACE_MS = 2_000;

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else. ESRCH, or a number no process can have: gone.
    return isErrno(error, 'EPERM');
  }
}

function readOwner(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

function isStale(path: string, owner: string): boolean {
  const pid = Number.parseInt(owner, 10);
  if (Number.isInteger(pid) && pid > 0) return !isAlive(pid);
  try {
    return Date.now() - statSync(path).mtimeMs > EMPTY_LOCK_GRACE_MS;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

function tryCreate(path: string, content: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o644);
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    throw error;
  }
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
}

function breakStaleLock(path: string, owner: string, cleanup: Cleanup): void {
  const breaker = `${path}.break`;
  if (!tryCreate(breaker, `${process.pid}\n`)) {
    try {
      if (Date.now() - statSync(breaker).mtimeMs > STALE_BREAKER_MS) unlinkSync(breaker);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
    return;
  }
  cleanup.add(breaker);
  try {
    // Only the lock we judged stale: another waiter may have broken it and taken it since.
    if (readOwner(path) === owner) unlinkIfPresent(path);
  } finally {
    try {
      unlinkSync(breaker);
    } catch {
      // Already gone: nothing to undo.
    }
    cleanup.forget(breaker);
  }
}

/** Runs `work` holding the lock file `path`; the lock is registered with `cleanup` so a signal removes it. */
export async function withFileLock<T>(path: string, cleanup: Cleanup, work: () => Promise<T>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const content = `${process.pid}\n`;
  for (;;) {
    // Registered once created: registering earlier would let a signal remove another process's lock. A lock
    // left by a signal in between is stale (its pid is gone) and the next waiter breaks it.
    if (tryCreate(path, content)) {
      cleanup.add(path);
      break;
    }
    const owner = readOwner(path);
    if (owner !== undefined && isStale(path, owner)) {
      breakStaleLock(path, owner, cleanup);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for the lock ${path} (held by pid ${owner?.trim()})`);
    await sleep(RETRY_MS + Math.floor(Math.random() * RETRY_MS));
  }
  try {
    return await work();
  } finally {
    unlinkIfPresent(path);
    cleanup.forget(path);
  }
}

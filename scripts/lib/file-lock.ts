/**
 * flock(2) locks for scripts, compatible with `flock FILE` in the shell scripts and tests that share them (the
 * fixture cache's .lock). Node.js has no flock(): the `flock` program takes the lock on a file descriptor it
 * inherits from us, and because a flock belongs to the open file description, the lock stays ours after that
 * program exits, until we close the descriptor or die (SIGKILL included). Pass `lock.fd` as an extra stdio
 * entry to a child that must keep the lock alive if we are killed before it ends, as a shell's children do.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface FileLock {
  readonly path: string;
  readonly fd: number;
  /** Takes the lock (shared or exclusive); false when it was not free within `waitSeconds` (0: do not wait). */
  take(mode: 'shared' | 'exclusive', waitSeconds: number): boolean;
  /** Lets the lock go but keeps the descriptor (a shared lock is upgraded by unlock + exclusive, as flock(1) does). */
  unlock(): void;
  close(): void;
}

function runFlock(fd: number, args: readonly string[]): boolean {
  // The descriptor is the child's fd 3.
  const result = spawnSync('flock', [...args, '3'], { stdio: ['ignore', 'inherit', 'inherit', fd] });
  if (result.error) throw result.error;
  return result.status === 0;
}

export function openLock(path: string): FileLock {
  const fd = openSync(path, 'w', 0o644);
  let open = true;
  return {
    path,
    fd,
    take(mode, waitSeconds) {
      const kind = mode === 'shared' ? '-s' : '-x';
      return runFlock(fd, waitSeconds <= 0 ? [kind, '-n'] : [kind, '-w', String(waitSeconds)]);
    },
    unlock() {
      runFlock(fd, ['-u']);
    },
    close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

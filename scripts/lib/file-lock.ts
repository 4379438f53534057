/**
 * flock(2) locks for scripts, compatible with `flock FILE` in the shell scripts and tests that share them (the
 * fixture cache's .lock). Node.js has no flock(): the `flock` program takes the lock on a file descriptor it
 * inherits from us, and because a flock belongs to the open file description, the lock stays ours after that
 * program exits, until we close the descriptor or die (SIGKILL included). Pass `lock.fd` as an extra stdio
 * entry to a child that must keep the lock alive if we are killed before it ends, as a shell's children do.
 * Waiting for a lock is asynchronous: a script waiting for one still handles SIGINT/SIGTERM.
 * Take locks in one order everywhere (the fixture cache: .lock before .fake-emerge.lock), and never wait for
 * one while holding another that its holder may want.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';

export interface FileLock {
  readonly path: string;
  readonly fd: number;
  /** Takes the lock (shared or exclusive); false when it was not free within `waitSeconds` (0: do not wait). */
  take(mode: 'shared' | 'exclusive', waitSeconds: number): Promise<boolean>;
  /** Lets the lock go but keeps the descriptor (a shared lock is upgraded by unlock + exclusive, as flock(1) does). */
  unlock(): void;
  close(): void;
}

// The descriptor is the flock program's fd 3.
async function waitFlock(fd: number, args: readonly string[]): Promise<boolean> {
  const child = spawn('flock', [...args, '3'], { stdio: ['ignore', 'inherit', 'inherit', fd] });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code === 0;
}
function runFlock(fd: number, args: readonly string[]): boolean {
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
      return waitFlock(fd, waitSeconds <= 0 ? [kind, '-n'] : [kind, '-w', String(waitSeconds)]);
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

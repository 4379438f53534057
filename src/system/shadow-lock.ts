import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import { ArgoError } from '../core/errors.ts';
import type { RootedFs } from './rooted-fs.ts';
import { CommandError, type CommandRunner } from './run-command.ts';

/** The lock file of lckpwdf(3), inside the target. */
export const PASSWORD_LOCK_FILE = '/etc/.pwd.lock';
/** How long lckpwdf(3) (and so passwd, useradd, vipw) waits for the lock. */
export const PASSWORD_LOCK_WAIT_MS = 15_000;
/** The longest argo keeps the lock: a read, an edit and two atomic writes of /etc/shadow. */
const HOLD_BUDGET_MS = 5 * 60_000;

/**
 * Holds lckpwdf's lock, a whole-file fcntl write lock on the file named in argv[1], until it is killed.
 * Node has no fcntl(2); Python's fcntl.lockf is F_SETLKW with a whole-file F_WRLCK, exactly what glibc's
 * lckpwdf takes. The wait is bounded by an alarm, as lckpwdf bounds it. PR_SET_PDEATHSIG ends the holder
 * (and so releases the lock) if argo itself dies, even by SIGKILL.
 */
const HOLDER = [
  'import ctypes, fcntl, os, signal, sys',
  'parent = int(sys.argv[3])',
  'ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)',
  'if os.getppid() != parent: sys.exit(4)',
  'fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)',
  'def late(signum, frame): raise TimeoutError()',
  'signal.signal(signal.SIGALRM, late)',
  'signal.setitimer(signal.ITIMER_REAL, float(sys.argv[2]) / 1000)',
  'try:',
  '    fcntl.lockf(fd, fcntl.LOCK_EX)',
  'except TimeoutError:',
  '    print("timeout", flush=True)',
  '    sys.exit(3)',
  'signal.setitimer(signal.ITIMER_REAL, 0)',
  'print("locked", flush=True)',
  'while True: signal.pause()',
].join('\n');

export interface ShadowLockOptions {
  /** How long to wait for another holder. Default 15 s, as lckpwdf. */
  readonly waitMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Runs `work` while holding the target's password-file lock (`/etc/.pwd.lock`, lckpwdf(3) semantics), so that
 * passwd, useradd, chpasswd or vipw running at the same time cannot interleave their rewrite of /etc/shadow
 * with ours. The lock file is created 0600 when missing; a symlink or anything but a regular file there is
 * refused. The lock is released when `work` ends, whatever happened.
 */
export async function withShadowLock<T>(target: RootedFs, commands: CommandRunner, work: (assertLocked: () => void) => Promise<T>, options: ShadowLockOptions = {}): Promise<T> {
  const lockFile = await preparePasswordLockFile(target);
  const waitMs = options.waitMs ?? PASSWORD_LOCK_WAIT_MS;
  const release = new AbortController();
  const signal = options.signal === undefined ? release.signal : AbortSignal.any([release.signal, options.signal]);
  let locked!: () => void;
  let notLocked!: (error: unknown) => void;
  const acquired = new Promise<void>((resolve, reject) => {
    locked = resolve;
    notLocked = reject;
  });
  const holder = commands
    .run('python3', ['-c', HOLDER, lockFile, String(waitMs), String(process.pid)], {
      signal,
      budgetMs: waitMs + HOLD_BUDGET_MS,
      graceMs: 1_000,
      mutates: false,
      stopQuietly: true,
      onLine: (line, stream) => {
        if (stream === 'stdout' && line === 'locked') locked();
      },
    })
    .then(
      (result) => notLocked(new Error(`the lock holder exited (${result.exitCode}) without taking the lock`)),
      (error: unknown) => notLocked(error),
    )
    .finally(() => {
      holderGone = true;
    });
  // The holder can die while `work` runs (its budget, the OOM killer): then the lock is gone, and a write that
  // has not happened yet must not happen. `work` asks right before each rename.
  let holderGone = false;
  const assertLocked = (): void => {
    if (holderGone && !release.signal.aborted) {
      throw new ArgoError('ARGO_SHADOW_LOCKED', `The lock on ${PASSWORD_LOCK_FILE} was lost before /etc/shadow was replaced; it is unchanged`, {
        hint: 'The process holding the lock for argo ended early (see the log); run again.',
        details: { path: PASSWORD_LOCK_FILE },
      });
    }
  };
  try {
    await acquired;
  } catch (error) {
    release.abort();
    await holder;
    throw lockError(error, waitMs);
  }
  try {
    return await work(assertLocked);
  } finally {
    release.abort();
    await holder;
  }
}

function lockError(error: unknown, waitMs: number): ArgoError {
  if (error instanceof CommandError && error.result.exitCode === 3) {
    return new ArgoError('ARGO_SHADOW_LOCKED', `Another program held ${PASSWORD_LOCK_FILE} for more than ${waitMs / 1000} s; /etc/shadow is unchanged`, {
      hint: 'A passwd, useradd or vipw is running on the target: let it finish (ps -ef), then run again.',
      details: { path: PASSWORD_LOCK_FILE, waitMs },
    });
  }
  if (error instanceof ArgoError) return error;
  return new ArgoError('ARGO_COMMAND_FAILED', `Could not take the password-file lock ${PASSWORD_LOCK_FILE}`, {
    cause: error,
    hint: 'Taking the lock needs python3 on the machine argo runs on.',
    details: { path: PASSWORD_LOCK_FILE },
  });
}

/**
 * Host path of the target's /etc/.pwd.lock, created 0600 root when missing. O_NOFOLLOW: a symlink planted
 * there is refused rather than followed (root would create or lock a file elsewhere).
 */
async function preparePasswordLockFile(target: RootedFs): Promise<string> {
  const host = await target.resolveParent(PASSWORD_LOCK_FILE);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(host, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ELOOP' && code !== 'ENXIO' && code !== 'EISDIR') throw error;
    throw new ArgoError('ARGO_UNSAFE_PATH', `${PASSWORD_LOCK_FILE} in ${target.root} is not a regular file`, {
      hint: `Look at it (ls -l ${PASSWORD_LOCK_FILE}); remove it if nothing of yours made it, and run again.`,
      details: { root: target.root, path: PASSWORD_LOCK_FILE, errno: code },
    });
  }
  try {
    if (!(await handle.stat()).isFile()) {
      throw new ArgoError('ARGO_UNSAFE_PATH', `${PASSWORD_LOCK_FILE} in ${target.root} is not a regular file`, {
        hint: `Look at it (ls -l ${PASSWORD_LOCK_FILE}); remove it if nothing of yours made it, and run again.`,
        details: { root: target.root, path: PASSWORD_LOCK_FILE },
      });
    }
  } finally {
    await handle.close();
  }
  return host;
}

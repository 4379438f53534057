import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import { execa } from 'execa';
import { ArgoError } from '../core/errors.ts';
import { isOnPath } from './chroot-session.ts';

/**
 * Runs argo again inside a mount namespace of its own, so that what it mounts (the Gentoo root found on a
 * disk, its /var and /boot, the read-only looks at every candidate) is seen by argo and its children alone
 * and disappears with the namespace, whatever ends argo: an error, Ctrl-C, or SIGKILL of either process.
 *
 * `setpriv --pdeathsig SIGKILL` kills the inner argo when the outer one dies, so a SIGKILL of the process
 * the admin started takes the mounts down too (the kernel unmounts what was mounted in a namespace when its
 * last process exits; a mount busy at that moment is detached, and the filesystem is written back and
 * released once nothing uses it). The inner argo runs in its own process group: the outer one receives the
 * terminal's Ctrl-C and hands it on, once, so the inner one sees exactly the signals the admin sent.
 */

/** Set in the inner argo's environment; with the namespace check below it tells the inner one it is inside. */
export const NAMESPACE_MARKER = 'ARGO_PRIVATE_MOUNT_NAMESPACE';

/**
 * Whether this process is the inner argo: started with the marker, which names the outer argo's mount
 * namespace, and running in another one whose parent (the outer argo) is in the named one. The marker is
 * then removed from the environment, so that the programs argo runs do not inherit it.
 */
export async function inPrivateMountNamespace(env: Record<string, string | undefined>): Promise<boolean> {
  const marker = env[NAMESPACE_MARKER];
  delete env[NAMESPACE_MARKER];
  if (marker === undefined || marker === '') return false;
  const [own, parents] = await Promise.all([fs.readlink('/proc/self/ns/mnt'), fs.readlink(`/proc/${process.ppid}/ns/mnt`).catch(() => '')]);
  return parents === marker && own !== parents;
}

/** The command line that starts this program again: `node script.js args` or, for the single executable, `argo args`. */
export async function ownCommandLine(argv: readonly string[]): Promise<{ file: string; args: string[] }> {
  let single = false;
  try {
    const sea = (await import('node:sea')) as { isSea?: () => boolean };
    single = sea.isSea?.() === true;
  } catch {
    single = false;
  }
  // The single executable is its own script: process.argv is [exe, exe, ...args].
  return single ? { file: process.execPath, args: argv.slice(2) } : { file: process.execPath, args: [...process.execArgv, ...argv.slice(1)] };
}

/**
 * Runs `file args` in a new private mount namespace with stdio inherited, forwarding the first interrupt of
 * `signal` as SIGTERM, and resolves to its exit code (128+n for a signal n, as a shell would).
 */
export async function runInPrivateMountNamespace(command: { file: string; args: readonly string[] }, env: Readonly<Record<string, string | undefined>>, signal: AbortSignal): Promise<number> {
  if ((process.geteuid?.() ?? 0) !== 0) {
    throw new ArgoError('ARGO_USAGE', 'argo rescue mounts filesystems: run it as root', { hint: 'sudo argo rescue ... (or from a root shell of the live system)' });
  }
  for (const program of ['setpriv', 'unshare']) {
    if (!(await isOnPath(program, env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'))) {
      throw new ArgoError('ARGO_COMMAND_NOT_FOUND', `${program} (util-linux) is not installed on this system`, {
        hint: 'Install util-linux 2.33 or newer (every live system has it); argo rescue needs a mount namespace of its own.',
      });
    }
  }
  // A Ctrl-C while argo was starting: nothing was done, nothing is started.
  signal.throwIfAborted();
  const ownNamespace = await fs.readlink('/proc/self/ns/mnt');
  const argv = ['--pdeathsig', 'SIGKILL', '--', 'unshare', '--mount', '--propagation', 'private', '--', command.file, ...command.args];
  const child = execa('setpriv', argv, {
    stdio: 'inherit',
    env: { ...env, [NAMESPACE_MARKER]: ownNamespace },
    extendEnv: false,
    detached: true,
    reject: false,
  });
  const forward = (): void => {
    child.kill('SIGTERM');
  };
  signal.addEventListener('abort', forward, { once: true });
  try {
    const result = await child;
    if (result.failed && result.exitCode === undefined && result.signal === undefined) {
      throw new ArgoError('ARGO_COMMAND_NOT_FOUND', 'setpriv or unshare (util-linux) could not be started', {
        cause: result.cause,
        hint: 'Install util-linux (every live system has it); argo rescue needs a mount namespace of its own.',
      });
    }
    if (result.exitCode !== undefined) return result.exitCode;
    const number = result.signal === undefined ? undefined : os.constants.signals[result.signal as keyof typeof os.constants.signals];
    return 128 + (number ?? 1);
  } finally {
    signal.removeEventListener('abort', forward);
  }
}

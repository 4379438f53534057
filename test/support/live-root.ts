import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { copyTarget, type TargetCopy } from './debian-target.ts';
import type { CliRun } from './run-cli.ts';

/** Where the single-file executable sits inside the live root, and its apkg link beside it. */
export const LIVE_ARGO = '/usr/local/bin/argo';
export const LIVE_APKG = '/usr/local/bin/apkg';
/** The PATH of every command run inside the live root. */
export const LIVE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface LiveRoot extends TargetCopy {
  /**
   * Runs a command inside the live root as a live USB's shell would: chrooted, with /proc, /sys, /dev and /run
   * mounted, and `target` (a folder on the host, e.g. a broken root) mounted at /mnt/gentoo. Every one of these
   * mounts is made in a private mount namespace of this command alone: they are gone when it ends.
   */
  run(argv: readonly string[], options?: { readonly target?: string }): Promise<CliRun>;
}

// $1 the live root, $2 the target to mount at /mnt/gentoo (or empty), then the command. `unshare --mount` makes
// every mount below private to this namespace.
const ENTER_LIVE_ROOT = `set -euo pipefail
root=$1 target=$2
shift 2
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
if [ -n "$target" ]; then mount --bind "$target" "$root/mnt/gentoo"; fi
exec chroot "$root" /usr/bin/env -i PATH=${LIVE_PATH} HOME=/root LANG=C.UTF-8 TERM=dumb NO_COLOR=1 "$@"
`;

/**
 * A live system without Node.js: a private copy (overlay) of the healthy Debian fixture root with the executable
 * copied in at /usr/local/bin/argo and a symbolic link /usr/local/bin/apkg to it.
 */
export async function createLiveRoot(executable: string): Promise<LiveRoot> {
  const copy = await copyTarget('base');
  try {
    await copyFile(executable, join(copy.root, LIVE_ARGO));
    await chmod(join(copy.root, LIVE_ARGO), 0o755);
    await symlink('argo', join(copy.root, LIVE_APKG));
    await mkdir(join(copy.root, 'mnt/gentoo'), { recursive: true });
  } catch (error) {
    await copy.remove();
    throw error;
  }
  return {
    ...copy,
    run: (argv, options = {}) => runIn(copy.root, options.target ?? '', argv),
  };
}

function runIn(root: string, target: string, argv: readonly string[]): Promise<CliRun> {
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'bash', '-c', ENTER_LIVE_ROOT, 'live-root', root, target, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

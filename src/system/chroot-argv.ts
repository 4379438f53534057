/**
 * The command line that runs one command inside a target root, in a mount and PID namespace of its own.
 *
 * `setpriv --pdeathsig SIGKILL` ends `unshare` when argo itself dies (even by SIGKILL); `unshare --kill-child`
 * then ends the namespace's first process, and with it every process of the namespace (a gpg-agent, a daemon
 * a package started, a grandchild holding stdout open). The Handbook's mounts are made inside the private mount
 * namespace, so they vanish with it: nothing is ever mounted in the host's mount table, and a killed argo
 * leaves no mount behind.
 *
 * Overlays (a file bound read-only over one of the target's, for this command alone) come last, after the
 * Handbook's mounts: they live and die with the namespace like the rest, so the target's own file is never
 * changed and a SIGKILL at any moment leaves it as it was.
 *
 * The shell below is the namespace's PID 1. It does not exec the command: PID 1 ignores signals it has no
 * handler for, so the command runs as its child and keeps the usual SIGTERM-then-SIGKILL stop. A non-interactive
 * shell gives a background job /dev/null as stdin, hence the explicit `<&3`.
 */
const NAMESPACE_SCRIPT = [
  'root=$1 proc=$2 sys=$3 dev=$4 run=$5 resolv=$6 overlays=$7',
  'shift 7',
  'fail() { echo "argo-chroot: could not mount $1 (inside $root)" >&2; exit 125; }',
  'mount -t proc -o nosuid,nodev,noexec proc "$proc" || fail /proc',
  'mount --rbind --make-rslave /sys "$sys" || fail /sys',
  'mount --rbind --make-rslave /dev "$dev" || fail /dev',
  'mount --bind --make-slave /run "$run" || fail /run',
  // An offline live system may have no resolv.conf (or a dangling link): then the target keeps its own.
  'if [ -n "$resolv" ] && [ -f /etc/resolv.conf ]; then mount -o bind,ro /etc/resolv.conf "$resolv" || fail /etc/resolv.conf; fi',
  // Each overlay is three words: the host file, the mount point (a host path), the path inside the target.
  'while [ "$overlays" -gt 0 ]; do',
  '  mount -o bind,ro "$1" "$2" || fail "$3"',
  '  shift 3',
  '  overlays=$((overlays - 1))',
  'done',
  'exec 3<&0',
  'chroot "$root" "$@" <&3 3<&- &',
  'wait $!',
].join('\n');

/** argv[0] of the namespace's shell: marks a chroot command line in logs and errors. */
export const CHROOT_MARKER = 'argo-chroot';

/** Exit status of the namespace shell when a mount failed before the command ran. */
export const CHROOT_MOUNT_FAILED = 125;

export interface ChrootMountPoints {
  /** Host paths, each resolved inside the target root. */
  readonly proc: string;
  readonly sys: string;
  readonly dev: string;
  readonly run: string;
  /** The target's /etc/resolv.conf when it is a regular file: the host's is bound over it read-only. */
  readonly resolvConf: string | undefined;
}

/** A file bound over one of the target's, with both ends already resolved to host paths. */
export interface ChrootOverlay {
  readonly hostFile: string;
  /** The target's file as a host path (`<root>/etc/shadow`): what is mounted over. */
  readonly mountPoint: string;
  /** The same file as the command sees it (`/etc/shadow`), for the error message. */
  readonly targetPath: string;
}

export function chrootArgv(root: string, mounts: ChrootMountPoints, overlays: readonly ChrootOverlay[], command: readonly string[], withDeathSignal: boolean): string[] {
  const unshare = ['unshare', '--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--'];
  const binds = overlays.flatMap((overlay) => [overlay.hostFile, overlay.mountPoint, overlay.targetPath]);
  const shell = ['sh', '-c', NAMESPACE_SCRIPT, CHROOT_MARKER, root, mounts.proc, mounts.sys, mounts.dev, mounts.run, mounts.resolvConf ?? '', String(overlays.length), ...binds];
  return [...(withDeathSignal ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : []), ...unshare, ...shell, ...command];
}

/** The root and the command of a chroot command line, for messages: `emerge --info (inside /mnt/gentoo)`. */
export function parseChrootArgv(argv: readonly string[]): { root: string; command: readonly string[] } | undefined {
  const marker = argv.indexOf(CHROOT_MARKER);
  if (marker < 0 || argv[marker - 2] !== '-c') return undefined;
  const root = argv[marker + 1];
  const overlays = Number(argv[marker + 7]);
  if (root === undefined || !Number.isInteger(overlays) || overlays < 0) return undefined;
  return { root, command: argv.slice(marker + 8 + 3 * overlays) };
}

import { CHROOT_MOUNT_FAILED } from './chroot-argv.ts';

/**
 * A file bound read-only over another for one command only (RunOptions.overlays). `targetPath` is the file as
 * the command sees it: inside the target for a chroot session, on the host for the host runner.
 */
export interface FileOverlay {
  /** A regular file on the machine argo runs on. */
  readonly hostFile: string;
  /** A regular file (not a symlink) the command sees; it is never changed on disk. */
  readonly targetPath: string;
}

/**
 * The command line that runs one host command with files bound read-only over others, for it alone:
 * `unshare --mount --propagation private` gives it a mount namespace of its own, so the binds never reach
 * the host's mount table, nobody else sees them, and they vanish with the command whatever ends it. The
 * shell execs the command, so the process argo waits for and kills is the command itself.
 */
const OVERLAY_SCRIPT = [
  'overlays=$1',
  'shift',
  'while [ "$overlays" -gt 0 ]; do',
  '  mount -o bind,ro "$1" "$2" || { echo "argo-overlay: could not mount $2" >&2; exit ' + String(CHROOT_MOUNT_FAILED) + '; }',
  '  shift 2',
  '  overlays=$((overlays - 1))',
  'done',
  'exec "$@"',
].join('\n');

/** argv[0] of the overlay shell: marks an overlay command line in logs and errors. */
export const OVERLAY_MARKER = 'argo-overlay';

export function overlayArgv(overlays: readonly FileOverlay[], command: readonly string[]): string[] {
  const binds = overlays.flatMap((overlay) => [overlay.hostFile, overlay.targetPath]);
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', OVERLAY_SCRIPT, OVERLAY_MARKER, String(overlays.length), ...binds, ...command];
}

/** The command of an overlay command line, for messages. */
export function parseOverlayArgv(argv: readonly string[]): { command: readonly string[] } | undefined {
  const marker = argv.indexOf(OVERLAY_MARKER);
  if (marker < 0 || argv[marker - 2] !== '-c') return undefined;
  const overlays = Number(argv[marker + 1]);
  if (!Number.isInteger(overlays) || overlays < 0) return undefined;
  return { command: argv.slice(marker + 2 + 2 * overlays) };
}

/**
 * The one family of user-reachable errors. Every code is listed in ERROR_CODES with its exit code and a
 * one-line meaning, and documented in docs/errors.md (a test keeps the two in step). Bugs stay plain `Error`.
 */

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  refused: 3,
  timedOut: 124,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

interface CodeInfo {
  readonly exit: ExitCode;
  readonly summary: string;
}

export const ERROR_CODES = {
  // usage and input
  ARGO_USAGE: { exit: EXIT.usage, summary: 'the command line is invalid' },
  ARGO_INVALID_INPUT: { exit: EXIT.failed, summary: 'a file or value from outside failed validation' },
  ARGO_CONFIG_INVALID: { exit: EXIT.usage, summary: 'a configuration file, environment variable or option of the build swarm is invalid or unsafe' },

  // rooted file access
  ARGO_PATH_OUTSIDE_ROOT: { exit: EXIT.failed, summary: 'a path could not be kept inside the target root' },
  ARGO_SYMLINK_LOOP: { exit: EXIT.failed, summary: 'too many symbolic links while resolving a path in the target root' },
  ARGO_FILE_NOT_FOUND: { exit: EXIT.failed, summary: 'a required file does not exist' },
  ARGO_FILE_WRITE_FAILED: { exit: EXIT.failed, summary: 'a file could not be written; the original is unchanged' },
  ARGO_NOT_A_LINUX_ROOT: { exit: EXIT.usage, summary: 'the target root does not look like a Linux root filesystem' },
  ARGO_ROOT_NOT_FOUND: { exit: EXIT.usage, summary: 'the --root folder does not exist' },
  ARGO_ROOT_NOT_A_DIRECTORY: { exit: EXIT.usage, summary: 'the --root path is not a folder' },
  ARGO_NOT_A_GENTOO_ROOT: { exit: EXIT.usage, summary: 'a Gentoo-only command was given a root that is not a Gentoo system' },
  ARGO_ROOT_READ_ONLY: { exit: EXIT.usage, summary: 'a command that changes the target was given a read-only root' },
  ARGO_RESCUE_NO_ROOT: { exit: EXIT.failed, summary: 'argo rescue found no Gentoo root on the block devices it could read' },
  ARGO_RESCUE_AMBIGUOUS: { exit: EXIT.usage, summary: 'argo rescue found several Gentoo roots; --device (and --subvolume) picks one' },
  ARGO_RESCUE_MOUNT_FAILED: { exit: EXIT.failed, summary: 'argo rescue could not mount a filesystem the repair needs (/usr, /var, /var/db/pkg, /var/log from the root\'s fstab)' },
  ARGO_DEVICE_NOT_FOUND: { exit: EXIT.usage, summary: 'a --device or --scan names no block device of this machine' },
  ARGO_TARGET_LOCKED: { exit: EXIT.refused, summary: 'another argo or apkg run is changing the same target root' },
  ARGO_LOCK_FAILED: { exit: EXIT.failed, summary: 'the lock folder for target roots cannot be used' },
  ARGO_UNSAFE_PATH: { exit: EXIT.refused, summary: 'a folder argo would write through is a symlink or is not private to root' },
  ARGO_SECRET_FILE_UNSAFE: { exit: EXIT.refused, summary: 'a password or hash file is not a private regular file of root, or is malformed' },
  ARGO_SHADOW_LOCKED: { exit: EXIT.failed, summary: 'another program held the password-file lock (/etc/.pwd.lock) too long' },
  ARGO_HASH_UNSUPPORTED: { exit: EXIT.refused, summary: "a given password hash uses a method the target's crypt cannot verify" },

  // commands
  ARGO_COMMAND_NOT_FOUND: { exit: EXIT.failed, summary: 'a program to run does not exist' },
  ARGO_COMMAND_FAILED: { exit: EXIT.failed, summary: 'a program exited with a non-zero status or was killed' },
  ARGO_COMMAND_TIMED_OUT: { exit: EXIT.timedOut, summary: 'a program ran past its time budget and was killed' },
  ARGO_COMMAND_INACTIVE: { exit: EXIT.timedOut, summary: 'a program printed nothing for too long and was killed' },
  ARGO_INTERRUPTED: { exit: EXIT.interrupted, summary: 'the run was interrupted (Ctrl-C or SIGTERM)' },

  // chroot session and mounts
  ARGO_MOUNT_FAILED: { exit: EXIT.failed, summary: "a mount for a command's private namespace (the chroot's mounts, or a file bound over the target's) failed" },
  ARGO_UNMOUNT_FAILED: { exit: EXIT.failed, summary: 'a mount of the chroot session could not be removed' },

  // phased runner
  ARGO_STEP_FAILED: { exit: EXIT.failed, summary: 'a step failed after all of its pivots' },
  ARGO_STEP_TIMED_OUT: { exit: EXIT.timedOut, summary: 'a step ran past its time budget' },
  ARGO_STATE_FILE_INVALID: { exit: EXIT.failed, summary: 'the state file for --resume is unreadable or belongs to another run' },
  ARGO_LOG_DIR_UNAVAILABLE: { exit: EXIT.failed, summary: 'no folder for the run logs could be created' },

  // updates
  ARGO_UPDATE_REFUSED: { exit: EXIT.refused, summary: 'the pre-update checklist said no-go and --force was not given' },
  ARGO_PLAN_CHANGED: { exit: EXIT.refused, summary: 'emerge wanted to merge something other than the plan the checklist judged' },
  ARGO_LOGIN_BROKEN: { exit: EXIT.failed, summary: 'after an update the login path (crypt, PAM, the canary login) fails' },
  ARGO_LOGIN_REFUSED: { exit: EXIT.failed, summary: "a login was tried through the target's own PAM after the repairs, and refused" },
  ARGO_LOGIN_UNPROVEN: { exit: EXIT.failed, summary: 'a login could not be proven: PAM cannot be driven inside the target (no python3 with ctypes and libpam, no pamtester)' },

  // snapshots
  ARGO_SNAPSHOT_UNAVAILABLE: { exit: EXIT.failed, summary: 'the root cannot be snapshotted (not btrfs, not a subvolume, no snapper or btrfs tools)' },
  ARGO_SNAPSHOT_NO_SPACE: { exit: EXIT.refused, summary: 'a snapshot was refused: free space is below the minimum' },
  ARGO_SNAPSHOT_NOT_FOUND: { exit: EXIT.failed, summary: 'no snapshot with that number, or no pair for that update id' },
  ARGO_SNAPSHOT_PROTECTED: { exit: EXIT.refused, summary: 'refused to delete the snapshot the system runs or boots from' },
  ARGO_SNAPSHOT_TIMED_OUT: { exit: EXIT.timedOut, summary: 'a snapshot command or a rollback ran past its time budget (--budget)' },
  ARGO_ROLLBACK_CONFLICT: { exit: EXIT.refused, summary: 'files the update changed were changed again after it; rollback refused without --overwrite-changed or --keep-changed' },
  ARGO_NOT_CONFIRMED: { exit: EXIT.refused, summary: 'the person at the terminal did not confirm; nothing was changed' },

  // Gentoo formats
  ARGO_VERSION_INVALID: { exit: EXIT.failed, summary: 'a package version does not follow PMS' },
  ARGO_ATOM_INVALID: { exit: EXIT.failed, summary: 'a package atom does not follow PMS' },
  ARGO_DEPSPEC_INVALID: { exit: EXIT.failed, summary: 'a dependency specification is malformed' },
  ARGO_INDEX_INVALID: { exit: EXIT.failed, summary: 'a binhost Packages index is malformed' },
  ARGO_GPKG_INVALID: { exit: EXIT.failed, summary: 'a GPKG binary package is malformed or fails its Manifest' },
  ARGO_XPAK_INVALID: { exit: EXIT.failed, summary: 'an XPAK binary package is malformed' },
  ARGO_COMPRESSION_UNSUPPORTED: { exit: EXIT.failed, summary: 'a compressed member uses a compression this build cannot read' },

  // build swarm
  ARGO_REDIS_UNREACHABLE: { exit: EXIT.failed, summary: "the swarm's Redis does not answer at the configured URL" },
  ARGO_FENCED: { exit: EXIT.failed, summary: 'a write of an orchestrator that no longer leads was refused by its epoch' },
  ARGO_CYCLE_ACTIVE: { exit: EXIT.refused, summary: 'the profile already has a running cycle' },
  ARGO_SYNC_FAILED: { exit: EXIT.failed, summary: 'emerge --sync did not succeed on every drone asked' },
  ARGO_DRONE_ID_IN_USE: { exit: EXIT.refused, summary: 'another live drone holds this drone id' },
  ARGO_LEASE_LOST: { exit: EXIT.failed, summary: "an upload was refused: the drone no longer holds the job's lease" },
  ARGO_UPLOAD_TOO_LARGE: { exit: EXIT.failed, summary: "an uploaded binary package is larger than the gateway's limit" },
  ARGO_SWARM_UNREACHABLE: { exit: EXIT.failed, summary: "the swarm's gateway does not answer at the configured URL" },
  ARGO_SWARM_UNAUTHORIZED: { exit: EXIT.refused, summary: "the swarm's gateway refused the request: no token, a wrong token, or a token without the scope" },
  ARGO_SWARM_REQUEST_FAILED: { exit: EXIT.failed, summary: "the swarm's gateway answered a request with an error" },
  ARGO_SWARM_BUSY: { exit: EXIT.failed, summary: 'the gateway serves as many live event streams as it allows' },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ArgoErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
  /** Structured data for logs and --json output; never secrets. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class ArgoError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: ArgoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ArgoError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  get exitCode(): ExitCode {
    return ERROR_CODES[this.code].exit;
  }
}

export function isArgoError(error: unknown, code?: ErrorCode): error is ArgoError {
  return error instanceof ArgoError && (code === undefined || error.code === code);
}

/** Exit code for anything thrown out of a command handler: ArgoError keeps its own, a bug is 1. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof ArgoError ? error.exitCode : EXIT.failed;
}

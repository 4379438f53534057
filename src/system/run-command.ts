import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { ArgoError, type ErrorCode } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import { CHROOT_MOUNT_FAILED, parseChrootArgv } from './chroot-argv.ts';
import { overlayArgv, parseOverlayArgv, type FileOverlay } from './overlay-argv.ts';
import { resolveOverlayMountPoint } from './overlay-mount-points.ts';
import { createRootedFs } from './rooted-fs.ts';

export interface RunOptions {
  /** The caller's cancellation: user interrupt ∧ the step's budget. Aborting it kills the process group. */
  readonly signal?: AbortSignal | undefined;
  /** This command's own time budget. */
  readonly budgetMs?: number | undefined;
  /** Kill when the command prints nothing (stdout or stderr) for this long. */
  readonly inactivityMs?: number | undefined;
  /** Delay between SIGTERM and SIGKILL. Default 5 s. */
  readonly graceMs?: number | undefined;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null: a dead TTY never blocks us. */
  readonly input?: string | undefined;
  readonly cwd?: string | undefined;
  /** Replaces the environment. Default: the parent's environment with LC_ALL=C for parseable output. */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** Exit codes that are not failures. Default [0]. */
  readonly okExitCodes?: readonly number[] | undefined;
  /**
   * Whether the command changes the system. Default true. In a dry run, commands that change the system
   * are recorded and not run; read-only ones (mutates: false) still run so that decisions stay real.
   */
  readonly mutates?: boolean | undefined;
  /** Level for output lines in the log. Default `debug`. */
  readonly outputLevel?: 'debug' | 'info' | undefined;
  /** Called for every output line, e.g. to drive a progress bar. */
  readonly onLine?: ((line: string, stream: 'stdout' | 'stderr') => void) | undefined;
  /** Output lines of stdout and stderr kept for error reports. Default 40. */
  readonly tailLines?: number | undefined;
  /** The signal is how this command normally ends (a lock holder released): its stop is logged at debug level. */
  readonly stopQuietly?: boolean | undefined;
  /**
   * Files bound read-only over files the command sees, for this command alone, in a mount namespace of its
   * own: nothing changes on disk or in the host's mount table, nobody else sees them, and they vanish with
   * the command however it ends (even SIGKILL). Both ends must be regular files, not symlinks.
   */
  readonly overlays?: readonly FileOverlay[] | undefined;
}

export interface CommandResult {
  readonly argv: readonly string[];
  readonly pid: number | undefined;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly durationMs: number;
  /** Full stdout, up to 32 MiB (`stdoutTruncated` past that). Empty for a command that was not run. */
  readonly stdout: string;
  readonly stdoutTruncated: boolean;
  /** The last lines of stdout and stderr, interleaved as they came. */
  readonly tail: readonly string[];
  /** False when the command was not run (dry run). */
  readonly ran: boolean;
}

export class CommandError extends ArgoError {
  readonly result: CommandResult;

  constructor(code: ErrorCode, message: string, result: CommandResult, hint: string, cause?: unknown) {
    super(code, message, {
      hint,
      cause,
      details: { argv: result.argv, exitCode: result.exitCode, signal: result.signal, tail: result.tail },
    });
    this.name = 'CommandError';
    this.result = result;
  }
}

export interface CommandRecord {
  readonly argv: readonly string[];
  readonly ran: boolean;
  readonly exitCode: number | undefined;
}

/** Runs programs. The only place in the code base that spawns processes. */
export interface CommandRunner {
  run(file: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Every command asked for, in order, including those a dry run did not run. */
  readonly history: readonly CommandRecord[];
  readonly dryRun: boolean;
}

export interface HostRunnerOptions {
  readonly logger: Logger;
  readonly dryRun?: boolean;
}

const DEFAULT_GRACE_MS = 5_000;
const MAX_CAPTURE = 32 * 1024 * 1024;
/** A line without a newline is cut here, so a runaway progress bar cannot grow memory without bound. */
const MAX_LINE = 64 * 1024;

export function createHostRunner(options: HostRunnerOptions): CommandRunner {
  const history: CommandRecord[] = [];
  const dryRun = options.dryRun ?? false;
  return {
    history,
    dryRun,
    async run(file, args, runOptions = {}) {
      const argv = [file, ...args];
      if (dryRun && runOptions.mutates !== false) {
        logEvent(options.logger, 'command.not-run', { argv, reason: 'dry run' });
        history.push({ argv, ran: false, exitCode: undefined });
        return notRun(argv);
      }
      const result = await spawnCommand(await withOverlays(argv, runOptions.overlays), runOptions, options.logger).catch((error: unknown) => {
        throw overlayFailure(error, argv);
      });
      history.push({ argv, ran: true, exitCode: result.exitCode });
      return result;
    },
  };
}

/** The command line that binds the overlays first, or the command itself when there are none. */
async function withOverlays(argv: readonly string[], overlays: readonly FileOverlay[] | undefined): Promise<readonly string[]> {
  if (overlays === undefined || overlays.length === 0) return argv;
  const host = createRootedFs('/');
  const resolved: FileOverlay[] = [];
  for (const overlay of overlays) resolved.push({ hostFile: overlay.hostFile, targetPath: await resolveOverlayMountPoint(host, overlay) });
  return overlayArgv(resolved, argv);
}

/** A bind that failed on its own (not one killed by an interrupt or a budget) is a mount failure. */
function overlayFailure(error: unknown, argv: readonly string[]): unknown {
  if (!(error instanceof CommandError) || error.code !== 'ARGO_COMMAND_FAILED' || error.result.exitCode !== CHROOT_MOUNT_FAILED) return error;
  const line = error.result.tail.find((entry) => entry.startsWith('argo-overlay: could not mount '));
  if (line === undefined || parseOverlayArgv(error.result.argv) === undefined) return error;
  return new ArgoError('ARGO_MOUNT_FAILED', `Could not bind a private copy over ${line.slice('argo-overlay: could not mount '.length)} to run ${argv[0] ?? ''}`, {
    cause: error,
    hint: 'Run as root on a kernel that allows mount namespaces and bind mounts; the reason is in the log.',
    details: { argv: error.result.argv, tail: error.result.tail },
  });
}

function notRun(argv: readonly string[]): CommandResult {
  return { argv, pid: undefined, exitCode: 0, signal: undefined, durationMs: 0, stdout: '', stdoutTruncated: false, tail: [], ran: false };
}

async function spawnCommand(argv: readonly string[], options: RunOptions, logger: Logger): Promise<CommandResult> {
  const [file, ...args] = argv as [string, ...string[]];
  options.signal?.throwIfAborted();

  const budget = new AbortController();
  const watchdog = new AbortController();
  const signals = [budget.signal, watchdog.signal];
  if (options.signal) signals.push(options.signal);
  const cancel = AbortSignal.any(signals);

  const budgetTimer =
    options.budgetMs === undefined
      ? undefined
      : setTimeout(
          () => budget.abort(new ArgoError('ARGO_COMMAND_TIMED_OUT', `${programOf(argv)} ran past its budget of ${options.budgetMs} ms`)),
          options.budgetMs,
        );
  let watchdogTimer: NodeJS.Timeout | undefined;
  const feedWatchdog = (): void => {
    if (options.inactivityMs === undefined) return;
    clearTimeout(watchdogTimer);
    watchdogTimer = setTimeout(
      () => watchdog.abort(new ArgoError('ARGO_COMMAND_INACTIVE', `${programOf(argv)} printed nothing for ${options.inactivityMs} ms`)),
      options.inactivityMs,
    );
  };
  feedWatchdog();

  const tailSize = options.tailLines ?? 40;
  const tail: string[] = [];
  let stdout = '';
  let stdoutTruncated = false;
  let pid: number | undefined;
  const onLine = (line: string, stream: 'stdout' | 'stderr'): void => {
    tail.push(line);
    if (tail.length > tailSize) tail.shift();
    logEvent(logger, 'command.output', { pid, stream, line }, { level: options.outputLevel ?? 'debug' });
    options.onLine?.(line, stream);
  };
  const onStdoutText = (text: string): void => {
    if (stdout.length + text.length <= MAX_CAPTURE) stdout += text;
    else stdoutTruncated = true;
  };

  const started = performance.now();
  const subprocess = execa(file, args, {
    cancelSignal: cancel,
    killSignal: 'SIGTERM',
    forceKillAfterDelay: options.graceMs ?? DEFAULT_GRACE_MS,
    killDescendants: true,
    cleanup: true,
    reject: false,
    cwd: options.cwd,
    env: options.env ?? { ...process.env, LC_ALL: 'C' },
    extendEnv: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    stdout: lineSplitter('stdout', onLine, feedWatchdog, onStdoutText),
    stderr: lineSplitter('stderr', onLine, feedWatchdog),
  });
  pid = subprocess.pid;
  logEvent(logger, 'command.started', { argv: [...argv], pid, budgetMs: options.budgetMs });

  let outcome;
  try {
    outcome = await subprocess;
    if (cancel.aborted && pid !== undefined) await reapGroup(pid, options.graceMs ?? DEFAULT_GRACE_MS);
  } finally {
    clearTimeout(budgetTimer);
    clearTimeout(watchdogTimer);
  }

  const result: CommandResult = {
    argv,
    pid,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    durationMs: Math.round(performance.now() - started),
    stdout,
    stdoutTruncated,
    tail: [...tail],
    ran: true,
  };
  logEvent(logger, 'command.exited', {
    argv: [...argv],
    pid,
    exitCode: result.exitCode,
    signal: result.signal,
    durationMs: result.durationMs,
  });

  if (cancel.aborted) {
    const reason: unknown = cancel.reason;
    const code = cancelCodeOf(reason);
    const why = reason instanceof Error ? reason.message : String(reason);
    // A holder released on purpose (stopQuietly) ends this way every time: that is not worth a warning.
    if (options.stopQuietly) logEvent(logger, 'command.released', { argv: [...argv], pid });
    else logEvent(logger, 'command.killed', { argv: [...argv], pid, reason: why });
    throw new CommandError(code, `${describe(argv)} was stopped: ${why}`, result, hintForKill(code), reason);
  }
  if ((outcome as { code?: string }).code === 'ENOENT' || outcome.exitCode === 127) {
    throw new CommandError('ARGO_COMMAND_NOT_FOUND', `${describe(argv)}: program not found`, result, `Install the package that provides ${programOf(argv)} on the system that runs it, or check PATH.`, outcome);
  }
  const ok = options.okExitCodes ?? [0];
  if (outcome.exitCode === undefined || !ok.includes(outcome.exitCode)) {
    const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with status ${outcome.exitCode}`;
    throw new CommandError(
      'ARGO_COMMAND_FAILED',
      `${describe(argv)} ${how}`,
      result,
      'The last lines of its output are in the error details and the full output in the log.',
      outcome,
    );
  }
  return result;
}

/**
 * execa signals the whole process group on cancel, but stops escalating once the direct child has exited.
 * A grandchild that ignored SIGTERM would survive, so after a cancel we wait the grace period for the group
 * to empty and then SIGKILL what is left. The group id stays reserved while any member lives.
 */
async function reapGroup(pgid: number, graceMs: number): Promise<void> {
  const deadline = performance.now() + graceMs;
  while (isGroupAlive(pgid)) {
    if (performance.now() >= deadline) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** The budget, the watchdog, the step and the CLI abort with an ArgoError; a bare timeout signal means a budget. */
function cancelCodeOf(reason: unknown): ErrorCode {
  if (reason instanceof ArgoError) return reason.code;
  if (reason instanceof DOMException && reason.name === 'TimeoutError') return 'ARGO_COMMAND_TIMED_OUT';
  return 'ARGO_INTERRUPTED';
}

function hintForKill(code: ErrorCode): string {
  switch (code) {
    case 'ARGO_COMMAND_INACTIVE':
      return 'The program went silent; look at the last lines of its output for what it was waiting on.';
    case 'ARGO_INTERRUPTED':
      return 'It was stopped with its whole process group because the run was interrupted.';
    default:
      return 'The program was killed with its whole process group; a longer budget may help if it was making progress.';
  }
}

function programOf(argv: readonly string[]): string {
  return ((parseChrootArgv(argv) ?? parseOverlayArgv(argv))?.command[0] ?? argv[0]) ?? '';
}

/** The command as a person would name it: `sh -c …`, and `emerge … (inside /mnt/gentoo)` for a chroot. */
function describe(argv: readonly string[]): string {
  const chroot = parseChrootArgv(argv);
  const command = chroot?.command ?? parseOverlayArgv(argv)?.command ?? argv;
  const shown = command.slice(0, 4).join(' ') + (command.length > 4 ? ' …' : '');
  return chroot ? `${shown} (inside ${chroot.root})` : shown;
}

/**
 * An execa transform that splits output into lines (\n, \r\n and bare \r, so progress bars count), feeds
 * the watchdog on every chunk, and swallows the chunk: output is kept by us, bounded, not by execa.
 */
function lineSplitter(
  stream: 'stdout' | 'stderr',
  onLine: (line: string, stream: 'stdout' | 'stderr') => void,
  onActivity: () => void,
  onText?: (text: string) => void,
) {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  const emit = (text: string): void => {
    onText?.(text);
    carry += text;
    let start = 0;
    for (let index = 0; index < carry.length; index += 1) {
      const char = carry.charCodeAt(index);
      if (char !== 10 && char !== 13) continue;
      onLine(carry.slice(start, index), stream);
      if (char === 13 && carry.charCodeAt(index + 1) === 10) index += 1;
      start = index + 1;
    }
    carry = carry.slice(start);
    if (carry.length > MAX_LINE) {
      onLine(carry, stream);
      carry = '';
    }
  };
  return {
    binary: true as const,
    *transform(chunk: Uint8Array): Generator<never, void, unknown> {
      onActivity();
      emit(decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    },
    *final(): Generator<never, void, unknown> {
      emit(decoder.end());
      if (carry !== '') onLine(carry, stream);
      carry = '';
    },
  };
}

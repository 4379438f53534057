import { readFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import { ArgoError, EXIT } from '../core/errors.ts';
import type { RunProgress } from '../phases/run-phases.ts';
import { runCli, type CliDefinition } from './run-cli.ts';

/**
 * The process shell around runCli: turns SIGINT/SIGTERM into an abort (cleanup still runs: mounts come
 * down, state is saved), says on a second one what is still running and what is left, stops at once on a
 * third, survives a dead terminal, and sets the exit code. The only place that touches process-wide state.
 */
export async function startCli(definition: CliDefinition): Promise<void> {
  const controller = new AbortController();
  let received = 0;
  let progress: RunProgress | undefined;
  // Only a command with --resume (argo recover) can continue; any other starts over when run again.
  let resumable = false;
  const onSignal = (name: NodeJS.Signals): void => {
    received += 1;
    if (received === 1) {
      controller.abort(
        new ArgoError('ARGO_INTERRUPTED', `Interrupted by ${name}`, {
          hint: resumable
            ? 'Run the same command with --resume (without --ask or -p) to continue.'
            : 'Run the same command again when ready; it starts from what is on disk now.',
        }),
      );
    } else if (received === 2) {
      process.stderr.write(`${definition.name}: ${describeCleanup(progress)}; interrupt once more to stop at once\n`);
    } else {
      // Commands inside the target run in namespaces of their own that die with this process (their mounts
      // with them); a saved state is replaced atomically, so stopping here leaves the last complete one.
      process.stderr.write(`${definition.name}: stopping now, without finishing the clean-up${resumable ? '; --resume continues from the last saved step' : ''}\n`);
      process.exit(EXIT.interrupted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A closed terminal must not stop a repair half-way: keep going, the log file has everything.
  process.on('SIGHUP', () => undefined);
  const ignoreDeadStream = (): void => undefined;
  process.stdout.on('error', ignoreDeadStream);
  process.stderr.on('error', ignoreDeadStream);

  process.exitCode = await runCli(definition, {
    argv: process.argv.slice(2),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    // Taken once, now: a terminal that hangs up later (SIGHUP is ignored) must still count as one, so that
    // a question is answered No rather than skipped as if a script ran us. isatty, not process.stdin.isTTY:
    // that getter builds the stdin stream (about 9 ms of every start).
    stdinIsTTY: isatty(0),
    signal: controller.signal,
    version: readPackageVersion(),
    onProgress: (next) => {
      progress = next;
    },
    onCommand: (command) => {
      resumable = command.resumable;
    },
  });
}

/** `still cleaning up: running summary/write; left: verify, post-snapshot` (or the plain line outside a phased run). */
export function describeCleanup(progress: RunProgress | undefined): string {
  if (progress === undefined) return 'still cleaning up (unmounting, saving state); this takes seconds';
  const running = progress.step === undefined ? progress.phase : `${progress.phase}/${progress.step}`;
  const left = progress.remaining.length === 0 ? 'nothing after it' : progress.remaining.join(', ');
  return `still cleaning up: running ${running}; left: ${left}`;
}

/** Set by the single-file build (scripts/build-executable.sh, an esbuild define): the bundle has no package.json beside it. */
declare const ARGO_BUNDLED_VERSION: string | undefined;

function readPackageVersion(): string {
  if (typeof ARGO_BUNDLED_VERSION === 'string') return ARGO_BUNDLED_VERSION;
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

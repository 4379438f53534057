import { readFileSync } from 'node:fs';
import { ArgoError } from '../core/errors.ts';
import { runCli, type CliDefinition } from './run-cli.ts';

/**
 * The process shell around runCli: turns SIGINT/SIGTERM into an abort (cleanup still runs: mounts come
 * down, state is saved), survives a dead terminal, and sets the exit code. The only place that touches
 * process-wide state.
 */
export async function startCli(definition: CliDefinition): Promise<void> {
  const controller = new AbortController();
  let received = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    received += 1;
    if (received === 1) {
      controller.abort(
        new ArgoError('ARGO_INTERRUPTED', `Interrupted by ${name}`, { hint: 'Run the same command with --resume to continue.' }),
      );
    } else {
      process.stderr.write(`${definition.name}: still cleaning up (unmounting, saving state); this takes seconds\n`);
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
    stdinIsTTY: process.stdin.isTTY === true,
    signal: controller.signal,
    version: readPackageVersion(),
  });
}

function readPackageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

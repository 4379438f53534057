import yargs, { type Argv } from 'yargs';
import type { DestinationStream, Level, Logger } from 'pino';
import { ArgoError, EXIT, exitCodeOf, type ExitCode } from '../core/errors.ts';
import { consoleStyleFor, createConsoleRenderer } from '../logging/console-renderer.ts';
import { createLogger, type ClosableLogger } from '../logging/create-logger.ts';
import { logEvent } from '../core/log-events.ts';
import type { RunProgress } from '../phases/run-phases.ts';

/** What a command handler returns; the CLI shell prints it and picks the exit code. */
export interface CommandOutcome {
  readonly exitCode: ExitCode;
  /** Printed on stdout with --json. */
  readonly json?: unknown;
  /** Printed on stdout without --json. */
  readonly text?: string;
}

/** The process around a command: streams, environment, the interrupt signal. Injectable for tests. */
export interface CliProcess {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
  readonly stdinIsTTY: boolean;
  /** Aborted with ARGO_INTERRUPTED on SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  readonly version: string;
  /** Told what a phased run is doing (phase, step, what is left); the shell shows it on a second Ctrl-C. */
  readonly onProgress?: (progress: RunProgress) => void;
}

export interface GlobalOptions {
  readonly root: string;
  readonly json: boolean;
  readonly logFile: string | undefined;
  readonly verbose: boolean;
}

/** Everything a handler needs from the shell: its logger (console + optional file), the signal, the streams. */
export interface HandlerContext {
  readonly logger: Logger;
  /** The console destinations, for commands that build a logger of their own (a run with its own log files). */
  readonly consoleStreams: readonly { readonly stream: DestinationStream; readonly level: Level }[];
  readonly signal: AbortSignal;
  readonly process: CliProcess;
  /** Pass to a phased run (runPhases' onProgress): a read-only view of where it is. */
  readonly reportProgress?: (progress: RunProgress) => void;
}

export type Handler<A> = (args: A & GlobalOptions, context: HandlerContext) => Promise<CommandOutcome>;

export interface CliDefinition {
  readonly name: string;
  readonly description: string;
  /** Registers the commands; each calls `bind(handler)` to get a yargs handler. */
  readonly commands: (cli: Argv<GlobalOptions>, bind: <A>(handler: Handler<A>) => (args: unknown) => Promise<void>) => Argv<GlobalOptions>;
}

/**
 * Parses the command line, runs one handler, renders its outcome and returns the exit code. Never calls
 * process.exit (the entry point does). Errors: an ArgoError is printed with its code and hint and keeps its
 * exit code; a yargs validation error is a usage error (2); anything else is a bug, printed with its stack.
 */
export async function runCli(definition: CliDefinition, proc: CliProcess): Promise<ExitCode> {
  let outcome: CommandOutcome | undefined;
  let logging: ClosableLogger | undefined;
  let json = false;

  const bind =
    <A>(handler: Handler<A>) =>
    async (raw: unknown): Promise<void> => {
      const args = raw as A & GlobalOptions;
      json = args.json;
      const consoleStreams = [consoleStreamFor(args, proc)];
      logging = createLogger({ file: args.logFile, streams: consoleStreams });
      const reportProgress = (progress: RunProgress): void => proc.onProgress?.(progress);
      outcome = await handler(args, { logger: logging.logger, consoleStreams, signal: proc.signal, process: proc, reportProgress });
    };

  const cli = yargs([...proc.argv])
    .scriptName(definition.name)
    .usage(`$0 <command> [options]\n\n${definition.description}`)
    .option('root', {
      type: 'string',
      default: '/',
      describe: 'The system to act on: / for this machine, or where a Gentoo install is mounted (e.g. /mnt/gentoo)',
    })
    .option('json', { type: 'boolean', default: false, describe: 'Print a machine-readable result on stdout; logs go to stderr' })
    .option('log-file', { type: 'string', describe: 'Also write the JSON-lines log to this file (synchronously)' })
    .option('verbose', { type: 'boolean', default: false, describe: 'Show command output on the console' })
    .parserConfiguration({ 'populate--': true })
    .strict()
    .demandCommand(1, 'Name a command; see --help.')
    .recommendCommands()
    .version(proc.version)
    .help()
    .alias('help', 'h')
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((message, error) => {
      throw error ?? new ArgoError('ARGO_USAGE', message, { hint: `Run ${definition.name} --help.` });
    }) as unknown as Argv<GlobalOptions>;

  try {
    await definition.commands(cli, bind).parseAsync();
  } catch (error) {
    return reportError(error, proc, logging?.logger, json);
  } finally {
    logging?.close();
  }
  if (outcome === undefined) return EXIT.ok; // --help and --version print by themselves
  if (json && outcome.json !== undefined) proc.stdout.write(`${JSON.stringify(outcome.json, null, 2)}\n`);
  else if (!json && outcome.text !== undefined) proc.stdout.write(outcome.text.endsWith('\n') ? outcome.text : `${outcome.text}\n`);
  return outcome.exitCode;
}

function consoleStreamFor(args: GlobalOptions, proc: CliProcess): { stream: DestinationStream; level: Level } {
  const style = consoleStyleFor(proc.stderr, proc.env);
  const renderer = createConsoleRenderer({ write: (text) => proc.stderr.write(text), ...style });
  return { stream: renderer, level: args.verbose ? 'debug' : 'info' };
}

function reportError(error: unknown, proc: CliProcess, logger: Logger | undefined, json: boolean): ExitCode {
  const argoError = error instanceof ArgoError ? error : undefined;
  if (logger && argoError) logEvent(logger, 'error', { code: argoError.code, message: argoError.message, hint: argoError.hint }, { err: argoError });
  if (json) {
    const body = argoError
      ? { error: { code: argoError.code, message: argoError.message, hint: argoError.hint, details: argoError.details } }
      : { error: { code: 'ARGO_BUG', message: String(error) } };
    proc.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  }
  if (argoError) {
    // With a logger the console renderer has printed it (event `error`); before one exists, print it here.
    if (!logger) {
      proc.stderr.write(`error: ${argoError.message} [${argoError.code}]\n`);
      if (argoError.hint) proc.stderr.write(`hint: ${argoError.hint}\n`);
    }
    return argoError.exitCode;
  }
  proc.stderr.write(`internal error (a bug, please report it with the log):\n${error instanceof Error ? error.stack : String(error)}\n`);
  return exitCodeOf(error);
}

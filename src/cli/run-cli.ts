import yargs, { type Argv } from 'yargs';
import type { DestinationStream, Level, Logger } from 'pino';
import { ArgoError, EXIT, exitCodeOf, type ExitCode } from '../core/errors.ts';
import { createConsoleRenderer } from '../logging/console-renderer.ts';
import { consoleStyleFor, needsMakeConf, readMakeConfNocolor, type ColourFlag, type ConsoleStyle } from '../logging/console-style.ts';
import { createLogger, type ClosableLogger } from '../logging/create-logger.ts';
import { logEvent } from '../core/log-events.ts';
import type { RunProgress } from '../phases/run-phases.ts';
import type { ManualSections } from './man-page.ts';

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
  /** Told by a command when what it runs now can be continued after an interrupt (--resume): argo recover's repair. */
  readonly onCommand?: (command: { readonly resumable: boolean }) => void;
}

export interface GlobalOptions {
  readonly root: string;
  readonly json: boolean;
  readonly logFile: string | undefined;
  readonly verbose: boolean;
  /** Only warnings and errors on the console (stderr); the result on stdout, --json or not, stays. */
  readonly quiet?: boolean;
  /** `--color y|n`; undefined: decided by NO_COLOR, TERM, make.conf's NOCOLOR and whether the stream is a terminal. */
  readonly color?: ColourFlag | undefined;
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
  /** Colour and symbols for text a handler renders itself (a report on stdout), decided as for the console. */
  readonly styleFor?: (stream: { isTTY?: boolean }) => ConsoleStyle;
}

export type Handler<A> = (args: A & GlobalOptions, context: HandlerContext) => Promise<CommandOutcome>;

export interface CliDefinition {
  readonly name: string;
  readonly description: string;
  /** What its man page says besides the commands: its environment variables, files, related pages. */
  readonly manual?: ManualSections;
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
      // make.conf is read only when nothing stronger decided the colour (see decideColour).
      const readMakeConf = needsMakeConf(proc.stderr, proc.env, args.color) || needsMakeConf(proc.stdout, proc.env, args.color);
      const makeConfNocolor = readMakeConf ? await readMakeConfNocolor(args.root) : undefined;
      const styleFor = (stream: { isTTY?: boolean }): ConsoleStyle => consoleStyleFor(stream, proc.env, { flag: args.color, makeConfNocolor });
      const consoleStreams = [consoleStreamFor(args, proc, styleFor(proc.stderr))];
      logging = createLogger({ file: args.logFile, streams: consoleStreams });
      const reportProgress = (progress: RunProgress): void => proc.onProgress?.(progress);
      outcome = await handler(args, { logger: logging.logger, consoleStreams, signal: proc.signal, process: proc, reportProgress, styleFor });
    };

  try {
    await createParser(definition, proc.argv, proc.version, bind).parseAsync();
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

type Bind = Parameters<CliDefinition['commands']>[1];

/**
 * The whole command tree of a CLI, as yargs holds it: the options every command shares, the definition's
 * commands, and `completion`. runCli parses with it; describeCli walks it for the man pages and completion
 * scripts, so that what they list is what the parser accepts.
 */
export function createParser(definition: CliDefinition, argv: readonly string[], version: string, bind: Bind): Argv<GlobalOptions> {
  // yargs asks for the current folder when it is made; a folder deleted under us (a lazy unmount) must not crash --version.
  const cli = globalOptions(yargs([...argv], currentFolderOr('/')))
    .scriptName(definition.name)
    .usage(`$0 <command> [options]\n\n${definition.description}`)
    .parserConfiguration({ 'populate--': true })
    .strict()
    .demandCommand(1, 'Name a command; see --help.')
    .recommendCommands()
    .version(version)
    .help()
    .alias('help', 'h')
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((message, error) => {
      throw error ?? new ArgoError('ARGO_USAGE', message, { hint: `Run ${definition.name} --help.` });
    }) as unknown as Argv<GlobalOptions>;
  return definition.commands(cli, bind).command(
    'completion [shell]',
    `Print a bash or zsh completion script: ${definition.name} completion bash > /usr/share/bash-completion/completions/${definition.name} (zsh: ${definition.name} completion zsh > /usr/share/zsh/site-functions/_${definition.name})`,
    (command) =>
      command
        .positional('shell', { type: 'string', choices: ['bash', 'zsh'] as const, describe: 'the shell (default: zsh when $SHELL is zsh, else bash)' })
        .example(`$0 completion bash > /usr/share/bash-completion/completions/${definition.name}`, 'complete commands and options for everyone'),
    bind<{ shell: 'bash' | 'zsh' | undefined }>(async (args, context) => {
      const { completionScript } = await import('./completion-script.ts');
      const shell = args.shell ?? (/(^|\/)zsh$/.test(context.process.env['SHELL'] ?? '') ? 'zsh' : 'bash');
      const script = completionScript(definition, shell);
      return { exitCode: EXIT.ok, json: { shell, script }, text: script };
    }),
  );
}

/** The options of every command, with the short letters Gentoo users know from emerge (-v, -q). */
function globalOptions(cli: Argv): Argv<GlobalOptions> {
  return cli
    .option('root', {
      type: 'string',
      default: '/',
      describe: 'The system to act on: / for this machine, or where a Gentoo install is mounted (e.g. /mnt/gentoo)',
    })
    .option('json', { type: 'boolean', default: false, describe: 'Print a machine-readable result on stdout; logs go to stderr' })
    .option('log-file', { type: 'string', describe: 'Also write the JSON-lines log to this file (synchronously)' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Show more on the console: each command run and its output' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only warnings and errors on the console; the result (and --json) is still printed' })
    .option('color', {
      type: 'string',
      choices: ['y', 'n'] as const,
      // --no-color (yargs' negation of any option) means n.
      coerce: (value: unknown) => (value === false ? 'n' : value),
      describe: 'Colour on (y) or off (n), as emerge --color; beats NO_COLOR, TERM=dumb and NOCOLOR in make.conf (default: colour on a terminal)',
    })
    .check((argv) => {
      // Not yargs' conflicts(): it counts the defaults (false) as given.
      if (argv['verbose'] === true && argv['quiet'] === true) throw new ArgoError('ARGO_USAGE', '--verbose and --quiet exclude each other', { hint: 'Give one of them, or neither.' });
      return true;
    }, true) as unknown as Argv<GlobalOptions>;
}

function consoleStreamFor(args: GlobalOptions, proc: CliProcess, style: ConsoleStyle): { stream: DestinationStream; level: Level } {
  const live = proc.stderr.isTTY === true && proc.env['TERM'] !== 'dumb';
  const columns = (proc.stderr as { columns?: number }).columns;
  const renderer = createConsoleRenderer({ write: (text) => proc.stderr.write(text), ...style, live, columns, verbose: args.verbose });
  return { stream: renderer, level: args.verbose ? 'debug' : args.quiet === true ? 'warn' : 'info' };
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

function currentFolderOr(fallback: string): string {
  try {
    return process.cwd();
  } catch {
    return fallback;
  }
}

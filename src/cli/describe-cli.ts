/**
 * What a CLI accepts, read from the parser itself: every command, its positionals and options with their types,
 * defaults, choices and descriptions, its examples. The man pages and the completion scripts are made from
 * this, so a new command or option shows up in both without a second list to keep in step.
 *
 * yargs keeps a command's options only while it runs the command's builder, so each builder is run here the
 * way yargs runs it (on the parser reset to its global options), and the options are read back through
 * `getOptions()` and the usage instance. Those are yargs' internal methods (`getInternalMethods`), the same
 * ones its own completion uses; a yargs update that changes them fails the man page test loudly.
 */

import type { Argv } from 'yargs';
import { createParser, type CliDefinition } from './run-cli.ts';

export type OptionType = 'boolean' | 'string' | 'number' | 'count';

export interface CliOption {
  /** The name it was defined with (`log-file`, `pretend`). */
  readonly name: string;
  /** Other names: one letter (`p`) or long (`dry-run`). */
  readonly aliases: readonly string[];
  readonly type: OptionType | undefined;
  /** Repeatable (`--paths A --paths B`) or several words after it. */
  readonly array: boolean;
  readonly default: unknown;
  readonly choices: readonly string[] | undefined;
  readonly description: string;
  readonly required: boolean;
  /** Left out of --help: kept for tests, never documented. */
  readonly hidden: boolean;
}

export interface CliExample {
  /** With the program's name in place of `$0`. */
  readonly command: string;
  readonly description: string;
}

export interface CliCommand {
  /** The command word (`snapshot`). */
  readonly name: string;
  /** The command as defined, with its positionals (`snapshot <action> [from] [to]`). */
  readonly usage: string;
  readonly description: string;
  readonly positionals: readonly CliOption[];
  /** The command's own options, not those every command has. */
  readonly options: readonly CliOption[];
  readonly examples: readonly CliExample[];
  readonly epilogs: readonly string[];
}

export interface CliReference {
  readonly name: string;
  readonly description: string;
  /** The options of every command (--root, --json, -v, -q, --color, --help, --version). */
  readonly globalOptions: readonly CliOption[];
  readonly commands: readonly CliCommand[];
}

/** The parts of yargs' internals read here (yargs 18: build/lib/yargs-factory.js, usage.js, command.js). */
interface YargsOptions {
  readonly key: Readonly<Record<string, unknown>>;
  readonly alias: Readonly<Record<string, readonly string[]>>;
  readonly array: readonly string[];
  readonly boolean: readonly string[];
  readonly count: readonly string[];
  readonly number: readonly string[];
  readonly string: readonly string[];
  readonly choices: Readonly<Record<string, readonly unknown[]>>;
  readonly default: Readonly<Record<string, unknown>>;
  readonly hiddenOptions: readonly string[];
  readonly demandedOptions: Readonly<Record<string, unknown>>;
}

interface YargsCommandHandler {
  readonly original: string;
  readonly description: string | false;
  readonly builder: unknown;
}

interface YargsInternals {
  getOptions(): YargsOptions;
  getGroups(): Readonly<Record<string, readonly string[]>>;
  getInternalMethods(): {
    getCommandInstance(): { getCommandHandlers(): Readonly<Record<string, YargsCommandHandler>> };
    getUsageInstance(): {
      getDescriptions(): Readonly<Record<string, string | undefined>>;
      getCommands(): readonly (readonly [string, string, ...unknown[]])[];
      example(command: string, description?: string): void;
      epilog(text: string): void;
    };
    getContext(): { fullCommands: string[]; commands: string[] };
    reset(): YargsInternals;
  };
}

/** yargs' own strings (`Show help`) carry a marker for their translation; the text is after it. */
const Y18N_PREFIX = '__yargsString__:';
const POSITIONALS_GROUP = 'Positionals:';

const noHandler = (() => async () => undefined) as unknown as Parameters<CliDefinition['commands']>[1];

function parserOf(definition: CliDefinition): YargsInternals {
  return createParser(definition, [], '0', noHandler) as unknown as YargsInternals;
}

function optionsOf(parser: YargsInternals, keys: readonly string[]): CliOption[] {
  const options = parser.getOptions();
  const descriptions = parser.getInternalMethods().getUsageInstance().getDescriptions();
  const type = (key: string): OptionType | undefined =>
    options.boolean.includes(key) ? 'boolean' : options.count.includes(key) ? 'count' : options.number.includes(key) ? 'number' : options.string.includes(key) ? 'string' : undefined;
  return keys.map((key) => {
    const description = descriptions[key] ?? '';
    return {
      name: key,
      aliases: [...(options.alias[key] ?? [])],
      type: type(key),
      array: options.array.includes(key),
      default: options.default[key],
      choices: options.choices[key]?.map(String),
      description: description.startsWith(Y18N_PREFIX) ? description.slice(Y18N_PREFIX.length) : description,
      required: key in options.demandedOptions,
      hidden: options.hiddenOptions.includes(key),
    };
  });
}

/** The keys defined in their own right, in definition order: not aliases of another key. */
function ownKeys(options: YargsOptions): string[] {
  const aliases = new Set(Object.values(options.alias).flat());
  return Object.keys(options.key).filter((key) => !aliases.has(key));
}

export function describeCli(definition: CliDefinition): CliReference {
  const top = parserOf(definition);
  const globalKeys = ownKeys(top.getOptions());
  const globalOptions = optionsOf(top, globalKeys);
  const handlers = top.getInternalMethods().getCommandInstance().getCommandHandlers();
  const listed = top.getInternalMethods().getUsageInstance().getCommands();

  const commands = listed.map(([usage, description]): CliCommand => {
    const name = usage.split(/\s+/)[0] as string;
    const handler = handlers[name];
    if (handler === undefined) throw new Error(`describeCli: no handler for the listed command ${name}`);
    // A parser of its own for each command: reset() keeps only the global options, as when yargs runs one.
    const parser = parserOf(definition);
    const internals = parser.getInternalMethods();
    internals.getContext().fullCommands.push(handler.original);
    const inner = internals.reset();
    const examples: CliExample[] = [];
    const epilogs: string[] = [];
    // Examples and epilogs have no getter: the usage instance's own recorders are wrapped to see them go by.
    const recorder = inner.getInternalMethods().getUsageInstance();
    const example = recorder.example.bind(recorder);
    const epilog = recorder.epilog.bind(recorder);
    recorder.example = (command, text) => {
      examples.push({ command: command.replace(/\$0/g, definition.name), description: text ?? '' });
      example(command, text);
    };
    recorder.epilog = (text) => {
      epilogs.push(text);
      epilog(text);
    };
    if (typeof handler.builder === 'function') (handler.builder as (argv: Argv, helpOrVersionSet: boolean) => unknown)(inner as unknown as Argv, true);
    const nested = inner.getInternalMethods().getUsageInstance().getCommands().filter(([nestedUsage]) => !listed.some(([topUsage]) => topUsage === nestedUsage));
    if (nested.length > 0) throw new Error(`describeCli: ${definition.name} ${name} has commands of its own (${nested.map(([nestedUsage]) => nestedUsage).join(', ')}); describe them here first`);
    const positionalKeys = inner.getGroups()[POSITIONALS_GROUP] ?? [];
    const keys = ownKeys(inner.getOptions()).filter((key) => !globalKeys.includes(key));
    return {
      name,
      usage,
      description: typeof description === 'string' ? description : '',
      positionals: optionsOf(inner, positionalKeys),
      options: optionsOf(inner, keys.filter((key) => !positionalKeys.includes(key))),
      examples,
      epilogs,
    };
  });
  return { name: definition.name, description: definition.description, globalOptions, commands };
}

/** `-p, --pretend, --dry-run`: the one-letter names first, then the name, then long aliases. */
export function optionNames(option: CliOption): string[] {
  const all = [option.name, ...option.aliases];
  const dashed = (name: string): string => (name.length === 1 ? `-${name}` : `--${name}`);
  return [...all.filter((name) => name.length === 1), ...all.filter((name) => name.length > 1)].map(dashed);
}

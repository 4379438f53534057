/**
 * man(7) pages for argo, apkg and build-swarm, made from the command definitions (describeCli): every command
 * with its positionals, options (type, default, choices, description) and examples, then the exit status from
 * the error catalogue, the environment and the files. scripts/build-man.ts writes them to dist/man/man1/.
 * Plain man(7) macros only (TH SH SS TP PP RS RE IP nf fi B I), so that man-db with groff and mandoc both read them.
 */

import { ERROR_CODES, EXIT } from '../core/errors.ts';
import { describeCli, optionNames, type CliCommand, type CliOption, type CliReference } from './describe-cli.ts';
import type { CliDefinition } from './run-cli.ts';

/** The sections a definition adds to its page: what only it reads and writes. */
export interface ManualSections {
  /** More paragraphs for DESCRIPTION. */
  readonly description?: readonly string[];
  /** `[variable, meaning]`. */
  readonly environment?: readonly (readonly [string, string])[];
  /** `[path, meaning]`. */
  readonly files?: readonly (readonly [string, string])[];
  /** `emerge(1)`. */
  readonly seeAlso?: readonly string[];
}

export interface ManPageOptions {
  /** The package version, in the footer. */
  readonly version: string;
  /** The date in the footer (`2026-11-30`); empty for none (reproducible builds set SOURCE_DATE_EPOCH). */
  readonly date?: string;
}

/** What each exit status means; a new status in EXIT fails to compile until it is explained here. */
const EXIT_MEANINGS = {
  ok: 'Success: the command did what it was asked (a --pretend run: it showed what it would do).',
  failed: 'It failed: a step failed after all of its fallbacks, a program failed, a file could not be read or written.',
  usage: 'The command line is invalid (an unknown option, a missing value, --ask without a terminal), or --root is not a usable root.',
  refused: 'Refused by a safety gate, and nothing was changed: a no-go checklist, an answer other than yes to --ask, a target locked by another run, a conflict.',
  timedOut: 'A step or a program ran past its time budget and was stopped.',
  interrupted: 'Interrupted (Ctrl-C, SIGTERM); the clean-up ran. --resume continues where a recovery stopped.',
} as const satisfies Record<keyof typeof EXIT, string>;

/** What every command reads, whichever program runs it. */
const COMMON_ENVIRONMENT: readonly (readonly [string, string])[] = [
  ['NO_COLOR', 'When set and not empty, no colour (https://no-color.org). --color y still colours.'],
  ['NOCOLOR', "Portage's variable: yes or true turns colour off, here and in emerge. --color y still colours."],
  ['TERM', 'dumb: no colour, and progress is printed as lines instead of one line redrawn in place.'],
  ['LC_ALL, LC_CTYPE, LANG', 'A UTF-8 locale gets the symbols ✓ ✗ ↻; any other gets [ok] [FAIL] [pivot] (a Linux text console font may lack them).'],
  ['SHELL', 'completion without a shell name prints the zsh script when this is zsh, else the bash one.'],
];

const COMMON_FILES: readonly (readonly [string, string])[] = [
  ['ROOT/etc/portage/make.conf', 'NOCOLOR="true" (or "yes") in the target system turns colour off, unless --color or the environment says otherwise. Read inside --root, never executed; a make.conf folder and source lines are followed inside the root.'],
];

/**
 * Escapes text for a roff text line: backslashes, hyphens (so that options and paths copy as ASCII `-`),
 * characters outside ASCII as named code points, and a leading `.` or `'` that would start a request.
 */
export function roffText(text: string): string {
  const escaped = [...text.replace(/\\/g, '\\e').replace(/-/g, '\\-')]
    .map((char) => {
      const code = char.codePointAt(0) ?? 0;
      return code < 0x80 ? char : `\\[u${code.toString(16).toUpperCase().padStart(4, '0')}]`;
    })
    .join('');
  return escaped
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

/** An argument of a macro line (`.SS "…"`): roff text with its double quotes escaped. */
function roffArgument(text: string): string {
  return `"${roffText(text).replace(/"/g, '\\(dq')}"`;
}

const bold = (text: string): string => `\\fB${roffText(text)}\\fR`;
const italic = (text: string): string => `\\fI${roffText(text)}\\fR`;

/** The value an option takes, as in --help: `string`, `number`, `y|n`; several for an array. */
function valueOf(option: CliOption): string {
  if (option.type === 'boolean' || option.type === 'count') return '';
  const value = option.choices !== undefined ? option.choices.map((choice) => bold(choice)).join('|') : italic(option.type ?? 'value');
  return option.array ? ` ${value} ...` : ` ${value}`;
}

/** Default, required, repeatable: what --help shows in brackets, as a sentence after the description. */
function facts(option: CliOption, positional: boolean): string {
  const parts: string[] = [];
  // The type is on the tag line (`--budget number`); only what it does not show is said here.
  if (option.array) parts.push('Repeatable.');
  if (option.choices !== undefined && positional) parts.push(`One of: ${option.choices.join(', ')}.`);
  const shown = Array.isArray(option.default) ? (option.default.length === 0 ? undefined : option.default.join(' ')) : option.default;
  if (shown !== undefined && !(option.type === 'boolean' && shown === false)) parts.push(`Default: ${String(shown)}.`);
  if (option.required && !positional) parts.push('Required.');
  return parts.join(' ');
}

function optionEntry(option: CliOption): string[] {
  const names = optionNames(option).map((name) => bold(name)).join(', ');
  const description = option.description === '' ? '' : sentence(option.description);
  return ['.TP', `${names}${valueOf(option)}`, roffText([description, facts(option, false)].filter(Boolean).join(' '))];
}

function positionalEntry(option: CliOption, usage: string): string[] {
  const optional = new RegExp(`\\[${option.name}(\\.\\.)?\\]`).test(usage);
  const description = [option.description === '' ? '' : sentence(option.description), facts(option, true), optional ? 'Optional.' : ''].filter(Boolean).join(' ');
  return ['.TP', `${italic(option.name)}${option.array ? ' ...' : ''}`, roffText(description)];
}

const sentence = (text: string): string => {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
};

function commandSection(cli: CliReference, command: CliCommand): string[] {
  const lines = ['.SS ' + roffArgument(`${cli.name} ${command.usage}`), roffText(sentence(command.description))];
  if (command.positionals.length > 0) lines.push('.PP', 'Arguments:', '.RS', ...command.positionals.flatMap((option) => positionalEntry(option, command.usage)), '.RE');
  const options = command.options.filter((option) => !option.hidden);
  if (options.length > 0) lines.push('.PP', 'Options:', '.RS', ...options.flatMap(optionEntry), '.RE');
  for (const epilog of command.epilogs) for (const paragraph of epilog.split(/\n\s*\n/)) lines.push('.PP', roffText(paragraph.replace(/\s*\n\s*/g, ' ').trim()));
  if (command.examples.length > 0) {
    lines.push('.PP', 'Examples:');
    for (const example of command.examples) lines.push('.PP', '.RS', '.nf', roffText(example.command), '.fi', '.RS', roffText(sentence(example.description)), '.RE', '.RE');
  }
  return lines;
}

function definitionList(entries: readonly (readonly [string, string])[], style: (text: string) => string): string[] {
  return entries.flatMap(([term, text]) => ['.TP', style(term), roffText(text)]);
}

/** `ARGO_TARGET_LOCKED, ARGO_UPDATE_REFUSED, …`: the error codes that end with this exit status. */
function codesExitingWith(status: number): string[] {
  return Object.entries(ERROR_CODES)
    .filter(([, info]) => info.exit === status)
    .map(([code]) => code);
}

/** `emerge(1)` as man pages write it: the name in bold. */
function pageReference(reference: string): string {
  const match = /^([\w.+-]+)\((\w+)\)$/.exec(reference);
  return match === null ? roffText(reference) : `${bold(match[1] as string)}(${roffText(match[2] as string)})`;
}

export function renderManPage(definition: CliDefinition, options: ManPageOptions): string {
  const cli = describeCli(definition);
  const manual = definition.manual ?? {};
  const name = cli.name;
  const lines: string[] = [
    `.\\" Made by scripts/build-man.ts from the command definitions of ${name}; edit those, not this file.`,
    `.TH ${name.toUpperCase()} 1 ${roffArgument(options.date ?? '')} ${roffArgument(`argo-toolkit ${options.version}`)} "Argo toolkit"`,
    // No hyphenation: option names, paths and error codes stay whole, as they are typed.
    '.nh',
    '.SH NAME',
    `${roffText(name)} \\- ${roffText(cli.description.replace(/\.$/, ''))}`,
    '.SH SYNOPSIS',
    ...cli.commands.flatMap((command, index) => [
      ...(index === 0 ? [] : ['.br']),
      `${bold(name)} ${command.usage
        .split(/\s+/)
        .map((word, wordIndex) => (wordIndex === 0 ? bold(word) : italic(word)))
        .join(' ')} [${italic('options')}]`,
    ]),
    '.SH DESCRIPTION',
    roffText(cli.description),
    ...(manual.description ?? []).flatMap((paragraph) => ['.PP', roffText(paragraph)]),
    '.PP',
    roffText(
      'Every command takes --root DIR (the system to act on: / or a mounted install such as /mnt/gentoo) and --json (the result as JSON on stdout, logs on stderr). ' +
        'Commands that change the system take -p/--pretend (show what would be done; change nothing) and -a/--ask (show it, then ask on the terminal; without a terminal they refuse instead of waiting). ' +
        'Nothing prompts unless a terminal is attached. Steps that can take minutes show their progress, with the time left when it is known.',
    ),
    '.SH COMMANDS',
    ...cli.commands.flatMap((command) => commandSection(cli, command)),
    '.SH OPTIONS',
    'These options are taken by every command.',
    ...cli.globalOptions.filter((option) => !option.hidden).flatMap(optionEntry),
    '.SH "EXIT STATUS"',
    ...Object.entries(EXIT_MEANINGS).flatMap(([key, meaning]) => {
      const status = EXIT[key as keyof typeof EXIT];
      const codes = codesExitingWith(status);
      return ['.TP', bold(String(status)), roffText(meaning + (codes.length === 0 ? '' : ` Error codes: ${codes.join(', ')}.`))];
    }),
    '.PP',
    roffText('With --json an error is printed as {"error": {"code", "message", "hint", "details"}} on stdout.'),
    '.SH ENVIRONMENT',
    ...definitionList([...COMMON_ENVIRONMENT, ...(manual.environment ?? [])], bold),
    '.SH FILES',
    roffText('ROOT is the --root folder.'),
    ...definitionList([...COMMON_FILES, ...(manual.files ?? [])], italic),
    '.SH "SEE ALSO"',
    [...(manual.seeAlso ?? []), 'emerge(1)', 'make.conf(5)']
      .filter((entry, index, all) => all.indexOf(entry) === index)
      .map(pageReference)
      .join(', '),
    '',
  ];
  return lines.join('\n');
}

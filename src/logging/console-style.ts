/**
 * How the console looks: colour or not, Unicode symbols or ASCII. Decided here, in one place, for every
 * command and every stream (the log lines on stderr, a report on stdout).
 */

import { readMakeConf } from '../system/gentoo/read-make-conf.ts';
import { createRootedFs } from '../system/rooted-fs.ts';

export interface ConsoleStyle {
  readonly colour: boolean;
  /** ✓ ✗ ↻ only under a UTF-8 locale: a Linux text console font may lack them. */
  readonly unicode: boolean;
}

/** `--color y|n`, emerge's spelling; undefined when not given. */
export type ColourFlag = 'y' | 'n';

export interface ColourInputs {
  readonly flag?: ColourFlag | undefined;
  /** NOCOLOR from the target's make.conf is yes or true; undefined when not read or not set. */
  readonly makeConfNocolor?: boolean | undefined;
}

export interface ColourDecision {
  readonly colour: boolean;
  /** Which rule decided: `--color`, `NO_COLOR`, `NOCOLOR`, `TERM=dumb`, `make.conf NOCOLOR`, `terminal`, `not a terminal`. */
  readonly by: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Portage's test (`NOCOLOR in ("yes", "true")`), forgiving of case. */
export function isNocolorValue(value: string | undefined): boolean {
  return value !== undefined && /^(yes|true)$/i.test(value.trim());
}

/**
 * Colour or not, strongest rule first:
 * 1. `--color y|n`: said on purpose, for this one run. As emerge's `--color`, it beats NOCOLOR and TERM=dumb,
 *    and `y` colours a pipe too (`argo … --color y 2>&1 | less -R`).
 * 2. The environment: NO_COLOR set and not empty (no-color.org), NOCOLOR=yes|true (Portage's variable; emerge
 *    reads it from the environment as well), TERM=dumb. They describe this session's terminal and the person at it.
 * 3. NOCOLOR in the target's make.conf. It is the repaired system's Portage setting: from a live USB
 *    (`--root /mnt/gentoo`) it says nothing about the terminal in front of you, so anything said about this run
 *    or this session wins over it. It can only turn colour off.
 * 4. Otherwise colour exactly when the stream is a terminal.
 */
export function decideColour(stream: { isTTY?: boolean }, env: Env, inputs: ColourInputs = {}): ColourDecision {
  if (inputs.flag !== undefined) return { colour: inputs.flag === 'y', by: '--color' };
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return { colour: false, by: 'NO_COLOR' };
  if (isNocolorValue(env['NOCOLOR'])) return { colour: false, by: 'NOCOLOR' };
  if (env['TERM'] === 'dumb') return { colour: false, by: 'TERM=dumb' };
  if (stream.isTTY !== true) return { colour: false, by: 'not a terminal' };
  if (inputs.makeConfNocolor === true) return { colour: false, by: 'make.conf NOCOLOR' };
  return { colour: true, by: 'terminal' };
}

/** Whether the decision for `stream` could still depend on make.conf: worth reading it only then. */
export function needsMakeConf(stream: { isTTY?: boolean }, env: Env, flag: ColourFlag | undefined): boolean {
  return decideColour(stream, env, { flag, makeConfNocolor: true }).by === 'make.conf NOCOLOR';
}

/** Decides colour and symbols for a stream the way a careful CLI does (see decideColour for the order). */
export function consoleStyleFor(stream: { isTTY?: boolean }, env: Env, inputs: ColourInputs = {}): ConsoleStyle {
  const locale = env['LC_ALL'] || env['LC_CTYPE'] || env['LANG'] || '';
  return { colour: decideColour(stream, env, inputs).colour, unicode: /utf-?8/i.test(locale) };
}

/**
 * NOCOLOR of `<root>/etc/portage/make.conf` (a file or a folder of files, `source` resolved inside the root, read
 * through the rooted fs: a symlink never leads onto the host). Undefined when the root or the file cannot be
 * read: the look of the console is no reason to fail a repair, and the command itself reports a bad root.
 */
export async function readMakeConfNocolor(root: string): Promise<boolean | undefined> {
  try {
    const makeConf = await readMakeConf(createRootedFs(root));
    const value = makeConf.vars['NOCOLOR'];
    return value === undefined ? undefined : isNocolorValue(value);
  } catch {
    // Whatever went wrong reading it (a bad root, an unreadable or hostile make.conf): the look of the console
    // is never a reason to stop a command; the command itself reports a bad root.
    return undefined;
  }
}

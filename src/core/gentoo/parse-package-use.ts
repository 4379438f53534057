/**
 * Atom-per-line configuration files in /etc/portage: package.use, and with `useExpandGroups: false` also
 * package.env, package.accept_keywords, package.license, package.mask/unmask (atom alone). Read as Portage's
 * `grabdict_package` and `UseManager._parse_user_files_to_extatomdict` read them (lib/portage/util/__init__.py,
 * lib/portage/package/ebuild/_config/UseManager.py):
 *
 * - a line is split on whitespace; a word starting with `#` ends it (so `#` at the start makes a comment line and
 *   `pkg flag # note` keeps only `flag`);
 * - the first word is an atom; wildcards (`dev-libs/*`, and star-slash-star for all), slots and `::repo` are
 *   allowed, USE dependencies are not; a line with an invalid atom is reported and ignored, as Portage ignores it;
 *   a blocker is reported and kept (Portage matches `!atom` here as if it were `atom`);
 * - in package.use, a word ending in `:` starts a USE_EXPAND group: `VIDEO_CARDS: -* radeon` gives
 *   `-video_cards_*` and `video_cards_radeon`; the group ends at the end of the line.
 *
 * Entries keep file order and line numbers. `resolvePackageUse` applies them to a package in Portage's order.
 */

import type { Diagnostic } from './diagnostics.ts';
import { formatAtom } from './format-atom.ts';
import { tryParseAtom, type Atom } from './parse-atom.ts';

export interface PackageConfigEntry {
  readonly atom: Atom;
  /** The first word of the line as written. */
  readonly atomText: string;
  /** The words after the atom, as written. */
  readonly tokens: readonly string[];
  /** The words after the atom with USE_EXPAND groups expanded (equal to `tokens` without groups). */
  readonly flags: readonly string[];
  readonly file?: string;
  readonly line: number;
}

export interface ParsePackageUseOptions {
  readonly file?: string;
  /** Expand `NAME:` USE_EXPAND groups. Default true; false for files whose words are not USE flags. */
  readonly useExpandGroups?: boolean;
}

export interface PackageConfig {
  readonly entries: readonly PackageConfigEntry[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Splits one line into words and drops everything from the first word that starts with `#`. */
export function splitConfigLine(line: string): string[] {
  const words: string[] = [];
  for (const word of line.split(/\s+/)) {
    if (word === '') continue;
    if (word.startsWith('#')) break;
    words.push(word);
  }
  return words;
}

function expandGroups(tokens: readonly string[]): string[] {
  let prefix = '';
  const flags: string[] = [];
  for (const token of tokens) {
    if (token.endsWith(':')) {
      prefix = `${token.slice(0, -1).toLowerCase()}_`;
      continue;
    }
    flags.push(token.startsWith('-') ? `-${prefix}${token.slice(1)}` : `${prefix}${token}`);
  }
  return flags;
}

export function parsePackageUse(text: string, options: ParsePackageUseOptions = {}): PackageConfig {
  const entries: PackageConfigEntry[] = [];
  const diagnostics: Diagnostic[] = [];
  const groups = options.useExpandGroups ?? true;
  text.split('\n').forEach((raw, index) => {
    const words = splitConfigLine(raw);
    const [atomText, ...tokens] = words;
    if (atomText === undefined) return;
    const line = index + 1;
    const report = (message: string, action: Diagnostic['action'] = 'ignored'): void => {
      const file = options.file === undefined ? {} : { file: options.file };
      diagnostics.push({ ...file, line, field: atomText, message, action });
    };
    const parsed = tryParseAtom(atomText, { allowWildcard: true });
    if (!parsed.ok) return report(`invalid atom: ${parsed.reason}`);
    if (parsed.value.use.length > 0) return report('atoms in this file may not have USE dependencies');
    if (parsed.value.blocker !== undefined) report('a blocker in this file applies to the package it names', 'kept');
    entries.push({
      atom: parsed.value,
      atomText,
      tokens,
      flags: groups ? expandGroups(tokens) : tokens,
      ...(options.file === undefined ? {} : { file: options.file }),
      line,
    });
  });
  return { entries, diagnostics };
}

/** Canonical atom text: Portage merges the lines of one atom into one set of flags. */
export function packageConfigKey(entry: PackageConfigEntry): string {
  return formatAtom(entry.atom);
}

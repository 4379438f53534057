/**
 * The selected-package sets: `/var/lib/portage/world` (one atom per line: what the user asked for) and
 * `/var/lib/portage/world_sets` (one `@set` per line), read as Portage's `WorldSelectedPackagesSet` and
 * `WorldSelectedSetsSet` read them (lib/portage/_sets/files.py with `ItemFileLoader`): surrounding whitespace is
 * dropped, empty lines and lines starting with `#` are skipped, only the first word of a line counts, and an entry
 * that fails validation is reported and dropped (Portage lists it as an error and ignores it). World atoms may carry
 * a slot or `::repo`; blockers and wildcards are refused.
 */

import type { Diagnostic } from './diagnostics.ts';
import { tryParseAtom, type Atom } from './parse-atom.ts';

export interface WorldAtom {
  readonly atom: Atom;
  readonly text: string;
  readonly line: number;
}

export interface WorldSet {
  /** Without the `@`: `selected`, `kde-plasma`. */
  readonly name: string;
  readonly line: number;
}

export interface ParseWorldOptions {
  readonly file?: string;
}

/**
 * Sets Portage defines itself (cnf/sets/portage.conf, current version; older Portage has fewer). Any other name
 * comes from /etc/portage/sets/<name>, sets.conf or a repository.
 */
export const PORTAGE_SETS: Readonly<Record<string, string>> = {
  world: '@profile, @selected and @system',
  profile: 'packages listed in the profile packages files without *',
  selected: '@selected-packages and @selected-sets',
  'selected-packages': 'the atoms of /var/lib/portage/world',
  'selected-sets': 'the sets of /var/lib/portage/world_sets',
  system: 'packages marked with * in the profile packages files',
  security: 'packages affected by a GLSA not applied yet',
  installed: 'every installed package, as slot atoms',
  'preserved-rebuild': 'packages using libraries kept by FEATURES=preserve-libs',
  'live-rebuild': 'installed packages with PROPERTIES=live',
  'deprecated-live-rebuild': 'installed packages inheriting a VCS eclass',
  'module-rebuild': 'installed packages owning files in /lib/modules',
  'x11-module-rebuild': 'installed packages owning X.Org server modules',
  'rebuilt-binaries': 'binary packages rebuilt since the installed one',
  'changed-subslot': 'installed packages whose best visible ebuild has another sub-slot',
  downgrade: 'installed packages newer than the best visible ebuild',
  unavailable: 'installed packages without a visible ebuild for their slot',
  'unavailable-binaries': 'installed packages without a binary package',
  'changed-deps': 'installed packages whose *DEPEND differ from the repository',
  'rust-rebuild': 'installed packages built with Rust (BDEPEND)',
};

/** Portage's set-name rule: `@` followed by a name without whitespace. */
const SET_REFERENCE = /^@([^\s@]+)$/;

/** The set name of `@name`, or undefined when `text` is not a set reference. */
export function parseSetReference(text: string): string | undefined {
  return SET_REFERENCE.exec(text)?.[1];
}

function firstWords(text: string): { word: string; line: number }[] {
  const words: { word: string; line: number }[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [word] = line.split(/\s+/);
    if (word !== undefined) words.push({ word, line: index + 1 });
  });
  return words;
}

export function parseWorldFile(
  text: string,
  options: ParseWorldOptions = {},
): { readonly atoms: readonly WorldAtom[]; readonly diagnostics: readonly Diagnostic[] } {
  const atoms: WorldAtom[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const { word, line } of firstWords(text)) {
    const report = (message: string): void => {
      const file = options.file === undefined ? {} : { file: options.file };
      diagnostics.push({ ...file, line, field: word, message, action: 'dropped' });
    };
    if (parseSetReference(word) !== undefined) {
      report('a set in the world file belongs in world_sets; Portage ignores it here');
      continue;
    }
    const parsed = tryParseAtom(word);
    if (!parsed.ok) report(`invalid atom: ${parsed.reason}`);
    else if (parsed.value.blocker !== undefined) report('a blocker cannot be selected');
    else atoms.push({ atom: parsed.value, text: word, line });
  }
  return { atoms, diagnostics };
}

export function parseWorldSets(
  text: string,
  options: ParseWorldOptions = {},
): { readonly sets: readonly WorldSet[]; readonly diagnostics: readonly Diagnostic[] } {
  const sets: WorldSet[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const { word, line } of firstWords(text)) {
    const name = parseSetReference(word);
    if (name === undefined) {
      diagnostics.push({
        ...(options.file === undefined ? {} : { file: options.file }),
        line,
        field: word,
        message: 'an entry of world_sets is not an @set',
        action: 'dropped',
      });
    } else {
      sets.push({ name, line });
    }
  }
  return { sets, diagnostics };
}

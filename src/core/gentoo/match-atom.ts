/**
 * Whether a package satisfies an atom, following Portage's `match_from_list` (lib/portage/dep/__init__.py):
 *
 * - `=` compares versions (`=cat/pkg-1.0` also matches `1.0-r0`); `~` needs the same version text without
 *   revision; `=1.2*` matches on version-component boundaries after dropping leading zeros of the first component
 *   (`=1.1*` matches `1.1-r1` and `1.1.5` but not `1.10`); `< <= > >=` use {@link compareVersions};
 * - a slot (`:2`, `:2/2.1`) must equal the package's slot and sub-slot; slot operators alone (`:=`, `:*`) do not
 *   restrict. A package without a sub-slot has sub-slot = slot;
 * - USE dependencies need the package's USE flags: `[a]` enabled, `[-a]` not enabled. A flag the package's IUSE
 *   lacks fails unless the dependency carries a default: `(+)` counts as enabled, `(-)` as disabled. Conditional
 *   USE dependencies (`a?`, `a=`...) are not checked: resolve them first with `evaluateAtomUse`;
 * - `::repo` must equal the package's repository.
 *
 * Like Portage, whatever the package does not say is not checked: no `slot` means any slot matches, no `use`
 * means USE dependencies are not checked, no `iuse`/`iuseEffective` means every flag counts as present in IUSE,
 * no `repo` means any repository matches. Blockers are matched as if the `!` were absent.
 */

import { compareVersions } from './compare-versions.ts';
import { parseAtom, type Atom } from './parse-atom.ts';
import { tryParseCpv, type Cpv } from './parse-cpv.ts';
import { stripRevision } from './parse-version.ts';

/** What matching needs to know about a package (installed, in a binhost index, in an ebuild repository). */
export interface PackageRef {
  readonly cpv: string;
  readonly slot?: string;
  readonly subSlot?: string;
  readonly repo?: string;
  /** Enabled USE flags. */
  readonly use?: readonly string[] | ReadonlySet<string>;
  /** IUSE as written; `+`/`-` default markers are ignored. */
  readonly iuse?: readonly string[];
  /** IUSE plus implicit flags (arch, elibc_*, ...); preferred over `iuse` when present. */
  readonly iuseEffective?: readonly string[];
}

/** `*` matches any run of characters; used on the category and the name separately, so it never spans a `/`. */
function matchesGlob(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p += 1;
      t += 1;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p;
      p += 1;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      mark += 1;
      t = mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/** Portage's `=*` special case: the first component loses leading zeros, keeping at least one digit. */
function withoutLeadingZeros(version: string): string {
  const stripped = version.replace(/^0+/, '');
  return stripped === '' || !/^\d/.test(stripped) ? `0${stripped}` : stripped;
}

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= '0' && char <= '9';
}

function matchesVersionGlob(atom: Atom, pkg: Cpv): boolean {
  if (atom.versionPattern !== undefined) return pkg.pvr.includes(atom.versionPattern.slice(1, -1));
  const version = atom.version;
  if (version === undefined) return false;
  // Compare "PV[-rN]" texts with the same leading-zero normalisation on both sides.
  const wanted = withoutLeadingZeros(stripRevision(version)) + version.text.slice(stripRevision(version).length);
  const have = withoutLeadingZeros(pkg.version) + pkg.pvr.slice(pkg.version.length);
  if (!have.startsWith(wanted)) return false;
  // Only on a boundary between version parts: `1*` matches `1.2` and `1_rc1`, not `10`.
  const next = have[wanted.length];
  return next === undefined || '._-'.includes(next) || isDigit(wanted[wanted.length - 1]) !== isDigit(next);
}

function matchesVersion(atom: Atom, pkg: Cpv): boolean {
  if (atom.operator === undefined) return true;
  if (atom.operator === '=*') return matchesVersionGlob(atom, pkg);
  const version = atom.version;
  if (version === undefined) return false;
  if (atom.operator === '~') return pkg.version === stripRevision(version);
  const order = compareVersions(pkg.parsed, version);
  switch (atom.operator) {
    case '=':
      return order === 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
  }
}

function matchesSlot(atom: Atom, pkg: PackageRef): boolean {
  if (atom.slot === undefined || pkg.slot === undefined) return true;
  if (pkg.slot !== atom.slot) return false;
  return atom.subSlot === undefined || atom.subSlot === (pkg.subSlot ?? pkg.slot);
}

function toFlagSet(flags: readonly string[] | ReadonlySet<string>): ReadonlySet<string> {
  return flags instanceof Set ? flags : new Set(flags);
}

function matchesUse(atom: Atom, pkg: PackageRef): boolean {
  if (atom.use.length === 0 || pkg.use === undefined) return true;
  const enabled = toFlagSet(pkg.use);
  const declared = pkg.iuseEffective ?? pkg.iuse;
  const iuse = declared === undefined ? undefined : new Set(declared.map((flag) => flag.replace(/^[+-]/, '')));
  for (const dep of atom.use) {
    const inIuse = iuse === undefined || iuse.has(dep.flag);
    // Portage: every flag written without a default must exist in IUSE, conditional or not.
    if (!inIuse && dep.missing === undefined) return false;
    if (dep.kind === 'enabled') {
      if (inIuse ? !enabled.has(dep.flag) : dep.missing === 'disabled') return false;
    } else if (dep.kind === 'disabled') {
      if (inIuse ? enabled.has(dep.flag) : dep.missing === 'enabled') return false;
    }
  }
  return true;
}

function toAtom(atom: Atom | string): Atom {
  return typeof atom === 'string' ? parseAtom(atom, { allowWildcard: true }) : atom;
}

/**
 * True when `pkg` satisfies `atom`. A string atom is parsed with wildcards allowed and throws ARGO_ATOM_INVALID
 * when invalid; a package whose `cpv` is not a valid CPV never matches.
 */
export function matchAtom(atom: Atom | string, pkg: PackageRef): boolean {
  const wanted = toAtom(atom);
  const parsed = tryParseCpv(pkg.cpv);
  if (!parsed.ok) return false;
  const cpv = parsed.value;
  const sameName = wanted.wildcard
    ? matchesGlob(wanted.category, cpv.category) && matchesGlob(wanted.pn, cpv.pn)
    : wanted.cp === cpv.cp;
  if (!sameName) return false;
  return (
    matchesVersion(wanted, cpv) &&
    matchesSlot(wanted, pkg) &&
    matchesUse(wanted, pkg) &&
    (wanted.repo === undefined || pkg.repo === undefined || pkg.repo === wanted.repo)
  );
}

/** The packages that satisfy `atom`, in the order given. */
export function findMatches<T extends PackageRef>(atom: Atom | string, packages: readonly T[]): T[] {
  const wanted = toAtom(atom);
  return packages.filter((pkg) => matchAtom(wanted, pkg));
}

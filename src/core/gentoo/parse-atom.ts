/**
 * Package dependency atoms (PMS 8.3) as Portage's `Atom` class reads them (lib/portage/dep/__init__.py), without
 * EAPI restrictions: `[!|!!][op]category/name[-version[*]][:slot[/subslot][=|*]][::repo][use,deps]`.
 *
 * - operators `< <= = ~ >= >` need a version; `=…*` is a prefix match on version components;
 * - `!` is a weak and `!!` a strong blocker;
 * - slot parts: `:2`, `:2/2.1`, `:=`, `:*`, `:2=`, `:2/2.1=` (`:2*` and `:/2.1` are refused, as Portage does);
 * - USE dependencies `[a,-b,c?,!d?,e=,!f=]`, each optionally with a default `(+)` or `(-)` before `?`/`=`;
 * - with `allowWildcard` (configuration files only: package.use, package.mask, ...) Portage's extended syntax:
 *   `*` for any run of characters in the category or the name (`dev-libs/*`, `sys-*` + `/udev:0::gentoo`, and
 *   star-slash-star for every package) and `=cat/pkg-*9999*`, never with USE dependencies.
 *
 * `tryParseAtom` returns a {@link ParseResult} with a static reason; `parseAtom` throws ARGO_ATOM_INVALID naming the
 * text. Binary-package build ids (`=cat/pkg-1.0-3`) are refused.
 */

import { ArgoError } from '../errors.ts';
import { endsWithVersion, isValidCategory, isValidPackageName, tryParseCpv } from './parse-cpv.ts';
import { accept, refuse, type ParseResult } from './parse-result.ts';
import type { Version } from './parse-version.ts';

export type AtomOperator = '<' | '<=' | '=' | '~' | '>=' | '>' | '=*';

/** `weak` is `!`, `strong` is `!!`. */
export type AtomBlocker = 'weak' | 'strong';

/** `=` rebuilds on slot/sub-slot change, `*` accepts any slot. */
export type SlotOperator = '=' | '*';

/**
 * - `enabled` `[a]`, `disabled` `[-a]`
 * - `if-enabled` `[a?]`, `if-disabled` `[!a?]`, `equal` `[a=]`, `not-equal` `[!a=]`: conditional on the USE
 *   flags of the package that carries the dependency; see `evaluateAtomUse`.
 */
export type UseDepKind = 'enabled' | 'disabled' | 'if-enabled' | 'if-disabled' | 'equal' | 'not-equal';

export interface UseDep {
  readonly flag: string;
  readonly kind: UseDepKind;
  /** The `(+)`/`(-)` default: how to treat a package whose IUSE lacks the flag. Absent: such a package never matches. */
  readonly missing?: 'enabled' | 'disabled';
}

export interface Atom {
  readonly blocker?: AtomBlocker;
  readonly operator?: AtomOperator;
  readonly category: string;
  readonly pn: string;
  /** `category/pn`; contains `*` for wildcard atoms. */
  readonly cp: string;
  /** Present exactly when there is an operator (for `=…*`, the version before the `*`). */
  readonly version?: Version;
  /** Only for the extended `=cat/pkg-*9999*` form: the `*…*` text, matched as a substring of the version. */
  readonly versionPattern?: string;
  readonly slot?: string;
  readonly subSlot?: string;
  readonly slotOperator?: SlotOperator;
  readonly repo?: string;
  /** In the order written; empty when the atom has no `[...]`. */
  readonly use: readonly UseDep[];
  /** True for Portage's extended (wildcard) syntax. */
  readonly wildcard: boolean;
}

export interface ParseAtomOptions {
  /** Accept `*` wildcards as in /etc/portage/package.* files. Default false, as in dependency strings. */
  readonly allowWildcard?: boolean;
}

/** PMS 3.1.3: `[A-Za-z0-9+_.-]`, not starting with a hyphen, a dot or a plus sign. */
const SLOT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_+.-]*$/;
/** Portage `_repo_name`: `[\w][\w-]*`, ASCII. */
const REPO_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
/** Portage `_get_usedep_re`. */
const USE_DEP = /^([!-]?)([A-Za-z0-9][A-Za-z0-9+_@-]*)(\(\+\)|\(-\))?([?=]?)$/;
const WILDCARD_CATEGORY = /^[A-Za-z0-9_*][A-Za-z0-9_+.*-]*$/;
const WILDCARD_PACKAGE = /^[A-Za-z0-9_*][A-Za-z0-9_+*-]*$/;
const WILDCARD_VERSION = /^\*[A-Za-z0-9_]+\*$/;

const OPERATORS: readonly AtomOperator[] = ['>=', '<=', '>', '<', '=', '~'];

const USE_DEP_KINDS: Readonly<Record<string, UseDepKind>> = {
  '': 'enabled',
  '-': 'disabled',
  '?': 'if-enabled',
  '!?': 'if-disabled',
  '=': 'equal',
  '!=': 'not-equal',
};

const INVALID_ATOM_HINT =
  'An atom is [operator]category/name[-version][:slot][::repo][use], e.g. >=sys-libs/libxcrypt-4.4:0/1=[system].';

interface AtomParts {
  blocker?: AtomBlocker;
  operator?: AtomOperator;
  category: string;
  pn: string;
  version?: Version;
  versionPattern?: string;
  slot?: string;
  subSlot?: string;
  slotOperator?: SlotOperator;
  repo?: string;
  use: UseDep[];
  wildcard: boolean;
}

function toAtom(parts: AtomParts): Atom {
  const atom: {
    -readonly [K in keyof Atom]: Atom[K];
  } = { category: parts.category, pn: parts.pn, cp: `${parts.category}/${parts.pn}`, use: parts.use, wildcard: parts.wildcard };
  if (parts.blocker !== undefined) atom.blocker = parts.blocker;
  if (parts.operator !== undefined) atom.operator = parts.operator;
  if (parts.version !== undefined) atom.version = parts.version;
  if (parts.versionPattern !== undefined) atom.versionPattern = parts.versionPattern;
  if (parts.slot !== undefined) atom.slot = parts.slot;
  if (parts.subSlot !== undefined) atom.subSlot = parts.subSlot;
  if (parts.slotOperator !== undefined) atom.slotOperator = parts.slotOperator;
  if (parts.repo !== undefined) atom.repo = parts.repo;
  return atom;
}

/** Reads `[a,-b(+),c?]` contents, applying Portage's rule that a flag's defaults may not contradict each other. */
function readUseDeps(text: string): ParseResult<UseDep[]> {
  const deps: UseDep[] = [];
  const withoutDefault = new Set<string>();
  const defaults = new Map<string, 'enabled' | 'disabled'>();
  for (const token of text.split(',')) {
    const match = USE_DEP.exec(token);
    if (match === null) return refuse('a USE dependency is not [flag], [-flag], [flag?], [!flag?], [flag=] or [!flag=]');
    const [, prefix = '', flag = '', written = '', suffix = ''] = match;
    const kind = USE_DEP_KINDS[prefix + suffix];
    if (kind === undefined) return refuse('a USE dependency combines - or ! with the wrong suffix');
    if (written === '') {
      if (defaults.has(flag)) return refuse('a USE flag appears both with and without a (+)/(-) default');
      withoutDefault.add(flag);
      deps.push({ flag, kind });
      continue;
    }
    const missing = written === '(+)' ? 'enabled' : 'disabled';
    if (withoutDefault.has(flag) || (defaults.get(flag) ?? missing) !== missing) {
      return refuse('a USE flag is given contradicting (+)/(-) defaults');
    }
    defaults.set(flag, missing);
    deps.push({ flag, kind, missing });
  }
  return accept(deps);
}

function readSlot(text: string, parts: AtomParts): string | undefined {
  if (text === '*' || text === '=') {
    parts.slotOperator = text;
    return undefined;
  }
  let rest = text;
  if (rest.endsWith('=')) {
    parts.slotOperator = '=';
    rest = rest.slice(0, -1);
  }
  const slash = rest.indexOf('/');
  const slot = slash === -1 ? rest : rest.slice(0, slash);
  if (!SLOT_NAME.test(slot)) return 'the slot name is empty or has characters PMS does not allow';
  parts.slot = slot;
  if (slash !== -1) {
    const subSlot = rest.slice(slash + 1);
    if (!SLOT_NAME.test(subSlot)) return 'the sub-slot name is empty or has characters PMS does not allow';
    parts.subSlot = subSlot;
  }
  return undefined;
}

/** Splits off the blocker, USE deps, repository and slot, which are read the same way in both syntaxes. */
function readSuffixes(text: string, parts: AtomParts): ParseResult<string> {
  let rest = text;
  if (rest.startsWith('!!')) {
    parts.blocker = 'strong';
    rest = rest.slice(2);
  } else if (rest.startsWith('!')) {
    parts.blocker = 'weak';
    rest = rest.slice(1);
  }

  const bracket = rest.indexOf('[');
  if (bracket !== -1) {
    if (!rest.endsWith(']')) return refuse('USE dependencies must close the atom with ]');
    const use = readUseDeps(rest.slice(bracket + 1, -1));
    if (!use.ok) return use;
    parts.use = use.value;
    rest = rest.slice(0, bracket);
  }

  const repoSeparator = rest.indexOf('::');
  if (repoSeparator !== -1) {
    const repo = rest.slice(repoSeparator + 2);
    if (!REPO_NAME.test(repo)) return refuse('the repository name is empty or has characters Portage does not allow');
    parts.repo = repo;
    rest = rest.slice(0, repoSeparator);
  }

  const colon = rest.indexOf(':');
  if (colon !== -1) {
    const problem = readSlot(rest.slice(colon + 1), parts);
    if (problem !== undefined) return refuse(problem);
    rest = rest.slice(0, colon);
  }
  return accept(rest);
}

function readPlain(rest: string, parts: AtomParts): ParseResult<Atom> {
  const operator = OPERATORS.find((candidate) => rest.startsWith(candidate));
  if (operator === undefined) {
    const slash = rest.indexOf('/');
    if (slash === -1) return refuse('an atom needs a category: category/name');
    const category = rest.slice(0, slash);
    const pn = rest.slice(slash + 1);
    if (!isValidCategory(category)) return refuse('the category is empty or has characters PMS does not allow');
    if (!isValidPackageName(pn)) {
      return refuse(
        endsWithVersion(pn)
          ? 'a version needs an operator such as = or >='
          : 'the package name is empty or has characters PMS does not allow',
      );
    }
    return accept(toAtom({ ...parts, category, pn }));
  }

  let cpvText = rest.slice(operator.length);
  let effective: AtomOperator = operator;
  if (cpvText.endsWith('*')) {
    if (operator !== '=') return refuse('a trailing * is only allowed with the = operator');
    effective = '=*';
    cpvText = cpvText.slice(0, -1);
  }
  const cpv = tryParseCpv(cpvText);
  if (!cpv.ok) return cpv;
  const { category, pn, parsed: version } = cpv.value;
  return accept(toAtom({ ...parts, operator: effective, category, pn, version }));
}

/** Portage's extended atoms (`_get_atom_wildcard_re`): `*` in names, `=cat/pkg-*ver*`, never USE deps. */
function readWildcard(rest: string, parts: AtomParts): ParseResult<Atom> {
  if (parts.use.length > 0) return refuse('wildcard atoms cannot have USE dependencies');
  if (rest.includes('**')) return refuse('a wildcard atom may not contain **');
  let body = rest;
  let versionPattern: string | undefined;
  if (body.startsWith('=')) {
    const hyphen = body.lastIndexOf('-');
    versionPattern = hyphen === -1 ? '' : body.slice(hyphen + 1);
    if (!WILDCARD_VERSION.test(versionPattern)) return refuse('a wildcard version must look like =cat/pkg-*1.2*');
    body = body.slice(1, hyphen);
  }
  const slash = body.indexOf('/');
  if (slash === -1) return refuse('an atom needs a category: category/name');
  const category = body.slice(0, slash);
  const pn = body.slice(slash + 1);
  if (!WILDCARD_CATEGORY.test(category)) return refuse('the wildcard category has characters Portage does not allow');
  if (!WILDCARD_PACKAGE.test(pn)) return refuse('the wildcard package name has characters Portage does not allow');
  if (versionPattern === undefined && endsWithVersion(pn)) return refuse('a version needs an operator such as = or >=');
  const wildcardParts: AtomParts = { ...parts, category, pn, wildcard: true };
  if (versionPattern !== undefined) {
    wildcardParts.operator = '=*';
    wildcardParts.versionPattern = versionPattern;
  }
  return accept(toAtom(wildcardParts));
}

export function tryParseAtom(text: string, options: ParseAtomOptions = {}): ParseResult<Atom> {
  const parts: AtomParts = { category: '', pn: '', use: [], wildcard: false };
  const rest = readSuffixes(text, parts);
  if (!rest.ok) return rest;
  const plain = readPlain(rest.value, parts);
  if (plain.ok || options.allowWildcard !== true || !rest.value.includes('*')) return plain;
  return readWildcard(rest.value, parts);
}

/** Throws ARGO_ATOM_INVALID, naming the text, when `text` is not an atom. */
export function parseAtom(text: string, options: ParseAtomOptions = {}): Atom {
  const result = tryParseAtom(text, options);
  if (!result.ok) {
    throw new ArgoError('ARGO_ATOM_INVALID', `Invalid package atom "${text}": ${result.reason}`, {
      hint: INVALID_ATOM_HINT,
      details: { atom: text },
    });
  }
  return result.value;
}

/**
 * The binhost `Packages` index as Portage keeps it: a header stanza and one stanza per binary package.
 *
 * Key policy is Portage's `binarytree.__init__` (lib/portage/dbapi/bintree.py) and syntax its `PackageIndex`
 * (lib/portage/getbinpkg.py). Fields carry their on-disk names (`DESC`, `MTIME`, `REPO`); Portage's internal
 * names (`DESCRIPTION`, `_mtime_`, `repository`) only matter for sort order, which {@link sortKeyOf} gives.
 */

import type { Diagnostic } from './diagnostics.ts';

/** One stanza's `KEY: VALUE` pairs, keyed by on-disk name. */
export type IndexFields = Record<string, string>;

export interface PackagesIndexEntry {
  /**
   * The keys Portage keeps for a package, with Portage's read-side defaults (`SLOT: 0`, `EAPI: 0`, empty
   * dependency keys) and header inheritance (`CHOST`, `REPO`) applied. Always has `CPV`. Frozen when read from a
   * file: to change an entry, build a new one (`{ ...entry.fields, SIZE: '...' }`).
   */
  readonly fields: Readonly<IndexFields>;
  /**
   * Keys outside Portage's allowed set. Portage drops them on read (so its next rewrite loses them); they are
   * kept aside here so that formatting can restore the input bytes. Empty for nearly every entry.
   */
  readonly droppedFields: Readonly<IndexFields>;
}

/**
 * The text of a stanza read from a file that was already exactly what Portage writes, by its (frozen) fields
 * object: the formatter copies it instead of serialising the entry again. Valid while the header's CHOST and
 * REPO are the ones it was read under and the entry keeps the same dropped fields.
 */
export interface CanonicalStanza {
  readonly text: string;
  readonly chost: string | undefined;
  readonly repo: string;
  readonly droppedFields: Readonly<IndexFields>;
}

export const canonicalStanzas = new WeakMap<Readonly<IndexFields>, CanonicalStanza>();

export interface PackagesIndex {
  /** Header keys as read, unknown keys included (Portage keeps them). */
  readonly header: IndexFields;
  readonly packages: readonly PackagesIndexEntry[];
}

export interface ParsedPackagesIndex extends PackagesIndex {
  readonly diagnostics: readonly Diagnostic[];
}

/** `_pkgindex_translated_keys`: internal name -> on-disk name. */
const WRITE_NAMES: ReadonlyMap<string, string> = new Map([
  ['DESCRIPTION', 'DESC'],
  ['_mtime_', 'MTIME'],
  ['repository', 'REPO'],
]);
/** The reverse map, used for sorting: Portage sorts keys by their internal names. */
const INTERNAL_NAMES: ReadonlyMap<string, string> = new Map([
  ['DESC', 'DESCRIPTION'],
  ['MTIME', '_mtime_'],
  ['REPO', 'repository'],
]);

/**
 * `_pkgindex_default_pkg_data`: a package key equal to its default is omitted on write and re-added on read.
 */
export const PACKAGE_DEFAULTS: ReadonlyMap<string, string> = new Map([
  ['BDEPEND', ''],
  ['BUILD_ID', ''],
  ['BUILD_TIME', ''],
  ['DEFINED_PHASES', ''],
  ['DEPEND', ''],
  ['EAPI', '0'],
  ['IDEPEND', ''],
  ['IUSE', ''],
  ['KEYWORDS', ''],
  ['LICENSE', ''],
  ['PATH', ''],
  ['PDEPEND', ''],
  ['PROPERTIES', ''],
  ['PROVIDES', ''],
  ['RDEPEND', ''],
  ['REQUIRES', ''],
  ['RESTRICT', ''],
  ['SLOT', '0'],
  ['USE', ''],
]);

/**
 * `_pkgindex_inherited_keys` (on-disk names): omitted from a package when equal to the header value, copied from
 * the header on read. Portage's header always holds `repository` (default ""), so `REPO` falls back to "".
 */
export const INHERITED_KEYS: readonly string[] = ['CHOST', 'REPO'];

/**
 * `_pkgindex_allowed_pkg_keys`, translated to on-disk names: `_aux_cache_keys` + `CPV SIZE` + `_pkgindex_aux_keys`
 * + hashes + defaults + inherited + translated keys. Everything else in a package stanza is dropped on read.
 */
export const ALLOWED_PACKAGE_KEYS: ReadonlySet<string> = new Set([
  'BASE_URI',
  'BDEPEND',
  'BUILD_ID',
  'BUILD_TIME',
  'CHOST',
  'CPV',
  'DEFINED_PHASES',
  'DEPEND',
  'DESC',
  'EAPI',
  'FETCHCOMMAND',
  'IDEPEND',
  'IUSE',
  'KEYWORDS',
  'LICENSE',
  'MD5',
  'MTIME',
  'PATH',
  'PDEPEND',
  'PKGINDEX_URI',
  'PROPERTIES',
  'PROVIDES',
  'RDEPEND',
  'REPO',
  'REQUIRES',
  'RESTRICT',
  'RESUMECOMMAND',
  'SHA1',
  'SIZE',
  'SLOT',
  'USE',
]);

/**
 * The on-disk name Portage would write for a key read from disk. Reading maps `DESC` to `DESCRIPTION` and writing
 * maps it back, so both spellings end up as `DESC`.
 */
export function toDiskName(key: string): string {
  return WRITE_NAMES.get(key) ?? key;
}

/** The name Portage sorts a key by (its internal name): `MTIME` and `REPO` sort last, `DESC` as `DESCRIPTION`. */
export function sortKeyOf(diskName: string): string {
  return INTERNAL_NAMES.get(diskName) ?? diskName;
}

/** Every key spelling with a fixed meaning, by first character, for reading keys without allocating strings. */
const KNOWN_KEYS: ReadonlyMap<number, readonly (readonly [spelling: string, diskName: string])[]> = (() => {
  const spellings = [...ALLOWED_PACKAGE_KEYS, ...WRITE_NAMES.keys()];
  const byFirst = new Map<number, (readonly [string, string])[]>();
  for (const spelling of spellings) {
    const bucket = byFirst.get(spelling.charCodeAt(0)) ?? [];
    bucket.push([spelling, toDiskName(spelling)]);
    byFirst.set(spelling.charCodeAt(0), bucket);
  }
  return byFirst;
})();

/**
 * The on-disk name of the key written in `text` from `start` to `end`, as {@link toDiskName} would give it. Known
 * keys come back as shared constant strings (no allocation, fast property access); others are sliced out.
 */
export function readKeyName(text: string, start: number, end: number): string {
  const candidates = KNOWN_KEYS.get(text.charCodeAt(start));
  if (candidates !== undefined) {
    const length = end - start;
    for (const [spelling, diskName] of candidates) {
      if (spelling.length === length && text.startsWith(spelling, start)) return diskName;
    }
  }
  return toDiskName(text.slice(start, end));
}

/** Python `str` ordering for the ASCII keys and CPVs of an index (UTF-16 code units; see report on astral chars). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

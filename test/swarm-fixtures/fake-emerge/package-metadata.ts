/**
 * What Portage records about a package it builds, from its md5-cache entry and the build settings: the USE flags
 * it gets, its dependencies reduced by them (PMS `use_reduce`, with `:=` slot operators bound to the installed
 * slot as Portage does for binpkgs and the VDB), the `metadata/` files of its GPKG and its `Packages` stanza.
 */

import type { Md5CacheEntry } from '../../../src/core/gentoo/parse-md5-cache-entry.ts';
import { parseDepSpec, type DepNode } from '../../../src/core/gentoo/parse-dep-spec.ts';
import { evaluateDepSpec } from '../../../src/core/gentoo/evaluate-dep-spec.ts';
import { formatDepSpec } from '../../../src/core/gentoo/format-dep-spec.ts';
import type { Atom } from '../../../src/core/gentoo/parse-atom.ts';
import type { Cpv } from '../../../src/core/gentoo/parse-cpv.ts';

/** Settings a build records, from make.conf (and the environment, as Portage lets it override). */
export interface BuildSettings {
  /** make.conf USE (then the environment's), as incremental tokens. */
  readonly useTokens: readonly string[];
  /** Effective FEATURES, sorted. */
  readonly features: readonly string[];
  readonly chost?: string;
  readonly cflags?: string;
  readonly cxxflags?: string;
  readonly ldflags?: string;
}

/** Slot of the installed package an `:=` atom binds to, if any. */
export type SlotLookup = (atom: Atom) => { readonly slot: string; readonly subSlot: string } | undefined;

export const DEPENDENCY_KEYS = ['BDEPEND', 'DEPEND', 'IDEPEND', 'PDEPEND', 'RDEPEND'] as const;
const TOKEN_KEYS = ['LICENSE', 'PROPERTIES', 'RESTRICT'] as const;

export function splitWords(text: string | undefined): string[] {
  return text === undefined ? [] : text.split(/\s+/).filter((word) => word !== '');
}

/**
 * Incremental stacking (USE_ORDER `conf` over `pkginternal`): IUSE `+` defaults first, then the tokens in order
 * (`-*` clears, `-flag` removes, `flag` adds), then only flags the package declares in IUSE.
 */
export function enabledUse(iuse: readonly string[], useTokens: readonly string[]): string[] {
  const enabled = new Set(iuse.filter((flag) => flag.startsWith('+')).map((flag) => flag.slice(1)));
  for (const token of useTokens) {
    if (token === '-*') enabled.clear();
    else if (token.startsWith('-')) enabled.delete(token.slice(1));
    else enabled.add(token);
  }
  const declared = new Set(iuse.map((flag) => flag.replace(/^[+-]/, '')));
  return [...enabled].filter((flag) => declared.has(flag)).sort();
}

/** Incremental FEATURES: `-*` clears, `-x` removes, `x` adds. */
export function stackIncremental(layers: readonly (readonly string[])[]): string[] {
  const set = new Set<string>();
  for (const layer of layers) {
    for (const token of layer) {
      if (token === '-*') set.clear();
      else if (token.startsWith('-')) set.delete(token.slice(1));
      else set.add(token);
    }
  }
  return [...set].sort();
}

function bindSlotOperators(nodes: readonly DepNode[], lookup: SlotLookup): DepNode[] {
  return nodes.map((node): DepNode => {
    if (node.kind === 'atom') {
      const atom = node.atom;
      if (atom.slotOperator !== '=' || atom.slot !== undefined || atom.blocker !== undefined) return node;
      const bound = lookup(atom);
      return bound === undefined ? node : { kind: 'atom', atom: { ...atom, slot: bound.slot, subSlot: bound.subSlot } };
    }
    if (node.kind === 'token') return node;
    return { ...node, children: bindSlotOperators(node.children, lookup) };
  });
}

/** The tree of a dependency key with USE conditionals resolved. */
export function reducedDependencyTree(entry: Md5CacheEntry, key: string, use: readonly string[]): DepNode[] {
  return evaluateDepSpec(parseDepSpec(entry.values[key] ?? '', { field: key }).nodes, use, { eapi: entry.eapi });
}

/** Every USE-evaluated key as Portage writes it into a binpkg, the VDB and `Packages` (empty ones left out). */
export function reducedKeys(entry: Md5CacheEntry, use: readonly string[], lookup: SlotLookup): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of DEPENDENCY_KEYS) {
    const text = formatDepSpec(bindSlotOperators(reducedDependencyTree(entry, key, use), lookup));
    if (text !== '') out[key] = text;
  }
  for (const key of TOKEN_KEYS) {
    const nodes = evaluateDepSpec(parseDepSpec(entry.values[key] ?? '', { leaves: 'tokens', field: key }).nodes, use, { eapi: entry.eapi });
    const text = formatDepSpec(nodes);
    if (text !== '') out[key] = text;
  }
  return out;
}

export interface BuiltPackage {
  readonly cpv: Cpv;
  readonly entry: Md5CacheEntry;
  readonly use: readonly string[];
  /** Epoch seconds. */
  readonly buildTime: number;
  /** Absent when no binary package was written. */
  readonly buildId?: number;
  /** Bytes of the installed image. */
  readonly installedSize: number;
  readonly repository: string;
}

/**
 * The `metadata/` files of a GPKG (the same files become the VDB entry), in name order. Values end in a newline
 * except BUILD_ID, which `__dyn_package` writes with `echo -n`. No BINPKGMD5: that is only known after packing.
 * No environment.bz2 or ebuild: the fake has neither.
 */
export function binpkgMetadata(pkg: BuiltPackage, settings: BuildSettings, lookup: SlotLookup): Map<string, string> {
  const values = pkg.entry.values;
  const files: Record<string, string> = {
    ...reducedKeys(pkg.entry, pkg.use, lookup),
    BUILD_TIME: String(pkg.buildTime),
    CATEGORY: pkg.cpv.category,
    DEFINED_PHASES: values.DEFINED_PHASES ?? '',
    DESCRIPTION: values.DESCRIPTION ?? '',
    EAPI: pkg.entry.eapi,
    FEATURES: settings.features.join(' '),
    HOMEPAGE: values.HOMEPAGE ?? '',
    INHERITED: pkg.entry.eclasses.map((eclass) => eclass.name).join(' '),
    IUSE: values.IUSE ?? '',
    KEYWORDS: values.KEYWORDS ?? '',
    PF: pkg.cpv.pf,
    SIZE: String(pkg.installedSize),
    SLOT: values.SLOT || '0',
    USE: pkg.use.join(' '),
    repository: pkg.repository,
  };
  if (settings.chost !== undefined) {
    files.CHOST = settings.chost;
    files.CBUILD = settings.chost;
  }
  if (settings.cflags !== undefined) files.CFLAGS = settings.cflags;
  if (settings.cxxflags !== undefined) files.CXXFLAGS = settings.cxxflags;
  if (settings.ldflags !== undefined) files.LDFLAGS = settings.ldflags;
  if (pkg.buildId !== undefined) files.BUILD_ID = String(pkg.buildId);
  const metadata = new Map<string, string>();
  for (const key of Object.keys(files).sort()) {
    const value = files[key] as string;
    // Portage writes IUSE even when empty; other empty variables get no file.
    if (value === '' && key !== 'IUSE') continue;
    metadata.set(key, key === 'BUILD_ID' ? value : `${value}\n`);
  }
  return metadata;
}

export interface BinpkgFileFacts {
  /** Relative to PKGDIR: `cat/pn/pf-1.gpkg.tar`. */
  readonly path: string;
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  /** Whole seconds. */
  readonly mtime: number;
}

/** The `Packages` stanza `_pkgindex_entry` makes for a binpkg: its aux keys, hashes, PATH, SIZE and MTIME. */
export function packagesIndexFields(metadata: ReadonlyMap<string, string>, cpv: string, file: BinpkgFileFacts): Record<string, string> {
  const value = (key: string): string => (metadata.get(key) ?? '').trim();
  const fields: Record<string, string> = { CPV: cpv };
  for (const key of ['BDEPEND', 'BUILD_ID', 'BUILD_TIME', 'CHOST', 'DEFINED_PHASES', 'DEPEND', 'EAPI', 'IDEPEND', 'IUSE', 'KEYWORDS', 'LICENSE', 'PDEPEND', 'PROPERTIES', 'RDEPEND', 'RESTRICT', 'SLOT', 'USE']) {
    const text = value(key);
    if (text !== '') fields[key] = text;
  }
  fields.MD5 = file.md5;
  fields.SHA1 = file.sha1;
  fields.PATH = file.path;
  fields.SIZE = String(file.size);
  fields.MTIME = String(file.mtime);
  fields.REPO = value('repository');
  return fields;
}

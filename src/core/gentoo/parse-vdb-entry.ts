/**
 * One installed package: the files of `/var/db/pkg/CATEGORY/PF/` (one file per variable, see section 2 of
 * docs gentoo-formats.md) read into a typed record. Values are read as Portage's `vardbapi.aux_get` reads them:
 * every file except CONTENTS and NEEDED* has its whitespace collapsed (`" ".join(value.split())`), so the trailing
 * newline most files have, and its absence in COUNTER, make no difference. A missing file means an empty value.
 *
 * The directory names are authoritative for the CPV (Portage takes the CPV from the path); a CATEGORY or PF file
 * that disagrees is reported. Dependency strings are kept as text: parse them with `parseDepSpec` when needed.
 * `environment.bz2`, the saved ebuild and Portage 3.0.82's `metadata` cache file are not interpreted.
 */

import type { Diagnostic } from './diagnostics.ts';
import type { PackageRef } from './match-atom.ts';
import { parseContents, type ContentsEntry } from './parse-contents.ts';
import { tryParseCpv } from './parse-cpv.ts';
import { parseNeeded, parseNeededElf2, type NeededElfEntry, type NeededEntry } from './parse-needed.ts';
import { parseSonameDeps } from './parse-soname-deps.ts';

/** Files whose line structure matters; Portage keeps their newlines (`_aux_multi_line_re`), plus the old NEEDED. */
const MULTI_LINE_FILES: ReadonlySet<string> = new Set(['CONTENTS', 'NEEDED', 'NEEDED.ELF.2']);

/** Build settings saved by `__dyn_install` (bin/phase-functions.sh) when non-empty, and QA_* variables. */
export const VDB_BUILD_SETTING_KEYS: readonly string[] = [
  'ASFLAGS',
  'CBUILD',
  'CC',
  'CFLAGS',
  'CHOST',
  'CTARGET',
  'CXX',
  'CXXFLAGS',
  'EXTRA_ECONF',
  'EXTRA_EINSTALL',
  'EXTRA_EMAKE',
  'EXTRA_MAKE',
  'LDFLAGS',
  'LIBCFLAGS',
  'LIBCXXFLAGS',
  'PKG_INSTALL_MASK',
  'PROVIDES_EXCLUDE',
  'REQUIRES_EXCLUDE',
];

export interface VdbPackage extends PackageRef {
  readonly category: string;
  readonly pf: string;
  /** `category/pf` */
  readonly cpv: string;
  readonly cp: string;
  readonly pn: string;
  /** PV, without revision. */
  readonly version: string;
  /** PR: `r0` when there is none. */
  readonly revision: string;
  readonly pvr: string;
  /** `0` when the SLOT file is missing or empty (reported). */
  readonly slot: string;
  /** The part after `/` in SLOT; equal to `slot` when there is none (Portage's rule). */
  readonly subSlot: string;
  /** From the `repository` file; absent when there is none. */
  readonly repo?: string;
  /** `0` when the EAPI file is missing, as Portage assumes. */
  readonly eapi: string;
  readonly use: readonly string[];
  /** IUSE with `+`/`-` default markers as written. */
  readonly iuse: readonly string[];
  /** Present only when the IUSE_EFFECTIVE file exists. */
  readonly iuseEffective?: readonly string[];
  /** package.use tokens that applied when the package was built (PKGUSE). */
  readonly pkgUse: readonly string[];
  readonly keywords: readonly string[];
  readonly inherited: readonly string[];
  readonly definedPhases: readonly string[];
  readonly features: readonly string[];
  readonly description: string;
  readonly homepage: string;
  /** USE-reduced dependency strings; empty when the file is absent. */
  readonly depend: string;
  readonly rdepend: string;
  readonly bdepend: string;
  readonly pdepend: string;
  readonly idepend: string;
  readonly license: string;
  readonly properties: string;
  readonly restrict: string;
  /** CFLAGS, EXTRA_ECONF, CHOST, QA_* ... that were saved (see {@link VDB_BUILD_SETTING_KEYS}). */
  readonly buildSettings: Readonly<Record<string, string>>;
  /** Prefix installs only. */
  readonly eprefix?: string;
  /** Repository name → commit (REPO_REVISIONS, Portage 3.0.64+). */
  readonly repoRevisions?: Readonly<Record<string, string>>;
  /** Epoch seconds. */
  readonly buildTime?: number;
  readonly buildId?: number;
  readonly binpkgMd5?: string;
  /** Bytes installed. */
  readonly size?: number;
  /** Global merge counter: orders installs. */
  readonly counter?: number;
  /** Multilib category → sonames. */
  readonly provides: Readonly<Record<string, readonly string[]>>;
  readonly requires: Readonly<Record<string, readonly string[]>>;
  readonly needed: readonly NeededEntry[];
  readonly neededElf2: readonly NeededElfEntry[];
  /**
   * CONTENTS, parsed on first access: it is most of the data of a VDB and most callers never look at it. Lines
   * Portage would skip are skipped; `parseContents(pkg.values.CONTENTS ?? '')` also returns their diagnostics.
   */
  readonly contents: readonly ContentsEntry[];
  /** Every file given, whitespace-collapsed as described above (multi-line files verbatim). */
  readonly values: Readonly<Record<string, string>>;
}

export interface VdbEntry {
  /** Absent when the directory names do not form a valid CPV (Portage ignores such entries). */
  readonly package?: VdbPackage;
  readonly diagnostics: readonly Diagnostic[];
}

const BUILD_SETTING_KEYS: ReadonlySet<string> = new Set(VDB_BUILD_SETTING_KEYS);

/** `" ".join(text.split())`, with a fast path for the usual single line of single-spaced words. */
function collapse(text: string): string {
  const end = text.charCodeAt(text.length - 1) === 10 ? text.length - 1 : text.length;
  let simple = end > 0 && text.charCodeAt(0) !== 32 && text.charCodeAt(end - 1) !== 32;
  for (let index = 0; simple && index < end; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 33) simple = code === 32 && text.charCodeAt(index + 1) !== 32;
  }
  if (simple) return end === text.length ? text : text.slice(0, end);
  return text.split(/\s+/).filter((word) => word !== '').join(' ');
}

function words(text: string | undefined): string[] {
  return text === undefined || text === '' ? [] : text.split(' ');
}

/**
 * @param category the category directory name
 * @param pf the package directory name
 * @param files file name → content, for the files of the entry that were read (binary files left out)
 * @param options.file the entry's path, copied into diagnostics (each diagnostic's `file` is `<path>/<NAME>`)
 */
export function parseVdbEntry(
  category: string,
  pf: string,
  files: Readonly<Record<string, string>>,
  options: { readonly file?: string } = {},
): VdbEntry {
  const diagnostics: Diagnostic[] = [];
  const dir = options.file ?? `${category}/${pf}`;
  const report = (name: string | undefined, message: string, action: Diagnostic['action'], field?: string): void => {
    const file = name === undefined ? dir : `${dir}/${name}`;
    diagnostics.push({ file, ...(field === undefined ? {} : { field }), message, action });
  };

  const cpv = tryParseCpv(`${category}/${pf}`);
  if (!cpv.ok) {
    report(undefined, `the directory is not a valid CATEGORY/PF: ${cpv.reason}`, 'ignored');
    return { diagnostics };
  }

  const values: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    values[name] = MULTI_LINE_FILES.has(name) ? content : collapse(content);
  }
  const value = (name: string): string => values[name] ?? '';

  if (values.CATEGORY !== undefined && values.CATEGORY !== category) {
    report('CATEGORY', 'the CATEGORY file disagrees with the directory name', 'ignored', values.CATEGORY);
  }
  if (values.PF !== undefined && values.PF !== pf) {
    report('PF', 'the PF file disagrees with the directory name', 'ignored', values.PF);
  }

  const readInteger = (name: string): number | undefined => {
    const text = values[name];
    if (text === undefined || text === '') return undefined;
    if (/^\d+$/.test(text)) return Number(text);
    report(name, 'the value is not a whole number', 'dropped', text);
    return undefined;
  };

  let slotText = value('SLOT');
  if (slotText === '') {
    report('SLOT', 'the SLOT file is missing or empty; Portage then uses slot 0', 'defaulted');
    slotText = '0';
  }
  const slash = slotText.indexOf('/');
  const slot = slash === -1 ? slotText : slotText.slice(0, slash);
  const subSlot = slash === -1 ? slotText : slotText.slice(slash + 1);

  const buildSettings: Record<string, string> = {};
  for (const [name, text] of Object.entries(values)) {
    if (BUILD_SETTING_KEYS.has(name) || name.startsWith('QA_')) buildSettings[name] = text;
  }

  let repoRevisions: Record<string, string> | undefined;
  if (value('REPO_REVISIONS') !== '') {
    try {
      const decoded: unknown = JSON.parse(value('REPO_REVISIONS'));
      if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) throw new TypeError('not an object');
      repoRevisions = Object.fromEntries(Object.entries(decoded).map(([repo, commit]) => [repo, String(commit)]));
    } catch {
      report('REPO_REVISIONS', 'REPO_REVISIONS is not a JSON object', 'dropped');
    }
  }

  const provides = parseSonameDeps(value('PROVIDES'), { file: `${dir}/PROVIDES`, field: 'PROVIDES' });
  const requires = parseSonameDeps(value('REQUIRES'), { file: `${dir}/REQUIRES`, field: 'REQUIRES' });
  const neededElf2 = parseNeededElf2(value('NEEDED.ELF.2'), { file: `${dir}/NEEDED.ELF.2` });
  diagnostics.push(...provides.diagnostics, ...requires.diagnostics, ...neededElf2.diagnostics);

  const pkg: { -readonly [K in keyof Omit<VdbPackage, 'contents'>]: VdbPackage[K] } = {
    category,
    pf,
    cpv: cpv.value.cpv,
    cp: cpv.value.cp,
    pn: cpv.value.pn,
    version: cpv.value.version,
    revision: cpv.value.revision,
    pvr: cpv.value.pvr,
    slot,
    subSlot,
    eapi: value('EAPI') || '0',
    use: words(values.USE),
    iuse: words(values.IUSE),
    pkgUse: words(values.PKGUSE),
    keywords: words(values.KEYWORDS),
    inherited: words(values.INHERITED),
    definedPhases: words(values.DEFINED_PHASES),
    features: words(values.FEATURES),
    description: value('DESCRIPTION'),
    homepage: value('HOMEPAGE'),
    depend: value('DEPEND'),
    rdepend: value('RDEPEND'),
    bdepend: value('BDEPEND'),
    pdepend: value('PDEPEND'),
    idepend: value('IDEPEND'),
    license: value('LICENSE'),
    properties: value('PROPERTIES'),
    restrict: value('RESTRICT'),
    buildSettings,
    provides: provides.byCategory,
    requires: requires.byCategory,
    needed: parseNeeded(value('NEEDED')),
    neededElf2: neededElf2.entries,
    values,
  };
  if (value('repository') !== '') pkg.repo = value('repository');
  if (values.IUSE_EFFECTIVE !== undefined) pkg.iuseEffective = words(values.IUSE_EFFECTIVE);
  if (value('EPREFIX') !== '') pkg.eprefix = value('EPREFIX');
  if (repoRevisions !== undefined) pkg.repoRevisions = repoRevisions;
  if (value('BINPKGMD5') !== '') pkg.binpkgMd5 = value('BINPKGMD5');
  const numbers = { buildTime: 'BUILD_TIME', buildId: 'BUILD_ID', size: 'SIZE', counter: 'COUNTER' } as const;
  for (const [key, name] of Object.entries(numbers) as [keyof typeof numbers, string][]) {
    const number = readInteger(name);
    if (number !== undefined) pkg[key] = number;
  }
  let contents: readonly ContentsEntry[] | undefined;
  Object.defineProperty(pkg, 'contents', {
    enumerable: true,
    get: () => (contents ??= parseContents(value('CONTENTS')).entries),
  });
  return { package: pkg as VdbPackage, diagnostics };
}

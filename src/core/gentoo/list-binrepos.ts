/**
 * The binary package repositories Portage would use, in the order it queries them, from parsed binrepos.conf
 * files and the deprecated `PORTAGE_BINHOST` (BinRepoConfigLoader in lib/portage/binrepo/config.py, Portage
 * 3.0.78+; `binarytree._populate_remote` walks them "by descending priority").
 */

import { createHash } from 'node:crypto';
import type { Diagnostic } from './diagnostics.ts';
import type { BinreposConf } from './parse-binrepos-conf.ts';

export interface Binrepo {
  /** Section name, or for a `PORTAGE_BINHOST` entry the MD5 of its URI (Portage's `name_fallback`). */
  readonly name: string;
  readonly fromPortageBinhost: boolean;
  /** `sync-uri` without trailing slashes. */
  readonly syncUri: string;
  /** Integer priority, undefined when unset or not an integer (sorted as 0); higher is queried first. */
  readonly priority: number | undefined;
  /** Local cache directory; Portage's default `${EPREFIX}/var/cache/binhost/<name>` when no PORTAGE_BINHOST is set. */
  readonly location: string | undefined;
  readonly frozen: boolean;
  /** undefined when not set anywhere (Portage 3.0.78+ ships `[DEFAULT] verify-signature = true`). */
  readonly verifySignature: boolean | undefined;
  readonly fetchcommand: string | undefined;
  readonly resumecommand: string | undefined;
  readonly getbinpkgInclude: readonly string[];
  readonly getbinpkgExclude: readonly string[];
  readonly openpgpKeyPackage: string | undefined;
}

export interface ListBinreposInput {
  /** Parsed files in the order Portage reads them (the shipped defaults first, then /etc/portage/binrepos.conf[/*]). */
  readonly confs: readonly BinreposConf[];
  /** make.conf `PORTAGE_BINHOST`: space-separated base URIs, the first one preferred. */
  readonly portageBinhost?: string;
  /** Values for `%(EPREFIX)s`, `%(EROOT)s`, `%(PORTAGE_CONFIGROOT)s`, `%(ROOT)s`; defaults "", "/", "/", "/". */
  readonly eprefix?: string;
  readonly eroot?: string;
  readonly configRoot?: string;
  readonly root?: string;
}

export interface BinrepoList {
  /** In query order: highest priority first, ties by name descending (reverse of Portage's ascending sort). */
  readonly repos: readonly Binrepo[];
  readonly diagnostics: readonly Diagnostic[];
}

const MAX_INTERPOLATION_DEPTH = 10;
const PYTHON_INT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

export function listBinrepos(input: ListBinreposInput): BinrepoList {
  const diagnostics: Diagnostic[] = [];
  const eprefix = input.eprefix ?? '';
  const parserDefaults = new Map<string, string>([
    ['frozen', 'false'],
    ['eprefix', eprefix],
    ['eroot', input.eroot ?? '/'],
    ['portage_configroot', input.configRoot ?? '/'],
    ['root', input.root ?? '/'],
  ]);

  const invalid = input.confs.filter((conf) => !conf.valid);
  const confs = invalid.length === 0 ? input.confs : [];
  for (const conf of invalid) {
    diagnostics.push({
      ...(conf.file === undefined ? {} : { file: conf.file }),
      message: 'binrepos.conf has a syntax error; Portage ignores every binrepos.conf file and uses only PORTAGE_BINHOST',
      action: 'ignored',
    });
  }

  // read_configs feeds every file into one parser: [DEFAULT] and same-named sections merge, later values win.
  const defaults = new Map(parserDefaults);
  const sections = new Map<string, { options: Map<string, string>; file: string | undefined; line: number }>();
  for (const conf of confs) {
    for (const [key, { value }] of conf.defaults) defaults.set(key, value);
    for (const section of conf.sections) {
      const merged = sections.get(section.name) ?? { options: new Map<string, string>(), file: conf.file, line: section.line };
      for (const [key, { value }] of section.options) merged.options.set(key, value);
      sections.set(section.name, merged);
    }
  }

  const repos: Binrepo[] = [];
  const syncUris = new Set<string>();
  for (const [name, section] of sections) {
    const where = { ...(section.file === undefined ? {} : { file: section.file }), line: section.line };
    const vars = new Map([...defaults, ...section.options]);
    const values = new Map<string, string>();
    let failed = false;
    for (const key of vars.keys()) {
      const interpolated = interpolate(vars, key);
      if (typeof interpolated !== 'string') {
        diagnostics.push({ ...where, field: key, message: interpolated.error, action: 'ignored' });
        failed = true;
        break;
      }
      values.set(key, interpolated);
    }
    if (failed) continue;
    const syncUri = values.get('sync-uri');
    if (syncUri === undefined) {
      diagnostics.push({ ...where, field: 'sync-uri', message: 'binrepo without sync-uri; Portage skips it', action: 'ignored' });
      continue;
    }
    const normalized = stripTrailingSlashes(syncUri);
    syncUris.add(normalized);
    repos.push({
      name,
      fromPortageBinhost: false,
      syncUri: normalized,
      priority: toPriority(values.get('priority')),
      location: values.get('location'),
      frozen: isTrue(values.get('frozen')) ?? false,
      verifySignature: isTrue(values.get('verify-signature')),
      fetchcommand: values.get('fetchcommand'),
      resumecommand: values.get('resumecommand'),
      getbinpkgInclude: splitWords(values.get('getbinpkg-include')),
      getbinpkgExclude: splitWords(values.get('getbinpkg-exclude')),
      openpgpKeyPackage: values.get('openpgp-key-package'),
    });
  }

  const binhostUris = splitWords(input.portageBinhost);
  let priority = 0;
  // Portage walks PORTAGE_BINHOST backwards so that the first URI gets the highest priority.
  for (const uri of [...binhostUris].reverse()) {
    const normalized = stripTrailingSlashes(uri);
    if (syncUris.has(normalized)) continue;
    priority += 1;
    syncUris.add(normalized);
    repos.push({
      name: createHash('md5').update(normalized, 'utf8').digest('hex'),
      fromPortageBinhost: true,
      syncUri: normalized,
      priority,
      location: undefined,
      frozen: false,
      verifySignature: undefined,
      fetchcommand: undefined,
      resumecommand: undefined,
      getbinpkgInclude: [],
      getbinpkgExclude: [],
      openpgpKeyPackage: undefined,
    });
  }

  // With PORTAGE_BINHOST set the implicit names are unclear, so Portage leaves location unset (like local). It tests
  // the raw setting, so even a PORTAGE_BINHOST of only spaces counts as set.
  const located =
    (input.portageBinhost ?? '') === ''
      ? repos.map((repo) => (repo.location === undefined ? { ...repo, location: `${eprefix}/var/cache/binhost/${repo.name}` } : repo))
      : repos;

  const ascending = [...located].sort(
    (a, b) => (a.priority ?? 0) - (b.priority ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return { repos: ascending.reverse(), diagnostics };
}

/** configparser BasicInterpolation: `%(name)s` looks up another option (lower-cased), `%%` is a percent sign. */
function interpolate(vars: ReadonlyMap<string, string>, key: string): string | { readonly error: string } {
  const expand = (raw: string, depth: number): string | { readonly error: string } => {
    if (depth > MAX_INTERPOLATION_DEPTH) return { error: 'interpolation nested too deeply; Portage fails on this value' };
    let output = '';
    let rest = raw;
    for (;;) {
      const percent = rest.indexOf('%');
      if (percent === -1) return output + rest;
      output += rest.slice(0, percent);
      rest = rest.slice(percent);
      const next = rest.charAt(1);
      if (next === '%') {
        output += '%';
        rest = rest.slice(2);
        continue;
      }
      const reference = next === '(' ? /^%\(([^)]+)\)s/.exec(rest) : null;
      if (reference === null) return { error: 'bad % in value (use %% for a percent sign); Portage fails on this value' };
      rest = rest.slice(reference[0].length);
      const value = vars.get((reference[1] as string).toLowerCase());
      if (value === undefined) return { error: 'value refers to an option that does not exist; Portage fails on this value' };
      if (value.includes('%')) {
        const nested = expand(value, depth + 1);
        if (typeof nested !== 'string') return nested;
        output += nested;
      } else {
        output += value;
      }
    }
  };
  return expand(vars.get(key) ?? '', 1);
}

function stripTrailingSlashes(uri: string): string {
  let end = uri.length;
  while (end > 0 && uri.charCodeAt(end - 1) === 0x2f) end -= 1;
  return uri.slice(0, end);
}

function toPriority(value: string | undefined): number | undefined {
  if (value === undefined || !PYTHON_INT.test(value)) return undefined;
  return Number(value.replaceAll('_', '').trim());
}

/** BinRepoConfig booleans: "true"/"yes" in any case are true, any other string false, unset undefined. */
function isTrue(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const lowered = value.toLowerCase();
  return lowered === 'true' || lowered === 'yes';
}

function splitWords(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(/\s+/).filter((word) => word !== '');
}

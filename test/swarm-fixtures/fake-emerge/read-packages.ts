/**
 * The three places packages come from: the ebuild repository's md5-cache, the installed-package database of
 * ROOT, and the binhosts' `Packages` indexes (Packages.gz first, as Portage 3.0.69+ asks for it first), read from
 * a folder or fetched over http(s).
 */

import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { parseMd5CacheEntry, type Md5CacheEntry } from '../../../src/core/gentoo/parse-md5-cache-entry.ts';
import { tryParseCpv, type Cpv } from '../../../src/core/gentoo/parse-cpv.ts';
import { parseVdbEntry, type VdbPackage } from '../../../src/core/gentoo/parse-vdb-entry.ts';
import { parsePackagesIndex } from '../../../src/core/gentoo/parse-packages-index.ts';
import { gunzipPackagesIndex } from '../../../src/core/gentoo/packages-index-gzip.ts';
import type { ParsedPackagesIndex } from '../../../src/core/gentoo/packages-index.ts';
import type { BinhostPackage, PackageBase, RepoPackage } from './plan-merges.ts';
import type { Binhost } from './read-settings.ts';
import { splitWords } from './package-metadata.ts';
import { parseRemoteUrl } from './http-request.ts';
import { urlopen } from './urlopen.ts';
import {
  binhostFetchErrorMessage,
  binhostNoTimestampMessage,
  binhostVersionMessage,
  hideUrlPassword,
  invalidBinhostMessage,
  notGzippedMessage,
} from './portage-messages.ts';

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return [];
    throw error;
  }
}

function slotParts(slotText: string | undefined): { slot: string; subSlot: string } {
  const text = slotText || '0';
  const slash = text.indexOf('/');
  return slash === -1 ? { slot: text, subSlot: text } : { slot: text.slice(0, slash), subSlot: text.slice(slash + 1) };
}

export function md5CachePath(repository: string, cpv: Cpv): string {
  return posix.join(repository, 'metadata/md5-cache', cpv.category, cpv.pf);
}

export async function readMd5Entry(repository: string, cpv: Cpv): Promise<Md5CacheEntry | undefined> {
  try {
    const path = md5CachePath(repository, cpv);
    return parseMd5CacheEntry(await readFile(path, 'utf8'), { file: path }).entry;
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
    throw error;
  }
}

export function toRepoPackage(cpv: Cpv, entry: Md5CacheEntry): RepoPackage {
  return { cpv: cpv.cpv, parsed: cpv, entry, repo: 'gentoo', ...slotParts(entry.values.SLOT), iuse: splitWords(entry.values.IUSE) };
}

/** Every version of a `category/pn` in the repository's md5-cache, read on first use and kept. */
export function repositoryLookup(repository: string): (cp: string) => Promise<RepoPackage[]> {
  const byCp = new Map<string, Promise<RepoPackage[]>>();
  const categories = new Map<string, Promise<string[]>>();
  const load = async (cp: string): Promise<RepoPackage[]> => {
    const category = cp.slice(0, cp.indexOf('/'));
    let names = categories.get(category);
    if (names === undefined) {
      names = listDir(posix.join(repository, 'metadata/md5-cache', category));
      categories.set(category, names);
    }
    const found: RepoPackage[] = [];
    for (const name of await names) {
      const cpv = tryParseCpv(`${category}/${name}`);
      if (!cpv.ok || cpv.value.cp !== cp) continue;
      const entry = await readMd5Entry(repository, cpv.value);
      if (entry !== undefined) found.push(toRepoPackage(cpv.value, entry));
    }
    return found;
  };
  return (cp) => {
    let found = byCp.get(cp);
    if (found === undefined) {
      found = load(cp);
      byCp.set(cp, found);
    }
    return found;
  };
}

/**
 * The VDB files an installed package is resolved by: the part of vartree's aux cache keys
 * (`_METADATA_FILE_FIELDS`) the merge list, `:=` binding and AUTOCLEAN look at. Never CONTENTS (most of a VDB's
 * bytes: 1.8 MB of the 2.2 MB in the 3,400 files of the clusterhq one), which Portage only opens to merge, unmerge
 * or answer `owners`.
 */
const RESOLVER_KEYS = ['BUILD_ID', 'COUNTER', 'EAPI', 'IUSE', 'SLOT', 'USE', 'repository'] as const;

/** vardbapi's `_excluded_dirs`: dot files, `-MERGING-` leftovers, CVS and lost+found are not packages. */
function isExcludedVdbName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('-MERGING-') || name === 'CVS' || name === 'lost+found';
}

// The VDB is read with synchronous calls: a run reads a few dozen small files, and each `fs/promises` readFile
// costs an open, fstat, read and close through the thread pool.
function listDirSync(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return [];
    throw error;
  }
}

function readOptionalSync(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
    throw error;
  }
}

/**
 * The installed instances of one `category/pn` in ROOT, as `vardbapi.cp_list` finds them (a listing of
 * `var/db/pkg/CATEGORY/`) and `aux_get` reads them (only {@link RESOLVER_KEYS}).
 */
export function readInstalledCp(root: string, cp: string): VdbPackage[] {
  const category = cp.slice(0, cp.indexOf('/'));
  const categoryDir = posix.join(root, 'var/db/pkg', category);
  const packages: VdbPackage[] = [];
  for (const pf of listDirSync(categoryDir)) {
    if (isExcludedVdbName(pf)) continue;
    const cpv = tryParseCpv(`${category}/${pf}`);
    if (!cpv.ok || cpv.value.cp !== cp) continue;
    const dir = posix.join(categoryDir, pf);
    const files: Record<string, string> = {};
    for (const name of RESOLVER_KEYS) {
      const text = readOptionalSync(posix.join(dir, name));
      if (text !== undefined) files[name] = text;
    }
    const parsed = parseVdbEntry(category, pf, files, { file: dir }).package;
    if (parsed !== undefined) packages.push(parsed);
  }
  return packages;
}

/** `readInstalledCp` read once per `category/pn`: one dependency calculation sees one state of the VDB. */
export function installedLookup(root: string): (cp: string) => VdbPackage[] {
  const byCp = new Map<string, VdbPackage[]>();
  return (cp) => {
    let found = byCp.get(cp);
    if (found === undefined) {
      found = readInstalledCp(root, cp);
      byCp.set(cp, found);
    }
    return found;
  };
}

/**
 * The highest COUNTER of the installed packages, which `get_counter_tick_core` takes into account besides
 * `var/cache/edb/counter` (so that a counter file that is corrupt or too low never orders a new install before
 * an old one). Reads each entry's COUNTER file and nothing else. 0 when nothing is installed.
 */
export function highestInstalledCounter(root: string): number {
  const vdb = posix.join(root, 'var/db/pkg');
  let highest = 0;
  for (const category of listDirSync(vdb)) {
    if (isExcludedVdbName(category)) continue;
    for (const pf of listDirSync(posix.join(vdb, category))) {
      if (isExcludedVdbName(pf)) continue;
      const text = readOptionalSync(posix.join(vdb, category, pf, 'COUNTER'))?.trim() ?? '';
      if (/^\d+$/.test(text)) highest = Math.max(highest, Number(text));
    }
  }
  return highest;
}

async function readIndexText(dir: string): Promise<{ text: string; file: string } | undefined> {
  const gz = posix.join(dir, 'Packages.gz');
  try {
    return { text: gunzipPackagesIndex(await readFile(gz), { file: gz }), file: gz };
  } catch {
    // Portage falls back to Packages when Packages.gz is missing; the fake also does when it is corrupt, where
    // Portage would report the binhost's error (as fetchRemoteIndex does for http binhosts).
  }
  const plain = posix.join(dir, 'Packages');
  try {
    return { text: await readFile(plain, 'utf8'), file: plain };
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}

type RemoteIndex =
  | { readonly ok: true; readonly text: string; readonly file: string; readonly lastModified: boolean }
  /** `str(err)` of the OSError Portage reports before going on without the binhost. */
  | { readonly ok: false; readonly error: string }
  /** urllib's ValueError: Portage's ParseError for this URL, fatal to the run. */
  | { readonly ok: false; readonly invalidUrl: string };

/**
 * `_populate_remote_repo` for an http(s) binhost: `Packages.gz` first, `Packages` only when that is a 404 (any other
 * failure, a corrupt gzip included, is the binhost's error), each through urllib.
 */
async function fetchRemoteIndex(binhost: Binhost): Promise<RemoteIndex> {
  for (const name of ['Packages.gz', 'Packages'] as const) {
    const url = `${binhost.syncUri}/${name}`;
    const remote = parseRemoteUrl(url);
    if (remote === undefined) return { ok: false, invalidUrl: url };
    const result = await urlopen(remote);
    if (!result.ok) {
      if (result.kind === 'value-error') return { ok: false, invalidUrl: url };
      if (name === 'Packages.gz' && result.status === 404) continue;
      return { ok: false, error: result.message };
    }
    const file = hideUrlPassword(url);
    if (name === 'Packages') return { ok: true, text: new TextDecoder('utf-8').decode(result.body), file, lastModified: result.lastModified };
    if (result.body[0] !== 0x1f || result.body[1] !== 0x8b) return { ok: false, error: notGzippedMessage(result.body) };
    try {
      return { ok: true, text: gunzipPackagesIndex(result.body, { file }), file, lastModified: result.lastModified };
    } catch {
      return { ok: false, error: 'Compressed file ended before the end-of-stream marker was reached' };
    }
  }
  throw new Error('unreachable: the Packages request always answers');
}

/** Python's `int()` on a string. */
function pythonInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*[+-]?\d+(?:_\d+)*\s*$/.test(text)) return undefined;
  return Number(text.trim().replaceAll('_', ''));
}

/** `BASE_URI` of a binhost's packages: the index header's URI, else the binhost's sync-uri. */
function packageBase(binhost: Binhost, headerUri: string | undefined): PackageBase {
  if (headerUri === undefined || headerUri === '') {
    return binhost.kind === 'local' ? { kind: 'local', dir: binhost.dir } : { kind: 'remote', uri: binhost.syncUri };
  }
  if (headerUri.startsWith('/')) return { kind: 'local', dir: posix.normalize(headerUri) };
  if (/^file:/i.test(headerUri) && URL.canParse(headerUri)) return { kind: 'local', dir: posix.normalize(decodeURIComponent(new URL(headerUri).pathname)) };
  if (/^https?:\/\//i.test(headerUri)) return { kind: 'remote', uri: headerUri.replace(/\/+$/, '') };
  return { kind: 'unsupported', uri: headerUri };
}

export interface BinhostReading {
  readonly packages: BinhostPackage[];
  /** What Portage prints on stderr about binhosts it goes on without, each message whole. */
  readonly problems: string[];
  /** Set when urllib's ValueError makes Portage stop: the message it prints before exiting 1. */
  readonly fatal?: string;
}

/**
 * The binhosts' packages, in PORTAGE_BINHOST order. A binhost whose index cannot be had (missing, refused,
 * unreachable, without TIMESTAMP, of an unsupported VERSION) is reported and skipped, as Portage carries on.
 */
export async function readBinhosts(binhosts: readonly Binhost[]): Promise<BinhostReading> {
  const packages: BinhostPackage[] = [];
  const problems: string[] = [];
  for (const binhost of binhosts) {
    let index: { text: string; file: string; lastModified: boolean };
    if (binhost.kind === 'local') {
      const local = await readIndexText(binhost.dir);
      if (local === undefined) {
        problems.push(binhostFetchErrorMessage(binhost.name, binhost.syncUri, `[Errno 2] No such file or directory: '${posix.join(binhost.dir, 'Packages')}'`));
        continue;
      }
      index = { ...local, lastModified: false };
    } else {
      const remote = await fetchRemoteIndex(binhost);
      if (!remote.ok) {
        if ('invalidUrl' in remote) return { packages, problems, fatal: invalidBinhostMessage(remote.invalidUrl) };
        problems.push(binhostFetchErrorMessage(binhost.name, binhost.syncUri, remote.error));
        continue;
      }
      index = remote;
    }
    const parsed: ParsedPackagesIndex = parsePackagesIndex(index.text, { file: index.file });
    // A Last-Modified answer stands in for the TIMESTAMP header (`remote_timestamp`).
    if (!index.lastModified && !parsed.header.TIMESTAMP) {
      problems.push(binhostNoTimestampMessage(binhost.name));
      continue;
    }
    const version = pythonInt(parsed.header.VERSION);
    if (version === undefined || version > 0) {
      problems.push(binhostVersionMessage(binhost.name, parsed.header.VERSION));
      continue;
    }
    const base = packageBase(binhost, parsed.header.URI);
    for (const { fields } of parsed.packages) {
      const cpv = tryParseCpv(fields.CPV ?? '');
      if (!cpv.ok) continue;
      packages.push({
        cpv: cpv.value.cpv,
        parsed: cpv.value,
        fields,
        base,
        binhost,
        ...slotParts(fields.SLOT),
        use: splitWords(fields.USE),
        iuse: splitWords(fields.IUSE),
        ...(fields.REPO ? { repo: fields.REPO } : {}),
      });
    }
  }
  return { packages, problems };
}

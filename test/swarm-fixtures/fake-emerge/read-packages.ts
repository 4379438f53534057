/**
 * The three places packages come from: the ebuild repository's md5-cache, the installed-package database of
 * ROOT, and the binhosts' `Packages` indexes (Packages.gz first, as Portage 3.0.69+ asks for it first).
 */

import { readdir, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { parseMd5CacheEntry, type Md5CacheEntry } from '../../../src/core/gentoo/parse-md5-cache-entry.ts';
import { tryParseCpv, type Cpv } from '../../../src/core/gentoo/parse-cpv.ts';
import { parseVdbEntry, type VdbPackage } from '../../../src/core/gentoo/parse-vdb-entry.ts';
import { parsePackagesIndex } from '../../../src/core/gentoo/parse-packages-index.ts';
import { gunzipPackagesIndex } from '../../../src/core/gentoo/packages-index-gzip.ts';
import type { ParsedPackagesIndex } from '../../../src/core/gentoo/packages-index.ts';
import type { BinhostPackage, RepoPackage } from './plan-merges.ts';
import type { Binhost } from './read-settings.ts';
import { splitWords } from './package-metadata.ts';

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

/** The installed packages of ROOT (`/var/db/pkg`), skipping `-MERGING-` leftovers and unreadable entries. */
export async function readInstalled(root: string): Promise<VdbPackage[]> {
  const vdb = posix.join(root, 'var/db/pkg');
  const packages: VdbPackage[] = [];
  for (const category of await listDir(vdb)) {
    if (category.startsWith('.')) continue;
    for (const pf of await listDir(posix.join(vdb, category))) {
      if (pf.startsWith('-MERGING-') || pf.startsWith('.')) continue;
      const dir = posix.join(vdb, category, pf);
      const files: Record<string, string> = {};
      for (const name of await listDir(dir)) {
        if (name.endsWith('.bz2')) continue;
        try {
          files[name] = await readFile(posix.join(dir, name), 'utf8');
        } catch (error) {
          if (!isErrno(error, 'ENOENT', 'EISDIR')) throw error;
        }
      }
      const parsed = parseVdbEntry(category, pf, files, { file: dir }).package;
      if (parsed !== undefined) packages.push(parsed);
    }
  }
  return packages;
}

export interface BinhostIndexProblem {
  readonly uri: string;
  readonly message: string;
}

async function readIndexText(dir: string): Promise<{ text: string; file: string } | undefined> {
  const gz = posix.join(dir, 'Packages.gz');
  try {
    return { text: gunzipPackagesIndex(await readFile(gz), { file: gz }), file: gz };
  } catch {
    // Portage ignores any failure on Packages.gz and falls back to Packages.
  }
  const plain = posix.join(dir, 'Packages');
  try {
    return { text: await readFile(plain, 'utf8'), file: plain };
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}

/** The binhosts' packages; a binhost without an index is reported and skipped, as Portage carries on. */
export async function readBinhosts(binhosts: readonly Binhost[]): Promise<{ packages: BinhostPackage[]; problems: BinhostIndexProblem[] }> {
  const packages: BinhostPackage[] = [];
  const problems: BinhostIndexProblem[] = [];
  for (const binhost of binhosts) {
    const index = await readIndexText(binhost.dir);
    if (index === undefined) {
      problems.push({ uri: binhost.uri, message: `[Errno 2] No such file or directory: '${posix.join(binhost.dir, 'Packages')}'` });
      continue;
    }
    const parsed: ParsedPackagesIndex = parsePackagesIndex(index.text, { file: index.file });
    for (const { fields } of parsed.packages) {
      const cpv = tryParseCpv(fields.CPV ?? '');
      if (!cpv.ok) continue;
      packages.push({
        cpv: cpv.value.cpv,
        parsed: cpv.value,
        fields,
        baseDir: binhost.dir,
        uri: binhost.uri,
        ...slotParts(fields.SLOT),
        use: splitWords(fields.USE),
        iuse: splitWords(fields.IUSE),
        ...(fields.REPO ? { repo: fields.REPO } : {}),
      });
    }
  }
  return { packages, problems };
}

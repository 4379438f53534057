/**
 * Paths to the real Gentoo data in test/fixtures/gentoo (see SOURCE.txt there) and synchronous loaders for tests.
 * Fixtures are read-only: a test that needs to change something copies them first.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GENTOO_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/gentoo');
export const CLUSTERHQ_ROOT = join(GENTOO_FIXTURES, 'clusterhq-prefix');
export const CLUSTERHQ_VDB = join(CLUSTERHQ_ROOT, 'var/db/pkg');
export const CLUSTERHQ_MD5_CACHE = join(CLUSTERHQ_ROOT, 'md5-cache-installed');
export const MODERN_MD5_CACHE = join(GENTOO_FIXTURES, 'md5-cache-modern');
export const BASH_VDB_ROOT = join(GENTOO_FIXTURES, 'portage-utils-tests/tests/qfile/root');
export const BASH_VDB_ENTRY = join(BASH_VDB_ROOT, 'app-shells/bash-4.4_p23-r1');
export const XDM_VDB_ENTRY = join(GENTOO_FIXTURES, 'portage-utils-tests/tests/qdepends/root/x11-apps/xdm-1.1.11-r3');

export interface FixtureVdbEntry {
  readonly category: string;
  readonly pf: string;
  readonly files: Record<string, string>;
}

/** The text files of one VDB directory, binary files left out as readVdb leaves them out. */
export function readVdbDirectory(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    if (name === 'environment.bz2' || name.endsWith('.ebuild')) continue;
    files[name] = readFileSync(join(dir, name), 'utf8');
  }
  return files;
}

/** Every CATEGORY/PF directory of a VDB, `-MERGING-` leftovers included. */
export function readFixtureVdb(vdb: string): FixtureVdbEntry[] {
  const entries: FixtureVdbEntry[] = [];
  for (const category of readdirSync(vdb).sort()) {
    for (const pf of readdirSync(join(vdb, category)).sort()) {
      const dir = join(vdb, category, pf);
      if (statSync(dir).isDirectory()) entries.push({ category, pf, files: readVdbDirectory(dir) });
    }
  }
  return entries;
}

/** Every md5-cache entry below `cache` as [CATEGORY/PF, text]. */
export function readMd5CacheFixture(cache: string): [string, string][] {
  const entries: [string, string][] = [];
  for (const category of readdirSync(cache).sort()) {
    const dir = join(cache, category);
    if (!statSync(dir).isDirectory()) continue;
    for (const pf of readdirSync(dir).sort()) entries.push([`${category}/${pf}`, readFileSync(join(dir, pf), 'utf8')]);
  }
  return entries;
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLUSTERHQ_MD5_CACHE, MODERN_MD5_CACHE, readMd5CacheFixture } from '../../../test/support/gentoo-fixtures.ts';
import { parseMd5CacheEntry } from './parse-md5-cache-entry.ts';

describe('parseMd5CacheEntry', () => {
  it('reads the real virtual/libcrypt-2-r1 entry', () => {
    const { entry, diagnostics } = parseMd5CacheEntry(readFileSync(join(MODERN_MD5_CACHE, 'virtual/libcrypt-2-r1'), 'utf8'));
    expect(diagnostics).toEqual([]);
    expect(entry).toMatchObject({
      eapi: '7',
      md5: '9fba7c67fd42e02aea1a5c70c8c4550e',
      inherit: ['multilib-build'],
      values: { SLOT: '0/2', DEFINED_PHASES: '-', DESCRIPTION: 'Virtual for libcrypt.so' },
    });
    expect(entry.eclasses).toEqual([
      { name: 'out-of-source-utils', md5: 'dbf9e34ee8964084651e25907fa8f52c' },
      { name: 'multibuild', md5: '4650a65187015567b4e041bb9bfdb364' },
      { name: 'toolchain-funcs', md5: '98d9f464d912ae6b7316fb8a3721f5db' },
      { name: 'multilib', md5: 'a199af442898963433d6f038a88cce9c' },
      { name: 'multilib-build', md5: '9ac26ea006828266d235e2f0135429b5' },
    ]);
    expect(entry.values.RDEPEND).toMatch(/^!prefix-guest\? \( elibc_glibc\? \( sys-libs\/libxcrypt\[system\(-\),/);
  });

  it('reads all 138 real entries; the 2014 ones have _eclasses_ but no INHERIT', () => {
    const old = readMd5CacheFixture(CLUSTERHQ_MD5_CACHE).map(([name, text]) => parseMd5CacheEntry(text, { file: name }));
    const modern = readMd5CacheFixture(MODERN_MD5_CACHE).map(([name, text]) => parseMd5CacheEntry(text, { file: name }));
    expect(old).toHaveLength(135);
    expect(modern).toHaveLength(3);
    for (const { entry, diagnostics } of [...old, ...modern]) {
      expect(diagnostics).toEqual([]);
      expect(entry.md5).toMatch(/^[0-9a-f]{32}$/);
      for (const eclass of entry.eclasses) expect(eclass.md5).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(old.every(({ entry }) => entry.inherit.length === 0)).toBe(true);
    expect(old.filter(({ entry }) => entry.eclasses.length > 0).length).toBeGreaterThan(80);
    expect(modern.every(({ entry }) => entry.inherit.length > 0)).toBe(true);
  });

  it('reports corrupt lines and an odd _eclasses_ list, keeping the rest', () => {
    const { entry, diagnostics } = parseMd5CacheEntry('EAPI=8\ngarbage\n_eclasses_=a\t0123\tb\nSLOT=0\n', { file: 'cache/x-1' });
    expect(entry).toMatchObject({ eapi: '8', values: { SLOT: '0' }, eclasses: [{ name: 'a', md5: '0123' }], inherit: [] });
    expect(entry.md5).toBeUndefined();
    expect(diagnostics).toEqual([
      expect.objectContaining({ file: 'cache/x-1', line: 2, message: 'a cache line has no =' }),
      expect.objectContaining({ field: '_eclasses_', message: '_eclasses_ does not hold name/md5 pairs' }),
    ]);
  });

  it('keeps = signs inside values and defaults EAPI to 0', () => {
    const { entry } = parseMd5CacheEntry('SRC_URI=https://x/y?a=b\n');
    expect(entry.values.SRC_URI).toBe('https://x/y?a=b');
    expect(entry.eapi).toBe('0');
  });
});

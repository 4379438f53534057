import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLUSTERHQ_MD5_CACHE, CLUSTERHQ_VDB } from '../../../test/support/gentoo-fixtures.ts';
import { isValidCategory, isValidPackageName, parseCpv, splitPackageVersion, trySplitPackageVersion, tryParseCpv } from './parse-cpv.ts';
import { isPmsVersion } from './parse-version.ts';

describe('splitPackageVersion', () => {
  it.each([
    ['bash-4.4_p23-r1', 'bash', '4.4_p23', 'r1', '4.4_p23-r1'],
    ['libxcrypt-4.4.33', 'libxcrypt', '4.4.33', 'r0', '4.4.33'],
    ['gtk+-2.24.33-r1', 'gtk+', '2.24.33', 'r1', '2.24.33-r1'],
    ['font-adobe-100dpi-1.0.3', 'font-adobe-100dpi', '1.0.3', 'r0', '1.0.3'],
    ['foo-1-r0', 'foo', '1', 'r0', '1-r0'],
    ['tmux-1.9a', 'tmux', '1.9a', 'r0', '1.9a'],
    ['mpfr-3.1.2_p5', 'mpfr', '3.1.2_p5', 'r0', '3.1.2_p5'],
    ['lz4-0_p120', 'lz4', '0_p120', 'r0', '0_p120'],
    ['python-updater-0.10-r02.1', 'python-updater', '0.10', 'r02.1', '0.10-r02.1'],
    ['foo-bar2-3', 'foo-bar2', '3', 'r0', '3'],
    ['x-1_beta-r1', 'x', '1_beta', 'r1', '1_beta-r1'],
  ])('splits %s into %s / %s / %s', (pf, pn, version, revision, pvr) => {
    expect(splitPackageVersion(pf)).toMatchObject({ pn, version, revision, pvr });
  });

  it.each([
    ['bash', 'no hyphen is followed by a valid version'],
    ['bash-', 'no hyphen is followed by a valid version'],
    ['bash-x', 'no hyphen is followed by a valid version'],
    ['-1.0', 'the package name has characters PMS does not allow'],
    ['foo-1-2', 'the package name ends in a hyphen and a version'],
    ['foo-1.0-r1-2', 'the package name ends in a hyphen and a version'],
    ['fo o-1', 'the package name has characters PMS does not allow'],
    ['+foo-1', 'the package name has characters PMS does not allow'],
    ['-MERGING-getent-0', 'the package name has characters PMS does not allow'],
  ])('refuses %s: %s', (pf, reason) => {
    expect(trySplitPackageVersion(pf)).toEqual({ ok: false, reason });
  });

  it('throws ARGO_VERSION_INVALID naming the text', () => {
    expect(() => splitPackageVersion('bash')).toThrow(expect.objectContaining({ code: 'ARGO_VERSION_INVALID', message: expect.stringContaining('"bash"') }));
  });

  it('splits every real VDB directory name, and only the Prefix ones leave PMS', () => {
    const nonPms: string[] = [];
    let count = 0;
    for (const category of readdirSync(CLUSTERHQ_VDB)) {
      for (const pf of readdirSync(join(CLUSTERHQ_VDB, category))) {
        if (pf.startsWith('-MERGING-')) continue;
        const split = splitPackageVersion(pf);
        count += 1;
        expect(`${split.pn}-${split.pvr}`).toBe(pf);
        if (!isPmsVersion(split.pvr)) nonPms.push(pf);
      }
    }
    expect(count).toBe(136);
    expect(nonPms.sort()).toEqual(['binutils-config-3-r03.1', 'gcc-config-1.8-r00.1', 'python-updater-0.10-r02.1']);
  });

  it('splits every md5-cache entry name of the installed packages', () => {
    const names = readdirSync(CLUSTERHQ_MD5_CACHE).flatMap((category) => readdirSync(join(CLUSTERHQ_MD5_CACHE, category)).map((pf) => `${category}/${pf}`));
    expect(names).toHaveLength(135);
    for (const name of names) expect(tryParseCpv(name).ok).toBe(true);
  });
});

describe('parseCpv', () => {
  it('adds the category and keeps the text', () => {
    expect(parseCpv('sys-libs/libxcrypt-4.4.33')).toMatchObject({
      category: 'sys-libs',
      cp: 'sys-libs/libxcrypt',
      cpv: 'sys-libs/libxcrypt-4.4.33',
      pf: 'libxcrypt-4.4.33',
      pn: 'libxcrypt',
      version: '4.4.33',
    });
  });

  it.each([
    ['libxcrypt-4.4.33', 'a package needs a category: CATEGORY/NAME-VERSION'],
    ['.sys/foo-1', 'the category has characters PMS does not allow'],
    ['sys-libs/', 'no hyphen is followed by a valid version'],
    ['a/b/c-1', 'the package name has characters PMS does not allow'],
  ])('refuses %s: %s', (text, reason) => {
    expect(tryParseCpv(text)).toEqual({ ok: false, reason });
  });

  it('throws ARGO_ATOM_INVALID for an invalid CPV', () => {
    expect(() => parseCpv('nocategory-1')).toThrow(expect.objectContaining({ code: 'ARGO_ATOM_INVALID' }));
  });
});

describe('name rules', () => {
  it.each([
    ['sys-libs', true],
    ['virtual', true],
    ['dev-perl', true],
    ['x11-libs', true],
    ['-cat', false],
    ['.cat', false],
    ['+cat', false],
    ['cat/x', false],
    ['', false],
  ])('category %j valid: %s', (name, valid) => {
    expect(isValidCategory(name)).toBe(valid);
  });

  it.each([
    ['bash', true],
    ['gtk+', true],
    ['font-adobe-100dpi', true],
    ['foo-1', false],
    ['foo-1.0-r1', false],
    ['foo-1a', false],
    ['-foo', false],
    ['+foo', false],
    ['foo.bar', false],
    ['', false],
  ])('package name %j valid: %s', (name, valid) => {
    expect(isValidPackageName(name)).toBe(valid);
  });
});

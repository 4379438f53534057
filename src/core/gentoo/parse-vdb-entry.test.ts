import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASH_VDB_ENTRY, CLUSTERHQ_VDB, readFixtureVdb, readVdbDirectory } from '../../../test/support/gentoo-fixtures.ts';
import { parseVdbEntry } from './parse-vdb-entry.ts';

describe('parseVdbEntry', () => {
  it('reads the complete real bash entry', () => {
    const { package: bash, diagnostics } = parseVdbEntry('app-shells', 'bash-4.4_p23-r1', readVdbDirectory(BASH_VDB_ENTRY));
    expect(diagnostics).toEqual([]);
    expect(bash).toMatchObject({
      category: 'app-shells',
      pf: 'bash-4.4_p23-r1',
      cpv: 'app-shells/bash-4.4_p23-r1',
      cp: 'app-shells/bash',
      pn: 'bash',
      version: '4.4_p23',
      revision: 'r1',
      pvr: '4.4_p23-r1',
      slot: '0',
      subSlot: '0',
      repo: 'gentoo',
      eapi: '6',
      use: ['abi_x86_64', 'amd64', 'elibc_glibc', 'kernel_linux', 'net', 'nls', 'readline', 'userland_GNU'],
      iuse: ['afs', 'bashlogger', 'examples', 'mem-scramble', '+net', 'nls', 'plugins', '+readline'],
      pkgUse: [],
      depend: '>=sys-libs/ncurses-5.2-r2:0/6= >=sys-libs/readline-7.0:0/7= virtual/libintl',
      rdepend: '>=sys-libs/ncurses-5.2-r2:0/6= >=sys-libs/readline-7.0:0/7= virtual/libintl !<sys-apps/portage-2.1.6.7_p1',
      bdepend: '',
      license: 'GPL-3',
      description: 'The standard GNU Bourne again shell',
      buildSettings: {
        CBUILD: 'x86_64-pc-linux-gnu',
        CFLAGS: '-O3 -march=native -pipe',
        CHOST: 'x86_64-pc-linux-gnu',
        CXXFLAGS: '-O3 -march=native -pipe',
        LDFLAGS: '-Wl,-O1 -Wl,--as-needed',
      },
      buildTime: 1547713708,
      size: 8259979,
      counter: 4119,
      provides: {},
      requires: { x86_64: ['libc.so.6', 'libreadline.so.7'] },
      needed: [{ path: '/bin/bash', needed: ['libreadline.so.7', 'libc.so.6'] }],
      neededElf2: [{ arch: 'X86_64', path: '/bin/bash', soname: '', runpaths: [], needed: ['libreadline.so.7', 'libc.so.6'], multilibCategory: 'x86_64' }],
    });
    expect(bash?.iuseEffective).toContain('elibc_glibc');
    expect(bash?.inherited).toContain('toolchain-funcs');
    expect(bash?.contents).toContainEqual({ type: 'sym', path: '/usr/share/info/bashref.info.bz2', target: 'bash.info.bz2', mtime: 1547713709 });
    expect(bash?.values.COUNTER).toBe('4119');
    expect(bash?.eprefix).toBeUndefined();
  });

  it('reads every real Prefix entry; the Gentoo Prefix revisions included', () => {
    const results = readFixtureVdb(CLUSTERHQ_VDB)
      .filter(({ pf }) => !pf.startsWith('-MERGING-'))
      .map(({ category, pf, files }) => parseVdbEntry(category, pf, files));
    expect(results).toHaveLength(136);
    for (const result of results) {
      expect(result.diagnostics).toEqual([]);
      expect(result.package?.eprefix).toBe('/home/core/gentoo');
      expect(result.package?.counter).toEqual(expect.any(Number));
    }
    const glibc = results.find((result) => result.package?.pn === 'glibc')?.package;
    expect(glibc).toMatchObject({ slot: '2.2', subSlot: '2.2', repo: 'gentoo_prefix', counter: 502, restrict: 'strip' });
    expect(glibc?.buildSettings).toMatchObject({ CC: 'x86_64-pc-linux-gnu-gcc', CTARGET: 'x86_64-pc-linux-gnu' });
    expect(glibc?.values.DEBUGBUILD).toBe('');
    expect(glibc?.contents).toHaveLength(1551);
    expect(results.find((result) => result.package?.pn === 'gcc-config')?.package).toMatchObject({ version: '1.8', revision: 'r00.1' });
  });

  it.each([
    ['SLOT', '0/1', { slot: '0', subSlot: '1' }],
    ['SLOT', '  2.2\n', { slot: '2.2', subSlot: '2.2' }],
    ['PKGUSE', '-compat system\n', { pkgUse: ['-compat', 'system'] }],
    ['PROVIDES', 'x86_32: libcrypt.so.1 x86_64: libcrypt.so.1 libcrypt.so.2\n', { provides: { x86_32: ['libcrypt.so.1'], x86_64: ['libcrypt.so.1', 'libcrypt.so.2'] } }],
    ['EXTRA_ECONF', '--enable-hashes=yescrypt\n', { buildSettings: { EXTRA_ECONF: '--enable-hashes=yescrypt' } }],
    ['QA_PREBUILT', '/opt/*\n', { buildSettings: { QA_PREBUILT: '/opt/*' } }],
    ['BUILD_ID', '3\n', { buildId: 3 }],
    ['BINPKGMD5', 'a7ded160e1d0e2debd18c1c2ffa9842f\n', { binpkgMd5: 'a7ded160e1d0e2debd18c1c2ffa9842f' }],
    ['REPO_REVISIONS', '{"gentoo": "ab3ee1a3bb6e"}\n', { repoRevisions: { gentoo: 'ab3ee1a3bb6e' } }],
    ['DESCRIPTION', 'Two\tspaced  words \n', { description: 'Two spaced words' }],
    ['EAPI', '8\n', { eapi: '8' }],
  ])('reads %s = %j', (name, content, expected) => {
    const { package: pkg, diagnostics } = parseVdbEntry('sys-libs', 'libxcrypt-4.4.33', { SLOT: '0/1\n', [name]: content });
    expect(diagnostics).toEqual([]);
    expect(pkg).toMatchObject(expected);
  });

  it('defaults EAPI to 0 and the slot to 0, reporting the missing SLOT', () => {
    const { package: pkg, diagnostics } = parseVdbEntry('app-misc', 'foo-1', {});
    expect(pkg).toMatchObject({ eapi: '0', slot: '0', subSlot: '0', use: [], depend: '', contents: [], provides: {} });
    expect(pkg?.repo).toBeUndefined();
    expect(diagnostics).toEqual([expect.objectContaining({ file: 'app-misc/foo-1/SLOT', action: 'defaulted' })]);
  });

  it.each([
    ['COUNTER', 'x12', 'the value is not a whole number'],
    ['SIZE', '-1', 'the value is not a whole number'],
    ['REPO_REVISIONS', '[1]', 'REPO_REVISIONS is not a JSON object'],
    ['CATEGORY', 'sys-apps\n', 'the CATEGORY file disagrees with the directory name'],
    ['PF', 'foo-2\n', 'the PF file disagrees with the directory name'],
    ['REQUIRES', 'libc.so.6', 'a soname comes before any category'],
    ['NEEDED.ELF.2', 'X86_64;/x', 'a NEEDED.ELF.2 line has fewer than 5 ;-separated fields'],
  ])('reports a bad %s (%j)', (name, content, message) => {
    const { package: pkg, diagnostics } = parseVdbEntry('app-misc', 'foo-1', { SLOT: '0', [name]: content }, { file: '/var/db/pkg/app-misc/foo-1' });
    expect(pkg).toBeDefined();
    expect(diagnostics).toEqual([expect.objectContaining({ message, file: expect.stringMatching(/^\/var\/db\/pkg\/app-misc\/foo-1\//) })]);
  });

  it('gives no package for a directory name that is not CATEGORY/NAME-VERSION', () => {
    const result = parseVdbEntry('sys-apps', '-MERGING-getent-0', { SLOT: '0' });
    expect(result.package).toBeUndefined();
    expect(result.diagnostics).toEqual([expect.objectContaining({ file: 'sys-apps/-MERGING-getent-0', action: 'ignored' })]);
  });

  it('parses CONTENTS only when it is read, and once', () => {
    const files = readVdbDirectory(join(CLUSTERHQ_VDB, 'sys-libs/glibc-2.19-r1'));
    const { package: glibc } = parseVdbEntry('sys-libs', 'glibc-2.19-r1', files);
    const first = glibc?.contents;
    expect(first).toHaveLength(1551);
    expect(glibc?.contents).toBe(first);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLUSTERHQ_ROOT } from '../../../test/support/gentoo-fixtures.ts';
import { parsePackageUse, splitConfigLine } from './parse-package-use.ts';
import { resolvePackageUse } from './resolve-package-use.ts';

const summary = (text: string, options = {}) =>
  parsePackageUse(text, options).entries.map((entry) => [entry.line, entry.atomText, entry.flags]);

describe('parsePackageUse', () => {
  it('reads atoms, flags and line numbers in file order', () => {
    const text = [
      '# USE flags per package',
      'sys-auth/pambase sha512',
      '',
      'sys-libs/glibc multiarch',
      '#sys-libs/pam filecaps #base',
      '  net-misc/openssh   pam\t-X  ',
      '>=sys-libs/libxcrypt-4.4:0::gentoo system -static-libs',
      '*/* -doc',
      'dev-libs/* python_targets_python3_12',
    ].join('\n');
    expect(summary(text)).toEqual([
      [2, 'sys-auth/pambase', ['sha512']],
      [4, 'sys-libs/glibc', ['multiarch']],
      [6, 'net-misc/openssh', ['pam', '-X']],
      [7, '>=sys-libs/libxcrypt-4.4:0::gentoo', ['system', '-static-libs']],
      [8, '*/*', ['-doc']],
      [9, 'dev-libs/*', ['python_targets_python3_12']],
    ]);
  });

  it('drops everything from a word starting with #, as grabdict does', () => {
    expect(summary('sys-libs/pam filecaps #base nls\n')).toEqual([[1, 'sys-libs/pam', ['filecaps']]]);
    expect(splitConfigLine('a b#c #d e')).toEqual(['a', 'b#c']);
  });

  it.each([
    ['*/* VIDEO_CARDS: -* radeon', ['-video_cards_*', 'video_cards_radeon']],
    ['media-libs/mesa VIDEO_CARDS: intel -nouveau INPUT_DEVICES: libinput', ['video_cards_intel', '-video_cards_nouveau', 'input_devices_libinput']],
    ['app-misc/foo bar L10N: de', ['bar', 'l10n_de']],
  ])('expands USE_EXPAND groups in %j', (line, flags) => {
    expect(parsePackageUse(line).entries[0]?.flags).toEqual(flags);
    expect(parsePackageUse(line).entries[0]?.tokens).toEqual(line.split(' ').slice(1));
  });

  it('ends a USE_EXPAND group at the end of its line', () => {
    expect(summary('*/* VIDEO_CARDS: radeon\n*/* intel\n').map(([, , flags]) => flags)).toEqual([['video_cards_radeon'], ['intel']]);
  });

  it('leaves words alone without group expansion (package.env, package.accept_keywords)', () => {
    expect(parsePackageUse('sys-libs/glibc ~* FOO: bar', { useExpandGroups: false }).entries[0]?.flags).toEqual(['~*', 'FOO:', 'bar']);
  });

  it.each([
    ['glibc multiarch', 'invalid atom: an atom needs a category: category/name'],
    ['sys-libs/glibc-2.19 multiarch', 'invalid atom: a version needs an operator such as = or >='],
    ['sys-libs/glibc[crypt] x', 'atoms in this file may not have USE dependencies'],
  ])('reports and ignores %j', (line, message) => {
    const result = parsePackageUse(`sys-libs/pam nls\n${line}\n`, { file: '/etc/portage/package.use/local' });
    expect(result.entries).toHaveLength(1);
    expect(result.diagnostics).toEqual([{ file: '/etc/portage/package.use/local', line: 2, field: line.split(' ')[0], message, action: 'ignored' }]);
  });

  it('keeps a blocker atom as Portage does, with a diagnostic', () => {
    const result = parsePackageUse('!sys-libs/glibc x\n');
    expect(result.entries.map((entry) => entry.atom.cp)).toEqual(['sys-libs/glibc']);
    expect(result.diagnostics).toEqual([expect.objectContaining({ line: 1, action: 'kept' })]);
  });

  it('reads the real package.accept_keywords and package.mask', () => {
    const keywords = parsePackageUse(readFileSync(join(CLUSTERHQ_ROOT, 'etc/portage/package.accept_keywords'), 'utf8'), { useExpandGroups: false });
    expect(keywords.diagnostics).toEqual([]);
    expect(keywords.entries.map((entry) => [entry.atomText, entry.tokens])).toEqual([
      ['sys-libs/glibc', ['~*']],
      ['virtual/modutils', ['amd64']],
      ['virtual/linux-sources', ['amd64']],
      ['sys-kernel/spl', ['~amd64']],
      ['sys-fs/zfs-kmod', ['~amd64']],
      ['sys-fs/zfs', ['~amd64']],
      ['sys-apps/kmod', ['amd64']],
    ]);
    const mask = parsePackageUse(readFileSync(join(CLUSTERHQ_ROOT, 'etc/portage/package.mask'), 'utf8'), { useExpandGroups: false });
    expect(mask.diagnostics).toEqual([]);
    expect(mask.entries.map((entry) => [entry.atom.operator, entry.atom.cp, entry.tokens])).toEqual([['=', 'sys-apps/gawk', []]]);
  });
});

describe('resolvePackageUse', () => {
  const file = [
    '*/* -doc VIDEO_CARDS: -* radeon', // 1: wildcard
    'dev-libs/* doc', // 2: wildcard
    'sys-libs/libxcrypt -system', // 3: plain
    '>=sys-libs/libxcrypt-4.4.30 static-libs', // 4: ranged
    '=sys-libs/libxcrypt-4.4.33 system', // 5: exact
    'sys-libs/libxcrypt:0 compat', // 6: slot
    'sys-libs/libxcrypt test', // 7: same atom as line 3, merged with it
    '<sys-libs/libxcrypt-5 -static-libs', // 8: ranged, tie with line 4
    'sys-libs/glibc multiarch', // 9: other package
  ].join('\n');
  const entries = parsePackageUse(file).entries;

  it('orders by atom specificity, not by file order, so the most specific atom wins', () => {
    const resolved = resolvePackageUse(entries, { cpv: 'sys-libs/libxcrypt-4.4.33', slot: '0', subSlot: '1', repo: 'gentoo' });
    expect(resolved.entries.map((entry) => entry.line)).toEqual([1, 3, 7, 8, 4, 6, 5]);
    expect(resolved.flags).toEqual(['-doc', '-video_cards_*', 'video_cards_radeon', '-system', 'test', '-static-libs', 'static-libs', 'compat', 'system']);
  });

  it('prefers, among >= and < atoms, the one closest to the package version', () => {
    const closerFirst = parsePackageUse('>=cat/pkg-2 a\n>=cat/pkg-1 b\n').entries;
    expect(resolvePackageUse(closerFirst, { cpv: 'cat/pkg-3' }).flags).toEqual(['b', 'a']);
    const closerLast = parsePackageUse('>=cat/pkg-1 b\n>=cat/pkg-2 a\n').entries;
    expect(resolvePackageUse(closerLast, { cpv: 'cat/pkg-3' }).flags).toEqual(['b', 'a']);
  });

  it('applies the first-listed of two equally specific wildcard atoms last, as Portage does', () => {
    const wildcards = parsePackageUse('*/* a\ndev-libs/* -a\n').entries;
    expect(resolvePackageUse(wildcards, { cpv: 'dev-libs/foo-1' }).flags).toEqual(['-a', 'a']);
  });

  it('gives nothing for a package no line matches', () => {
    expect(resolvePackageUse(entries.slice(2), { cpv: 'app-shells/bash-5.2' })).toEqual({ flags: [], entries: [] });
  });
});

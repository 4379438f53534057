import { describe, expect, it } from 'vitest';
import { findMatches, matchAtom, type PackageRef } from './match-atom.ts';
import { parseAtom } from './parse-atom.ts';

/**
 * A package as Portage's test_match_from_list builds it from an atom: slot from `:slot/sub` (default 0), repo from
 * `::repo`, enabled USE from the `[a,-b]` flags and IUSE = the flags written without a default.
 */
function pkg(text: string): PackageRef & { label: string } {
  const atom = parseAtom(text.startsWith('=') ? text : `=${text}`);
  const cpv = `${atom.cp}-${atom.version?.text ?? ''}`;
  return {
    label: atom.repo === undefined ? cpv : `${cpv}::${atom.repo}`,
    cpv,
    slot: atom.slot ?? '0',
    ...(atom.subSlot === undefined ? {} : { subSlot: atom.subSlot }),
    ...(atom.repo === undefined ? {} : { repo: atom.repo }),
    use: atom.use.filter((dep) => dep.kind === 'enabled').map((dep) => dep.flag),
    iuse: atom.use.filter((dep) => dep.missing === undefined).map((dep) => dep.flag),
  };
}

/** A bare CPV: Portage checks nothing but the version for strings. */
function cpv(text: string): PackageRef & { label: string } {
  return { label: text, cpv: text };
}

/** lib/portage/tests/dep/test_match_from_list.py. */
const PORTAGE_CASES: [string, (PackageRef & { label: string })[], string[]][] = [
  ['=sys-apps/portage-45*', [], []],
  ['=sys-apps/portage-45*', [cpv('sys-apps/portage-045')], ['sys-apps/portage-045']],
  ['!=sys-apps/portage-45*', [cpv('sys-apps/portage-045')], ['sys-apps/portage-045']],
  ['!!=sys-apps/portage-45*', [cpv('sys-apps/portage-045')], ['sys-apps/portage-045']],
  ['=sys-apps/portage-045', [cpv('sys-apps/portage-045')], ['sys-apps/portage-045']],
  ['=sys-apps/portage-045', [cpv('sys-apps/portage-046')], []],
  ['~sys-apps/portage-045', [cpv('sys-apps/portage-045-r1')], ['sys-apps/portage-045-r1']],
  ['~sys-apps/portage-045', [cpv('sys-apps/portage-046-r1')], []],
  ['<=sys-apps/portage-045', [cpv('sys-apps/portage-045')], ['sys-apps/portage-045']],
  ['<=sys-apps/portage-045', [cpv('sys-apps/portage-046')], []],
  ['<sys-apps/portage-046', [cpv('sys-apps/portage-045')], ['sys-apps/portage-045']],
  ['<sys-apps/portage-046', [cpv('sys-apps/portage-046')], []],
  ['>=sys-apps/portage-045', [cpv('sys-apps/portage-045')], ['sys-apps/portage-045']],
  ['>=sys-apps/portage-047', [cpv('sys-apps/portage-046-r1')], []],
  ['>sys-apps/portage-044', [cpv('sys-apps/portage-045')], ['sys-apps/portage-045']],
  ['>sys-apps/portage-047', [cpv('sys-apps/portage-046-r1')], []],
  ['sys-apps/portage:0', [pkg('=sys-apps/portage-045:0')], ['sys-apps/portage-045']],
  ['sys-apps/portage:0', [pkg('=sys-apps/portage-045:1')], []],
  ['=cat/pkg-1-r1*', [cpv('cat/pkg-1_alpha1')], []],
  ['=cat/pkg-1.1*', [cpv('cat/pkg-1.1-r1'), cpv('cat/pkg-1.10-r1')], ['cat/pkg-1.1-r1']],
  ['=cat/pkg-1-r1*', [cpv('cat/pkg-1-r11')], []],
  ['=cat/pkg-1_pre*', [cpv('cat/pkg-1_pre1')], ['cat/pkg-1_pre1']],
  ['=cat/pkg-1-r1*', [cpv('cat/pkg-1-r1')], ['cat/pkg-1-r1']],
  ['=cat/pkg-1-r11*', [cpv('cat/pkg-1-r11')], ['cat/pkg-1-r11']],
  ['=cat/pkg-1-r11*', [cpv('cat/pkg-01-r11')], ['cat/pkg-01-r11']],
  ['=cat/pkg-01-r11*', [cpv('cat/pkg-1-r11')], ['cat/pkg-1-r11']],
  ['=cat/pkg-01-r11*', [cpv('cat/pkg-001-r11')], ['cat/pkg-001-r11']],
  ['=sys-fs/udev-1*', [cpv('sys-fs/udev-123'), cpv('sys-fs/udev-123-r1')], []],
  ['=sys-fs/udev-123*', [cpv('sys-fs/udev-123')], ['sys-fs/udev-123']],
  ['=sys-fs/udev-123*', [cpv('sys-fs/udev-123-r1')], ['sys-fs/udev-123-r1']],
  ['=sys-fs/udev-4*', [cpv('sys-fs/udev-456'), cpv('sys-fs/udev-456-r1')], []],
  ['=sys-fs/udev-456*', [cpv('sys-fs/udev-456')], ['sys-fs/udev-456']],
  ['*/*', [cpv('sys-fs/udev-456')], ['sys-fs/udev-456']],
  ['*/*:0', [pkg('=sys-fs/udev-456:0')], ['sys-fs/udev-456']],
  ['*/*:1', [pkg('=sys-fs/udev-456:0')], []],
  ['sys-fs/*', [cpv('sys-fs/udev-456')], ['sys-fs/udev-456']],
  ['*/udev', [cpv('sys-fs/udev-456')], ['sys-fs/udev-456']],
  ['=sys-apps/portage-2*', [cpv('sys-apps/portage-2.1')], ['sys-apps/portage-2.1']],
  ['=sys-apps/portage-2.1*', [cpv('sys-apps/portage-2.1.2')], ['sys-apps/portage-2.1.2']],
  ['dev-libs/*', [cpv('sys-apps/portage-2.1.2')], []],
  ['*/tar', [cpv('sys-apps/portage-2.1.2')], []],
  ['*/*', [cpv('dev-libs/A-1'), cpv('dev-libs/B-1')], ['dev-libs/A-1', 'dev-libs/B-1']],
  ['dev-libs/*', [cpv('dev-libs/A-1'), cpv('sci-libs/B-1')], ['dev-libs/A-1']],
  ['dev-libs/A[foo]', [pkg('=dev-libs/A-1[foo]'), pkg('=dev-libs/A-2[-foo]')], ['dev-libs/A-1']],
  ['dev-libs/A[-foo]', [pkg('=dev-libs/A-1[foo]'), pkg('=dev-libs/A-2[-foo]')], ['dev-libs/A-2']],
  ['dev-libs/A[-foo]', [pkg('=dev-libs/A-1[foo]'), pkg('=dev-libs/A-2')], []],
  ['dev-libs/A[foo,bar]', [pkg('=dev-libs/A-1[foo]'), pkg('=dev-libs/A-2[-foo]')], []],
  ['dev-libs/A[foo,bar]', [pkg('=dev-libs/A-1[foo]'), pkg('=dev-libs/A-2[-foo,bar]')], []],
  ['dev-libs/A[foo,bar]', [pkg('=dev-libs/A-1[foo]'), pkg('=dev-libs/A-2[foo,bar]')], ['dev-libs/A-2']],
  ['dev-libs/A[foo,bar(+)]', [pkg('=dev-libs/A-1[-foo]'), pkg('=dev-libs/A-2[foo]')], ['dev-libs/A-2']],
  ['dev-libs/A[foo,bar(-)]', [pkg('=dev-libs/A-1[-foo]'), pkg('=dev-libs/A-2[foo]')], []],
  ['dev-libs/A[foo,-bar(-)]', [pkg('=dev-libs/A-1[-foo,bar]'), pkg('=dev-libs/A-2[foo]')], ['dev-libs/A-2']],
  ['dev-libs/A::repo1', [pkg('=dev-libs/A-1::repo1'), pkg('=dev-libs/A-1::repo2')], ['dev-libs/A-1::repo1']],
  ['dev-libs/A::repo2', [pkg('=dev-libs/A-1::repo1'), pkg('=dev-libs/A-1::repo2')], ['dev-libs/A-1::repo2']],
  ['dev-libs/A::repo2[foo]', [pkg('=dev-libs/A-1::repo1[foo]'), pkg('=dev-libs/A-1::repo2[-foo]')], []],
  ['dev-libs/A::repo2[foo]', [pkg('=dev-libs/A-1::repo1[-foo]'), pkg('=dev-libs/A-1::repo2[foo]')], ['dev-libs/A-1::repo2']],
  ['dev-libs/A:1::repo2[foo]', [pkg('=dev-libs/A-1:1::repo1'), pkg('=dev-libs/A-1:2::repo2')], []],
  ['dev-libs/A:1::repo2[foo]', [pkg('=dev-libs/A-1:2::repo1'), pkg('=dev-libs/A-1:1::repo2[foo]')], ['dev-libs/A-1::repo2']],
  ['virtual/ffmpeg:0/53', [pkg('=virtual/ffmpeg-0.10.3:0/53')], ['virtual/ffmpeg-0.10.3']],
  ['virtual/ffmpeg:0/53=', [pkg('=virtual/ffmpeg-0.10.3:0/53')], ['virtual/ffmpeg-0.10.3']],
  ['virtual/ffmpeg:0/52', [pkg('=virtual/ffmpeg-0.10.3:0/53')], []],
  ['virtual/ffmpeg:=', [pkg('=virtual/ffmpeg-0.10.3:0/53')], ['virtual/ffmpeg-0.10.3']],
  ['virtual/ffmpeg:0=', [pkg('=virtual/ffmpeg-0.10.3:0/53')], ['virtual/ffmpeg-0.10.3']],
  ['virtual/ffmpeg:*', [pkg('=virtual/ffmpeg-0.10.3:0/53')], ['virtual/ffmpeg-0.10.3']],
  ['virtual/ffmpeg:0', [pkg('=virtual/ffmpeg-0.10.3:0/53')], ['virtual/ffmpeg-0.10.3']],
  ['sys-libs/db:4.8/4.8', [pkg('=sys-libs/db-4.8.30:4.8')], ['sys-libs/db-4.8.30']],
  ['sys-libs/db:4.8/4.8=', [pkg('=sys-libs/db-4.8.30:4.8')], ['sys-libs/db-4.8.30']],
  ['sys-libs/db:4.8=', [pkg('=sys-libs/db-4.8.30:4.8')], ['sys-libs/db-4.8.30']],
  ['sys-libs/db:*', [pkg('=sys-libs/db-4.8.30:4.8')], ['sys-libs/db-4.8.30']],
  ['sys-libs/db:4.8/0', [pkg('=sys-libs/db-4.8.30:4.8')], []],
  ['sys-libs/db:4.8/0=', [pkg('=sys-libs/db-4.8.30:4.8')], []],
];

describe('findMatches', () => {
  it.each(PORTAGE_CASES)('%s matches %j (Portage test_match_from_list)', (atom, packages, expected) => {
    expect(findMatches(atom, packages).map((match) => match.label)).toEqual(expected);
  });

  it.each([
    ['=cat/pkg-1.0', 'cat/pkg-1.0-r0', true],
    ['=cat/pkg-1.0', 'cat/pkg-1.00', true],
    ['~cat/pkg-1.0', 'cat/pkg-1.00', false],
    ['~cat/pkg-1.0-r2', 'cat/pkg-1.0', true],
    ['=cat/pkg-1*', 'cat/pkg-1_rc1', true],
    ['=cat/pkg-1*', 'cat/pkg-1b', true],
    ['=cat/pkg-1.2*', 'cat/pkg-1.2b', true],
    ['=cat/pkg-1.2*', 'cat/pkg-1.20', false],
    ['>=sys-devel/gcc-config-1.7', 'sys-devel/gcc-config-1.8-r00.1', true],
    ['<sys-devel/gcc-config-1.8-r1', 'sys-devel/gcc-config-1.8-r00.1', true],
    ['=*/*-*_beta*', 'dev-libs/A-2_beta3', true],
    ['=*/*-*_beta*', 'dev-libs/A-2_rc3', false],
    ['dev-libs/a', 'dev-libs/A-1', false],
    ['s*s-*/portage', 'sys-apps/portage-2.3', true],
    ['*-libs/*', 'sys-libs/glibc-2.19-r1', true],
    ['*-libs/*', 'sys-apps/sed-4', false],
    ['dev-*/*a*b*', 'dev-libs/xaxb-1', true],
    ['dev-*/*a*b*', 'dev-libs/xbxa-1', false],
    ['*/*', 'not-a-cpv', false],
    ['dev-libs/A', 'not a cpv', false],
  ])('%s against %s: %s', (atom, cpvText, expected) => {
    expect(matchAtom(atom, { cpv: cpvText })).toBe(expected);
  });

  it('checks the package sub-slot, defaulting it to the slot', () => {
    expect(matchAtom('dev-libs/A:1/1', { cpv: 'dev-libs/A-1', slot: '1' })).toBe(true);
    expect(matchAtom('dev-libs/A:1/2', { cpv: 'dev-libs/A-1', slot: '1' })).toBe(false);
    expect(matchAtom('dev-libs/A:1/2', { cpv: 'dev-libs/A-1', slot: '1', subSlot: '2' })).toBe(true);
  });

  it('prefers IUSE_EFFECTIVE over IUSE and ignores +/- markers', () => {
    const glibc = { cpv: 'sys-libs/glibc-2.19-r1', use: ['elibc_glibc'], iuse: ['+debug'], iuseEffective: ['+debug', 'elibc_glibc'] };
    expect(matchAtom('sys-libs/glibc[elibc_glibc]', glibc)).toBe(true);
    expect(matchAtom('sys-libs/glibc[-debug]', glibc)).toBe(true);
    expect(matchAtom('sys-libs/glibc[elibc_glibc]', { ...glibc, iuseEffective: undefined })).toBe(false);
  });

  it('ignores conditional USE dependencies until they are evaluated', () => {
    expect(matchAtom('dev-libs/A[foo?,!bar=]', { cpv: 'dev-libs/A-1', use: [], iuse: ['foo', 'bar'] })).toBe(true);
  });

  it('throws ARGO_ATOM_INVALID for an invalid atom string', () => {
    expect(() => matchAtom('dev-libs/A-1', { cpv: 'dev-libs/A-1' })).toThrow(expect.objectContaining({ code: 'ARGO_ATOM_INVALID' }));
  });
});

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEmergePlan, type EmergePlanPackage } from './parse-emerge-plan.ts';

const capture = (name: string): string => readFileSync(new URL(`../../../test/fixtures/emerge-output/${name}`, import.meta.url), 'utf8');
const packagesOf = (name: string): EmergePlanPackage[] =>
  parseEmergePlan(capture(name)).packages.filter((entry): entry is EmergePlanPackage => entry.kind !== 'blocks');
const flag = (name: string, changes: Partial<Record<'enabled' | 'changed' | 'added' | 'removed' | 'forced' | 'feature', boolean>> = {}, expandGroup?: string) => ({
  name,
  enabled: true,
  changed: false,
  added: false,
  removed: false,
  forced: false,
  feature: false,
  ...changes,
  ...(expandGroup === undefined ? {} : { expandGroup }),
});
const off = { enabled: false };

describe('parseEmergePlan on real captured output', () => {
  it('qtile#2500: two verbose upgrades with slots, sub-slots, repositories, USE_EXPAND and sizes', () => {
    const plan = parseEmergePlan(capture('qtile-pr-2500-world-update.txt'));
    expect(plan.diagnostics).toEqual([]);
    expect(plan.packages).toHaveLength(2);
    expect(plan.packages[1]).toEqual({
      kind: 'ebuild',
      line: 6,
      flags: ['U'],
      masks: [],
      depth: 0,
      cpv: 'dev-libs/libinput-1.18.0',
      slot: '0',
      subSlot: '10',
      repo: 'gentoo',
      old: [{ version: '1.17.3', slot: '0', subSlot: '10', repo: 'gentoo' }],
      oldVersion: '1.17.3',
      oldSlot: '0',
      oldRepo: 'gentoo',
      use: [flag('doc', off), flag('test', off), flag('wacom', off, 'INPUT_DEVICES')],
      size: 603 * 1024,
    });
    expect(plan.total).toMatchObject({ packages: 2, upgrades: 2, new: 0, downloadBytes: 617 * 1024 });
  });

  it('qtile#2500: nothing to do', () => {
    const plan = parseEmergePlan(capture('qtile-pr-2500-nothing-to-do.txt'));
    expect([plan.packages, plan.total?.packages, plan.total?.downloadBytes, plan.diagnostics]).toEqual([[], 0, 0, []]);
  });

  it.each([
    ['portage-pr-1644-fetch-unsatisfied.txt', ['R', 'F'], 1],
    ['portage-pr-1644-fetch-satisfied.txt', ['R', 'f'], 0],
  ])('%s: fetch restriction letters and counts', (file, flags, unsatisfied) => {
    const plan = parseEmergePlan(capture(file));
    expect(plan.packages[0]).toMatchObject({
      kind: 'ebuild',
      flags,
      cpv: 'games-fps/unreal-tournament-data-436_p4',
      repo: 'gentoo',
      old: [],
      use: [flag('gog', { changed: true }), flag('bonuspacks', off), flag('cdinstall', off), flag('doc'), flag('es', {}, 'L10N'), flag('fr', {}, 'L10N'), flag('it', {}, 'L10N')],
      size: 11005 * 1024,
    });
    expect(plan.total).toMatchObject({ packages: 1, reinstalls: 1, downloadBytes: 11005 * 1024, fetchRestricted: 1, fetchRestrictedUnsatisfied: unsatisfied });
  });

  it('binary-gentoo#27: forced reinstalls (rR), ABI_X86 groups with forced and changed flags', () => {
    const packages = packagesOf('binary-gentoo-pr-27-update.txt');
    expect(packages.map((entry) => entry.flags.join(''))).toEqual(['U', 'U', 'U', 'U', 'rR', 'U', 'rR', 'rR', 'rR', 'R', 'N', 'R', 'U']);
    expect(packages[11]?.use.filter((entry) => entry.expandGroup === 'ABI_X86')).toEqual([
      flag('32', { changed: true }, 'ABI_X86'),
      flag('64', { forced: true }, 'ABI_X86'),
      flag('x32', { enabled: false, forced: true }, 'ABI_X86'),
    ]);
    expect(packages[9]).toMatchObject({ cpv: 'net-firewall/iptables-1.8.7', slot: '0', subSlot: '1.8.3', size: 0 });
    expect(packages[2]).toMatchObject({ cpv: 'virtual/perl-Carp-1.520.0-r1', oldVersion: '1.500.0-r3', oldRepo: 'gentoo' });
  });

  it('gentoo-on-rpi-64bit#157: binaries without BUILD_ID, a removed PYTHON_TARGETS flag, a new slot', () => {
    const packages = packagesOf('gentoo-on-rpi-64bit-issue-157-binary-update.txt');
    expect(packages.every((entry) => entry.kind === 'binary' && entry.buildId === undefined)).toBe(true);
    expect(packages[0]?.use.find((entry) => entry.name === 'python3_5')).toEqual(flag('python3_5', { enabled: false, changed: true, removed: true }, 'PYTHON_TARGETS'));
    expect(packages[4]?.use.find((entry) => entry.name === 'static-libs')).toEqual(flag('static-libs', { enabled: false, removed: true }));
    expect(packages[2]).toMatchObject({ cpv: 'acct-user/sshd-0', flags: ['N'], repo: 'gentoo', size: 0 });
    expect(packages[7]).toMatchObject({ cpv: 'sys-devel/binutils-2.34', flags: ['N', 'S'], slot: '2.34', oldVersion: '2.33.1', oldSlot: '2.33' });
    expect(packages[1]).toMatchObject({ repo: 'genpi64', oldRepo: 'genpi64', size: 13558 * 1024 });
  });

  it('portage#1194: binary BUILD_IDs split from the CPV in non-verbose output', () => {
    const packages = packagesOf('portage-pr-1194-binary-build-ids.txt');
    expect(packages.slice(0, 4).map((entry) => [entry.kind, entry.cpv, entry.buildId, entry.oldVersion])).toEqual([
      ['binary', 'dev-python/ensurepip-pip-23.3.1', 1, '23.2.1'],
      ['binary', 'sys-devel/binutils-2.40-r9', 1, '2.40-r5'],
      ['binary', 'dev-python/trove-classifiers-2023.11.14', 1, '2023.10.18'],
      ['ebuild', 'dev-python/traitlets-5.13.0', undefined, '5.11.2'],
    ]);
    expect(packages[1]?.use).toEqual([flag('debuginfod', { enabled: false, added: true })]);
    expect(packages[8]?.use).toEqual([flag('pypy3', { enabled: false, forced: true }, 'PYTHON_TARGETS'), flag('python3_12', { enabled: false, added: true }, 'PYTHON_TARGETS')]);
    expect(packages.every((entry) => entry.size === undefined && entry.slot === undefined)).toBe(true);
  });
});

describe('parseEmergePlan on lines written from the formatter grammar', () => {
  const plan = parseEmergePlan(capture('formatter-synthetic-verbose.txt'));
  const byCpv = (cpv: string) => plan.packages.find((entry) => entry.kind !== 'blocks' && entry.cpv === cpv);

  it('reads every entry without a diagnostic, and the Total agrees with the entries', () => {
    expect(plan.diagnostics).toEqual([]);
    expect(plan.packages).toHaveLength(12);
    const merges = plan.packages.filter((entry): entry is EmergePlanPackage => entry.kind === 'ebuild' || entry.kind === 'binary');
    const count = (letter: string) => merges.filter((entry) => entry.flags.includes(letter)).length;
    expect(plan.total).toEqual({
      packages: merges.length,
      upgrades: merges.filter((entry) => entry.flags.includes('U') && !entry.flags.includes('D')).length,
      downgrades: count('D'),
      new: merges.filter((entry) => entry.flags.includes('N') && !entry.flags.includes('S')).length,
      newSlots: count('S'),
      reinstalls: count('R'),
      binaries: merges.filter((entry) => entry.kind === 'binary').length,
      uninstalls: plan.packages.filter((entry) => entry.kind === 'uninstall').length,
      interactive: count('I'),
      downloadBytes: merges.reduce((sum, entry) => sum + (entry.size ?? 0), 0),
      fetchRestricted: count('F') + count('f'),
      fetchRestrictedUnsatisfied: count('F'),
      blocks: 2,
      blocksUnsatisfied: 1,
    });
  });

  it.each([
    ['sys-devel/gcc-14.2.1_p20241221', { flags: ['N', 'S'], slot: '14', oldSlot: '13', masks: [] }],
    ['dev-lang/rust-1.74.1', { flags: ['U', 'D'], masks: ['~'], slot: 'stable', subSlot: '1.74', oldVersion: '1.75.0' }],
    ['games-fps/quake3-data-1.32b-r3', { flags: ['I', 'N', 'F'], masks: ['#'] }],
    ['app-misc/frobnicate-9999', { flags: ['N', 'f'], masks: ['*'] }],
    ['sys-libs/zlib-1.3.1-r1', { kind: 'binary', buildId: 2, slot: '0', subSlot: '1', root: '/mnt/gentoo/', size: 120 * 1024 }],
    ['acct-group/dnsmasq-0-r3', { kind: 'binary', buildId: 1, flags: ['N'] }],
    ['sys-libs/libxcrypt-4.4.33', { kind: 'uninstall', flags: [], slot: '0', subSlot: '1' }],
  ])('%s', (cpv, expected) => {
    expect(byCpv(cpv)).toMatchObject(expected);
  });

  it('reads PYTHON_TARGETS="python3_11 -python3_12" and ABI_X86="(64) -32" as USE_EXPAND groups', () => {
    const python = byCpv('dev-lang/python-3.12.8') as EmergePlanPackage;
    expect(python.use.filter((entry) => entry.expandGroup !== undefined)).toEqual([
      flag('python3_11', {}, 'PYTHON_TARGETS'),
      flag('python3_12', off, 'PYTHON_TARGETS'),
      flag('64', { forced: true }, 'ABI_X86'),
      flag('32', off, 'ABI_X86'),
    ]);
    expect(python.use.find((entry) => entry.name === 'gdbm')).toEqual(flag('gdbm', { enabled: false, changed: true }));
    expect((byCpv('sys-libs/glibc-2.23-r4') as EmergePlanPackage).use.find((entry) => entry.name === 'test')).toEqual(flag('test', { enabled: false, feature: true }));
  });

  it('reads satisfied and hard blockers with the atom as written and their parents', () => {
    expect(plan.packages.filter((entry) => entry.kind === 'blocks')).toEqual([
      {
        kind: 'blocks',
        line: 15,
        flags: ['b'],
        satisfied: true,
        depth: 0,
        atom: '<sys-libs/glibc-2.26',
        blockerAtom: '<sys-libs/glibc-2.26',
        hard: false,
        parents: ['sys-libs/libxcrypt-4.4.33'],
      },
      {
        kind: 'blocks',
        line: 16,
        flags: ['B'],
        satisfied: false,
        depth: 0,
        atom: 'sys-libs/libxcrypt[system]',
        hard: true,
        parents: ['sys-libs/glibc-2.40-r11', 'virtual/libcrypt-2-r1'],
      },
    ]);
  });

  it.each([
    ['[blocks B     ] <sys-libs/glibc-2.26 ("<sys-libs/glibc-2.26" is soft blocking sys-libs/libxcrypt-4.4.33)', { flags: ['B'], hard: false, atom: '<sys-libs/glibc-2.26' }],
    ['[blocks b      ] !!sys-apps/foo', { flags: ['b'], parents: [], atom: '!!sys-apps/foo' }],
  ])('blocker line %j', (line, expected) => {
    expect(parseEmergePlan(line).packages[0]).toMatchObject(expected);
  });

  it('tells an installed version "[1]" from the --quiet-repo-display index "[1]" by position', () => {
    const quiet = parseEmergePlan(capture('formatter-synthetic-quiet-repo-display.txt'));
    expect(quiet.diagnostics).toEqual([]);
    expect(quiet.packages.map((entry) => (entry.kind === 'blocks' ? [] : [entry.cpv, entry.oldVersion, entry.repoIndex, entry.size]))).toEqual([
      ['app-misc/foo-2.0', '1.0', '1', 10240],
      ['app-misc/bar-3', undefined, '0=>1', 0],
      ['app-misc/baz-2', '1', '0', 4096],
    ]);
  });

  it.each([
    ['Total: 0 packages1 uninstall, Size of downloads: 0 KiB', { packages: 0, uninstalls: 1 }],
    ['Total: 1556 packages (1240 upgrades, 12 new, 3 in new slots, 301 reinstalls), Size of downloads: 2,345,678 KiB', { packages: 1556, upgrades: 1240, new: 12, newSlots: 3, reinstalls: 301, downloadBytes: 2345678 * 1024 }],
    ['Total: 3 packages (3 reinstalls, 3 binaries), Size of downloads: 12 KiB', { reinstalls: 3, binaries: 3 }],
    ['Total: 1 package (1 new, 1 binary, 2 uninstalls), Size of downloads: 1.024 KiB', { new: 1, binaries: 1, uninstalls: 2, downloadBytes: 1024 * 1024 }],
  ])('%s', (line, expected) => {
    expect(parseEmergePlan(line).total).toMatchObject(expected);
  });

  it('strips colour codes and keeps --tree depth', () => {
    const coloured = '[\u001b[32;01mebuild\u001b[0m  \u001b[32;01mN\u001b[0m     ]   \u001b[32;01mdev-libs/foo-1.0\u001b[0m::gentoo  USE="\u001b[31;01mbar\u001b[0m" 1 KiB';
    expect(parseEmergePlan(coloured).packages[0]).toMatchObject({ cpv: 'dev-libs/foo-1.0', depth: 2, flags: ['N'], use: [flag('bar')], size: 1024 });
  });

  it.each([
    ['[ebuild     U  ] not-a-cpv', 'package string is not category/package-version'],
    ['[ebuild     U  ] a/b-1 [1.0 USE="x"', 'unclosed "[" in a merge list entry'],
    ['[ebuild     U  ] a/b-1 [0.9] ??? 1 KiB', 'unrecognised text in a merge list entry'],
    ['[blocks X     ] a/b', 'blocker entry does not follow "[blocks B] atom (is blocking parents)"'],
  ])('reports %j', (line, message) => {
    expect(parseEmergePlan(line, { file: 'plan.txt' }).diagnostics[0]).toMatchObject({ file: 'plan.txt', line: 1, message });
  });

  it('never throws on arbitrary text made of output fragments', () => {
    const fragment = fc.constantFrom('[ebuild  N     ] ', '[binary   R    ] ', '[blocks B      ] ', '[uninstall     ] ', 'a/b-1.0', '-3', ':0/1', '::gentoo', ' ', '[1.0]', 'USE="', '(-x%*)', '"', ' 1,234 KiB', '\n', 'Total: ', '2 packages (', '1 new', '), Size of downloads: 0 KiB', '(is blocking a/b-1)', '[', ']');
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 60 }), (parts) => {
        const plan = parseEmergePlan(parts.join(''));
        for (const entry of plan.packages) expect(entry.line).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
  });
});

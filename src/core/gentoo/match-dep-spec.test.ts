import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLUSTERHQ_ROOT, CLUSTERHQ_VDB, readFixtureVdb } from '../../../test/support/gentoo-fixtures.ts';
import { formatDepSpec } from './format-dep-spec.ts';
import type { PackageRef } from './match-atom.ts';
import { matchDepSpec } from './match-dep-spec.ts';
import { parseDepSpec } from './parse-dep-spec.ts';
import { parseVdbEntry, type VdbPackage } from './parse-vdb-entry.ts';

const installed: VdbPackage[] = readFixtureVdb(CLUSTERHQ_VDB).flatMap(({ category, pf, files }) => {
  const pkg = parseVdbEntry(category, pf, files).package;
  return pkg === undefined ? [] : [pkg];
});

describe('matchDepSpec', () => {
  const packages: PackageRef[] = [
    { cpv: 'sys-libs/glibc-2.19-r1', slot: '2.2', use: ['multiarch'], iuse: ['multiarch', 'crypt'] },
    { cpv: 'sys-libs/libxcrypt-4.4.33', slot: '0', subSlot: '1', use: ['system', 'compat'], iuse: ['+system', '+compat'] },
    { cpv: 'app-shells/bash-5.2_p15' },
  ];

  it.each([
    ['sys-libs/glibc', true, ''],
    ['sys-libs/glibc[-crypt(-)] !sys-libs/glibc[crypt(-)]', true, ''],
    ['sys-libs/glibc[crypt]', false, 'sys-libs/glibc[crypt]'],
    ['!sys-libs/libxcrypt', false, '!sys-libs/libxcrypt'],
    ['>=sys-libs/libxcrypt-4.4:0/1= app-shells/bash', true, ''],
    ['sys-libs/libxcrypt:0/2=', false, 'sys-libs/libxcrypt:0/2='],
    ['|| ( dev-libs/A sys-libs/glibc )', true, ''],
    ['|| ( dev-libs/A dev-libs/B ) app-shells/bash', false, '|| ( dev-libs/A dev-libs/B )'],
    ['( app-shells/bash dev-libs/A )', false, '( app-shells/bash dev-libs/A )'],
  ])('%s satisfied: %s', (text, satisfied, unsatisfied) => {
    const result = matchDepSpec(parseDepSpec(text).nodes, packages);
    expect(result.satisfied).toBe(satisfied);
    expect(formatDepSpec(result.unsatisfied)).toBe(unsatisfied);
  });

  it.each([
    ['^^ ( a b )', ['a'], true],
    ['^^ ( a b )', ['a', 'b'], false],
    ['?? ( a b )', [], true],
    ['?? ( a b c )', ['a', 'c'], false],
  ])('checks %s against installed %j', (text, names, satisfied) => {
    const spec = parseDepSpec(text.replace(/\b([abc])\b/g, 'cat/$1'), { leaves: 'atoms' });
    const pkgs = names.map((name) => ({ cpv: `cat/${name}-1` }));
    expect(matchDepSpec(spec.nodes, pkgs).satisfied).toBe(satisfied);
  });

  it('finds every real installed dependency satisfied once package.provided counts as installed', () => {
    const unsatisfied = installed.filter((pkg) => !matchDepSpec(parseDepSpec(pkg.rdepend).nodes, installed).satisfied).map((pkg) => pkg.cpv);
    expect(unsatisfied).toEqual(['virtual/linux-sources-1']);

    const provided = readFileSync(join(CLUSTERHQ_ROOT, 'etc/portage/profile/package.provided'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((cpv) => ({ cpv }));
    for (const pkg of installed) {
      for (const deps of [pkg.depend, pkg.rdepend, pkg.pdepend]) {
        expect(matchDepSpec(parseDepSpec(deps).nodes, [...installed, ...provided]).satisfied, `${pkg.cpv}: ${deps}`).toBe(true);
      }
    }
  });
});

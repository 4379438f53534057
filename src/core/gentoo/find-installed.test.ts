import { describe, expect, it } from 'vitest';
import { CLUSTERHQ_VDB, readFixtureVdb } from '../../../test/support/gentoo-fixtures.ts';
import { findInstalled } from './find-installed.ts';
import { parseAtom } from './parse-atom.ts';
import { parseVdbEntry, type VdbPackage } from './parse-vdb-entry.ts';

const vdb = {
  packages: readFixtureVdb(CLUSTERHQ_VDB).flatMap(({ category, pf, files }) => {
    const pkg = parseVdbEntry(category, pf, files).package;
    return pkg === undefined ? [] : [pkg];
  }),
};
const cpvs = (packages: readonly VdbPackage[]): string[] => packages.map((pkg) => pkg.cpv);

describe('findInstalled', () => {
  it.each([
    ['sys-libs/glibc', ['sys-libs/glibc-2.19-r1']],
    ['sys-libs/glibc:2.2', ['sys-libs/glibc-2.19-r1']],
    ['sys-libs/glibc:2.1', []],
    ['>=sys-libs/glibc-2.20', []],
    ['<sys-libs/glibc-2.20', ['sys-libs/glibc-2.19-r1']],
    ['~sys-libs/glibc-2.19', ['sys-libs/glibc-2.19-r1']],
    ['sys-libs/glibc::gentoo_prefix', ['sys-libs/glibc-2.19-r1']],
    ['sys-libs/glibc::gentoo', []],
    ['sys-libs/glibc[-crypt(-)]', ['sys-libs/glibc-2.19-r1']],
    // This 2014 entry has no IUSE_EFFECTIVE, so implicit flags are not in its IUSE unless a default says so.
    ['sys-libs/glibc[elibc_glibc]', []],
    ['sys-libs/glibc[elibc_glibc(+)]', ['sys-libs/glibc-2.19-r1']],
    ['app-misc/tmux[elibc_glibc,-vim-syntax]', ['app-misc/tmux-1.9a']],
    ['sys-libs/glibc[hardened]', []],
    ['>=sys-devel/gcc-config-1.7', ['sys-devel/gcc-config-1.8-r00.1']],
    ['app-shells/bash', ['app-shells/bash-4.2_p45-r1']],
    ['sys-libs/libxcrypt', []],
    ['sys-apps/getent', []],
  ])('%s finds %j', (atom, expected) => {
    expect(cpvs(findInstalled(vdb, atom))).toEqual(expected);
  });

  it('accepts wildcards and parsed atoms', () => {
    expect(findInstalled(vdb, 'sys-libs/*').length).toBeGreaterThan(5);
    expect(findInstalled(vdb, '*/*')).toHaveLength(136);
    expect(cpvs(findInstalled(vdb, parseAtom('dev-lang/python:2.7')))).toEqual(['dev-lang/python-2.7.6-r1']);
  });

  it('throws ARGO_ATOM_INVALID for text that is not an atom', () => {
    expect(() => findInstalled(vdb, 'glibc')).toThrow(expect.objectContaining({ code: 'ARGO_ATOM_INVALID' }));
  });
});

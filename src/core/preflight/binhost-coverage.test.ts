import { describe, expect, it } from 'vitest';
import { parseEmergePlan } from '../gentoo/parse-emerge-plan.ts';
import { parsePackagesIndex } from '../gentoo/parse-packages-index.ts';
import { computeCoverage } from './binhost-coverage.ts';

const PLAN = `
These are the packages that would be merged, in order:

Calculating dependencies... done!
[ebuild     U  ] sys-libs/glibc-2.40-r5:2.2::gentoo [2.39-r6:2.2::gentoo] USE="multiarch ssp -crypt" 18,480 KiB
[ebuild     U  ] sys-libs/libxcrypt-4.4.38:0/1::gentoo [4.4.36-r3:0/1::gentoo] USE="compat system -static-libs -test" 600 KiB
[ebuild     U  ] app-editors/nano-8.2::gentoo [8.1::gentoo] USE="ncurses spell -debug" 1,600 KiB
[ebuild   R    ] dev-lang/python-3.12.7:3.12::gentoo  USE="ssl sqlite -tk" PYTHON_TARGETS="python3_12" 20,000 KiB
[binary     U  ] app-misc/tmux-3.5-1::gentoo [3.4::gentoo] USE="-debug" 400 KiB

Total: 5 packages (4 upgrades, 1 reinstall, 1 binary), Size of downloads: 41,080 KiB
`;

const INDEX = `ARCH: amd64
CHOST: x86_64-pc-linux-gnu
PACKAGES: 3
TIMESTAMP: 1700000000
VERSION: 0

BUILD_ID: 1
CPV: app-editors/nano-8.2
PATH: app-editors/nano/nano-8.2-1.gpkg.tar
SIZE: 100
USE: amd64 elibc_glibc ncurses spell
REPO: gentoo

BUILD_ID: 1
CPV: dev-lang/python-3.12.7
PATH: dev-lang/python/python-3.12.7-1.gpkg.tar
SIZE: 100
USE: amd64 sqlite ssl python_targets_python3_12
REPO: gentoo

BUILD_ID: 1
CPV: sys-libs/libxcrypt-4.4.38
PATH: sys-libs/libxcrypt/libxcrypt-4.4.38-1.gpkg.tar
SIZE: 100
USE: amd64 compat
REPO: gentoo

`;

describe('computeCoverage', () => {
  it('counts binaries with the planned USE, and names the critical packages that would compile', () => {
    const plan = parseEmergePlan(PLAN);
    expect(plan.diagnostics).toEqual([]);
    const coverage = computeCoverage(plan.packages, parsePackagesIndex(INDEX).packages, ['sys-libs/glibc', 'sys-libs/libxcrypt']);
    expect(coverage).toEqual({
      total: 5,
      available: 3,
      missing: ['sys-libs/glibc-2.40-r5', 'sys-libs/libxcrypt-4.4.38'],
      criticalMissing: ['sys-libs/glibc-2.40-r5', 'sys-libs/libxcrypt-4.4.38'],
      percent: 60,
      reasons: { 'sys-libs/glibc-2.40-r5': 'no-binary', 'sys-libs/libxcrypt-4.4.38': 'use-differs' },
    });
  });
});

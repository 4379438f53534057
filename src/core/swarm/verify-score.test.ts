import { describe, expect, it } from 'vitest';
import { isArgoError } from '../errors.ts';
import { parseWorldFile } from '../gentoo/parse-world.ts';
import { DEFAULT_USE_PINS, parseUsePins, pinnedFlags, scoreVerify, type IndexStanza, type VerifyComponentId, type VerifyCyclePackage, type VerifyInput, type VerifyReport } from './verify-score.ts';

const stanza = (cpv: string, fields: Record<string, string> = {}): IndexStanza => ({ CPV: cpv, EAPI: '8', SLOT: '0', USE: '', IUSE: '', RDEPEND: '', PDEPEND: '', ...fields });

/** The real libxcrypt stanza of a 2023 amd64 binhost (docs/gentoo-formats §1.1), with its USE replaceable. */
const libxcrypt = (use = 'abi_x86_32 abi_x86_64 amd64 compat elibc_glibc kernel_linux system'): IndexStanza =>
  stanza('sys-libs/libxcrypt-4.4.33', {
    EAPI: '7',
    SLOT: '0/1',
    IUSE: '+compat split-usr static-libs +system test headers-only abi_x86_32 abi_x86_64 abi_x86_x32 abi_mips_n32 abi_mips_n64 abi_mips_o32 abi_s390_32 abi_s390_64',
    RDEPEND: 'sys-libs/glibc[-crypt(+)] !sys-libs/glibc[crypt(+)]',
    USE: use,
  });
const glibc = stanza('sys-libs/glibc-2.41-r6', { SLOT: '2.2', IUSE: 'crypt +multiarch +ssp', USE: 'amd64 multiarch ssp' });

const built = (staging: readonly IndexStanza[]): VerifyCyclePackage[] => staging.map((entry) => ({ cpv: entry['CPV'] as string, state: 'built' }));

function verify(staging: readonly IndexStanza[], extra: Partial<VerifyInput> = {}): VerifyReport {
  return scoreVerify({
    profile: { name: 'server', use: '-X ssl threads ipv6 caps' },
    cycle: { id: 'server-1', packages: built(staging) },
    staging,
    production: [],
    pins: parseUsePins(DEFAULT_USE_PINS, 'default pin'),
    world: undefined,
    threshold: 15,
    ...extra,
  });
}

const component = (report: VerifyReport, id: VerifyComponentId) => {
  const found = report.components.find((entry) => entry.id === id);
  if (found === undefined) throw new Error(`no component ${id}`);
  return found;
};

describe('build-swarm verify: the risk score', () => {
  it('scores 0, safe, when the cycle is built, staged and consistent', () => {
    const report = verify([glibc, libxcrypt()]);
    expect(report).toMatchObject({ score: 0, safe: true, threshold: 15, profile: 'server', cycle: 'server-1' });
    expect(report.components.map((entry) => [entry.id, entry.points])).toEqual([
      ['failed', 0],
      ['unsatisfied-deps', 0],
      ['slot-conflict', 0],
      ['critical-use', 0],
      ['coverage', 0],
    ]);
    expect(component(report, 'coverage').detail).toBe('100.0 %, 2 of 2 packages of the cycle are built (no --world given)');
  });

  describe('failed', () => {
    const staging = [glibc, stanza('app-misc/a-1'), stanza('app-misc/b-1')];
    const cycle = {
      id: 'server-1',
      packages: [
        { cpv: 'sys-libs/glibc-2.41-r6', state: 'built' },
        { cpv: 'app-misc/a-1', state: 'built' },
        { cpv: 'app-misc/b-1', state: 'failed' },
        { cpv: 'sys-libs/pam-1.7.0', state: 'blocked' },
        { cpv: 'app-misc/c-1', state: 'skipped' },
        { cpv: 'app-misc/d-1', state: 'dep-wait' },
        { cpv: 'app-misc/e-1', state: undefined },
        { cpv: 'sys-libs/zlib-1.3.1', state: 'built' },
      ],
    } as const;

    it('weighs a critical package 25 and another 3, critical ones listed first, and counts a built package staging lacks', () => {
      const failed = component(verify(staging, { cycle }), 'failed');
      expect(failed.packages).toEqual([
        'sys-libs/pam-1.7.0 blocked',
        'sys-libs/zlib-1.3.1 built, not in staging',
        'app-misc/b-1 failed',
        'app-misc/c-1 skipped',
        'app-misc/d-1 not built (dep-wait)',
        'app-misc/e-1 not built (no record)',
      ]);
      expect(failed.points).toBe(2 * 25 + 4 * 3);
      expect(failed.detail).toBe('6 of 8 packages: 1 failed, 1 blocked, 1 skipped, 2 not built, 1 built, not in staging; 2 critical × 25 + 4 other × 3');
    });

    it('refuses on one critical package alone, and not on four ordinary ones', () => {
      expect(verify([], { cycle: { id: 'c', packages: [{ cpv: 'sys-devel/binutils-2.44', state: 'failed' }] } }).safe).toBe(false);
      const four = ['a', 'b', 'c', 'd'].map((name) => ({ cpv: `app-misc/${name}-1`, state: 'failed' as const }));
      expect(component(verify([], { cycle: { id: 'c', packages: four }, world: [] }), 'failed').points).toBe(12);
      expect(verify([], { cycle: { id: 'c', packages: four }, world: [] }).safe).toBe(true);
    });
  });

  describe('unsatisfied-deps', () => {
    it('needs a USE-conditional dependency only when the package was built with the flag', () => {
      const curl = (use: string): IndexStanza => stanza('net-misc/curl-8.14.1', { IUSE: 'ssl http2', USE: use, RDEPEND: 'ssl? ( dev-libs/openssl:0/3 ) http2? ( net-libs/nghttp2 )' });
      expect(component(verify([curl('')]), 'unsatisfied-deps').points).toBe(0);
      const withSsl = component(verify([curl('ssl')]), 'unsatisfied-deps');
      expect(withSsl.packages).toEqual(['net-misc/curl-8.14.1 needs dev-libs/openssl:0/3']);
      expect(withSsl.points).toBe(5);
      expect(withSsl.detail).toBe('1 dependency of staged packages not satisfied by staging or production; 5 each');
    });

    it('matches slots and sub-slots: another slot or an older sub-slot does not satisfy', () => {
      const pam = stanza('sys-libs/pam-1.7.0', { RDEPEND: 'virtual/libcrypt:0/2= dev-lang/python:3.12' });
      const staging = [pam, stanza('virtual/libcrypt-1-r3', { SLOT: '0/1' }), stanza('dev-lang/python-3.13.5', { SLOT: '3.13' })];
      expect(component(verify(staging), 'unsatisfied-deps').packages).toEqual(['sys-libs/pam-1.7.0 needs virtual/libcrypt:0/2=', 'sys-libs/pam-1.7.0 needs dev-lang/python:3.12']);
      const fixed = [pam, stanza('virtual/libcrypt-2-r1', { SLOT: '0/2' }), stanza('dev-lang/python-3.12.11', { SLOT: '3.12' })];
      expect(component(verify(fixed), 'unsatisfied-deps').points).toBe(0);
    });

    it('checks USE dependencies against the providing package, and its own USE= conditionals', () => {
      const virtual = stanza('virtual/libcrypt-2-r1', { SLOT: '0/2', IUSE: 'abi_x86_32 abi_x86_64 static-libs', USE: 'abi_x86_64', RDEPEND: 'sys-libs/libxcrypt[system(-),static-libs(-)?,abi_x86_64(-)?]' });
      expect(component(verify([virtual, libxcrypt(), glibc]), 'unsatisfied-deps').points).toBe(0);
      expect(component(verify([virtual, libxcrypt('abi_x86_64 compat'), glibc]), 'unsatisfied-deps').packages).toEqual(['virtual/libcrypt-2-r1 needs sys-libs/libxcrypt[system(-),abi_x86_64(-)]']);
    });

    it('counts production, any-of groups and PDEPEND, and leaves blockers out', () => {
      const pkg = stanza('app-misc/tool-1', { RDEPEND: '|| ( app-misc/x app-misc/y ) !app-misc/old', PDEPEND: 'app-misc/plugin' });
      const production = [stanza('app-misc/y-2'), stanza('app-misc/old-1')];
      expect(component(verify([pkg], { production }), 'unsatisfied-deps').packages).toEqual(['app-misc/tool-1 needs app-misc/plugin']);
      expect(component(verify([pkg], { production: undefined }), 'unsatisfied-deps')).toMatchObject({
        points: 10,
        packages: ['app-misc/tool-1 needs || ( app-misc/x app-misc/y )', 'app-misc/tool-1 needs app-misc/plugin'],
        detail: expect.stringContaining('staging (no production release yet)'),
      });
    });

    it('counts an unreadable dependency string, and caps the component at 50', () => {
      expect(component(verify([stanza('app-misc/bad-1', { RDEPEND: 'app-misc/x )' })]), 'unsatisfied-deps').packages).toEqual(['app-misc/bad-1 has an unreadable RDEPEND (a ) has no matching (: RDEPEND: ))']);
      const many = stanza('app-misc/many-1', { RDEPEND: Array.from({ length: 12 }, (_, index) => `app-misc/dep${index}`).join(' ') });
      expect(component(verify([many]), 'unsatisfied-deps')).toMatchObject({ points: 50, detail: expect.stringContaining('= 60, capped at 50') });
    });
  });

  describe('slot-conflict', () => {
    it('scores two versions in one slot, not two slots nor two builds of one version', () => {
      const staging = [
        stanza('dev-libs/openssl-3.5.0', { SLOT: '0/3' }),
        stanza('dev-libs/openssl-3.4.1', { SLOT: '0/3' }),
        stanza('dev-lang/python-3.12.11', { SLOT: '3.12' }),
        stanza('dev-lang/python-3.13.5', { SLOT: '3.13' }),
        stanza('app-misc/a-1', { BUILD_ID: '1' }),
        stanza('app-misc/a-1', { BUILD_ID: '2' }),
      ];
      expect(component(verify(staging), 'slot-conflict')).toEqual({ id: 'slot-conflict', points: 10, packages: ['dev-libs/openssl:0 has 3.4.1, 3.5.0'], detail: '1 slot of staging with two or more versions; 10 each' });
    });
  });

  describe('critical-use', () => {
    it('refuses the libxcrypt incident on its own: built -compat -system where the default pins want both', () => {
      const report = verify([glibc, libxcrypt('abi_x86_64 amd64 elibc_glibc kernel_linux')]);
      expect(component(report, 'critical-use')).toEqual({
        id: 'critical-use',
        points: 25,
        packages: ['sys-libs/libxcrypt-4.4.33 built with USE -compat -system, pinned compat system'],
        detail: '1 of 2 critical or pinned packages were built with other USE than pinned; 25 each',
      });
      expect(report.score).toBe(25);
      expect(report.safe).toBe(false);
    });

    it("pins the profile's flags that the package declares, and only those", () => {
      const pam = stanza('sys-libs/pam-1.7.0', { IUSE: 'audit selinux +filecaps nis', USE: 'filecaps' });
      const profile = { name: 'server', use: 'audit -filecaps -X ipv6' };
      expect(component(verify([pam], { profile }), 'critical-use').packages).toEqual(['sys-libs/pam-1.7.0 built with USE -audit filecaps, pinned audit -filecaps']);
      expect(component(verify([pam], { profile: { name: 'server', use: 'ipv6 -X' } }), 'critical-use').points).toBe(0);
    });

    it('lets a later pin override the default, and checks a non-critical package that a pin names', () => {
      const pins = parseUsePins([...DEFAULT_USE_PINS, 'sys-libs/libxcrypt -compat', 'net-misc/openssh pam'], '--pin');
      const staging = [libxcrypt('abi_x86_64 system'), stanza('net-misc/openssh-10.0', { IUSE: 'pam ldap', USE: 'ldap' })];
      expect(component(verify(staging, { pins }), 'critical-use').packages).toEqual(['net-misc/openssh-10.0 built with USE -pam, pinned pam']);
    });

    it('pins a flag the package does not declare: on cannot be honoured, off is met', () => {
      expect([...pinnedFlags('ssl -X', ['+system', 'ssl'], ['system', 'hashes', '-doc', '-*', 'python_targets_*'])]).toEqual([
        ['ssl', true],
        ['system', true],
        ['hashes', true],
        ['doc', false],
      ]);
    });
  });

  describe('coverage', () => {
    it('gives the share of the world file that staging or production satisfies, slots included, 1 point per missing percent', () => {
      const names = Array.from({ length: 4722 }, (_, index) => `app-misc/pkg${index}`);
      const world = parseWorldFile(names.join('\n')).atoms;
      const staging = names.slice(0, 4600).map((name) => stanza(`${name}-1`));
      const production = names.slice(4600, 4637).map((name) => stanza(`${name}-1`));
      const coverage = component(verify(staging, { world, production }), 'coverage');
      expect(coverage.detail).toBe('98.2 %, 4,637 of 4,722 world atoms have a binary package in staging or production; 1 per missing percent');
      expect(coverage.points).toBe(2);
      expect(coverage.packages).toHaveLength(85);

      const slotted = parseWorldFile('dev-lang/python:3.12\n').atoms;
      expect(component(verify([stanza('dev-lang/python-3.13.5', { SLOT: '3.13' })], { world: slotted }), 'coverage')).toMatchObject({ points: 30, packages: ['dev-lang/python:3.12'] });
    });

    it("without a world file, gives the share of the cycle's packages that are built", () => {
      const packages = [...Array.from({ length: 9 }, (_, index) => ({ cpv: `app-misc/p${index}-1`, state: 'built' as const })), { cpv: 'app-misc/late-1', state: 'queued' as const }];
      const staging = packages.slice(0, 9).map((pkg) => stanza(pkg.cpv));
      expect(component(verify(staging, { cycle: { id: 'c', packages } }), 'coverage')).toMatchObject({ points: 10, packages: ['app-misc/late-1'], detail: '90.0 %, 9 of 10 packages of the cycle are built (no --world given); 1 per missing percent' });
    });
  });

  it('caps the total at 100 and compares it with the threshold', () => {
    const cycle = { id: 'c', packages: ['sys-libs/glibc-2.41', 'sys-libs/pam-1.7.0', 'sys-devel/gcc-15.1.0', 'dev-libs/openssl-3.5.0', 'sys-apps/shadow-4.17'].map((cpv) => ({ cpv, state: 'failed' as const })) };
    const report = verify([libxcrypt(''), glibc], { cycle });
    expect(component(report, 'failed').points).toBe(100);
    expect(report.score).toBe(100);
    expect(verify([libxcrypt(''), glibc], { threshold: 26 })).toMatchObject({ score: 25, safe: true });
    expect(verify([libxcrypt(''), glibc], { threshold: 25 })).toMatchObject({ score: 25, safe: false });
  });

  it('refuses a pin that is not one package.use line, naming it', () => {
    for (const line of ['sys-libs/libxcrypt', 'not-an-atom compat', 'sys-libs/libxcrypt[system] compat']) {
      let caught: unknown;
      try {
        parseUsePins([line], '--pin');
      } catch (error) {
        caught = error;
      }
      expect(isArgoError(caught, 'ARGO_USAGE'), line).toBe(true);
      expect((caught as Error).message).toContain(JSON.stringify(line));
    }
  });
});

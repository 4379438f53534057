import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLUSTERHQ_VDB, readFixtureVdb } from '../../../test/support/gentoo-fixtures.ts';
import { compareVersions } from './compare-versions.ts';
import { trySplitPackageVersion } from './parse-cpv.ts';
import { isPmsVersion, isValidVersion, parseVersion, stripRevision, tryParseVersion } from './parse-version.ts';

/** Portage's own vercmp tests (lib/portage/tests/versions/test_vercmp.py): first > second. */
const PORTAGE_GREATER: [string, string][] = [
  ['6.0', '5.0'],
  ['5.0', '5'],
  ['1.0-r1', '1.0-r0'],
  ['1.0-r1', '1.0'],
  ['999999999999999999999999999999', '999999999999999999999999999998'],
  ['1.0.0', '1.0'],
  ['1.0.0', '1.0b'],
  ['1b', '1'],
  ['1b_p1', '1_p1'],
  ['1.1b', '1.1'],
  ['12.2.5', '12.2b'],
];

/** Portage test_vercmp "less" cases: first < second. */
const PORTAGE_LESS: [string, string][] = [
  ['4.0', '5.0'],
  ['5', '5.0'],
  ['1.0_pre2', '1.0_p2'],
  ['1.0_alpha2', '1.0_p2'],
  ['1.0_alpha1', '1.0_beta1'],
  ['1.0_beta3', '1.0_rc3'],
  ['1.001000000000000000001', '1.001000000000000000002'],
  ['1.00100000000', '1.0010000000000000001'],
  ['999999999999999999999999999998', '999999999999999999999999999999'],
  ['1.01', '1.1'],
  ['1.0-r0', '1.0-r1'],
  ['1.0', '1.0-r1'],
  ['1.0', '1.0.0'],
  ['1.0b', '1.0.0'],
  ['1_p1', '1b_p1'],
  ['1', '1b'],
  ['1.1', '1.1b'],
  ['12.2b', '12.2.5'],
];

/** PMS 3.3 corner cases beyond Portage's suite. */
const PMS_LESS: [string, string][] = [
  ['1_alpha', '1_beta'],
  ['1_beta', '1_pre'],
  ['1_pre', '1_rc'],
  ['1_rc', '1'],
  ['1', '1_p'],
  ['1_p', '1_p1'],
  ['1_rc1', '1_rc2'],
  ['1_alpha_beta', '1_alpha'],
  ['1_alpha', '1_alpha_p'],
  ['1_p1_alpha', '1_p1'],
  ['1_pre1_rc2', '1_pre2'],
  ['1.0_rc10', '1.0_rc11'],
  ['1.2', '1.10'],
  ['1.02', '1.1'],
  ['1.002', '1.02'],
  ['1.010', '1.02'],
  ['0.9', '1.0'],
  ['2.0_p20140101', '2.0.1'],
  ['1a', '1b'],
  ['1z', '1.0'],
  ['1.0-r9', '1.0-r10'],
  ['1.0_p1-r9', '1.0_p2'],
  ['1-r01', '1-r2'],
  ['20140125', '20140126'],
];

const EQUAL: [string, string][] = [
  ['4.0', '4.0'],
  ['1.0-r0', '1.0'],
  ['1.0', '1.0-r0'],
  ['1.0-r1', '1.0-r01'],
  ['01', '1'],
  ['1.010', '1.01'],
  ['1.0_p', '1.0_p0'],
  ['1.0_rc', '1.0_rc0'],
  ['9999', '9999'],
];

describe('compareVersions', () => {
  it.each(PORTAGE_GREATER)('%s > %s (Portage test_vercmp)', (a, b) => {
    expect(compareVersions(a, b)).toBe(1);
    expect(compareVersions(b, a)).toBe(-1);
  });

  it.each([...PORTAGE_LESS, ...PMS_LESS])('%s < %s', (a, b) => {
    expect(compareVersions(a, b)).toBe(-1);
    expect(compareVersions(b, a)).toBe(1);
  });

  it.each(EQUAL)('%s = %s', (a, b) => {
    expect(compareVersions(a, b)).toBe(0);
    expect(compareVersions(b, a)).toBe(0);
  });

  it.each([
    ['1.8-r00.1', '1.8', 1],
    ['1.8-r00.1', '1.8-r1', -1],
    ['0.10-r02.1', '0.10-r2', 1],
    ['0.10-r02.1', '0.10-r02.2', -1],
    ['3-r03.1', '3-r3.1', 0],
  ] as const)('orders the Gentoo Prefix revision %s against %s as %i', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });

  it('accepts parsed versions as well as strings', () => {
    expect(compareVersions(parseVersion('1.2_rc1'), '1.2')).toBe(-1);
  });

  it('throws ARGO_VERSION_INVALID naming the text for an invalid version', () => {
    expect(() => compareVersions('1.0', '1.0-foo')).toThrow(expect.objectContaining({ code: 'ARGO_VERSION_INVALID', message: expect.stringContaining('"1.0-foo"') }));
  });

  it('sorts the real installed versions consistently (a sort with it is a total order)', () => {
    const versions = readFixtureVdb(CLUSTERHQ_VDB).flatMap(({ pf }) => {
      const split = trySplitPackageVersion(pf);
      return split.ok ? [split.value.pvr] : [];
    });
    const sorted = [...versions].sort(compareVersions);
    for (let index = 1; index < sorted.length; index += 1) {
      expect(compareVersions(sorted[index - 1] as string, sorted[index] as string)).toBeLessThanOrEqual(0);
    }
  });
});

/** Versions built from the grammar, so that comparisons exercise every component. */
const versionArbitrary = fc
  .record({
    numbers: fc.array(fc.constantFrom('0', '1', '2', '9', '10', '01', '001', '010', '100', '99999999999999999999'), { minLength: 1, maxLength: 4 }),
    letter: fc.constantFrom('', 'a', 'b', 'z'),
    suffixes: fc.array(fc.tuple(fc.constantFrom('alpha', 'beta', 'pre', 'rc', 'p'), fc.constantFrom('', '0', '1', '2', '10')), { maxLength: 3 }),
    revision: fc.constantFrom('', '-r0', '-r1', '-r2', '-r10', '-r01.1'),
  })
  .map(({ numbers, letter, suffixes, revision }) => `${numbers.join('.')}${letter}${suffixes.map(([kind, n]) => `_${kind}${n}`).join('')}${revision}`);

describe('compareVersions properties', () => {
  it('is antisymmetric and reflexive', () => {
    fc.assert(
      fc.property(versionArbitrary, versionArbitrary, (a, b) => {
        expect(compareVersions(a, a)).toBe(0);
        expect(compareVersions(a, b)).toBe(-compareVersions(b, a) || 0);
      }),
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(versionArbitrary, versionArbitrary, versionArbitrary, (a, b, c) => {
        const sorted = [a, b, c].sort(compareVersions);
        expect(compareVersions(sorted[0] as string, sorted[2] as string)).toBeLessThanOrEqual(0);
      }),
    );
  });

  it('ranks a higher revision higher whatever the version', () => {
    fc.assert(
      fc.property(versionArbitrary, (version) => {
        const base = stripRevision(parseVersion(version));
        expect(compareVersions(`${base}-r5`, `${base}-r4`)).toBe(1);
      }),
    );
  });

  it('parses every generated version and keeps its text', () => {
    fc.assert(
      fc.property(versionArbitrary, (version) => {
        const parsed = tryParseVersion(version);
        expect(parsed.ok && parsed.value.text).toBe(version);
      }),
    );
  });
});

describe('tryParseVersion', () => {
  it.each([
    ['4.4_p23-r1', { numbers: ['4', '4'], letter: '', suffixes: [{ kind: 'p', number: '23' }], revision: '1' }],
    ['1.2.3b_rc4_p5-r6', { numbers: ['1', '2', '3'], letter: 'b', suffixes: [{ kind: 'rc', number: '4' }, { kind: 'p', number: '5' }], revision: '6' }],
    ['2.0_pre', { numbers: ['2', '0'], letter: '', suffixes: [{ kind: 'pre', number: '' }], revision: '' }],
    ['0_p20140101', { numbers: ['0'], letter: '', suffixes: [{ kind: 'p', number: '20140101' }], revision: '' }],
    ['1.8-r00.1', { numbers: ['1', '8'], letter: '', suffixes: [], revision: '00.1' }],
  ])('reads %s', (text, expected) => {
    expect(tryParseVersion(text)).toEqual({ ok: true, value: { text, ...expected } });
  });

  it.each([
    ['', 'a version must start with a digit'],
    ['a1', 'a version must start with a digit'],
    ['1.', 'a dot in a version must be followed by digits'],
    ['1..2', 'a dot in a version must be followed by digits'],
    ['1_foo', 'a version suffix must be _alpha, _beta, _pre, _rc or _p'],
    ['1ab', 'unexpected text after the version'],
    ['1A', 'unexpected text after the version'],
    ['1-r', 'a revision must be -r followed by digits'],
    ['1-r1-r2', 'unexpected text after the revision'],
    ['1-r1.', 'unexpected text after the revision'],
    ['1.0*', 'unexpected text after the version'],
    ['1.0 ', 'unexpected text after the version'],
    ['1_p1a', 'unexpected text after the version'],
  ])('refuses %j: %s', (text, reason) => {
    expect(tryParseVersion(text)).toEqual({ ok: false, reason });
    expect(isValidVersion(text)).toBe(false);
  });

  it('tells PMS versions from Gentoo Prefix revisions', () => {
    expect(isPmsVersion('1.8-r1')).toBe(true);
    expect(isPmsVersion('1.8-r00.1')).toBe(false);
    expect(isValidVersion('1.8-r00.1')).toBe(true);
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const result = tryParseVersion(text);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});

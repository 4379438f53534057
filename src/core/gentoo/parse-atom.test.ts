import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLUSTERHQ_MD5_CACHE, CLUSTERHQ_VDB, MODERN_MD5_CACHE, readFixtureVdb, readMd5CacheFixture } from '../../../test/support/gentoo-fixtures.ts';
import { evaluateAtomUse } from './evaluate-atom-use.ts';
import { formatAtom, formatUseDep } from './format-atom.ts';
import { parseAtom, tryParseAtom, type Atom } from './parse-atom.ts';

function describeAtom(atom: Atom): unknown {
  return {
    operator: atom.operator ?? null,
    cp: atom.cp,
    version: atom.versionPattern ?? atom.version?.text ?? null,
    slot: atom.slot ?? null,
    use: atom.use.length === 0 ? null : `[${atom.use.map(formatUseDep).join(',')}]`,
    repo: atom.repo ?? null,
  };
}

/** Portage's lib/portage/tests/dep/test_atom.py: text, (op, cp, version, slot, use, repo), allow_wildcard. */
const PORTAGE_VALID: [string, [string | null, string, string | null, string | null, string | null, string | null], boolean][] = [
  ['=sys-apps/portage-2.1-r1:0[doc,a=,!b=,c?,!d?,-e]', ['=', 'sys-apps/portage', '2.1-r1', '0', '[doc,a=,!b=,c?,!d?,-e]', null], false],
  ['=sys-apps/portage-2.1-r1*:0[doc]', ['=*', 'sys-apps/portage', '2.1-r1', '0', '[doc]', null], false],
  ['sys-apps/portage:0[doc]', [null, 'sys-apps/portage', null, '0', '[doc]', null], false],
  ['*/*', [null, '*/*', null, null, null, null], true],
  ['=*/*-*9999*', ['=*', '*/*', '*9999*', null, null, null], true],
  ['=*/*-*9999*:0::repo_name', ['=*', '*/*', '*9999*', '0', null, 'repo_name'], true],
  ['=*/*-*_beta*', ['=*', '*/*', '*_beta*', null, null, null], true],
  ['=*/*-*_beta*:0::repo_name', ['=*', '*/*', '*_beta*', '0', null, 'repo_name'], true],
  ['sys-apps/*', [null, 'sys-apps/*', null, null, null, null], true],
  ['*/portage', [null, '*/portage', null, null, null, null], true],
  ['s*s-*/portage:1', [null, 's*s-*/portage', null, '1', null, null], true],
  ['*/po*ge:2', [null, '*/po*ge', null, '2', null, null], true],
  ['!dev-libs/A', [null, 'dev-libs/A', null, null, null, null], true],
  ['!!dev-libs/A', [null, 'dev-libs/A', null, null, null, null], true],
  ['dev-libs/A[foo(+)]', [null, 'dev-libs/A', null, null, '[foo(+)]', null], true],
  ['dev-libs/A[a(+),b(-)=,!c(+)=,d(-)?,!e(+)?,-f(-)]', [null, 'dev-libs/A', null, null, '[a(+),b(-)=,!c(+)=,d(-)?,!e(+)?,-f(-)]', null], true],
  ['dev-libs/A:2[a(+),b(-)=,!c(+)=,d(-)?,!e(+)?,-f(-)]', [null, 'dev-libs/A', null, '2', '[a(+),b(-)=,!c(+)=,d(-)?,!e(+)?,-f(-)]', null], true],
  ['=sys-apps/portage-2.1-r1:0::repo_name[doc,a=,!b=,c?,!d?,-e]', ['=', 'sys-apps/portage', '2.1-r1', '0', '[doc,a=,!b=,c?,!d?,-e]', 'repo_name'], false],
  ['=sys-apps/portage-2.1-r1*:0::repo_name[doc]', ['=*', 'sys-apps/portage', '2.1-r1', '0', '[doc]', 'repo_name'], false],
  ['sys-apps/portage:0::repo_name[doc]', [null, 'sys-apps/portage', null, '0', '[doc]', 'repo_name'], false],
  ['*/*::repo_name', [null, '*/*', null, null, null, 'repo_name'], true],
  ['sys-apps/*::repo_name', [null, 'sys-apps/*', null, null, null, 'repo_name'], true],
  ['*/portage::repo_name', [null, '*/portage', null, null, null, 'repo_name'], true],
  ['s*s-*/portage:1::repo_name', [null, 's*s-*/portage', null, '1', null, 'repo_name'], true],
];

/** Portage test_atom tests_xfail (those that apply without EAPI): text, allow_wildcard. */
const PORTAGE_INVALID: [string, boolean][] = [
  ['cat/pkg\n', false],
  ['cat/Ҙ', false],
  ['cat/pkg:/slot', false],
  ['+cat/pkg', false],
  ['-cat/pkg', false],
  ['.cat/pkg', false],
  ['cat/+pkg', false],
  ['cat/-pkg', false],
  ['cat/pkg:+slot', false],
  ['cat/pkg:-slot', false],
  ['cat/pkg:.slot', false],
  ['cat/pkg[a!]', false],
  ['cat/pkg[!a]', false],
  ['cat/pkg[!a!]', false],
  ['cat/pkg[!a-]', false],
  ['cat/pkg[-a=]', false],
  ['cat/pkg[-a?]', false],
  ['cat/pkg[-a!]', false],
  ['cat/pkg[=a]', false],
  ['cat/pkg[=a=]', false],
  ['cat/pkg[=a?]', false],
  ['cat/pkg[=a!]', false],
  ['cat/pkg[=a-]', false],
  ['cat/pkg[?a]', false],
  ['cat/pkg[?a=]', false],
  ['cat/pkg[?a?]', false],
  ['cat/pkg[?a!]', false],
  ['cat/pkg[?a-]', false],
  ['sys-apps/portage[doc]:0', false],
  ['*/*', false],
  ['sys-apps/*', false],
  ['*/portage', false],
  ['*/**', true],
  ['*/portage[use]', true],
  ['cat/pkg[a()]', false],
  ['cat/pkg[a(]', false],
  ['cat/pkg[a)]', false],
  ['cat/pkg[a(,b]', false],
  ['cat/pkg[a),b]', false],
  ['cat/pkg[a(*)]', false],
  ['cat/pkg[a(*)]', true],
  ['cat/pkg[a(+-)]', false],
  ['cat/pkg[(+)a]', false],
  ['cat/pkg[a=(+)]', false],
  ['cat/pkg[!(+)a=]', false],
  ['cat/pkg[!a=(+)]', false],
  ['cat/pkg[a?(+)]', false],
  ['cat/pkg[!a?(+)]', false],
  ['cat/pkg[!(+)a?]', false],
  ['cat/pkg[-(+)a]', false],
  ['cat/pkg[a(+),-a]', false],
  ['cat/pkg[a(-),-a]', false],
  ['cat/pkg[-a,a(+)]', false],
  ['cat/pkg[-a,a(-)]', false],
  ['cat/pkg[-a(+),a(-)]', false],
  ['cat/pkg[-a(-),a(+)]', false],
  ['sys-apps/portage[doc]::repo_name', false],
  ['sys-apps/portage:0[doc]::repo_name', false],
  ['sys-apps/portage[doc]:0::repo_name', false],
];

/** Further PMS rules. */
const MORE_INVALID: string[] = [
  'sys-apps/portage-2.1',
  '=sys-apps/portage',
  '>=sys-apps/portage-2.1*',
  '~sys-apps/portage-2.1*',
  'portage',
  '>=portage-2.1',
  'sys-apps/portage:0*',
  'sys-apps/portage:*=',
  'sys-apps/portage:',
  'sys-apps/portage:0/',
  'sys-apps/portage:0/1/2',
  'sys-apps/portage::',
  'sys-apps/portage::-repo',
  'sys-apps/portage[]',
  'sys-apps/portage[a,,b]',
  '=cat/pkg-1.0-3',
  '!!!cat/pkg',
  '',
];

describe('tryParseAtom', () => {
  it.each(PORTAGE_VALID)('reads %s (Portage test_atom)', (text, [operator, cp, version, slot, use, repo], allowWildcard) => {
    const atom = parseAtom(text, { allowWildcard });
    expect(describeAtom(atom)).toEqual({ operator, cp, version, slot, use, repo });
    expect(formatAtom(atom)).toBe(text);
  });

  it.each(PORTAGE_INVALID)('refuses %j (Portage test_atom xfail, wildcards %s)', (text, allowWildcard) => {
    expect(tryParseAtom(text, { allowWildcard }).ok).toBe(false);
  });

  it.each(MORE_INVALID)('refuses %j', (text) => {
    expect(tryParseAtom(text, { allowWildcard: true }).ok).toBe(false);
  });

  it.each([
    ['virtual/ffmpeg:0/53', { slot: '0', subSlot: '53' }],
    ['virtual/ffmpeg:0/53=', { slot: '0', subSlot: '53', slotOperator: '=' }],
    ['virtual/ffmpeg:=', { slotOperator: '=' }],
    ['virtual/ffmpeg:0=', { slot: '0', slotOperator: '=' }],
    ['virtual/ffmpeg:*', { slotOperator: '*' }],
    ['virtual/ffmpeg:0', { slot: '0' }],
    ['dev-lang/python:3.14', { slot: '3.14' }],
  ])('reads the slot part of %s (Portage testSlotAbiAtom)', (text, slotParts) => {
    const atom = parseAtom(text);
    expect({ slot: atom.slot, subSlot: atom.subSlot, slotOperator: atom.slotOperator }).toEqual({
      slot: undefined,
      subSlot: undefined,
      slotOperator: undefined,
      ...slotParts,
    });
  });

  it('reads blockers, operators and USE defaults into fields', () => {
    expect(parseAtom('!!>=sys-libs/glibc-2.19-r1:2.2::gentoo[-crypt(+),static-libs(-)?]')).toEqual({
      blocker: 'strong',
      operator: '>=',
      category: 'sys-libs',
      pn: 'glibc',
      cp: 'sys-libs/glibc',
      version: { text: '2.19-r1', numbers: ['2', '19'], letter: '', suffixes: [], revision: '1' },
      slot: '2.2',
      repo: 'gentoo',
      use: [
        { flag: 'crypt', kind: 'disabled', missing: 'enabled' },
        { flag: 'static-libs', kind: 'if-enabled', missing: 'disabled' },
      ],
      wildcard: false,
    });
  });

  it('throws ARGO_ATOM_INVALID naming the atom and the reason', () => {
    expect(() => parseAtom('sys-libs/glibc-2.19')).toThrow(
      expect.objectContaining({
        code: 'ARGO_ATOM_INVALID',
        message: 'Invalid package atom "sys-libs/glibc-2.19": a version needs an operator such as = or >=',
      }),
    );
  });

  it('never throws on arbitrary or truncated text', () => {
    const sample = '!!>=sys-libs/glibc-2.19-r1:2.2/2.2=::gentoo[-crypt(+),static-libs(-)?,!x=]';
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.nat(sample.length).map((end) => sample.slice(0, end))), fc.boolean(), (text, allowWildcard) => {
        const result = tryParseAtom(text, { allowWildcard });
        if (result.ok) expect(tryParseAtom(formatAtom(result.value), { allowWildcard })).toEqual(result);
      }),
      { numRuns: 3000 },
    );
  });
});

const nameArbitrary = fc.stringMatching(/^[a-z0-9][a-z0-9_+-]{0,8}$/).filter((name) => !/-[0-9]/.test(name));
const versionArbitrary = fc
  .tuple(
    fc.array(fc.constantFrom('0', '1', '2', '10', '01', '2014'), { minLength: 1, maxLength: 3 }),
    fc.constantFrom('', 'a', 'z'),
    fc.constantFrom('', '_alpha', '_beta2', '_pre', '_rc1', '_p20140101'),
    fc.constantFrom('', '-r0', '-r1', '-r12'),
  )
  .map(([numbers, letter, suffix, revision]) => `${numbers.join('.')}${letter}${suffix}${revision}`);
const useDepArbitrary = fc
  .tuple(fc.constantFrom('', '-', '!'), fc.stringMatching(/^[a-z][a-z0-9_+@-]{0,6}$/), fc.constantFrom('', '(+)', '(-)'), fc.constantFrom('', '?', '='))
  .filter(([prefix, , , suffix]) => (prefix === '!' ? suffix !== '' : prefix === '-' ? suffix === '' : true))
  .map(([prefix, flag, missing, suffix]) => `${prefix}${flag}${missing}${suffix}`);
const atomArbitrary = fc
  .record({
    blocker: fc.constantFrom('', '!', '!!'),
    operator: fc.constantFrom('', '<', '<=', '=', '~', '>=', '>', '=*'),
    category: fc.constantFrom('sys-libs', 'dev-lang', 'virtual', 'x11-libs', 'app-shells'),
    pn: nameArbitrary,
    version: versionArbitrary,
    slot: fc.constantFrom('', ':0', ':2.2', ':0/1', ':0/2=', ':=', ':*', ':3.13='),
    repo: fc.constantFrom('', '::gentoo', '::gentoo_prefix'),
    use: fc.array(useDepArbitrary, { maxLength: 3 }),
  })
  .map(({ blocker, operator, category, pn, version, slot, repo, use }) => {
    const flags = new Set<string>();
    const deps = use.filter((dep) => {
      const flag = dep.replace(/^[-!]/, '').replace(/(\([+-]\))?[?=]?$/, '');
      if (flags.has(flag)) return false;
      flags.add(flag);
      return true;
    });
    const versioned = operator === '' ? '' : `-${version}${operator === '=*' ? '*' : ''}`;
    return `${blocker}${operator === '=*' ? '=' : operator}${category}/${pn}${versioned}${slot}${repo}${deps.length > 0 ? `[${deps.join(',')}]` : ''}`;
  });

describe('atom round trip', () => {
  it('parse → format gives the text back and parse → format → parse gives an equal atom', () => {
    fc.assert(
      fc.property(atomArbitrary, (text) => {
        const atom = parseAtom(text);
        expect(formatAtom(atom)).toBe(text);
        expect(parseAtom(formatAtom(atom))).toEqual(atom);
      }),
      { numRuns: 2000 },
    );
  });

  it('formats every atom of the real dependency data back to its own text', () => {
    const texts = new Set<string>();
    for (const entry of readFixtureVdb(CLUSTERHQ_VDB)) {
      for (const key of ['DEPEND', 'RDEPEND', 'PDEPEND']) {
        for (const word of (entry.files[key] ?? '').split(/\s+/)) texts.add(word);
      }
    }
    for (const [, text] of [...readMd5CacheFixture(CLUSTERHQ_MD5_CACHE), ...readMd5CacheFixture(MODERN_MD5_CACHE)]) {
      for (const line of text.split('\n')) {
        if (/^[BIPR]?DEPEND=/.test(line)) for (const word of line.slice(line.indexOf('=') + 1).split(/\s+/)) texts.add(word);
      }
    }
    const atoms = [...texts].filter((word) => word !== '' && word !== '||' && word !== '(' && word !== ')' && !word.endsWith('?'));
    expect(atoms.length).toBeGreaterThan(400);
    for (const text of atoms) expect(formatAtom(parseAtom(text))).toBe(text);
  });
});

describe('evaluateAtomUse', () => {
  const atom = parseAtom('dev-libs/A[a,b=,!c=,d?,!e?,-f]');
  it.each([
    [[], 'dev-libs/A[a,-b,c,-e,-f]'],
    [['b'], 'dev-libs/A[a,b,c,-e,-f]'],
    [['c'], 'dev-libs/A[a,-b,-c,-e,-f]'],
    [['d'], 'dev-libs/A[a,-b,c,d,-e,-f]'],
    [['e'], 'dev-libs/A[a,-b,c,-f]'],
    [['a', 'b', 'c', 'd', 'e', 'f'], 'dev-libs/A[a,b,-c,d,-f]'],
  ])('with parent USE %j gives %s (Portage evaluate_conditionals table)', (use, expected) => {
    expect(formatAtom(evaluateAtomUse(atom, new Set(use)))).toBe(expected);
  });

  it('keeps (+)/(-) defaults on resolved flags', () => {
    const resolved = evaluateAtomUse(parseAtom('sys-libs/libxcrypt[system(-),static-libs(-)?,abi_x86_32(-)?]'), new Set(['abi_x86_32']));
    expect(formatAtom(resolved)).toBe('sys-libs/libxcrypt[system(-),abi_x86_32(-)]');
  });

  it('returns an atom without conditionals unchanged', () => {
    const plain = parseAtom('sys-libs/glibc[-crypt(-)]');
    expect(evaluateAtomUse(plain, new Set(['crypt']))).toBe(plain);
  });
});

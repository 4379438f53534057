import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLUSTERHQ_MD5_CACHE,
  CLUSTERHQ_VDB,
  MODERN_MD5_CACHE,
  XDM_VDB_ENTRY,
  readFixtureVdb,
  readMd5CacheFixture,
} from '../../../test/support/gentoo-fixtures.ts';
import { formatDepSpec } from './format-dep-spec.ts';
import { parseDepSpec, type DepNode } from './parse-dep-spec.ts';
import { parseMd5CacheEntry } from './parse-md5-cache-entry.ts';

const DEPENDENCY_KEYS = ['DEPEND', 'RDEPEND', 'BDEPEND', 'PDEPEND', 'IDEPEND'];
const TOKEN_KEYS = ['LICENSE', 'RESTRICT', 'PROPERTIES', 'REQUIRED_USE', 'SRC_URI'];

/** Short form of a tree for assertions: atoms and tokens as text, groups as [kind, ...children]. */
function shape(nodes: readonly DepNode[]): unknown[] {
  return nodes.map((node) => {
    switch (node.kind) {
      case 'atom':
        return node.atom.cp;
      case 'token':
        return node.text;
      case 'conditional':
        return [`${node.negated ? '!' : ''}${node.flag}?`, ...shape(node.children)];
      default:
        return [node.kind, ...shape(node.children)];
    }
  });
}

describe('parseDepSpec', () => {
  it.each([
    ['', []],
    ['  \n\t ', []],
    ['a/b c/d', ['a/b', 'c/d']],
    ['|| ( a/b c/d )', [['any-of', 'a/b', 'c/d']]],
    ['( a/b c/d )', [['all-of', 'a/b', 'c/d']]],
    ['foo? ( a/b ) !bar? ( c/d )', [['foo?', 'a/b'], ['!bar?', 'c/d']]],
    ['x? ( || ( a/b y? ( c/d ) ) )', [['x?', ['any-of', 'a/b', ['y?', 'c/d']]]]],
    ['\n  a/b\n\t|| (\n c/d\n )\n', ['a/b', ['any-of', 'c/d']]],
  ])('reads %j', (text, expected) => {
    const spec = parseDepSpec(text);
    expect(spec.diagnostics).toEqual([]);
    expect(shape(spec.nodes)).toEqual(expected);
  });

  it('reads REQUIRED_USE and LICENSE trees with token leaves', () => {
    const spec = parseDepSpec('^^ ( a b ) ?? ( c !d ) || ( GPL-2 ( MIT BSD ) ) e? ( f )', { leaves: 'tokens' });
    expect(spec.diagnostics).toEqual([]);
    expect(shape(spec.nodes)).toEqual([
      ['exactly-one-of', 'a', 'b'],
      ['at-most-one-of', 'c', '!d'],
      ['any-of', 'GPL-2', ['all-of', 'MIT', 'BSD']],
      ['e?', 'f'],
    ]);
  });

  /** Portage's use_reduce rejects each of these (test_use_reduce.py test_cases_xfail); here each gives a diagnostic. */
  it.each([
    '? ( A )',
    '!? ( A )',
    '( A',
    'A )',
    '||( A B )',
    '|| (A B )',
    '|| ( A B)',
    '|| ( A B',
    '|| A B )',
    '|| A B',
    '|| ( A B ) )',
    '|| || B C',
    '|| ( A B || )',
    'a? A',
    '( || ( || || ( A ) foo? ( B ) ) )',
    '( || ( || bar? ( A ) foo? ( B ) ) )',
    'foo?',
    'foo? || ( A )',
    '|| ( )',
    'foo? ( )',
    '1.0? ( A )',
    '!1.0? ( A )',
    '!?? ( A )',
  ])('reports %j (Portage refuses it)', (text) => {
    const spec = parseDepSpec(text, { leaves: 'tokens' });
    expect(spec.diagnostics.length).toBeGreaterThan(0);
  });

  it.each([
    ['a/b )', 'a ) has no matching (', 'ignored', ['a/b']],
    ['( a/b', 'a ( is never closed', 'kept', [['all-of', 'a/b']]],
    ['|| a/b', 'an operator or USE conditional is not followed by (', 'dropped', ['a/b']],
    ['a/b foo?', 'the text ends after an operator or USE conditional', 'dropped', ['a/b']],
    ['a/b ( )', 'a group is empty', 'dropped', ['a/b']],
    ['a/b c/d-1', 'invalid atom: a version needs an operator such as = or >=', 'dropped', ['a/b']],
    ['a/b(', 'missing whitespace around a parenthesis or ||', 'dropped', []],
    ['^^ ( a/b c/d )', '^^ and ?? groups are only valid in REQUIRED_USE', 'kept', [['exactly-one-of', 'a/b', 'c/d']]],
    ['1.0? ( a/b )', 'a USE conditional names an invalid USE flag', 'kept', [['1.0?', 'a/b']]],
  ])('on %j reports %j and carries on', (text, message, action, expected) => {
    const spec = parseDepSpec(text, { file: '/var/db/pkg/x/y-1/RDEPEND', field: 'RDEPEND', line: 1 });
    expect(spec.diagnostics).toEqual([expect.objectContaining({ file: '/var/db/pkg/x/y-1/RDEPEND', line: 1, message, action })]);
    expect(spec.diagnostics[0]?.field).toMatch(/^RDEPEND: /);
    expect(shape(spec.nodes)).toEqual(expected);
  });

  it('parses every dependency of the 137 real VDB entries (and xdm) with no diagnostic', () => {
    let strings = 0;
    const entries = readFixtureVdb(CLUSTERHQ_VDB);
    expect(entries).toHaveLength(137);
    for (const { files } of entries) {
      for (const key of DEPENDENCY_KEYS) {
        if (files[key] === undefined) continue;
        strings += 1;
        const spec = parseDepSpec(files[key], { field: key });
        expect(spec.diagnostics).toEqual([]);
        expect(formatDepSpec(spec.nodes)).toBe(files[key].trim().split(/\s+/).join(' '));
      }
      for (const key of ['LICENSE', 'RESTRICT']) {
        if (files[key] !== undefined) expect(parseDepSpec(files[key], { leaves: 'tokens' }).diagnostics).toEqual([]);
      }
    }
    for (const key of ['DEPEND', 'RDEPEND']) {
      expect(parseDepSpec(readFileSync(join(XDM_VDB_ENTRY, key), 'utf8')).diagnostics).toEqual([]);
    }
    expect(strings).toBeGreaterThan(190);
  });

  it('parses every unreduced dependency of the 138 real md5-cache entries with no diagnostic', () => {
    const entries = [...readMd5CacheFixture(CLUSTERHQ_MD5_CACHE), ...readMd5CacheFixture(MODERN_MD5_CACHE)];
    expect(entries).toHaveLength(138);
    let conditionals = 0;
    for (const [name, text] of entries) {
      const { entry } = parseMd5CacheEntry(text, { file: name });
      for (const key of DEPENDENCY_KEYS) {
        const value = entry.values[key];
        if (value === undefined) continue;
        const spec = parseDepSpec(value, { field: key });
        expect(spec.diagnostics, `${name} ${key}`).toEqual([]);
        expect(formatDepSpec(spec.nodes)).toBe(value.trim().split(/\s+/).join(' '));
        if (value.includes('? (')) conditionals += 1;
      }
      for (const key of TOKEN_KEYS) {
        const value = entry.values[key];
        if (value !== undefined) expect(parseDepSpec(value, { leaves: 'tokens' }).diagnostics, `${name} ${key}`).toEqual([]);
      }
    }
    expect(conditionals).toBeGreaterThan(50);
  });
});

const leafArbitrary = fc.constantFrom('a/b', '>=c/d-1.0', '!e/f', 'g/h:0=', 'i/j[k?]', 'x', 'y');
const specArbitrary: fc.Arbitrary<string> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArbitrary,
    fc.tuple(fc.constantFrom('', '|| ', 'foo? ', '!bar? '), fc.array(tie('node'), { minLength: 1, maxLength: 3 })).map(
      ([opener, children]) => `${opener}( ${(children as string[]).join(' ')} )`,
    ),
  ),
  spec: fc.array(tie('node'), { maxLength: 4 }).map((nodes) => (nodes as string[]).join(' ')),
})).spec as fc.Arbitrary<string>;

describe('parseDepSpec properties', () => {
  it('round-trips generated trees through formatDepSpec', () => {
    fc.assert(
      fc.property(specArbitrary, (text) => {
        const spec = parseDepSpec(text, { leaves: 'tokens' });
        expect(spec.diagnostics).toEqual([]);
        const again = parseDepSpec(formatDepSpec(spec.nodes), { leaves: 'tokens' });
        expect(again.nodes).toEqual(spec.nodes);
      }),
    );
  });

  it('never throws on arbitrary, mangled or truncated text', () => {
    const words = fc.constantFrom('(', ')', '||', '^^', '??', 'a?', '!b?', '?', 'a/b', '>=c/d-1', '!!e/f', 'x(', '', '\n');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(words, { maxLength: 30 }).map((parts) => parts.join(' ')),
          specArbitrary.chain((text) => fc.nat(text.length).map((end) => text.slice(0, end))),
        ),
        fc.constantFrom<'atoms' | 'tokens'>('atoms', 'tokens'),
        (text, leaves) => {
          const spec = parseDepSpec(text, { leaves });
          expect(Array.isArray(spec.nodes)).toBe(true);
          formatDepSpec(spec.nodes);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('reads a 100,000-token string in linear time', () => {
    const text = Array.from({ length: 20_000 }, (_, index) => `|| ( a/b${index} c/d )`).join(' ');
    const start = performance.now();
    expect(parseDepSpec(text).nodes).toHaveLength(20_000);
    expect(performance.now() - start).toBeLessThan(2_000);
  });
});

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODERN_MD5_CACHE } from '../../../test/support/gentoo-fixtures.ts';
import { collectAtoms, evaluateDepSpec } from './evaluate-dep-spec.ts';
import { formatAtom } from './format-atom.ts';
import { formatDepSpec } from './format-dep-spec.ts';
import { parseDepSpec } from './parse-dep-spec.ts';
import { parseMd5CacheEntry } from './parse-md5-cache-entry.ts';

/**
 * Portage's use_reduce cases (lib/portage/tests/dep/test_use_reduce.py, EAPI 0, default mode), with the expected
 * nested lists written as dependency strings: `['||', ['A', 'B']]` is `|| ( A B )`.
 */
const USE_REDUCE_CASES: [string, string[], string][] = [
  ['a? ( A ) b? ( B ) !c? ( C ) !d? ( D )', ['a', 'b', 'c', 'd'], 'A B'],
  ['a? ( A ) b? ( B ) !c? ( C ) !d? ( D )', ['a', 'b', 'c'], 'A B D'],
  ['a? ( A ) b? ( B ) !c? ( C ) !d? ( D )', ['b', 'c'], 'B D'],
  ['a? ( b? ( AB ) )', ['a', 'b'], 'AB'],
  ['a? ( b? ( AB ) C )', ['a'], 'C'],
  ['a? ( b? ( || ( AB CD ) ) )', ['a', 'b'], '|| ( AB CD )'],
  ['|| ( || ( a? ( A ) b? ( B ) ) )', ['a', 'b'], '|| ( A B )'],
  ['|| ( || ( a? ( A ) b? ( B ) ) )', ['a'], 'A'],
  ['|| ( || ( a? ( A ) b? ( B ) ) )', [], ''],
  ['|| ( || ( a? ( || ( A c? ( C ) ) ) b? ( B ) ) )', [], ''],
  ['|| ( || ( a? ( || ( A c? ( C ) ) ) b? ( B ) ) )', ['a'], 'A'],
  ['|| ( || ( a? ( || ( A c? ( C ) ) ) b? ( B ) ) )', ['b'], 'B'],
  ['|| ( || ( a? ( || ( A c? ( C ) ) ) b? ( B ) ) )', ['c'], ''],
  ['|| ( || ( a? ( || ( A c? ( C ) ) ) b? ( B ) ) )', ['a', 'c'], '|| ( A C )'],
  ['A', [], 'A'],
  ['( A )', [], 'A'],
  ['|| ( A B )', [], '|| ( A B )'],
  ['|| ( ( A B ) C )', [], '|| ( ( A B ) C )'],
  ['|| ( ( A B ) ( C ) )', [], '|| ( ( A B ) C )'],
  ['|| ( A || ( B C ) )', [], '|| ( A B C )'],
  ['|| ( A || ( B C D ) )', [], '|| ( A B C D )'],
  ['|| ( A || ( B || ( C D ) E ) )', [], '|| ( A B C D E )'],
  ['( || ( ( ( A ) B ) ) )', [], 'A B'],
  ['( || ( || ( ( A ) B ) ) )', [], '|| ( A B )'],
  ['|| ( A )', [], 'A'],
  ['( || ( || ( || ( A ) foo? ( B ) ) ) )', [], 'A'],
  ['( || ( || ( || ( A ) foo? ( B ) ) ) )', ['foo'], '|| ( A B )'],
  ['( || ( || ( bar? ( A ) || ( foo? ( B ) ) ) ) )', [], ''],
  ['( || ( || ( bar? ( A ) || ( foo? ( B ) ) ) ) )', ['foo', 'bar'], '|| ( A B )'],
  ['A || ( bar? ( C ) ) foo? ( bar? ( C ) ) B', [], 'A B'],
  ['|| ( A ) || ( B )', [], 'A B'],
  ['foo? ( A ) foo? ( B )', [], ''],
  ['foo? ( A ) foo? ( B )', ['foo'], 'A B'],
  ['|| ( A B ) C', [], '|| ( A B ) C'],
  ['A || ( B C )', [], 'A || ( B C )'],
  ['A foo? ( || ( B || ( bar? ( || ( C D E ) ) !bar? ( F ) ) ) ) G', ['foo', 'bar'], 'A || ( B C D E ) G'],
  ['|| ( ( A B ) foo? ( || ( C D ) ) )', ['foo'], '|| ( ( A B ) C D )'],
  ['|| ( ( A B ) || ( C D ) )', [], '|| ( ( A B ) C D )'],
  ['|| ( ( A B ) || ( C D || ( E ( F G ) || ( H ) ) ) )', [], '|| ( ( A B ) C D E ( F G ) H )'],
  ['|| ( foo? ( A B ) )', ['foo'], 'A B'],
  ['|| ( || ( foo? ( A B ) ) )', ['foo'], 'A B'],
  ['|| ( || ( || ( a? ( b? ( c? ( || ( || ( || ( d? ( e? ( f? ( A B ) ) ) ) ) ) ) ) ) ) ) )', ['a', 'b', 'c', 'd', 'e', 'f'], 'A B'],
  ['|| ( || ( ( || ( a? ( ( b? ( c? ( || ( || ( || ( ( d? ( e? ( f? ( A B ) ) ) ) ) ) ) ) ) ) ) ) ) ) )', ['a', 'b', 'c', 'd', 'e', 'f'], 'A B'],
  ['|| ( ( A ( || ( B ) ) ) )', [], 'A B'],
  ['|| ( ( A B ) || ( foo? ( bar? ( ( C D || ( baz? ( E ) ( F G ) || ( H ) ) ) ) ) ) )', ['foo', 'bar', 'baz'], '|| ( ( A B ) ( C D || ( E ( F G ) H ) ) )'],
  ['foo? ( A )', ['foo'], 'A'],
  ['foo? ( A )', [], ''],
];

describe('evaluateDepSpec', () => {
  it.each(USE_REDUCE_CASES)('%s with USE=%j gives %j (Portage test_use_reduce)', (text, use, expected) => {
    const spec = parseDepSpec(text, { leaves: 'tokens' });
    expect(spec.diagnostics).toEqual([]);
    expect(formatDepSpec(evaluateDepSpec(spec.nodes, use, { eapi: '0' }))).toBe(expected);
  });

  it('keeps an any-of group emptied by its conditionals as unsatisfiable in EAPI 7 and later', () => {
    const nodes = parseDepSpec('dev-libs/A || ( foo? ( dev-libs/B ) )').nodes;
    const evaluated = evaluateDepSpec(nodes, []);
    expect(evaluated).toHaveLength(2);
    expect(evaluated[1]).toEqual({ kind: 'any-of', children: [] });
    expect(formatDepSpec(evaluateDepSpec(nodes, [], { eapi: '6' }))).toBe('dev-libs/A');
  });

  it('resolves conditional USE dependencies inside atoms', () => {
    const spec = parseDepSpec('sys-libs/libxcrypt[system(-),static-libs(-)?,abi_x86_32(-)?]');
    const [node] = evaluateDepSpec(spec.nodes, new Set(['abi_x86_32']));
    expect(node?.kind === 'atom' && formatAtom(node.atom)).toBe('sys-libs/libxcrypt[system(-),abi_x86_32(-)]');
  });

  it('keeps REQUIRED_USE groups with their conditionals resolved', () => {
    const spec = parseDepSpec('^^ ( a b foo? ( c ) ) ?? ( x !foo? ( y ) )', { leaves: 'tokens' });
    expect(formatDepSpec(evaluateDepSpec(spec.nodes, ['foo']))).toBe('^^ ( a b c ) ?? ( x )');
  });

  it('reduces the real libxcrypt and virtual/libcrypt metadata the way the VDB records them', () => {
    const read = (name: string) => parseMd5CacheEntry(readFileSync(join(MODERN_MD5_CACHE, name), 'utf8')).entry;
    const libxcrypt = read('sys-libs/libxcrypt-4.4.38');
    const use = ['compat', 'system', 'elibc_glibc', 'abi_x86_64', 'amd64'];
    expect(formatDepSpec(evaluateDepSpec(parseDepSpec(libxcrypt.values.DEPEND ?? '').nodes, use))).toBe(
      'sys-libs/glibc[-crypt(-)] !sys-libs/glibc[crypt(-)]',
    );
    expect(formatDepSpec(evaluateDepSpec(parseDepSpec(libxcrypt.values.BDEPEND ?? '').nodes, use))).toBe('dev-lang/perl');
    expect(formatDepSpec(evaluateDepSpec(parseDepSpec(libxcrypt.values.RESTRICT ?? '', { leaves: 'tokens' }).nodes, use))).toBe('test');

    const virtual = read('virtual/libcrypt-2-r1');
    expect(formatDepSpec(evaluateDepSpec(parseDepSpec(virtual.values.RDEPEND ?? '').nodes, use))).toBe(
      'sys-libs/libxcrypt[system(-),abi_x86_64(-)]',
    );
    expect(evaluateDepSpec(parseDepSpec(virtual.values.RDEPEND ?? '').nodes, [...use, 'prefix-guest'])).toEqual([]);
  });

  it('collects every atom, whatever group it is in', () => {
    const spec = parseDepSpec('a/b || ( c/d ( e/f !g/h ) ) x? ( i/j )');
    expect(collectAtoms(spec.nodes).map(formatAtom)).toEqual(['a/b', 'c/d', 'e/f', '!g/h', 'i/j']);
  });
});

/**
 * Version ordering exactly as Portage's `vercmp` (lib/portage/versions.py), which implements PMS 3.3:
 *
 * - the first numeric component compares as an integer;
 * - later components compare as integers, unless either has a leading zero: then both are compared as strings
 *   after padding the shorter with trailing zeros (`1.01` < `1.1`, `1.010` = `1.01`);
 * - a version with more numeric components is greater once the common ones are equal (`1.0` < `1.0.0`), and that
 *   is decided before letters (`12.2b` < `12.2.5`);
 * - a letter beats no letter, letters compare alphabetically;
 * - suffixes compare pairwise, `_alpha` < `_beta` < `_pre` < `_rc` < `_p`; a missing suffix counts as below `_p`
 *   and above the others (`1_rc1` < `1` < `1_p0`), a missing suffix number counts as 0;
 * - finally the revision, absent = `-r0`. A Gentoo Prefix revision `-rN.M` compares N first, then M, with no `.M`
 *   below any `.M` (`-r1` < `-r01.1` < `-r2`).
 *
 * Numbers have no size limit. Versions that are written differently can compare equal (`1.0-r0` and `1.0`).
 */

import { parseVersion, type Version, type VersionSuffixKind } from './parse-version.ts';

export type VersionOrder = -1 | 0 | 1;

const SUFFIX_RANK: Readonly<Record<VersionSuffixKind, number>> = { alpha: -4, beta: -3, pre: -2, rc: -1, p: 0 };

/** Longest digit string that Number() still holds exactly. */
const SAFE_DIGITS = 15;

function sign(value: number): VersionOrder {
  return value < 0 ? -1 : value > 0 ? 1 : 0;
}

/** Compares two digit strings as non-negative integers of any size. */
function compareIntegers(a: string, b: string): VersionOrder {
  if (a.length <= SAFE_DIGITS && b.length <= SAFE_DIGITS) return sign(Number(a) - Number(b));
  const left = a.replace(/^0+/, '');
  const right = b.replace(/^0+/, '');
  if (left.length !== right.length) return left.length < right.length ? -1 : 1;
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Portage's rule for components with a leading zero: pad to equal length with trailing zeros, then compare. */
function compareFractions(a: string, b: string): VersionOrder {
  const width = Math.max(a.length, b.length);
  const left = a.padEnd(width, '0');
  const right = b.padEnd(width, '0');
  return left < right ? -1 : left > right ? 1 : 0;
}

function compareComponents(a: Version, b: Version): VersionOrder {
  const first = compareIntegers(a.numbers[0] as string, b.numbers[0] as string);
  if (first !== 0) return first;
  const count = Math.max(a.numbers.length, b.numbers.length);
  for (let index = 1; index < count; index += 1) {
    const left = a.numbers[index];
    const right = b.numbers[index];
    // A missing component ranks below any present one.
    if (left === undefined) return -1;
    if (right === undefined) return 1;
    const order =
      left.charCodeAt(0) === 48 || right.charCodeAt(0) === 48 ? compareFractions(left, right) : compareIntegers(left, right);
    if (order !== 0) return order;
  }
  if (a.letter !== b.letter) {
    if (a.letter === '') return -1;
    if (b.letter === '') return 1;
    return a.letter < b.letter ? -1 : 1;
  }
  return 0;
}

function compareSuffixes(a: Version, b: Version): VersionOrder {
  const count = Math.max(a.suffixes.length, b.suffixes.length);
  for (let index = 0; index < count; index += 1) {
    const left = a.suffixes[index];
    const right = b.suffixes[index];
    // A missing suffix behaves as `_p` with number -1: below `_p`/`_p0`, above `_alpha`.._rc`.
    const leftRank = left === undefined ? SUFFIX_RANK.p : SUFFIX_RANK[left.kind];
    const rightRank = right === undefined ? SUFFIX_RANK.p : SUFFIX_RANK[right.kind];
    if (leftRank !== rightRank) return leftRank < rightRank ? -1 : 1;
    if (left === undefined) return -1;
    if (right === undefined) return 1;
    const order = compareIntegers(left.number || '0', right.number || '0');
    if (order !== 0) return order;
  }
  return 0;
}

function compareRevisions(a: string, b: string): VersionOrder {
  const [leftMain = '', leftSub] = a.split('.');
  const [rightMain = '', rightSub] = b.split('.');
  const main = compareIntegers(leftMain || '0', rightMain || '0');
  if (main !== 0 || leftSub === rightSub) return main;
  if (leftSub === undefined) return -1;
  if (rightSub === undefined) return 1;
  return compareIntegers(leftSub, rightSub);
}

function toVersion(value: string | Version): Version {
  return typeof value === 'string' ? parseVersion(value) : value;
}

/**
 * -1, 0 or 1 as `a` sorts before, equal to or after `b`. Strings are parsed first and throw ARGO_VERSION_INVALID
 * when they are not PMS versions.
 */
export function compareVersions(a: string | Version, b: string | Version): VersionOrder {
  const left = toVersion(a);
  const right = toVersion(b);
  return (
    compareComponents(left, right) ||
    compareSuffixes(left, right) ||
    compareRevisions(left.revision, right.revision)
  );
}

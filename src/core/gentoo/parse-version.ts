/**
 * Package versions as PMS 3.2 defines them and Portage accepts them (`ver_regexp` in lib/portage/versions.py):
 * numbers separated by dots, an optional letter, any number of `_alpha _beta _pre _rc _p` suffixes each with an
 * optional number, and an optional `-rN` revision: `1.2.3b_rc4_p5-r6`.
 *
 * Numbers are kept as the digit strings written, because PMS compares components after the first as strings when
 * one has a leading zero (`1.01` < `1.1`) and because Portage compares arbitrarily large integers.
 *
 * One extension beyond PMS: Gentoo Prefix's Portage accepts "intermediate" revisions `-rN.M` (`gcc-config-1.8-r00.1`,
 * `python-updater-0.10-r02.1`; Prefix patch for bug 918717) and real Prefix VDBs contain them, so they are accepted
 * here too. {@link isPmsVersion} tells the strict PMS syntax apart.
 */

import { ArgoError } from '../errors.ts';
import { accept, refuse, type ParseResult } from './parse-result.ts';

export type VersionSuffixKind = 'alpha' | 'beta' | 'pre' | 'rc' | 'p';

export interface VersionSuffix {
  readonly kind: VersionSuffixKind;
  /** Digits as written; empty when the suffix has no number (`_rc` counts as `_rc0`). */
  readonly number: string;
}

export interface Version {
  /** The version exactly as written, revision included: `4.4_p23-r1`. */
  readonly text: string;
  /** Numeric components as written: `['4', '4']`. Never empty. */
  readonly numbers: readonly string[];
  /** `''` or one letter `a`-`z`. */
  readonly letter: string;
  readonly suffixes: readonly VersionSuffix[];
  /** Digits after `-r` (`N.M` for a Gentoo Prefix revision); empty when there is none, which equals `-r0`. */
  readonly revision: string;
}

const INVALID_VERSION_HINT =
  'A version is numbers separated by dots, an optional letter, optional _alpha/_beta/_pre/_rc/_p suffixes ' +
  'and an optional -rN revision, e.g. 1.2.3b_rc1-r2.';

/** Suffix names in the order they are tried: `pre` before `p` so that `_pre1` is not read as `_p` + `re1`. */
const SUFFIX_KINDS: readonly VersionSuffixKind[] = ['alpha', 'beta', 'pre', 'rc', 'p'];

const CODE_0 = 48;
const CODE_9 = 57;
const CODE_A = 97;
const CODE_Z = 122;

function isDigitAt(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  return code >= CODE_0 && code <= CODE_9;
}

/** Index just past the run of digits starting at `index` (equal to `index` when there is none). */
function skipDigits(text: string, index: number): number {
  let end = index;
  while (end < text.length && isDigitAt(text, end)) end += 1;
  return end;
}

export function tryParseVersion(text: string): ParseResult<Version> {
  const numbers: string[] = [];
  let index = skipDigits(text, 0);
  if (index === 0) return refuse('a version must start with a digit');
  numbers.push(text.slice(0, index));
  while (text.charCodeAt(index) === 46 /* . */) {
    const end = skipDigits(text, index + 1);
    if (end === index + 1) return refuse('a dot in a version must be followed by digits');
    numbers.push(text.slice(index + 1, end));
    index = end;
  }

  let letter = '';
  const letterCode = text.charCodeAt(index);
  if (letterCode >= CODE_A && letterCode <= CODE_Z) {
    letter = text[index] as string;
    index += 1;
  }

  const suffixes: VersionSuffix[] = [];
  while (text.charCodeAt(index) === 95 /* _ */) {
    const kind = SUFFIX_KINDS.find((candidate) => text.startsWith(candidate, index + 1));
    if (kind === undefined) return refuse('a version suffix must be _alpha, _beta, _pre, _rc or _p');
    const start = index + 1 + kind.length;
    const end = skipDigits(text, start);
    suffixes.push({ kind, number: text.slice(start, end) });
    index = end;
  }

  let revision = '';
  if (index < text.length) {
    if (!text.startsWith('-r', index)) return refuse('unexpected text after the version');
    let end = skipDigits(text, index + 2);
    if (end === index + 2) return refuse('a revision must be -r followed by digits');
    if (text.charCodeAt(end) === 46 /* . */ && skipDigits(text, end + 1) > end + 1) end = skipDigits(text, end + 1);
    if (end !== text.length) return refuse('unexpected text after the revision');
    revision = text.slice(index + 2, end);
  }

  return accept({ text, numbers, letter, suffixes, revision });
}

/** Throws ARGO_VERSION_INVALID, naming the text, when `text` is not a PMS version. */
export function parseVersion(text: string): Version {
  const result = tryParseVersion(text);
  if (!result.ok) {
    throw new ArgoError('ARGO_VERSION_INVALID', `Invalid package version "${text}": ${result.reason}`, {
      hint: INVALID_VERSION_HINT,
      details: { version: text },
    });
  }
  return result.value;
}

/** True for every version this module parses, Gentoo Prefix revisions (`-r01.1`) included. */
export function isValidVersion(text: string): boolean {
  return tryParseVersion(text).ok;
}

/** True only for the strict PMS syntax: a valid version without a Gentoo Prefix `-rN.M` revision. */
export function isPmsVersion(text: string): boolean {
  const result = tryParseVersion(text);
  return result.ok && !result.value.revision.includes('.');
}

/** The version without its `-rN` part (PV for PVR): `4.4_p23` for `4.4_p23-r1`. */
export function stripRevision(version: Version): string {
  return version.revision === '' ? version.text : version.text.slice(0, version.text.lastIndexOf('-r'));
}

/**
 * Build durations from `/var/log/emerge.log` (written by lib/_emerge/emergelog.py as `<epoch>: <message>`), paired
 * the way qlop (portage-utils qlop.c) pairs them:
 *
 * - ` >>> emerge (i of n) CPV to ROOT` starts a package, keyed by (CPV, ROOT); a newer start for the same key
 *   replaces the pending one, which is then an aborted attempt;
 * - ` ::: completed emerge (i of n) CPV to ROOT` with a pending start is a build;
 * - a new ` *** emerge` line clears nothing: parallel emerge runs interleave their lines;
 * - a start still pending at the end is unfinished;
 * - ` === (i of n) Merging Binary (CPV::path)` / ` --- (i of n) Fetching Binary (CPV::path)` mark the pending
 *   start of the same CPV and (i of n) as a binary package merge.
 *
 * Lines are split once and matched with startsWith/indexOf (no regular expression per line) to stay fast on
 * logs of many megabytes.
 */

import type { Diagnostic } from './diagnostics.ts';

export interface EmergeLogAttempt {
  readonly cpv: string;
  readonly root: string;
  /** Epoch seconds of the `>>> emerge` line. */
  readonly start: number;
  /** 1-based line of the `>>> emerge` line. */
  readonly line: number;
  readonly index: number;
  readonly total: number;
  /** A binary package (Fetching/Merging Binary seen for this attempt). */
  readonly binary: boolean;
}

export interface EmergeLogBuild extends EmergeLogAttempt {
  /** Epoch seconds of the `::: completed emerge` line. */
  readonly end: number;
  readonly seconds: number;
}

export interface EmergeLogAbort extends EmergeLogAttempt {
  /** Epoch seconds of the newer start that replaced this one. */
  readonly replacedAt: number;
}

export interface ParsedEmergeLog {
  /** Completed merges in completion order. */
  readonly builds: readonly EmergeLogBuild[];
  /** Starts replaced by a newer start of the same CPV and ROOT before they completed. */
  readonly aborted: readonly EmergeLogAbort[];
  /** Starts that never completed by the end of the log. */
  readonly unfinished: readonly EmergeLogAttempt[];
  readonly diagnostics: readonly Diagnostic[];
}

export interface ParseEmergeLogOptions {
  readonly file?: string;
  /** Diagnostics kept before the rest are counted in one summary (default 1000). */
  readonly maxDiagnostics?: number;
}

interface Pending {
  cpv: string;
  root: string;
  start: number;
  line: number;
  index: number;
  total: number;
  binary: boolean;
}

const START = '>>> emerge (';
const COMPLETED = '::: completed emerge (';
const MERGING_BINARY = '=== (';
const FETCHING_BINARY = '--- (';

export function parseEmergeLog(text: string, options: ParseEmergeLogOptions = {}): ParsedEmergeLog {
  const maxDiagnostics = options.maxDiagnostics ?? 1000;
  const diagnostics: Diagnostic[] = [];
  let suppressed = 0;
  const report = (line: number, message: string): void => {
    if (diagnostics.length >= maxDiagnostics) {
      suppressed += 1;
      return;
    }
    diagnostics.push({ ...(options.file === undefined ? {} : { file: options.file }), line, message, action: 'ignored' });
  };

  const builds: EmergeLogBuild[] = [];
  const aborted: EmergeLogAbort[] = [];
  const pending = new Map<string, Pending>();
  /** Latest pending start per CPV, to attach binary markers that carry no ROOT. */
  const pendingByCpv = new Map<string, Pending>();

  let lineStart = 0;
  let lineNumber = 0;
  const length = text.length;
  while (lineStart < length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = length;
    lineNumber += 1;
    const from = lineStart;
    let to = lineEnd;
    lineStart = lineEnd + 1;
    if (to > from && text.charCodeAt(to - 1) === 0x0d) to -= 1;
    if (to === from) continue;

    const colon = text.indexOf(':', from);
    const time = colon === -1 || colon >= to ? Number.NaN : parseEpoch(text, from, colon);
    if (Number.isNaN(time)) {
      report(lineNumber, 'line does not start with "<epoch>: "; ignored');
      continue;
    }
    let at = colon + 1;
    while (at < to && text.charCodeAt(at) === 0x20) at += 1;

    if (text.startsWith(START, at)) {
      const parsed = parseCounterLine(text, at + START.length, to);
      if (parsed === undefined) {
        report(lineNumber, 'malformed ">>> emerge" line; ignored');
        continue;
      }
      const key = `${parsed.cpv}\u0000${parsed.root}`;
      const previous = pending.get(key);
      if (previous !== undefined) aborted.push({ ...previous, replacedAt: time });
      const attempt: Pending = { ...parsed, start: time, line: lineNumber, binary: false };
      pending.set(key, attempt);
      pendingByCpv.set(parsed.cpv, attempt);
    } else if (text.startsWith(COMPLETED, at)) {
      const parsed = parseCounterLine(text, at + COMPLETED.length, to);
      if (parsed === undefined) {
        report(lineNumber, 'malformed "::: completed emerge" line; ignored');
        continue;
      }
      const key = `${parsed.cpv}\u0000${parsed.root}`;
      const started = pending.get(key);
      if (started === undefined) continue;
      pending.delete(key);
      if (pendingByCpv.get(parsed.cpv) === started) pendingByCpv.delete(parsed.cpv);
      builds.push({ ...started, end: time, seconds: time - started.start });
    } else if (text.startsWith(MERGING_BINARY, at) || text.startsWith(FETCHING_BINARY, at)) {
      markBinary(text, at + MERGING_BINARY.length, to, pendingByCpv);
    }
  }
  if (suppressed > 0) {
    diagnostics.push({
      ...(options.file === undefined ? {} : { file: options.file }),
      message: `${suppressed} more malformed lines ignored`,
      action: 'ignored',
    });
  }

  const unfinished = [...pending.values()].sort((a, b) => a.line - b.line).map(({ ...attempt }) => attempt);
  return { builds, aborted, unfinished, diagnostics };
}

/** Whole seconds before the colon; NaN unless they are all digits. */
function parseEpoch(text: string, from: number, colon: number): number {
  if (colon === from || colon - from > 15) return Number.NaN;
  let value = 0;
  for (let index = from; index < colon; index += 1) {
    const digit = text.charCodeAt(index) - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}

/** `i of n) CPV to ROOT` from `at` (just after the opening parenthesis) to `to`. */
function parseCounterLine(
  text: string,
  at: number,
  to: number,
): { index: number; total: number; cpv: string; root: string } | undefined {
  const counter = parseCounter(text, at, to);
  if (counter === undefined) return undefined;
  const cpvStart = counter.next;
  const cpvEnd = text.indexOf(' ', cpvStart);
  if (cpvEnd === -1 || cpvEnd >= to || cpvEnd === cpvStart) return undefined;
  if (!text.startsWith(' to ', cpvEnd)) return undefined;
  const root = text.slice(cpvEnd + 4, to);
  if (root === '') return undefined;
  return { index: counter.index, total: counter.total, cpv: text.slice(cpvStart, cpvEnd), root };
}

/** `i of n) ` -> numbers and the position after the space. */
function parseCounter(text: string, at: number, to: number): { index: number; total: number; next: number } | undefined {
  const of = text.indexOf(' of ', at);
  if (of === -1 || of >= to) return undefined;
  const close = text.indexOf(') ', of);
  if (close === -1 || close >= to) return undefined;
  const index = parseEpoch(text, at, of);
  const total = parseEpoch(text, of + 4, close);
  if (Number.isNaN(index) || Number.isNaN(total)) return undefined;
  return { index, total, next: close + 2 };
}

/** `i of n) Merging Binary (CPV::path)` or `... Fetching Binary (...)`: flags the matching pending start. */
function markBinary(text: string, at: number, to: number, pendingByCpv: ReadonlyMap<string, Pending>): void {
  const counter = parseCounter(text, at, to);
  if (counter === undefined) return;
  let open: number;
  if (text.startsWith('Merging Binary (', counter.next)) open = counter.next + 'Merging Binary ('.length;
  else if (text.startsWith('Fetching Binary (', counter.next)) open = counter.next + 'Fetching Binary ('.length;
  else return;
  const separator = text.indexOf('::', open);
  if (separator === -1 || separator >= to) return;
  const attempt = pendingByCpv.get(text.slice(open, separator));
  if (attempt !== undefined && attempt.index === counter.index && attempt.total === counter.total) attempt.binary = true;
}

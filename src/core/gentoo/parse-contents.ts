/**
 * The CONTENTS file of an installed package (`/var/db/pkg/CAT/PF/CONTENTS`), read as Portage's
 * `dblink.getcontents` does with `_contents_re` (lib/portage/dbapi/vartree.py):
 *
 * ```
 * dir <path>            dev <path>            fif <path>
 * obj <path> <md5> <mtime>
 * sym <path> -> <target> <mtime>
 * ```
 *
 * Paths may contain spaces, so `obj` lines are read from the right (the last two words are the md5 and the
 * mtime) and `sym` lines split at the last ` -> ` before the mtime. The Python-2-era `sym` form that ends in a
 * stat tuple `(…, mtime, …)` is read too. Lines Portage would not recognise, or that contain a NUL byte, become
 * diagnostics and are skipped, as Portage skips them. Paths are kept as written (with EPREFIX on Prefix systems).
 */

import type { Diagnostic } from './diagnostics.ts';

export type ContentsEntry =
  | { readonly type: 'dir' | 'dev' | 'fif'; readonly path: string }
  | { readonly type: 'obj'; readonly path: string; readonly md5: string; readonly mtime: number }
  | { readonly type: 'sym'; readonly path: string; readonly target: string; readonly mtime: number };

export interface ParseContentsOptions {
  readonly file?: string;
}

export interface Contents {
  readonly entries: readonly ContentsEntry[];
  readonly diagnostics: readonly Diagnostic[];
}

const DIGITS = /^\d+$/;
const OLD_SYM = /^sym (.+) -> (.+) \(\d+, \d+L, \d+L, \d+, \d+, \d+, \d+L, \d+, (\d+), \d+\)$/;

/** Splits `rest` as `<head> <digits>`, the shape every obj/sym line ends with. */
function splitMtime(rest: string): { head: string; mtime: number } | undefined {
  const space = rest.lastIndexOf(' ');
  if (space <= 0) return undefined;
  const digits = rest.slice(space + 1);
  if (!DIGITS.test(digits)) return undefined;
  return { head: rest.slice(0, space), mtime: Number(digits) };
}

function readObj(rest: string): ContentsEntry | undefined {
  const tail = splitMtime(rest);
  if (tail === undefined) return undefined;
  const space = tail.head.lastIndexOf(' ');
  if (space <= 0) return undefined;
  const md5 = tail.head.slice(space + 1);
  if (md5 === '' || /\s/.test(md5)) return undefined;
  return { type: 'obj', path: tail.head.slice(0, space), md5, mtime: tail.mtime };
}

function readSym(line: string): ContentsEntry | undefined {
  const tail = splitMtime(line.slice(4));
  if (tail !== undefined) {
    // The path is greedy in Portage's regex: take the last arrow that leaves a non-empty target.
    for (let arrow = tail.head.lastIndexOf(' -> '); arrow > 0; arrow = tail.head.lastIndexOf(' -> ', arrow - 1)) {
      const target = tail.head.slice(arrow + 4);
      if (target !== '') return { type: 'sym', path: tail.head.slice(0, arrow), target, mtime: tail.mtime };
    }
    return undefined;
  }
  const old = OLD_SYM.exec(line);
  if (old === null) return undefined;
  return { type: 'sym', path: old[1] as string, target: old[2] as string, mtime: Number(old[3]) };
}

function readLine(line: string): ContentsEntry | undefined {
  const type = line.slice(0, 4);
  switch (type) {
    case 'dir ':
    case 'dev ':
    case 'fif ': {
      const path = line.slice(4);
      return path === '' ? undefined : { type: type.slice(0, 3) as 'dir' | 'dev' | 'fif', path };
    }
    case 'obj ':
      return readObj(line.slice(4));
    case 'sym ':
      return readSym(line);
    default:
      return undefined;
  }
}

export function parseContents(text: string, options: ParseContentsOptions = {}): Contents {
  const entries: ContentsEntry[] = [];
  const diagnostics: Diagnostic[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, index) => {
    const problem = line.includes('\0') ? 'a CONTENTS line contains a NUL byte' : undefined;
    const entry = problem === undefined ? readLine(line) : undefined;
    if (entry !== undefined) {
      entries.push(entry);
      return;
    }
    diagnostics.push({
      ...(options.file === undefined ? {} : { file: options.file }),
      line: index + 1,
      field: line.slice(0, 3),
      message: problem ?? 'a CONTENTS line is not dir, dev, fif, obj or sym in the expected shape',
      action: 'ignored',
    });
  });
  return { entries, diagnostics };
}

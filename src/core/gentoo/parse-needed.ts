/**
 * The ELF link records of an installed package (bin/misc-functions.sh writes them from scanelf output):
 *
 * - `NEEDED.ELF.2`: `ARCH;object;soname;rpath;needed,...;multilib_category`, one ELF file per line, read as
 *   Portage's `NeededEntry.parse` (lib/portage/util/_dyn_libs/NeededEntry.py) does: at least five `;`-separated
 *   fields, the sixth (multilib category, added by doebuild.py) optional, extra fields ignored, rpath split on `:`,
 *   needed on `,`, empty items dropped.
 * - `NEEDED` (older format, no longer read by Portage): `object needed,...`; the object path may contain spaces,
 *   so the line is split at its last space.
 */

import type { Diagnostic } from './diagnostics.ts';

export interface NeededElfEntry {
  /** `X86_64`, `ARM`, ... as scanelf names it. */
  readonly arch: string;
  readonly path: string;
  /** Empty for executables. */
  readonly soname: string;
  readonly runpaths: readonly string[];
  readonly needed: readonly string[];
  /** `x86_64`, `x86_32` ...; absent in entries written before Portage recorded it. */
  readonly multilibCategory?: string;
}

export interface NeededEntry {
  readonly path: string;
  readonly needed: readonly string[];
}

export interface ParseNeededOptions {
  readonly file?: string;
}

const MIN_FIELDS = 5;

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function parseNeededElf2(
  text: string,
  options: ParseNeededOptions = {},
): { readonly entries: readonly NeededElfEntry[]; readonly diagnostics: readonly Diagnostic[] } {
  const entries: NeededElfEntry[] = [];
  const diagnostics: Diagnostic[] = [];
  splitLines(text).forEach((line, index) => {
    const fields = line.split(';');
    if (fields.length < MIN_FIELDS) {
      diagnostics.push({
        ...(options.file === undefined ? {} : { file: options.file }),
        line: index + 1,
        message: 'a NEEDED.ELF.2 line has fewer than 5 ;-separated fields',
        action: 'ignored',
      });
      return;
    }
    const [arch = '', path = '', soname = '', rpath = '', needed = '', category = ''] = fields;
    entries.push({
      arch,
      path,
      soname,
      runpaths: rpath.split(':').filter((item) => item !== ''),
      needed: needed.split(',').filter((item) => item !== ''),
      ...(category === '' ? {} : { multilibCategory: category }),
    });
  });
  return { entries, diagnostics };
}

export function parseNeeded(text: string): readonly NeededEntry[] {
  return splitLines(text)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const space = line.lastIndexOf(' ');
      if (space === -1) return { path: line, needed: [] };
      return { path: line.slice(0, space), needed: line.slice(space + 1).split(',').filter((item) => item !== '') };
    });
}

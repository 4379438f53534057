/**
 * PROVIDES and REQUIRES soname lists (VDB files, Packages index keys), as Portage's `parse_soname_deps`
 * (lib/portage/dep/soname/parse.py) reads them: `x86_32: libc.so.6 x86_64: libc.so.6 libcrypt.so.2`, a multilib
 * category ending in `:` followed by the sonames it applies to; several categories may follow each other.
 *
 * Portage rejects the whole value for a soname before any category, a category with no soname or a category
 * given twice; here each becomes a diagnostic and the rest is kept.
 */

import type { Diagnostic } from './diagnostics.ts';

export interface ParseSonameDepsOptions {
  readonly file?: string;
  /** `PROVIDES` or `REQUIRES`, copied into diagnostics. */
  readonly field?: string;
}

export interface SonameDeps {
  /** Multilib category (`x86_64`) → sonames in the order written. */
  readonly byCategory: Readonly<Record<string, readonly string[]>>;
  readonly diagnostics: readonly Diagnostic[];
}

export function parseSonameDeps(text: string, options: ParseSonameDepsOptions = {}): SonameDeps {
  const byCategory = new Map<string, string[]>();
  const diagnostics: Diagnostic[] = [];
  const report = (message: string, token: string): void => {
    diagnostics.push({
      ...(options.file === undefined ? {} : { file: options.file }),
      field: options.field === undefined ? token : `${options.field}: ${token}`,
      message,
      action: 'ignored',
    });
  };
  let current: string[] | undefined;
  let currentName = '';
  const closeCategory = (): void => {
    if (current !== undefined && current.length === 0) report('a soname category lists no soname', `${currentName}:`);
  };
  for (const token of text.split(/\s+/)) {
    if (token === '') continue;
    if (token.endsWith(':')) {
      closeCategory();
      currentName = token.slice(0, -1);
      if (byCategory.has(currentName)) report('a soname category appears twice', token);
      current = byCategory.get(currentName) ?? [];
      byCategory.set(currentName, current);
      continue;
    }
    if (current === undefined) {
      report('a soname comes before any category', token);
      continue;
    }
    current.push(token);
  }
  closeCategory();
  return { byCategory: Object.fromEntries(byCategory), diagnostics };
}

/**
 * One ebuild metadata cache entry, `metadata/md5-cache/CATEGORY/PF` in a repository, as Portage's
 * `cache.flat_hash.md5_database` reads it: `KEY=value` lines (split at the first `=`), `_eclasses_` holding
 * tab-separated `name`/`md5` pairs, `_md5_` the md5 of the ebuild. Dependencies here are *unreduced* (USE
 * conditionals still present): parse them with `parseDepSpec(entry.values.RDEPEND ?? '')` and reduce them with
 * `evaluateDepSpec`.
 *
 * Portage treats a line without `=` or an odd number of `_eclasses_` fields as a corrupt entry and regenerates it;
 * here each is a diagnostic and the rest of the entry is kept.
 */

import type { Diagnostic } from './diagnostics.ts';

export interface EclassDigest {
  readonly name: string;
  readonly md5: string;
}

export interface Md5CacheEntry {
  /** Every `KEY=value` line, `_eclasses_` and `_md5_` included, values as written. */
  readonly values: Readonly<Record<string, string>>;
  /** `_eclasses_` pairs, in order. */
  readonly eclasses: readonly EclassDigest[];
  /** `_md5_`: md5 of the ebuild the entry was generated from. */
  readonly md5?: string;
  /** INHERIT (eclasses named by the ebuild itself; absent in entries from before 2016), split on whitespace. */
  readonly inherit: readonly string[];
  /** `0` when EAPI is missing, as Portage assumes. */
  readonly eapi: string;
}

export interface ParseMd5CacheEntryOptions {
  readonly file?: string;
}

export function parseMd5CacheEntry(
  text: string,
  options: ParseMd5CacheEntryOptions = {},
): { readonly entry: Md5CacheEntry; readonly diagnostics: readonly Diagnostic[] } {
  const values: Record<string, string> = {};
  const diagnostics: Diagnostic[] = [];
  const report = (line: number | undefined, field: string, message: string): void => {
    diagnostics.push({
      ...(options.file === undefined ? {} : { file: options.file }),
      ...(line === undefined ? {} : { line }),
      field,
      message,
      action: 'ignored',
    });
  };
  text.split('\n').forEach((line, index) => {
    if (line === '') return;
    const equals = line.indexOf('=');
    if (equals === -1) {
      report(index + 1, line, 'a cache line has no =');
      return;
    }
    values[line.slice(0, equals)] = line.slice(equals + 1);
  });

  const eclasses: EclassDigest[] = [];
  const eclassText = (values._eclasses_ ?? '').trim();
  if (eclassText !== '') {
    const fields = eclassText.split('\t');
    if (fields.length % 2 !== 0) report(undefined, '_eclasses_', '_eclasses_ does not hold name/md5 pairs');
    for (let index = 0; index + 1 < fields.length; index += 2) {
      eclasses.push({ name: fields[index] as string, md5: fields[index + 1] as string });
    }
  }
  const inherit = (values.INHERIT ?? '').split(/\s+/).filter((name) => name !== '');
  const entry: Md5CacheEntry = {
    values,
    eclasses,
    inherit,
    eapi: values.EAPI || '0',
    ...(values._md5_ === undefined ? {} : { md5: values._md5_ }),
  };
  return { entry, diagnostics };
}

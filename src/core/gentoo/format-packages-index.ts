/**
 * Writes a binhost `Packages` index byte for byte as Portage's `PackageIndex.write` (lib/portage/getbinpkg.py)
 * would: header keys sorted, packages sorted by plain string comparison of CPV (stable), package keys sorted by
 * their internal names (so `MTIME` and `REPO` come last), defaults and header-inherited values omitted, empty
 * values never written, a blank line after every stanza.
 */

import { ArgoError } from '../errors.ts';
import {
  INHERITED_KEYS,
  PACKAGE_DEFAULTS,
  canonicalStanzas,
  compareCodeUnits,
  sortKeyOf,
  type IndexFields,
  type PackagesIndex,
  type PackagesIndexEntry,
} from './packages-index.ts';

export interface FormatPackagesIndexOptions {
  /**
   * Write the keys Portage drops on read back into their stanzas (default true), so that reading and writing an
   * index gives back its bytes. False writes what Portage itself would write after reading the file.
   */
  readonly keepDroppedFields?: boolean;
  /**
   * Regenerate `TIMESTAMP` (this time) and `PACKAGES` (the entry count) as Portage does when the index was
   * modified. Without it the header is written as given.
   */
  readonly refreshHeaderAt?: Date | number;
}

/** Throws ARGO_INDEX_INVALID when a key or value cannot be written (line break, colon in a key, missing CPV). */
export function formatPackagesIndex(index: PackagesIndex, options: FormatPackagesIndexOptions = {}): string {
  const header = options.refreshHeaderAt === undefined ? index.header : refreshedHeader(index, options.refreshHeaderAt);
  const keepDropped = options.keepDroppedFields ?? true;
  const writer = new StanzaWriter();
  writer.write(header, Object.keys(header), 'header');

  const packages = index.packages;
  const cpvs = packages.map(cpvOf);
  // Array.prototype.sort is stable, like Python's sort, so equal CPVs keep their order (BUILD_ID ascending).
  const order = cpvs.map((_, position) => position).sort((a, b) => compareCodeUnits(cpvs[a] as string, cpvs[b] as string));

  // A key is left out when it equals its default or, for CHOST and REPO, the header's value; Portage's header
  // always has `repository` (default ""), so an empty REPO counts as inherited.
  const headerChost = header['CHOST'];
  const headerRepo = header['REPO'] ?? '';
  const omitted = new Map(PACKAGE_DEFAULTS);
  for (const key of INHERITED_KEYS) {
    const inherited = key === 'REPO' ? headerRepo : header[key];
    if (inherited === undefined) omitted.delete(key);
    else omitted.set(key, inherited);
  }
  for (const position of order) {
    const entry = packages[position] as PackagesIndexEntry;
    const fields = entry.fields;
    const stanza = canonicalStanzas.get(fields);
    const noDropped = isEmpty(entry.droppedFields);
    if (
      stanza !== undefined &&
      stanza.chost === headerChost &&
      stanza.repo === headerRepo &&
      stanza.droppedFields === entry.droppedFields &&
      (keepDropped || noDropped)
    ) {
      writer.copy(stanza.text);
      continue;
    }
    const keys: string[] = [];
    for (const key in fields) {
      const value = fields[key];
      if (value === '' || value === undefined || omitted.get(key) === value) continue;
      keys.push(key);
    }
    if (keepDropped && !noDropped) {
      for (const key in entry.droppedFields) {
        if (!Object.hasOwn(fields, key)) keys.push(key);
      }
    }
    writer.write(fields, keys, cpvs[position] as string, entry.droppedFields);
  }
  return writer.finish();
}

/**
 * A copy of the index with `TIMESTAMP` set to `time` (whole epoch seconds) and `PACKAGES` to the number of
 * entries, as Portage sets them when it writes a modified index.
 */
export function refreshPackagesIndexHeader(index: PackagesIndex, time: Date | number): PackagesIndex {
  return { header: refreshedHeader(index, time), packages: index.packages };
}

/** Collects stanza texts; sorted key orders and checked keys are cached, as most stanzas share their key set. */
class StanzaWriter {
  private readonly chunks: string[] = [];
  private readonly orders = new Map<string, readonly string[]>();
  private readonly prefixes = new Map<string, string>();

  copy(text: string): void {
    this.chunks.push(text);
  }

  write(fields: Readonly<IndexFields>, keys: readonly string[], stanza: string, fallback?: Readonly<IndexFields>): void {
    let out = '';
    for (const key of this.order(keys)) {
      const value = (Object.hasOwn(fields, key) ? fields[key] : fallback?.[key]) as string;
      if (value === '') continue;
      if (value.indexOf('\n') !== -1 || value.indexOf('\r') !== -1) unwritable(stanza, key);
      out += this.prefix(key, stanza) + value + '\n';
    }
    this.chunks.push(out + '\n');
  }

  finish(): string {
    return this.chunks.join('');
  }

  private prefix(key: string, stanza: string): string {
    let prefix = this.prefixes.get(key);
    if (prefix === undefined) {
      if (key === '' || /[\r\n:]/.test(key)) unwritable(stanza, key);
      prefix = `${key}: `;
      this.prefixes.set(key, prefix);
    }
    return prefix;
  }

  private order(keys: readonly string[]): readonly string[] {
    const signature = keys.join('\u0000');
    let sorted = this.orders.get(signature);
    if (sorted === undefined) {
      sorted = [...keys].sort((a, b) => compareCodeUnits(sortKeyOf(a), sortKeyOf(b)));
      this.orders.set(signature, sorted);
    }
    return sorted;
  }
}

function unwritable(stanza: string, key: string): never {
  throw new ArgoError('ARGO_INDEX_INVALID', `the index stanza ${stanza} has a key or value that cannot be written: ${JSON.stringify(key)}`, {
    hint: 'keys must be non-empty without ":" or line breaks, values single-line',
    details: { stanza, key },
  });
}

function refreshedHeader(index: PackagesIndex, time: Date | number): IndexFields {
  const seconds = Math.floor(typeof time === 'number' ? time : time.getTime() / 1000);
  if (!Number.isFinite(seconds)) {
    throw new ArgoError('ARGO_INVALID_INPUT', 'the index TIMESTAMP is not a finite time', {
      hint: 'pass a valid Date or epoch seconds',
    });
  }
  const header: IndexFields = Object.create(null) as IndexFields;
  Object.assign(header, index.header);
  header['TIMESTAMP'] = String(seconds);
  header['PACKAGES'] = String(index.packages.length);
  return header;
}

function cpvOf(entry: PackagesIndexEntry, position: number): string {
  const cpv = entry.fields['CPV'];
  if (cpv === undefined || cpv === '') {
    throw new ArgoError('ARGO_INDEX_INVALID', `package entry ${position} has no CPV`, {
      hint: 'every package stanza needs a CPV; Portage cannot sort or read one without it',
      details: { position },
    });
  }
  return cpv;
}

function isEmpty(record: Readonly<IndexFields>): boolean {
  for (const _ in record) return false;
  return true;
}

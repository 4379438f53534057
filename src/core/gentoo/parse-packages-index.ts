/**
 * Reads a binhost `Packages` index exactly as Portage's `PackageIndex.read` (lib/portage/getbinpkg.py) does, and
 * says in diagnostics wherever Portage silently drops, skips or stops.
 */

import type { Diagnostic } from './diagnostics.ts';
import {
  ALLOWED_PACKAGE_KEYS,
  INHERITED_KEYS,
  PACKAGE_DEFAULTS,
  canonicalStanzas,
  compareCodeUnits,
  readKeyName,
  sortKeyOf,
  type IndexFields,
  type PackagesIndexEntry,
  type ParsedPackagesIndex,
} from './packages-index.ts';

export interface ParsePackagesIndexOptions {
  /** Named in diagnostics. */
  readonly file?: string;
}

/** Python's `int()` on a string: optional sign, digits with single underscores, surrounding whitespace. */
const PYTHON_INT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;
const NO_FIELDS: IndexFields = Object.freeze(Object.create(null) as IndexFields);

type Report = (line: number, message: string, action: Diagnostic['action'], field?: string) => void;

/** Where reading stands, and what the stanza being read turned out to be. */
interface Cursor {
  /** Offset of the next line. */
  position: number;
  /** Lines read so far. */
  line: number;
  /** Keys that went into the stanza's own record. */
  count: number;
  /** Keys outside the allowed set, created on the first one. */
  dropped: IndexFields | undefined;
  /** The stanza is byte for byte what Portage would write for it (apart from header inheritance). */
  canonical: boolean;
}

export function parsePackagesIndex(text: string, options: ParsePackagesIndexOptions = {}): ParsedPackagesIndex {
  // Python reads with universal newlines: "\r\n" and a lone "\r" end a line like "\n" does.
  const source = text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
  const diagnostics: Diagnostic[] = [];
  const report: Report = (line, message, action, field) => {
    diagnostics.push({
      ...(options.file === undefined ? {} : { file: options.file }),
      line,
      ...(field === undefined ? {} : { field }),
      message,
      action,
    });
  };
  const cursor: Cursor = { position: 0, line: 0, count: 0, dropped: undefined, canonical: true };

  const header: IndexFields = Object.create(null) as IndexFields;
  readStanza(source, cursor, header, false, report);
  checkVersion(header, report);
  const headerChost = header['CHOST'];
  const headerRepo = header['REPO'] ?? '';

  const packages: PackagesIndexEntry[] = [];
  while (cursor.position < source.length) {
    const stanzaStart = cursor.position;
    const stanzaLine = cursor.line + 1;
    const fields = newPackageFields();
    readStanza(source, cursor, fields, true, report);
    if (cursor.count === 0) {
      // `readBody` ends at the first stanza that yields no allowed key, even with more stanzas after it.
      if (/[^\n]/.test(source.slice(cursor.position))) {
        report(stanzaLine, 'empty stanza; Portage stops reading the index here and ignores the rest', 'ignored');
      }
      break;
    }
    const cpv = fields['CPV'];
    if (cpv === undefined || cpv === '') {
      report(stanzaLine, 'package stanza without CPV; Portage skips it', 'ignored', 'CPV');
      continue;
    }
    // Portage leaves out a CHOST or REPO equal to the header's, so a stanza that has one is not what it writes.
    let canonical =
      cursor.canonical &&
      (fields['CHOST'] === undefined || fields['CHOST'] !== headerChost) &&
      (fields['REPO'] === undefined || fields['REPO'] !== headerRepo);
    for (const [key, value] of PACKAGE_DEFAULTS) {
      if (fields[key] === undefined) fields[key] = value;
    }
    if (fields['CHOST'] === undefined && headerChost !== undefined) fields['CHOST'] = headerChost;
    if (fields['REPO'] === undefined) fields['REPO'] = headerRepo;
    // Only an index whose header has no CHOST leaves the slot empty (Portage's header always has one).
    if (fields['CHOST'] === undefined) delete fields['CHOST'];
    Object.freeze(fields);
    const droppedFields = cursor.dropped === undefined ? NO_FIELDS : Object.freeze(cursor.dropped);
    // The blank line that ends the stanza must be there for the text to be copied as it is.
    canonical &&= source.charCodeAt(cursor.position - 1) === 0x0a && source.charCodeAt(cursor.position - 2) === 0x0a;
    if (canonical) {
      canonicalStanzas.set(fields, { text: source.slice(stanzaStart, cursor.position), chost: headerChost, repo: headerRepo, droppedFields });
    }
    packages.push({ fields, droppedFields });
  }

  return { header, packages, diagnostics };
}

/**
 * A package stanza's object with every defaulted key (and CHOST, REPO) declared up front as undefined: all entries
 * then share one object layout, which keeps reading 25,000-entry indexes fast. The defaults are filled in after.
 */
function newPackageFields(): IndexFields {
  return {
    BDEPEND: undefined,
    BUILD_ID: undefined,
    BUILD_TIME: undefined,
    CHOST: undefined,
    CPV: undefined,
    DEFINED_PHASES: undefined,
    DEPEND: undefined,
    EAPI: undefined,
    IDEPEND: undefined,
    IUSE: undefined,
    KEYWORDS: undefined,
    LICENSE: undefined,
    PATH: undefined,
    PDEPEND: undefined,
    PROPERTIES: undefined,
    PROVIDES: undefined,
    RDEPEND: undefined,
    REPO: undefined,
    REQUIRES: undefined,
    RESTRICT: undefined,
    SLOT: undefined,
    USE: undefined,
  } as unknown as IndexFields;
}

/**
 * Reads `KEY: VALUE` lines up to the next empty line (or the end) into `sink`, leaving the cursor after the stanza
 * with its key count, dropped keys and whether it is canonical. For a package stanza, keys outside Portage's
 * allowed set go to `cursor.dropped` instead. Scans the text in place: no array of lines is built.
 */
function readStanza(text: string, cursor: Cursor, sink: IndexFields, isPackage: boolean, report: Report): void {
  cursor.count = 0;
  cursor.dropped = undefined;
  cursor.canonical = true;
  let previousSortKey = '';
  const length = text.length;
  while (cursor.position < length) {
    const start = cursor.position;
    let end = text.indexOf('\n', start);
    if (end === -1) end = length;
    cursor.position = end + 1;
    cursor.line += 1;
    if (end === start) return;
    const colon = text.indexOf(':', start);
    if (colon === -1 || colon > end) {
      report(cursor.line, 'line without a colon; Portage ignores it', 'ignored');
      cursor.canonical = false;
      continue;
    }
    const key = readKeyName(text, start, colon);
    // Portage strips exactly one character after the colon, whatever it is.
    const value = colon + 2 <= end ? text.slice(colon + 2, end) : '';
    if (colon + 1 < end && text.charCodeAt(colon + 1) !== 0x20) {
      report(cursor.line, 'no space after the colon; Portage drops the first character of the value', 'kept', key);
      cursor.canonical = false;
    }
    let target = sink;
    if (isPackage && !ALLOWED_PACKAGE_KEYS.has(key)) {
      target = cursor.dropped ??= Object.create(null) as IndexFields;
      report(cursor.line, 'key not allowed in a package stanza; Portage drops it on read', 'dropped', key);
    } else {
      cursor.count += 1;
    }
    if (target[key] !== undefined) {
      report(cursor.line, 'key repeated in one stanza; the last value is used', 'kept', key);
      cursor.canonical = false;
    }
    target[key] = value;
    if (cursor.canonical) {
      // Portage writes keys in order of their internal names, never an empty value or one equal to its default.
      const sortKey = sortKeyOf(key);
      if (value === '' || compareCodeUnits(previousSortKey, sortKey) >= 0 || PACKAGE_DEFAULTS.get(key) === value) cursor.canonical = false;
      previousSortKey = sortKey;
    }
  }
  // The text ended without the blank line that closes every stanza Portage writes.
  cursor.canonical = false;
}

function checkVersion(header: IndexFields, report: Report): void {
  // `_pkgindex_version_supported`: only an integer VERSION <= 0 is accepted; anything else discards the index.
  const version = header['VERSION'];
  if (version === undefined || version === '' || !PYTHON_INT.test(version) || Number(version.replaceAll('_', '')) > 0) {
    report(1, 'header VERSION missing, not an integer or newer than 0; Portage ignores this index', 'ignored', 'VERSION');
  }
}

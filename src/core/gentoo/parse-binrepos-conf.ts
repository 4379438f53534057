/**
 * One `binrepos.conf` file read the way Python's `configparser.ConfigParser` reads it for Portage
 * (`read_configs` in lib/portage/util/configparser.py, `BinRepoConfigLoader` in lib/portage/binrepo/config.py):
 * `[section]` headers, `key = value` or `key: value` (first delimiter wins, keys lower-cased, values stripped),
 * whole-line `#`/`;` comments only, indented continuation lines, `[DEFAULT]` shared by every section.
 *
 * A file configparser rejects (no section header first, a section or key given twice, a line it cannot read) makes
 * Portage report the error and ignore every binrepos.conf file; {@link BinreposConf.valid} says so and
 * `listBinrepos` then behaves the same. Interpolation (`%(EPREFIX)s`) happens when values are used, in
 * `listBinrepos`.
 */

import { collectDiagnostics, type Diagnostic } from './diagnostics.ts';

export interface BinreposConfValue {
  /** Raw value (continuation lines joined with "\n"), before `%(name)s` interpolation. */
  readonly value: string;
  readonly line: number;
}

export interface BinreposConfSection {
  readonly name: string;
  readonly line: number;
  readonly options: ReadonlyMap<string, BinreposConfValue>;
}

export interface BinreposConf {
  readonly file?: string;
  /** Options of `[DEFAULT]` sections, inherited by every section. */
  readonly defaults: ReadonlyMap<string, BinreposConfValue>;
  /** Sections in file order; a name appears once (configparser rejects a repeated one). */
  readonly sections: readonly BinreposConfSection[];
  /** False when configparser raises on this file; Portage then ignores all binrepos.conf files. */
  readonly valid: boolean;
  readonly diagnostics: readonly Diagnostic[];
}

export interface ParseBinreposConfOptions {
  readonly file?: string;
}

const DEFAULT_SECTION = 'DEFAULT';
/** configparser `SECTCRE`, matched at the start of the stripped line: greedy, so `[a] x` is section "a". */
const SECTION_HEADER = /^\[(.+)\]/;
/** configparser `OPTCRE` with delimiters `=` and `:`: the first delimiter ends the key. */
const OPTION_LINE = /^(.*?)\s*([=:])\s*(.*)$/;

interface MutableSection {
  readonly name: string;
  readonly line: number;
  readonly options: Map<string, { lines: string[]; line: number }>;
}

export function parseBinreposConf(text: string, options: ParseBinreposConfOptions = {}): BinreposConf {
  const { diagnostics, report } = collectDiagnostics(options.file);
  const fileField = options.file === undefined ? {} : { file: options.file };

  const defaults: MutableSection = { name: DEFAULT_SECTION, line: 0, options: new Map() };
  const sections = new Map<string, MutableSection>();
  let current: MutableSection | undefined;
  let currentOption: { lines: string[]; line: number } | undefined;
  let indentLevel = 0;
  let valid = true;
  const seenOptions = new Set<string>();

  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let index = 0; index < lines.length; index += 1) {
    const lineNumber = index + 1;
    const line = lines[index] as string;
    const stripped = line.trim();
    const isComment = stripped.startsWith('#') || stripped.startsWith(';');
    if (isComment || stripped === '') {
      // An empty line inside a value is kept (empty_lines_in_values); a comment line is not.
      if (!isComment && currentOption !== undefined) currentOption.lines.push('');
      continue;
    }
    const indent = line.search(/\S/);
    if (current !== undefined && currentOption !== undefined && indent > indentLevel) {
      currentOption.lines.push(stripped);
      continue;
    }
    indentLevel = indent;
    const header = SECTION_HEADER.exec(stripped);
    if (header !== null) {
      const name = header[1] as string;
      currentOption = undefined;
      if (name === DEFAULT_SECTION) {
        current = defaults;
        continue;
      }
      if (sections.has(name)) {
        report(lineNumber, 'section given twice in one file; configparser rejects the file and Portage ignores all binrepos.conf files', name);
        valid = false;
        break;
      }
      current = { name, line: lineNumber, options: new Map() };
      sections.set(name, current);
      continue;
    }
    if (current === undefined) {
      report(lineNumber, 'text before the first [section]; configparser rejects the file and Portage ignores all binrepos.conf files');
      valid = false;
      break;
    }
    const option = OPTION_LINE.exec(stripped);
    if (option === null || option[1] === '') {
      report(lineNumber, 'line is neither a [section] nor key = value; configparser rejects the file and Portage ignores all binrepos.conf files');
      valid = false;
      currentOption = undefined;
      continue;
    }
    const key = (option[1] as string).trimEnd().toLowerCase();
    const seenKey = `${current.name}\u0000${key}`;
    if (seenOptions.has(seenKey)) {
      report(lineNumber, 'key given twice in one section; configparser rejects the file and Portage ignores all binrepos.conf files', key);
      valid = false;
      break;
    }
    seenOptions.add(seenKey);
    currentOption = { lines: [option[3] as string], line: lineNumber };
    current.options.set(key, currentOption);
  }

  return {
    ...fileField,
    defaults: freezeOptions(defaults.options),
    sections: [...sections.values()].map((section) => ({
      name: section.name,
      line: section.line,
      options: freezeOptions(section.options),
    })),
    valid,
    diagnostics,
  };
}

function freezeOptions(options: ReadonlyMap<string, { lines: string[]; line: number }>): ReadonlyMap<string, BinreposConfValue> {
  const frozen = new Map<string, BinreposConfValue>();
  for (const [key, { lines, line }] of options) {
    // configparser joins continuation lines with "\n" and strips trailing blank lines.
    frozen.set(key, { value: lines.join('\n').trimEnd(), line });
  }
  return frozen;
}

/**
 * The merge list printed by `emerge --pretend [--verbose]`, parsed from the grammar of Portage's formatter:
 * lib/_emerge/resolver/output.py (`Display._set_no_columns`, `_blockers`, `_append_build_id`, `_append_slot`,
 * `_append_repository`, `convert_myoldbest`, `verbose_size`) and lib/_emerge/resolver/output_helpers.py
 * (`PkgAttrDisplay.__str__`, `_create_use_string`, `_PackageCounters.__str__`), read at gentoo/portage commits
 * cc3c972cfcafc20187ee631af4d766a7e4027593 and 02fc63f5d1f0dd66578adcb7e42443ae95540982.
 *
 *   [ebuild  NS   ~] cat/pkg-1.0-r1:2/2.1::gentoo [0.9:1::gentoo] to /mnt/ USE="a -b* (c)" PYTHON_TARGETS="x%" 1,234 KiB
 *   [binary     U  ] cat/pkg-1.0-3::gentoo [0.9::gentoo]          (binary: "-3" is the BUILD_ID)
 *   [uninstall    ] cat/pkg-1.0::gentoo                            (operation.ljust(13))
 *   [blocks B     ] <cat/pkg-2 ("<cat/pkg-2" is blocking cat/other-1)
 *   Total: 3 packages (1 upgrade, 1 new, 1 reinstall, 2 binaries), Size of downloads: 1,234 KiB
 *
 * Colour codes are stripped first. `--columns` layout is not supported (reported as a diagnostic per line).
 */

import { collectDiagnostics, type Diagnostic } from './diagnostics.ts';

export interface EmergeUseFlag {
  /** Flag name as printed, without the USE_EXPAND prefix: `python3_12`. */
  readonly name: string;
  readonly enabled: boolean;
  /** `*`: the flag's state changed since the installed version. */
  readonly changed: boolean;
  /** `%` on a flag still in IUSE: newly added to IUSE. */
  readonly added: boolean;
  /** `(-flag%)`: removed from IUSE. */
  readonly removed: boolean;
  /** `(...)`: forced or masked by the profile. */
  readonly forced: boolean;
  /** `{...}`: a feature flag such as `test`. */
  readonly feature: boolean;
  /** USE_EXPAND variable the flag was printed under (`PYTHON_TARGETS`); undefined for plain USE. */
  readonly expandGroup?: string;
}

export interface EmergePlanVersion {
  readonly version: string;
  readonly slot?: string;
  readonly subSlot?: string;
  readonly repo?: string;
}

export interface EmergePlanPackage {
  readonly kind: 'ebuild' | 'binary' | 'uninstall' | 'nomerge';
  /** 1-based line in the text. */
  readonly line: number;
  /** Status letters as printed (N S U D r R F f I ...), in column order. */
  readonly flags: readonly string[];
  /** Mask column: `#` package.mask, `*` missing keyword, `~` unstable keyword. */
  readonly masks: readonly string[];
  /** --tree indentation. */
  readonly depth: number;
  /** Without the BUILD_ID of a binary. */
  readonly cpv: string;
  readonly buildId?: number;
  readonly slot?: string;
  readonly subSlot?: string;
  readonly repo?: string;
  /** Installed version(s) shown in brackets; empty for a new package. */
  readonly old: readonly EmergePlanVersion[];
  readonly oldVersion?: string;
  readonly oldSlot?: string;
  readonly oldRepo?: string;
  /** ROOT when not `/` ("to /mnt/gentoo/"). */
  readonly root?: string;
  readonly use: readonly EmergeUseFlag[];
  /** Download size in bytes (`21,313 KiB`), only with --verbose. */
  readonly size?: number;
  /** --quiet-repo-display index (`1`, `0=>1`). */
  readonly repoIndex?: string;
}

export interface EmergePlanBlocker {
  readonly kind: 'blocks';
  readonly line: number;
  /** `B` unresolved, `b` resolved automatically. */
  readonly flags: readonly string[];
  readonly satisfied: boolean;
  readonly depth: number;
  /** The blocked atom as resolved against installed packages. */
  readonly atom: string;
  /** The atom as written in the dependency, when it differs from `atom`. */
  readonly blockerAtom?: string;
  /** `hard blocking` (!!atom) rather than `blocking`. */
  readonly hard: boolean;
  /** Packages that carry the blocker. */
  readonly parents: readonly string[];
}

export type EmergePlanEntry = EmergePlanPackage | EmergePlanBlocker;

export interface EmergePlanTotal {
  readonly packages: number;
  readonly upgrades: number;
  readonly downgrades: number;
  readonly new: number;
  readonly newSlots: number;
  readonly reinstalls: number;
  readonly binaries: number;
  readonly uninstalls: number;
  readonly interactive: number;
  readonly downloadBytes: number;
  readonly fetchRestricted: number;
  readonly fetchRestrictedUnsatisfied: number;
  readonly blocks: number;
  readonly blocksUnsatisfied: number;
}

export interface ParsedEmergePlan {
  readonly packages: readonly EmergePlanEntry[];
  readonly total: EmergePlanTotal | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

export interface ParseEmergePlanOptions {
  readonly file?: string;
}

/** CSI and OSC terminal sequences (colours, xterm titles). */
const TERMINAL_CODES = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;
const ENTRY_LINE = /^\[(ebuild|binary|installed|blocks|uninstall|nomerge)([^\]]*)\] (.*)$/;
const TOTAL_LINE = /^Total: (\d+) packages?(?: \((.*)\)|(.*?)), Size of downloads: ([\d.,'\u00a0\u202f ]+) (?:KiB|kB)$/;
const FETCH_LINE = /^Fetch Restriction: (\d+) packages?(?: \((\d+) unsatisfied\))?$/;
const CONFLICT_LINE = /^Conflict: (\d+) blocks?(?: \((\d+) unsatisfied\))?$/;
const SIZE = /^(\d[\d.,'\u00a0\u202f ]*) (KiB|kB)(?=\s|$)/;
const USE_GROUP = /^([A-Z][A-Z0-9_]*)="([^"]*)"/;
const REPO_INDEX = /^[0-9?]+(?:=>[0-9?]+)?$/;
/** PMS version at the end of a CPV, to tell a binary's `-BUILD_ID` from the version. */
const VERSION_AT_END = /-\d+(?:\.\d+)*[a-z]?(?:_(?:alpha|beta|pre|rc|p)\d*)*(?:-r\d+)?$/;

export function parseEmergePlan(text: string, options: ParseEmergePlanOptions = {}): ParsedEmergePlan {
  const { diagnostics, report } = collectDiagnostics(options.file);
  const packages: EmergePlanEntry[] = [];
  let total: MutableTotal | undefined;

  const lines = text.replace(TERMINAL_CODES, '').split(/\r?\n/);
  for (let index = 0; index < lines.length; index += 1) {
    const lineNumber = index + 1;
    const line = (lines[index] as string).replace(/\r/g, '').trimEnd();
    const entry = ENTRY_LINE.exec(line);
    if (entry !== null) {
      const parsed = parseEntry(entry[1] as string, entry[2] as string, entry[3] as string, lineNumber, report);
      if (parsed !== undefined) packages.push(parsed);
      continue;
    }
    const totalLine = TOTAL_LINE.exec(line);
    if (totalLine !== null) {
      total = parseTotal(totalLine, lineNumber, report);
      continue;
    }
    const fetch = FETCH_LINE.exec(line);
    if (fetch !== null && total !== undefined) {
      total.fetchRestricted = Number(fetch[1]);
      total.fetchRestrictedUnsatisfied = Number(fetch[2] ?? 0);
      continue;
    }
    const conflict = CONFLICT_LINE.exec(line);
    if (conflict !== null && total !== undefined) {
      total.blocks = Number(conflict[1]);
      total.blocksUnsatisfied = Number(conflict[2] ?? 0);
      continue;
    }
    if (line.startsWith('[') && /^\[[a-z]+ /.test(line)) report(lineNumber, 'line looks like a merge list entry but does not follow its grammar');
  }
  return { packages, total, diagnostics };
}

type MutableTotal = { -readonly [K in keyof EmergePlanTotal]: EmergePlanTotal[K] };

function parseEntry(
  kind: string,
  bracket: string,
  rest: string,
  line: number,
  report: (line: number, message: string, field?: string) => void,
): EmergePlanEntry | undefined {
  const indented = rest.length - rest.trimStart().length;
  const body = rest.trimStart();
  if (kind === 'blocks') return parseBlocker(bracket, body, indented, line, report);
  if (kind === 'installed') {
    report(line, 'installed-package entries (--columns/--tree internals) are not supported', kind);
    return undefined;
  }

  const flags: string[] = [];
  const masks: string[] = [];
  for (const character of bracket) {
    if (character === '#' || character === '*' || character === '~') masks.push(character);
    else if (/[A-Za-z]/.test(character)) flags.push(character);
  }

  const space = body.indexOf(' ');
  const atomText = space === -1 ? body : body.slice(0, space);
  const target = splitPackageString(atomText, kind === 'binary');
  if (target === undefined) {
    report(line, 'package string is not category/package-version', atomText);
    return undefined;
  }

  const result: {
    old: EmergePlanVersion[];
    use: EmergeUseFlag[];
    root?: string;
    size?: number;
    repoIndex?: string;
  } = { old: [], use: [] };
  const atomEnd = space === -1 ? body.length : space;
  let position = atomEnd;
  while (position < body.length) {
    while (body.charCodeAt(position) === 0x20) position += 1;
    if (position >= body.length) break;
    const remaining = body.slice(position);
    if (remaining.startsWith('[')) {
      const close = remaining.indexOf(']');
      if (close === -1) {
        report(line, 'unclosed "[" in a merge list entry', remaining);
        break;
      }
      const content = remaining.slice(1, close);
      // `convert_myoldbest` output follows the package after exactly one space; the --quiet-repo-display index
      // comes last, after two spaces when there is no installed version.
      const isOldBest = position === atomEnd + 1;
      position += close + 1;
      if (isOldBest) {
        result.old.push(...content.split(', ').map(parseOldVersion));
      } else if (REPO_INDEX.test(content)) {
        result.repoIndex = content;
      } else {
        report(line, 'unexpected bracketed text in a merge list entry', content);
      }
      continue;
    }
    if (remaining.startsWith('to ') && result.root === undefined && result.use.length === 0) {
      const end = remaining.indexOf(' ', 3);
      result.root = end === -1 ? remaining.slice(3) : remaining.slice(3, end);
      position += end === -1 ? remaining.length : end;
      continue;
    }
    const group = USE_GROUP.exec(remaining);
    if (group !== null) {
      const name = group[1] as string;
      result.use.push(...parseUseFlags(group[2] as string, name === 'USE' ? undefined : name));
      position += group[0].length;
      continue;
    }
    const size = SIZE.exec(remaining);
    if (size !== null) {
      result.size = Number((size[1] as string).replace(/\D/g, '')) * 1024;
      position += size[0].length;
      continue;
    }
    const end = remaining.indexOf(' ');
    const token = end === -1 ? remaining : remaining.slice(0, end);
    report(line, 'unrecognised text in a merge list entry', token);
    position += token.length;
  }

  const first = result.old[0];
  return {
    kind: kind as EmergePlanPackage['kind'],
    line,
    flags,
    masks,
    depth: indented,
    ...target,
    old: result.old,
    ...(first === undefined ? {} : { oldVersion: first.version }),
    ...(first?.slot === undefined ? {} : { oldSlot: first.slot }),
    ...(first?.repo === undefined ? {} : { oldRepo: first.repo }),
    ...(result.root === undefined ? {} : { root: result.root }),
    use: result.use,
    ...(result.size === undefined ? {} : { size: result.size }),
    ...(result.repoIndex === undefined ? {} : { repoIndex: result.repoIndex }),
  };
}

function parseBlocker(
  bracket: string,
  body: string,
  depth: number,
  line: number,
  report: (line: number, message: string, field?: string) => void,
): EmergePlanBlocker | undefined {
  const flags = [...bracket].filter((character) => character === 'B' || character === 'b');
  const match = /^(\S+)(?: \((?:"([^"]+)" )?is (?:(hard|soft) )?blocking (.*)\))?$/.exec(body);
  if (match === null || flags.length !== 1) {
    report(line, 'blocker entry does not follow "[blocks B] atom (is blocking parents)"', body);
    return undefined;
  }
  const parents = match[4] === undefined || match[4] === '' ? [] : match[4].split(', ');
  return {
    kind: 'blocks',
    line,
    flags,
    satisfied: flags[0] === 'b',
    depth,
    atom: match[1] as string,
    ...(match[2] === undefined ? {} : { blockerAtom: match[2] }),
    hard: match[3] === 'hard',
    parents,
  };
}

/** `cat/pkg-1.0[-BUILD_ID][:slot[/subslot]][::repo]`. */
function splitPackageString(
  text: string,
  binary: boolean,
): { cpv: string; buildId?: number; slot?: string; subSlot?: string; repo?: string } | undefined {
  const repoAt = text.indexOf('::');
  const repo = repoAt === -1 ? undefined : text.slice(repoAt + 2);
  const beforeRepo = repoAt === -1 ? text : text.slice(0, repoAt);
  const slotAt = beforeRepo.indexOf(':');
  const slotText = slotAt === -1 ? undefined : beforeRepo.slice(slotAt + 1);
  let cpv = slotAt === -1 ? beforeRepo : beforeRepo.slice(0, slotAt);
  if (!/^[A-Za-z0-9_][A-Za-z0-9+_.-]*\/[A-Za-z0-9_][A-Za-z0-9+_-]*-\d/.test(cpv)) return undefined;
  let buildId: number | undefined;
  if (binary) {
    // `_append_build_id` adds "-N"; a version never ends in "-<digits>" (revisions are "-rN"), so strip it only
    // when what is left still ends in a version.
    const id = /-(\d+)$/.exec(cpv);
    if (id !== null && VERSION_AT_END.test(cpv.slice(0, id.index))) {
      buildId = Number(id[1]);
      cpv = cpv.slice(0, id.index);
    }
  }
  const slash = slotText?.indexOf('/') ?? -1;
  return {
    cpv,
    ...(buildId === undefined ? {} : { buildId }),
    ...(slotText === undefined ? {} : { slot: slash === -1 ? slotText : slotText.slice(0, slash) }),
    ...(slotText !== undefined && slash !== -1 ? { subSlot: slotText.slice(slash + 1) } : {}),
    ...(repo === undefined ? {} : { repo }),
  };
}

/** `2.23-r3:2.2/2.2.1::gentoo` inside the installed-version brackets. */
function parseOldVersion(text: string): EmergePlanVersion {
  const repoAt = text.indexOf('::');
  const repo = repoAt === -1 ? undefined : text.slice(repoAt + 2);
  const beforeRepo = repoAt === -1 ? text : text.slice(0, repoAt);
  const slotAt = beforeRepo.indexOf(':');
  const version = slotAt === -1 ? beforeRepo : beforeRepo.slice(0, slotAt);
  const slotText = slotAt === -1 ? undefined : beforeRepo.slice(slotAt + 1);
  const slash = slotText?.indexOf('/') ?? -1;
  return {
    version,
    ...(slotText === undefined ? {} : { slot: slash === -1 ? slotText : slotText.slice(0, slash) }),
    ...(slotText !== undefined && slash !== -1 ? { subSlot: slotText.slice(slash + 1) } : {}),
    ...(repo === undefined ? {} : { repo }),
  };
}

/** Flags of one `NAME="..."` group, per `_create_use_string`. */
function parseUseFlags(value: string, expandGroup: string | undefined): EmergeUseFlag[] {
  return value
    .split(' ')
    .filter((token) => token !== '')
    .map((token) => {
      let inner = token;
      let forced = false;
      let feature = false;
      if (inner.startsWith('(') && inner.endsWith(')')) {
        forced = true;
        inner = inner.slice(1, -1);
      } else if (inner.startsWith('{') && inner.endsWith('}')) {
        feature = true;
        inner = inner.slice(1, -1);
      }
      let changed = false;
      let percent = false;
      if (inner.endsWith('*')) {
        changed = true;
        inner = inner.slice(0, -1);
      }
      if (inner.endsWith('%')) {
        percent = true;
        inner = inner.slice(0, -1);
      }
      const enabled = !inner.startsWith('-');
      const name = enabled ? inner : inner.slice(1);
      // Removed flags are printed as "(-flag%)" / "(-flag%*)"; a forced flag new in IUSE never gets "-...%" inside
      // parentheses (the "%" is left off for forced flags that are off).
      const removed = forced && percent && !enabled;
      return {
        name,
        enabled,
        changed,
        added: percent && !removed,
        removed,
        forced: forced && !removed,
        feature,
        ...(expandGroup === undefined ? {} : { expandGroup }),
      };
    });
}

function parseTotal(
  match: RegExpExecArray,
  line: number,
  report: (line: number, message: string, field?: string) => void,
): MutableTotal {
  const total: MutableTotal = {
    packages: Number(match[1]),
    upgrades: 0,
    downgrades: 0,
    new: 0,
    newSlots: 0,
    reinstalls: 0,
    binaries: 0,
    uninstalls: 0,
    interactive: 0,
    downloadBytes: Number((match[4] as string).replace(/\D/g, '')) * 1024,
    fetchRestricted: 0,
    fetchRestrictedUnsatisfied: 0,
    blocks: 0,
    blocksUnsatisfied: 0,
  };
  // With no installs Portage still prints the details, glued on without parentheses ("0 packages1 uninstall").
  const details = match[2] ?? match[3] ?? '';
  for (const part of details.split(', ').filter((piece) => piece !== '')) {
    const detail = /^(\d+) (.+)$/.exec(part);
    const count = Number(detail?.[1]);
    switch (detail?.[2]) {
      case 'upgrade':
      case 'upgrades':
        total.upgrades = count;
        break;
      case 'downgrade':
      case 'downgrades':
        total.downgrades = count;
        break;
      case 'new':
        total.new = count;
        break;
      case 'in new slot':
      case 'in new slots':
        total.newSlots = count;
        break;
      case 'reinstall':
      case 'reinstalls':
        total.reinstalls = count;
        break;
      case 'binary':
      case 'binaries':
        total.binaries = count;
        break;
      case 'uninstall':
      case 'uninstalls':
        total.uninstalls = count;
        break;
      case 'interactive':
        total.interactive = count;
        break;
      default:
        report(line, 'unknown count in the Total line', part);
    }
  }
  return total;
}

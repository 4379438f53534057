/**
 * Why packages of a cycle failed or are blocked, each failure with the command that fixes it. Pure: the caller
 * hands in the cycle's status, its DAG and the text of each failed package's newest build log.
 *
 * A failed package's log is read for the messages Portage prints (lib/_emerge/depgraph.py, resolver/
 * slot_collision.py, resolver/circular_dependency.py, package/ebuild/fetch.py, EbuildFetcher.py and the die
 * banner of bin/isolated-functions.sh) and for the drone's own `>>> argo drone` lines. A blocked package is
 * traced through the DAG to the failed packages it waits on, and listed under them.
 *
 * Every command is built from values that went through `shellQuote`; config lines are only written for atoms
 * and flags that parse, so text from a log can never become shell syntax.
 */

import { tryParseAtom } from '../gentoo/parse-atom.ts';
import { tryParseCpv } from '../gentoo/parse-cpv.ts';
import type { CycleStatus, PackageStatus } from './swarm-status.ts';
import { shellQuote } from '../shell-quote.ts';

export type CauseClass =
  | 'required-use'
  | 'slot-conflict'
  | 'circular-dependency'
  | 'masked'
  | 'missing-dependency'
  | 'use-change'
  | 'fetch'
  | 'compile'
  | 'infrastructure'
  | 'unknown';

/** The most fundamental first: a failed package is headed by the first class among its findings. */
export const CAUSE_CLASSES: readonly CauseClass[] = ['required-use', 'slot-conflict', 'circular-dependency', 'masked', 'missing-dependency', 'use-change', 'fetch', 'compile', 'infrastructure', 'unknown'];

export const CAUSE_TITLES: Readonly<Record<CauseClass, string>> = {
  'required-use': 'REQUIRED_USE not satisfied',
  'slot-conflict': 'slot conflict',
  'circular-dependency': 'circular dependencies',
  masked: 'masked package',
  'missing-dependency': 'missing dependency',
  'use-change': 'USE change needed',
  fetch: 'download failed',
  compile: 'build failed',
  infrastructure: 'drone problem',
  unknown: 'cause not recognised',
};

export interface Fix {
  /** What to do, in a sentence. */
  readonly summary: string;
  /** Where the commands run, in a sentence (absent when there is no command). */
  readonly where?: string;
  /** Shell commands, one per entry, every interpolated value quoted. */
  readonly commands: readonly string[];
}

export interface Finding {
  readonly cause: CauseClass;
  /** One line: what emerge (or the drone) said was wrong. */
  readonly summary: string;
  /** The log lines that show it, as printed (control characters removed). */
  readonly evidence: readonly string[];
  readonly fix: Fix;
}

export interface FailedPackage {
  readonly cpv: string;
  readonly cause: CauseClass;
  readonly findings: readonly Finding[];
  readonly reason?: string;
  /** The gateway path of the log read (the newest attempt's). */
  readonly log?: string;
  /** Blocked packages that wait on this failure alone, sorted. */
  readonly blocks: readonly string[];
}

export interface BlockedPackage {
  readonly cpv: string;
  /** The failed packages it waits on, through blocked packages of the DAG. */
  readonly waitsOn: readonly string[];
  readonly reason?: string;
}

export interface FixBlockedReport {
  readonly cycle: string;
  readonly profile: string;
  readonly status: CycleStatus['status'];
  /** `graph`: the cycle's DAG; `reasons`: the DAG was not available, the blocked packages' reasons were read. */
  readonly traced: 'graph' | 'reasons';
  /** Shortest first: fewest blocked packages, then by name. */
  readonly failed: readonly FailedPackage[];
  /** Blocked packages that wait on more than one failure. */
  readonly blockedBySeveral: readonly BlockedPackage[];
  /** Blocked packages no failed package could be found for. */
  readonly unexplained: readonly BlockedPackage[];
  readonly counts: { readonly failed: number; readonly blocked: number };
  /** Run after the fixes: rebuilds only what is missing. */
  readonly retry: string;
}

export interface GraphInput {
  readonly nodes: readonly { readonly cpv: string; readonly deps: readonly string[] }[];
}

export interface DiagnoseInput {
  readonly cycle: Pick<CycleStatus, 'id' | 'profile' | 'status'> & { readonly packages: readonly PackageStatus[] };
  /** The cycle's DAG; undefined when the gateway has none to give (blocked packages are then traced by reason). */
  readonly graph: GraphInput | undefined;
  /** Failed package → its newest kept log (gateway path and text). */
  readonly logs: ReadonlyMap<string, { readonly path: string; readonly text: string }>;
  /** The drones' `drone.root`: each profile is built in `<droneRoot>/<profile>`. */
  readonly droneRoot: string;
}

export const DEFAULT_DRONE_ROOT = '/var/lib/argo/drone';
const EVIDENCE_MAX = 12;

export function diagnoseBlocked(input: DiagnoseInput): FixBlockedReport {
  const { cycle } = input;
  const context: FixContext = { profile: cycle.profile, configRoot: joinPath(input.droneRoot, cycle.profile) };
  const states = new Map(cycle.packages.map((pkg) => [pkg.cpv, pkg.state]));
  const failedList = cycle.packages.filter((pkg) => pkg.state === 'failed');
  const blockedList = cycle.packages.filter((pkg) => pkg.state === 'blocked');
  const deps = input.graph === undefined ? undefined : new Map(input.graph.nodes.map((node) => [node.cpv, node.deps]));

  const blocked: BlockedPackage[] = blockedList.map((pkg) => ({
    cpv: pkg.cpv,
    waitsOn: deps === undefined ? failedNamedBy(pkg.reason, states) : failedRoots(pkg.cpv, deps, states),
    ...(pkg.reason === undefined ? {} : { reason: pkg.reason }),
  }));
  const blocksOf = new Map<string, string[]>();
  for (const entry of blocked) {
    const [only] = entry.waitsOn;
    if (entry.waitsOn.length === 1 && only !== undefined) blocksOf.set(only, [...(blocksOf.get(only) ?? []), entry.cpv]);
  }

  const failed = failedList.map((pkg): FailedPackage => {
    const log = input.logs.get(pkg.cpv);
    const findings = diagnoseLog(pkg.cpv, log?.text, pkg.reason, context);
    return {
      cpv: pkg.cpv,
      cause: findings[0]?.cause ?? 'unknown',
      findings,
      ...(pkg.reason === undefined ? {} : { reason: pkg.reason }),
      ...(log === undefined ? {} : { log: log.path }),
      blocks: (blocksOf.get(pkg.cpv) ?? []).sort(),
    };
  });
  failed.sort((a, b) => a.blocks.length - b.blocks.length || a.cpv.localeCompare(b.cpv));
  const byCpv = (a: BlockedPackage, b: BlockedPackage): number => a.cpv.localeCompare(b.cpv);
  return {
    cycle: cycle.id,
    profile: cycle.profile,
    status: cycle.status,
    traced: deps === undefined ? 'reasons' : 'graph',
    failed,
    blockedBySeveral: blocked.filter((entry) => entry.waitsOn.length > 1).sort(byCpv),
    unexplained: blocked.filter((entry) => entry.waitsOn.length === 0).sort(byCpv),
    counts: { failed: failedList.length, blocked: blockedList.length },
    retry: `build-swarm fresh --profile ${shellQuote(cycle.profile)}`,
  };
}

/** The failed packages reachable from `cpv` through its dependencies, passing only through blocked ones. */
function failedRoots(cpv: string, deps: ReadonlyMap<string, readonly string[]>, states: ReadonlyMap<string, string>): string[] {
  const roots = new Set<string>();
  const seen = new Set<string>([cpv]);
  const stack = [...(deps.get(cpv) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (seen.has(next)) continue;
    seen.add(next);
    const state = states.get(next);
    if (state === 'failed') roots.add(next);
    else if (state === 'blocked') stack.push(...(deps.get(next) ?? []));
  }
  return [...roots].sort();
}

/** Without the DAG: the orchestrator's reason `needs CPV, which failed` names the failure that blocked it last. */
function failedNamedBy(reason: string | undefined, states: ReadonlyMap<string, string>): string[] {
  const named = /^needs (\S+), which failed$/.exec(reason ?? '')?.[1];
  return named !== undefined && states.get(named) === 'failed' ? [named] : [];
}

// ---------------------------------------------------------------------------------------------------------
// Reading a log

interface FixContext {
  readonly profile: string;
  readonly configRoot: string;
}

/** Every cause the log shows, the most fundamental first; one `unknown` or `infrastructure` finding at least. */
export function diagnoseLog(cpv: string, text: string | undefined, reason: string | undefined, context: FixContext): Finding[] {
  const lines = text === undefined ? [] : logLines(text);
  const changes = autounmaskBlocks(lines);
  const requiredUse = requiredUseFindings(lines, changes, context);
  const settled = new Set(requiredUse.flatMap((entry) => entry.settles));
  const findings: Finding[] = [
    ...requiredUse.map((entry) => entry.finding),
    ...slotConflictFindings(lines, cpv, context),
    ...circularFindings(lines, context),
    ...changeFindings(changes, settled, context),
    ...maskedFindings(lines, context),
    ...missingFindings(lines, cpv, context),
    ...fetchFindings(lines, context),
    ...phaseFindings(lines, cpv),
    ...droneFindings(lines, cpv),
  ];
  if (findings.length === 0) findings.push(unknownFinding(cpv, lines, reason, text === undefined));
  const rank = (finding: Finding): number => CAUSE_CLASSES.indexOf(finding.cause);
  return findings.map((finding, index) => ({ finding, index })).sort((a, b) => rank(a.finding) - rank(b.finding) || a.index - b.index).map((entry) => entry.finding);
}

/** Lines as a terminal would show them last: colour codes and other control characters gone, `\r` rewrites applied. */
function logLines(text: string): string[] {
  return text
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    .split(/\r?\n/)
    .map((line) => (line.split('\r').at(-1) ?? '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').trimEnd());
}

/** Lines from `start` up to (not including) the first blank line after some content, at most `max`. */
function paragraph(lines: readonly string[], start: number, max = 40): { lines: string[]; end: number } {
  const taken: string[] = [];
  let index = start;
  for (; index < lines.length && taken.length < max; index += 1) {
    const line = lines[index] as string;
    if (line.trim() === '') {
      if (taken.length > 0) break;
      continue;
    }
    taken.push(line);
  }
  return { lines: taken, end: index };
}

function clip(evidence: readonly string[]): string[] {
  return evidence.length <= EVIDENCE_MAX ? [...evidence] : [...evidence.slice(0, EVIDENCE_MAX - 1), `… (${evidence.length - EVIDENCE_MAX + 1} more lines)`];
}

// --- autounmask: "The following … changes are necessary to proceed:" --------------------------------------

type ChangeKind = 'keyword' | 'mask' | 'USE' | 'license';

const CHANGE_FILES: Readonly<Record<ChangeKind, string>> = {
  keyword: 'package.accept_keywords',
  mask: 'package.unmask',
  USE: 'package.use',
  license: 'package.license',
};

interface ChangeEntry {
  readonly line: string;
  readonly atom: string;
  readonly args: readonly string[];
  /** Why it cannot be written as is (an atom or flag that does not parse). */
  readonly invalid?: string;
}

interface ChangeBlock {
  readonly kind: ChangeKind;
  readonly evidence: readonly string[];
  readonly entries: readonly ChangeEntry[];
}

function autounmaskBlocks(lines: readonly string[]): ChangeBlock[] {
  const blocks: ChangeBlock[] = [];
  lines.forEach((line, index) => {
    const kind = /^The following (keyword|mask|USE|license) changes are necessary to proceed:$/.exec(line.trim())?.[1] as ChangeKind | undefined;
    if (kind === undefined) return;
    const body = paragraph(lines, index + 1).lines;
    const entries: ChangeEntry[] = [];
    for (const entry of body) {
      const trimmed = entry.trim();
      if (trimmed.startsWith('#') || trimmed.startsWith('(see ') || trimmed.startsWith('required by ')) continue;
      const [atom = '', ...args] = trimmed.split(/\s+/);
      if (!atom.includes('/')) continue;
      entries.push({ line: trimmed, atom, args, ...invalidity(atom, args, kind) });
    }
    blocks.push({ kind, evidence: [line, ...body], entries });
  });
  return blocks;
}

function invalidity(atom: string, args: readonly string[], kind: ChangeKind): { invalid?: string } {
  if (!tryParseAtom(atom).ok) return { invalid: `${atom} is not a valid package atom` };
  const pattern = kind === 'keyword' ? KEYWORD : kind === 'license' ? LICENSE : USE_CHANGE;
  const bad = args.find((arg) => !pattern.test(arg));
  return bad === undefined ? {} : { invalid: `${bad} is not a valid ${kind === 'keyword' ? 'keyword' : kind === 'license' ? 'license name' : 'USE flag'}` };
}

const USE_FLAG = /^[A-Za-z0-9][A-Za-z0-9+_@-]*$/;
const USE_CHANGE = /^-?[A-Za-z0-9][A-Za-z0-9+_@-]*$/;
const KEYWORD = /^(\*\*|~?\*|-?~?[A-Za-z0-9][A-Za-z0-9_-]*)$/;
const LICENSE = /^[A-Za-z0-9_][A-Za-z0-9+_.-]*$/;

function changeFindings(blocks: readonly ChangeBlock[], settled: ReadonlySet<string>, context: FixContext): Finding[] {
  return blocks.flatMap((block): Finding[] => {
    const entries = block.entries.filter((entry) => !(block.kind === 'USE' && settled.has(entry.line)));
    if (entries.length === 0) return [];
    const valid = entries.filter((entry) => entry.invalid === undefined);
    const invalid = entries.filter((entry) => entry.invalid !== undefined);
    const file = CHANGE_FILES[block.kind];
    const cause: CauseClass = block.kind === 'USE' ? 'use-change' : 'masked';
    const what = block.kind === 'USE' ? 'USE changes' : block.kind === 'keyword' ? 'keywords accepted' : block.kind === 'mask' ? 'a package.mask entry lifted' : 'licenses accepted';
    const refused = invalid.map((entry) => `${entry.invalid as string}: not turned into a command`);
    return [
      {
        cause,
        summary: `emerge needs ${what}: ${entries.map((entry) => entry.line).join('; ')}`,
        evidence: clip(block.evidence),
        fix: valid.length === 0
          ? { summary: `The log's ${file} line cannot be used as it is (${refused.join('; ')}); read the log.`, commands: [] }
          : appendFix(context, file, valid.map((entry) => [entry.atom, ...entry.args].join(' ')), `Add to ${file} what emerge asked for${block.kind === 'mask' ? ' (lifting a package.mask entry: read its reason in the evidence first)' : ''}${refused.length === 0 ? '' : `; ${refused.join('; ')}`}.`),
      },
    ];
  });
}

// --- REQUIRED_USE -----------------------------------------------------------------------------------------

function requiredUseFindings(lines: readonly string[], changes: readonly ChangeBlock[], context: FixContext): { finding: Finding; settles: string[] }[] {
  const results: { finding: Finding; settles: string[] }[] = [];
  lines.forEach((line, index) => {
    if (line.trim() !== 'The following REQUIRED_USE flag constraints are unsatisfied:') return;
    const constraint = paragraph(lines, index + 1, 1).lines[0]?.trim() ?? '';
    const after = paragraph(lines, index + 1, 1).end;
    const complete = /The above constraints are a subset of the following complete expression:/.test(lines[after + 1] ?? '') ? (paragraph(lines, after + 2, 1).lines[0]?.trim() ?? '') : undefined;
    // "!!! The ebuild selected to satisfy "ATOM" has unmet requirements." then "- CPV::REPO USE="…"".
    let header = -1;
    for (let back = index - 1; back >= Math.max(0, index - 6); back -= 1) {
      if (/^- \S+/.test(lines[back] ?? '')) {
        header = back;
        break;
      }
    }
    const shown = header < 0 ? undefined : /^- (\S+?)(?:::\S+)?\s+(.*)$/.exec(lines[header] as string);
    const selected = header > 0 && /has unmet requirements\.$/.test(lines[header - 1] ?? '') ? (lines[header - 1] as string) : undefined;
    const chain = lines.slice(after, after + 12).filter((text) => text.startsWith('(dependency required by '));
    const evidence = [...(selected === undefined ? [] : [selected]), ...(shown === null || shown === undefined ? [] : [lines[header] as string]), line, `    ${constraint}`, ...(complete === undefined ? [] : [`  (the complete expression: ${complete})`]), ...chain];
    const cpv = shown?.[1];
    const parsedCpv = cpv === undefined ? undefined : tryParseCpv(cpv);
    if (cpv === undefined || parsedCpv === undefined || !parsedCpv.ok) {
      results.push({ finding: { cause: 'required-use', summary: `REQUIRED_USE is not satisfied: ${constraint}`, evidence: clip(evidence), fix: { summary: 'Set the USE flags of the package named in the log so that the constraint holds (package.use on the drones), then retry.', commands: [] } }, settles: [] });
      return;
    }
    const use = parseUseDisplay(shown?.[2] ?? '');
    // A USE change emerge asked for on the same package stays: a dependency needs it.
    const wanted = changes.filter((block) => block.kind === 'USE').flatMap((block) => block.entries).filter((entry) => entry.invalid === undefined && atomCp(entry.atom) === parsedCpv.value.cp);
    const pinned = new Map(use.fixed);
    for (const entry of wanted) for (const arg of entry.args) pinned.set(arg.replace(/^-/, ''), !arg.startsWith('-'));
    const solved = solveRequiredUse(complete ?? constraint, use.enabled, pinned);
    const summary = `REQUIRED_USE of ${cpv} is not satisfied: ${constraint}${wanted.length === 0 ? '' : ` (with the USE change emerge suggested: ${wanted.map((entry) => entry.args.join(' ')).join(' ')})`}`;
    if (solved === undefined || solved.length === 0) {
      results.push({ finding: { cause: 'required-use', summary, evidence: clip(evidence), fix: { summary: `No USE setting of ${cpv} satisfies the constraint with the flags the profile forces; change the profile's USE or drop the package that needs it, then retry.`, commands: [] } }, settles: [] });
      return;
    }
    const configLine = `>=${cpv} ${solved.join(' ')}`;
    results.push({
      finding: { cause: 'required-use', summary, evidence: clip(evidence), fix: appendFix(context, 'package.use', [configLine], `Set ${solved.join(' ')} on ${cpv} so that REQUIRED_USE holds${wanted.length === 0 ? '' : ' together with the change a dependency needs'}.`) },
      settles: wanted.map((entry) => entry.line),
    });
  });
  return results;
}

function atomCp(atom: string): string | undefined {
  const parsed = tryParseAtom(atom);
  return parsed.ok ? parsed.value.cp : undefined;
}

/** `USE="a -b (c) (-d) e%*" PYTHON_TARGETS="python3_12 -python3_11"`: flags on, and those the profile fixes. */
function parseUseDisplay(text: string): { enabled: Set<string>; fixed: Map<string, boolean> } {
  const enabled = new Set<string>();
  const fixed = new Map<string, boolean>();
  for (const [, name, value] of text.matchAll(/([A-Z0-9_]+)="([^"]*)"/g)) {
    const prefix = name === 'USE' ? '' : `${(name as string).toLowerCase()}_`;
    for (const raw of (value as string).split(/\s+/).filter(Boolean)) {
      const forced = raw.startsWith('(') && raw.endsWith(')');
      const token = raw.replace(/^[({]|[)}]$/g, '').replace(/[%*]+$/, '');
      const on = !token.startsWith('-');
      const flag = `${prefix}${token.replace(/^-/, '')}`;
      if (on) enabled.add(flag);
      if (forced) fixed.set(flag, on);
    }
  }
  return { enabled, fixed };
}

type UseNode =
  | { readonly kind: 'flag'; readonly flag: string; readonly negated: boolean }
  | { readonly kind: 'group'; readonly op: 'all' | 'any' | 'exactly-one' | 'at-most-one'; readonly children: readonly UseNode[] }
  | { readonly kind: 'if'; readonly flag: string; readonly negated: boolean; readonly children: readonly UseNode[] };

const GROUP_OPS: Readonly<Record<string, 'any' | 'exactly-one' | 'at-most-one'>> = { '||': 'any', 'any-of': 'any', '^^': 'exactly-one', 'exactly-one-of': 'exactly-one', '??': 'at-most-one', 'at-most-one-of': 'at-most-one' };

function parseRequiredUse(text: string): UseNode[] | undefined {
  const tokens = text.split(/\s+/).filter(Boolean);
  let position = 0;
  const list = (closing: boolean): UseNode[] | undefined => {
    const nodes: UseNode[] = [];
    while (position < tokens.length) {
      const token = tokens[position] as string;
      position += 1;
      if (token === ')') return closing ? nodes : undefined;
      const op = GROUP_OPS[token];
      const conditional = /^(!?)([A-Za-z0-9][A-Za-z0-9+_@-]*)\?$/.exec(token);
      if (op !== undefined || conditional !== null || token === '(') {
        if (token !== '(' && tokens[position++] !== '(') return undefined;
        const children = list(true);
        if (children === undefined) return undefined;
        nodes.push(conditional !== null ? { kind: 'if', flag: conditional[2] as string, negated: conditional[1] === '!', children } : { kind: 'group', op: op ?? 'all', children });
        continue;
      }
      const literal = /^(!?)([A-Za-z0-9][A-Za-z0-9+_@-]*)$/.exec(token);
      if (literal === null) return undefined;
      nodes.push({ kind: 'flag', flag: literal[2] as string, negated: literal[1] === '!' });
    }
    return closing ? undefined : nodes;
  };
  return list(false);
}

function holds(node: UseNode, use: ReadonlySet<string>): boolean {
  if (node.kind === 'flag') return use.has(node.flag) !== node.negated;
  if (node.kind === 'if') return use.has(node.flag) === node.negated || node.children.every((child) => holds(child, use));
  const count = node.children.filter((child) => holds(child, use)).length;
  if (node.op === 'all') return count === node.children.length;
  if (node.op === 'any') return count >= 1;
  if (node.op === 'exactly-one') return count === 1;
  return count <= 1;
}

/**
 * The fewest-questions repair of an unsatisfied REQUIRED_USE: flags to set (`flag`, `-flag`) so that the whole
 * expression holds, never changing a pinned flag (forced by the profile, or a change a dependency needs);
 * undefined when the expression cannot be read or this greedy repair finds no setting.
 */
export function solveRequiredUse(expression: string, enabled: ReadonlySet<string>, pinned: ReadonlyMap<string, boolean>): string[] | undefined {
  const nodes = parseRequiredUse(expression);
  if (nodes === undefined) return undefined;
  const use = new Set(enabled);
  for (const [flag, on] of pinned) if (on) use.add(flag);
  else use.delete(flag);
  // A condition Portage reports as unsatisfied holds, even when its flag (an arch) is not shown in USE="…".
  const conditions = new Set<string>();
  const collect = (list: readonly UseNode[]): void => {
    for (const node of list) {
      if (node.kind === 'flag') continue;
      if (node.kind === 'if') conditions.add(node.flag);
      collect(node.children);
    }
  };
  collect(nodes);
  const shown = new Set([...enabled, ...pinned.keys()]);
  const fixedNow = new Map(pinned);
  for (const flag of conditions) if (!shown.has(flag) && !fixedNow.has(flag)) {
    fixedNow.set(flag, true);
    use.add(flag);
  }
  const set = (flag: string, on: boolean): boolean => {
    const fixed = fixedNow.get(flag);
    if (fixed !== undefined && fixed !== on) return false;
    if (on) use.add(flag);
    else use.delete(flag);
    return true;
  };
  const satisfy = (node: UseNode): boolean => {
    if (holds(node, use)) return true;
    if (node.kind === 'flag') return set(node.flag, !node.negated);
    if (node.kind === 'if') return node.children.every((child) => satisfy(child)) || set(node.flag, node.negated);
    if (node.op === 'all') return node.children.every((child) => satisfy(child));
    const on = node.children.filter((child) => holds(child, use));
    if (on.length === 0) return node.children.some((child) => satisfy(child));
    // Too many: keep a pinned one (or the first), turn the other literals off.
    const keep = on.find((child) => child.kind === 'flag' && fixedNow.has(child.flag)) ?? on[0];
    return on.filter((child) => child !== keep).every((child) => child.kind === 'flag' && set(child.flag, child.negated));
  };
  for (let round = 0; round < 4 && !nodes.every((node) => holds(node, use)); round += 1) for (const node of nodes) satisfy(node);
  if (!nodes.every((node) => holds(node, use))) return undefined;
  const changed = [...new Set([...enabled, ...use])].filter((flag) => use.has(flag) !== enabled.has(flag) && !(conditions.has(flag) && !shown.has(flag)));
  if (changed.some((flag) => !USE_FLAG.test(flag))) return undefined;
  const first = [...pinned.keys()].filter((flag) => changed.includes(flag));
  return [...first, ...changed.filter((flag) => !first.includes(flag)).sort()].map((flag) => (use.has(flag) ? flag : `-${flag}`));
}

// --- slot conflicts ---------------------------------------------------------------------------------------

function slotConflictFindings(lines: readonly string[], cpv: string, context: FixContext): Finding[] {
  const findings: Finding[] = [];
  lines.forEach((line, index) => {
    if (!line.startsWith('!!! Multiple package instances within a single package slot have been pulled')) return;
    const evidence: string[] = [line];
    const instances: string[] = [];
    const slots: string[] = [];
    let blank = 0;
    for (let next = index + 1; next < lines.length && evidence.length < 40; next += 1) {
      const text = lines[next] as string;
      if (text.trim() === '') {
        blank += 1;
        if (blank >= 2 && /^\S/.test(lines[next + 1] ?? '') && !/^\S+\/\S+:\S+$/.test(lines[next + 1] ?? '')) break;
        continue;
      }
      blank = 0;
      if (/^\s*\^+[\s^]*$/.test(text)) continue;
      const slot = /^(\S+\/\S+:\S+)$/.exec(text.trim());
      if (slot !== null) slots.push(slot[1] as string);
      const instance = /^\s*\((\S+?)(?::[^:\s,]+(?:\/[^:\s,]+)?)?(?:::\S+)?, [^)]*\).* pulled in by$/.exec(text);
      if (instance !== null) instances.push(instance[1] as string);
      if (text.startsWith('!!!') || slot !== null || instance !== null || /required by \(/.test(text)) evidence.push(text);
    }
    const root = context.configRoot;
    findings.push({
      cause: 'slot-conflict',
      summary: `slot conflict${slots.length === 0 ? '' : ` in ${slots.join(', ')}`}${instances.length === 0 ? '' : `: ${[...new Set(instances)].join(' and ')} are both pulled in`}`,
      evidence: clip(evidence),
      fix: {
        summary: 'Two versions of one slot are wanted at once. Let Portage search longer for a solution and show who wants which; then mask the version nobody should get (package.mask) or change the USE flag the evidence marks with ^^^ on the package that wants it.',
        where: `on one drone of profile ${context.profile}, as root`,
        commands: [`env PORTAGE_CONFIGROOT=${shellQuote(root)} ROOT=${shellQuote(root)} emerge --pretend --verbose --verbose-conflicts --backtrack=30 ${shellQuote(`=${cpv}`)}`],
      },
    });
  });
  return findings;
}

// --- circular dependencies --------------------------------------------------------------------------------

function circularFindings(lines: readonly string[], context: FixContext): Finding[] {
  const findings: Finding[] = [];
  lines.forEach((line, index) => {
    if (!/^\s*\*?\s*Error: circular dependencies:$/.test(line)) return;
    const cycle = paragraph(lines, index + 1, 12).lines;
    const suggestions: { cpv: string; flags: string[]; line: string }[] = [];
    for (let next = index + 1; next < Math.min(lines.length, index + 80); next += 1) {
      const text = lines[next] as string;
      const match = /^- (\S+) \(Change USE: ([^)]*)\)$/.exec(text.trim());
      if (match !== null) suggestions.push({ cpv: match[1] as string, flags: (match[2] as string).split(/\s+/).filter(Boolean).map((flag) => flag.replace(/^\+/, '')), line: text.trim() });
      if (/^\s*\*?\s*Error: circular dependencies:$/.test(text)) break;
    }
    const usable = suggestions.find((entry) => tryParseCpv(entry.cpv).ok && entry.flags.every((flag) => USE_CHANGE.test(flag)));
    const breakLines = suggestions.length === 0 ? [] : ['It might be possible to break this cycle', ...suggestions.map((entry) => entry.line)];
    findings.push({
      cause: 'circular-dependency',
      summary: `circular dependencies: ${cycle.map((entry) => /\((\S+?)(?::|,)/.exec(entry)?.[1]).filter((name): name is string => name !== undefined).filter((name, position, all) => all.indexOf(name) === position).join(' -> ')}`,
      evidence: clip([line, ...cycle, ...breakLines]),
      fix: usable === undefined
        ? { summary: 'Portage suggested no USE change. Disable, for this build, the USE flag that pulls in the optional dependency closing the cycle (package.use on the drones), build, then remove the line.', commands: [] }
        : appendFix(context, 'package.use', [`=${usable.cpv} ${usable.flags.join(' ')}`], `Break the cycle as Portage suggests (the line can be removed once the cycle is built).`),
    });
  });
  return findings;
}

// --- masked ------------------------------------------------------------------------------------------------

function maskedFindings(lines: readonly string[], context: FixContext): Finding[] {
  const findings: Finding[] = [];
  lines.forEach((line, index) => {
    const wanted = /^!!! All ebuilds that could satisfy "(.+)" have been masked\.$/.exec(line)?.[1];
    if (wanted === undefined) return;
    const listed: { cpv: string; reasons: string[]; line: string }[] = [];
    const evidence = [line];
    for (let next = index + 1; next < lines.length; next += 1) {
      const text = lines[next] as string;
      const match = /^- (\S+?)(?:::\S+)? \(masked by: (.*)\)$/.exec(text);
      if (match !== null) {
        listed.push({ cpv: match[1] as string, reasons: (match[2] as string).split(/,\s*/), line: text });
        evidence.push(text);
      } else if (text.startsWith('(dependency required by ')) evidence.push(text);
      else if (!text.startsWith('!!! One of the following') && listed.length > 0 && !/^\S+:$/.test(text) && text.trim() !== '' && !text.startsWith('#')) break;
    }
    // Portage lists the newest first; a ~arch keyword is the smallest step, a live ebuild (missing keyword) the largest.
    const candidates = listed.flatMap((entry) => {
      const fix = unmaskLine(entry.cpv, entry.reasons);
      return fix === undefined ? [] : [{ entry, fix }];
    });
    const configLines = candidates.sort((a, b) => a.fix.rank - b.fix.rank)[0];
    findings.push({
      cause: 'masked',
      summary: `every version that could satisfy ${wanted} is masked${listed.length === 0 ? '' : ` (${listed[0]?.cpv}: ${listed[0]?.reasons.join(', ')})`}`,
      evidence: clip(evidence),
      fix: configLines === undefined
        ? { summary: 'No listed version is masked only by keywords, package.mask or a license; read the reasons (an EAPI mask needs a newer Portage on the drones: build-swarm sync).', commands: [] }
        : appendFix(context, configLines.fix.file, [configLines.fix.line], `Accept ${configLines.entry.cpv} (${configLines.entry.reasons.join(', ')}).`),
    });
  });
  return findings;
}

function unmaskLine(cpv: string, reasons: readonly string[]): { file: string; line: string; rank: number } | undefined {
  if (!tryParseCpv(cpv).ok || reasons.length !== 1) return undefined;
  const [reason = ''] = reasons;
  const keyword = /^(~[A-Za-z0-9_-]+) keyword$/.exec(reason)?.[1];
  if (keyword !== undefined) return { file: 'package.accept_keywords', line: `=${cpv} ${keyword}`, rank: 0 };
  const licenses = /^(.+) license\(s\)$/.exec(reason)?.[1]?.split(/\s+/);
  if (licenses !== undefined && licenses.every((name) => LICENSE.test(name))) return { file: 'package.license', line: `=${cpv} ${licenses.join(' ')}`, rank: 1 };
  if (reason === 'package.mask') return { file: 'package.unmask', line: `=${cpv}`, rank: 2 };
  if (reason === 'missing keyword') return { file: 'package.accept_keywords', line: `=${cpv} **`, rank: 3 };
  return undefined;
}

// --- missing dependencies ---------------------------------------------------------------------------------

function missingFindings(lines: readonly string[], cpv: string, context: FixContext): Finding[] {
  const findings: Finding[] = [];
  const target = tryParseCpv(cpv);
  lines.forEach((line, index) => {
    const match = /^emerge: there are no (ebuilds|ebuilds built with USE flags|binary packages) to satisfy "(.+)"\.$/.exec(line.trim());
    if (match === null) return;
    const [, what, atom = ''] = match;
    const evidence = [line.trim()];
    const changes: { cpv: string; flags: string[] }[] = [];
    for (let next = index + 1; next < Math.min(lines.length, index + 20); next += 1) {
      const text = lines[next] as string;
      const change = /^- (\S+?)(?:::\S+)? \(Change USE: ([^)]*)\)$/.exec(text);
      if (change !== null) changes.push({ cpv: change[1] as string, flags: (change[2] as string).split(/\s+/).map((flag) => flag.replace(/^\+/, '')) });
      if (change !== null || text.startsWith('!!! One of the following') || text.startsWith('(dependency required by ')) evidence.push(text);
      else if (text.trim() !== '' || evidence.length > 1) break;
    }
    const itself = target.ok && atomCp(atom) === target.value.cp;
    const usable = changes.find((entry) => tryParseCpv(entry.cpv).ok && entry.flags.every((flag) => USE_CHANGE.test(flag)));
    const fix: Fix = usable !== undefined
      ? appendFix(context, 'package.use', [`>=${usable.cpv} ${usable.flags.join(' ')}`], `Build ${usable.cpv} with the USE flags the dependency asks for.`)
      : itself
        ? { summary: `The drones' repository has no ebuild of ${cpv}: sync it (the cycle was planned from a newer tree), or drop the package from the plan if it left the tree.`, where: 'wherever build-swarm reaches the gateway', commands: ['build-swarm sync'] }
        : { summary: `No ebuild in the drones' repository provides ${atom}. Sync the drones; if it is still missing, the package that needs it wants an overlay the drones lack, or has to leave the plan.`, where: 'wherever build-swarm reaches the gateway', commands: ['build-swarm sync'] };
    findings.push({
      cause: 'missing-dependency',
      summary: what === 'ebuilds built with USE flags' ? `no version of ${atom} has the USE flags it is asked for` : itself ? `the drones' repository has no ebuild of ${cpv}` : `nothing satisfies ${atom}`,
      evidence: clip(evidence),
      fix,
    });
  });
  return findings;
}

// --- fetch -------------------------------------------------------------------------------------------------

function fetchFindings(lines: readonly string[], context: FixContext): Finding[] {
  const evidence = lines.filter((line) => /^!!! Couldn't download '.+'\. Aborting\.$/.test(line) || /Fetch failed for '.+'/.test(line) || /^!!! Fetched file: .+ VERIFY FAILED!$/.test(line) || /^!!! (Reason|Got|Expected):/.test(line) || /has fetch restriction turned on\.$/.test(line) || /^wget: unable to resolve host address/.test(line) || /ERROR \d{3}: /.test(line));
  if (!evidence.some((line) => /Couldn't download|Fetch failed|VERIFY FAILED|fetch restriction/.test(line))) return [];
  const files = [...new Set(evidence.flatMap((line) => /^!!! Couldn't download '(.+)'\./.exec(line)?.[1] ?? []))];
  const restricted = evidence.some((line) => /fetch restriction/.test(line));
  return [
    {
      cause: 'fetch',
      summary: restricted ? 'the sources are fetch-restricted: they must be downloaded by hand' : `a source file could not be downloaded${files.length === 0 ? '' : `: ${files.join(', ')}`}`,
      evidence: clip(evidence),
      fix: restricted
        ? { summary: `Download the files the ebuild names and put them in DISTDIR on each drone of profile ${context.profile}, then retry.`, commands: [] }
        : { summary: 'Sync the drones: a newer tree usually has working SRC_URIs (or the mirrors have caught up); a checksum failure also means the tree is stale.', where: 'wherever build-swarm reaches the gateway', commands: ['build-swarm sync'] },
    },
  ];
}

// --- an ebuild phase died ----------------------------------------------------------------------------------

function phaseFindings(lines: readonly string[], cpv: string): Finding[] {
  const findings: Finding[] = [];
  lines.forEach((line, index) => {
    const match = /^\s*\* ERROR: (\S+?)(?:::\S+)? failed \((\w+) phase\):$/.exec(line);
    if (match === null) return;
    const phase = match[2] as string;
    const message = /^\s*\*\s{2,}(.*)$/.exec(lines[index + 1] ?? '')?.[1];
    const buildLog = lines.slice(index, index + 20).flatMap((text) => /The complete build log is located at '(.+)'\.$/.exec(text)?.[1] ?? [])[0];
    const before = lines.slice(Math.max(0, index - 40), index).filter((text) => /(\berror:|\bError \d+\b|\*\*\* \[)/.test(text)).slice(-2);
    findings.push({
      cause: 'compile',
      summary: `the ${phase} phase of ${match[1] as string} died${message === undefined ? '' : `: ${message}`}`,
      evidence: clip([...before, line.trim(), ...(message === undefined ? [] : [lines[index + 1]?.trim() as string]), ...(buildLog === undefined ? [] : [`build.log on the drone: ${buildLog}`])]),
      fix: {
        summary: `Read the whole log, fix the cause (a patch in the drones' /etc/portage/patches, a USE change, or a newer version after build-swarm sync), then retry.`,
        where: 'wherever build-swarm reaches the gateway',
        commands: [`build-swarm logs ${shellQuote(cpv)}`],
      },
    });
  });
  return findings;
}

// --- the drone's own lines ---------------------------------------------------------------------------------

function droneFindings(lines: readonly string[], cpv: string): Finding[] {
  const findings: Finding[] = [];
  for (const line of lines) {
    const said = /^>>> argo drone \S+: (.*)$/.exec(line)?.[1];
    if (said === undefined) continue;
    if (/ran past its budget of/.test(said)) findings.push(droneFinding(line, `the build of ${cpv} ran past the drones' time budget`, 'Raise drone.build_budget_ms in the swarm configuration of the drones (or give this package to faster drones), restart them, then retry.'));
    else if (/printed nothing for/.test(said)) findings.push(droneFinding(line, `the build of ${cpv} printed nothing for too long and was killed`, 'Raise drone.inactivity_ms in the swarm configuration of the drones if the build is known to be silent that long, restart them, then retry.'));
    else if (/^no binary package of |is not listed in .*Packages/.test(said)) findings.push(droneFinding(line, `emerge succeeded but left no usable binary package of ${cpv}`, "Make sure the profile's make.conf on the drones does not turn off FEATURES=buildpkg and that PKGDIR is the profile root's own, then retry."));
  }
  if (lines.some((line) => line.includes('Invalid Portage BINHOST value'))) findings.push(droneFinding(lines.find((line) => line.includes('Invalid Portage BINHOST value')) as string, 'Portage refused the staging binhost URL the drone gave it', "Check the drones' gateway URL and token file, then retry."));
  return findings;
}

function droneFinding(line: string, summary: string, advice: string): Finding {
  return { cause: 'infrastructure', summary, evidence: [line], fix: { summary: advice, commands: [] } };
}

function unknownFinding(cpv: string, lines: readonly string[], reason: string | undefined, noLog: boolean): Finding {
  const tail = lines.filter((line) => line.trim() !== '').slice(-3);
  return {
    cause: 'unknown',
    summary: noLog ? `no log of ${cpv} could be read${reason === undefined ? '' : `; the swarm says: ${reason}`}` : 'no emerge message this command knows was found in the log',
    evidence: noLog ? (reason === undefined ? [] : [reason]) : tail,
    fix: { summary: 'Read the log.', where: 'wherever build-swarm reaches the gateway', commands: [`build-swarm logs ${shellQuote(cpv)}`] },
  };
}

// --- commands ----------------------------------------------------------------------------------------------

/** A config line appended to `<configRoot>/etc/portage/FILE/argo-swarm` on the drones. */
function appendFix(context: FixContext, file: string, configLines: readonly string[], summary: string): Fix {
  const folder = joinPath(context.configRoot, `etc/portage/${file}`);
  const target = `${folder}/argo-swarm`;
  return {
    summary,
    where: `as root on each drone of profile ${context.profile} (its config root is ${context.configRoot})`,
    commands: [`mkdir -p ${shellQuote(folder)}`, ...configLines.map((line) => `echo ${shellQuote(line)} >> ${shellQuote(target)}`)],
  };
}

function joinPath(base: string, rest: string): string {
  return `${base.replace(/\/+$/, '')}/${rest}`;
}


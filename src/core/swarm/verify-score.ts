/**
 * `build-swarm verify`: the risk of promoting a profile's staging binhost, as a score from 0 to 100 made of five
 * components, each with its points, the packages behind them and a one-line detail, so that a refusal explains
 * itself. `finalize` promotes only when the score is below the threshold (default 15).
 *
 * Pure: the caller reads the cycle from Redis, the staging and production `Packages` indexes, the world file and
 * the pins (src/swarm/verify-inputs.ts). Dependency and atom semantics are the project's Gentoo readers'
 * (parse-dep-spec, evaluate-dep-spec, match-atom, match-dep-spec, resolve-package-use), not re-implemented here.
 *
 * The weights, and why:
 * - `failed`: 25 per critical package, 3 per other, cap 100. One critical package missing refuses on its own (a
 *   release without a working glibc, PAM or compiler breaks logins or the next update); five ordinary ones refuse
 *   together, fewer are left to the operator (their clients keep the production binary or compile).
 * - `unsatisfied-deps`: 5 per (package, dependency), cap 50. Three refuse: a client installing such a package
 *   falls back to compiling or stops. Capped below 100 because some come from packages a profile provides
 *   outside the binhost, and a score of 100 should mean something critical.
 * - `slot-conflict`: 10 per (category/name, SLOT) with two versions, cap 40. Clients take the highest, so the
 *   release is not what the cycle built (a leftover of an earlier cycle, or a downgrade); two refuse.
 * - `critical-use`: 25 per package, cap 100. A critical package built with other USE than the profile pins is
 *   the libxcrypt incident (built `-compat -system`: logins break on every client); one refuses.
 * - `coverage`: 1 point per missing percent (rounded up), cap 30. Clients compile what the binhost lacks: slow,
 *   not dangerous; below 85 % it refuses on its own.
 */

import { ArgoError } from '../errors.ts';
import { compareVersions } from '../gentoo/compare-versions.ts';
import { collectAtoms, evaluateDepSpec } from '../gentoo/evaluate-dep-spec.ts';
import { formatDepNode } from '../gentoo/format-dep-spec.ts';
import { matchAtom, type PackageRef } from '../gentoo/match-atom.ts';
import { matchDepSpec } from '../gentoo/match-dep-spec.ts';
import type { Atom } from '../gentoo/parse-atom.ts';
import { tryParseCpv, type Cpv } from '../gentoo/parse-cpv.ts';
import { parseDepSpec, type DepNode } from '../gentoo/parse-dep-spec.ts';
import { parsePackageUse, type PackageConfigEntry } from '../gentoo/parse-package-use.ts';
import type { WorldAtom } from '../gentoo/parse-world.ts';
import { resolvePackageUse } from '../gentoo/resolve-package-use.ts';
import { CRITICAL_PACKAGES } from '../update/critical-packages.ts';
import type { PackageState } from './cycle-model.ts';

/**
 * The project's critical packages (the login path, gcc, openssl, shadow: src/core/update/critical-packages.ts)
 * plus what a binhost release must not lose for the next update to work: the rest of the toolchain
 * (binutils, linux-headers), the base layout of the filesystem and zlib (Portage and nearly every program link
 * it). One list, extended, rather than a second one.
 */
export const VERIFY_CRITICAL_PACKAGES: readonly string[] = [
  ...CRITICAL_PACKAGES,
  'sys-devel/binutils',
  'sys-kernel/linux-headers',
  'sys-apps/baselayout',
  'sys-libs/zlib',
];

export const DEFAULT_VERIFY_THRESHOLD = 15;

/**
 * Pins every profile gets, before the configuration's and the command line's (which override them, as later
 * package.use lines do): libxcrypt must provide the system libcrypt.so.2 and the glibc-compatible libcrypt.so.1,
 * or pam_unix, unix_chkpwd and old binaries cannot verify `$6$` hashes (docs: gentoo-formats §6.1).
 */
export const DEFAULT_USE_PINS: readonly string[] = ['sys-libs/libxcrypt compat system'];

export const VERIFY_WEIGHTS = {
  failed: { critical: 25, other: 3, cap: 100 },
  unsatisfiedDeps: { each: 5, cap: 50 },
  slotConflict: { each: 10, cap: 40 },
  criticalUse: { each: 25, cap: 100 },
  coverage: { perMissingPercent: 1, cap: 30 },
} as const;

export type VerifyComponentId = 'failed' | 'unsatisfied-deps' | 'slot-conflict' | 'critical-use' | 'coverage';

export interface VerifyComponent {
  readonly id: VerifyComponentId;
  readonly points: number;
  /** What the points are for, one line each (`cpv needs atom`, `cpv failed`, …). */
  readonly packages: readonly string[];
  readonly detail: string;
}

export interface VerifyReport {
  /** The sum of the components' points, at most 100. */
  readonly score: number;
  /** `score < threshold`. */
  readonly safe: boolean;
  readonly threshold: number;
  readonly profile: string;
  readonly cycle: string;
  readonly components: readonly VerifyComponent[];
}

export interface VerifyCyclePackage {
  readonly cpv: string;
  /** Undefined when the cycle has no record for it. */
  readonly state: PackageState | undefined;
}

export interface VerifyCycle {
  readonly id: string;
  readonly packages: readonly VerifyCyclePackage[];
}

/** One package stanza of a `Packages` index, as parsePackagesIndex returns its fields. */
export type IndexStanza = Readonly<Record<string, string | undefined>>;

export interface VerifyInput {
  readonly profile: { readonly name: string; readonly use: string };
  readonly cycle: VerifyCycle;
  readonly staging: readonly IndexStanza[];
  /** Undefined when the profile has no production release yet. */
  readonly production: readonly IndexStanza[] | undefined;
  /** package.use lines pinning USE of single packages (DEFAULT_USE_PINS first, then configuration, then CLI). */
  readonly pins: readonly PackageConfigEntry[];
  /** The world file's atoms; undefined to measure coverage on the cycle's packages instead. */
  readonly world: readonly WorldAtom[] | undefined;
  readonly threshold: number;
}

/** A binary package as matching needs it, with the index fields verify reads. */
interface BinaryPackage extends PackageRef {
  readonly cpv: string;
  readonly parsed: Cpv;
  readonly slot: string;
  readonly use: ReadonlySet<string>;
  /** IUSE without the `+`/`-` default markers. */
  readonly iuse: readonly string[];
  readonly fields: IndexStanza;
}

/** Packages by `category/name`, for matching atoms without scanning every package. */
type BinaryIndex = ReadonlyMap<string, readonly BinaryPackage[]>;

export function scoreVerify(input: VerifyInput): VerifyReport {
  const staging = toBinaryPackages(input.staging);
  const production = toBinaryPackages(input.production ?? []);
  const available = indexByCp([...staging, ...production]);
  const where = input.production === undefined ? 'staging (no production release yet)' : 'staging or production';
  const components = [
    failedComponent(input.cycle, staging),
    unsatisfiedDepsComponent(staging, available, where),
    slotConflictComponent(staging),
    criticalUseComponent(staging, input.profile.use, input.pins),
    input.world === undefined ? cycleCoverageComponent(input.cycle) : worldCoverageComponent(input.world, available, where),
  ];
  const score = Math.min(100, components.reduce((sum, component) => sum + component.points, 0));
  return { score, safe: score < input.threshold, threshold: input.threshold, profile: input.profile.name, cycle: input.cycle.id, components };
}

/**
 * Reads package.use lines (`sys-libs/libxcrypt compat system`) into pins; `origin` names where they came from
 * (`--pin`). A line that is not an atom followed by flags is refused, naming it.
 */
export function parseUsePins(lines: readonly string[], origin: string): PackageConfigEntry[] {
  const entries: PackageConfigEntry[] = [];
  for (const line of lines) {
    const parsed = parsePackageUse(line, { file: origin });
    const problem = parsed.diagnostics[0];
    const entry = parsed.entries[0];
    if (problem !== undefined || entry === undefined || entry.flags.length === 0 || parsed.entries.length > 1) {
      throw new ArgoError('ARGO_USAGE', `${origin} ${JSON.stringify(line)} is not one package.use line${problem === undefined ? '' : `: ${problem.message}`}`, {
        hint: "Give an atom and the flags to pin, e.g. --pin 'sys-libs/libxcrypt compat system' (-flag pins a flag off).",
        details: { pin: line },
      });
    }
    entries.push(entry);
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------------------
// Components

/**
 * Packages of the cycle that will not be in the release as the cycle meant: failed, blocked or skipped, not built
 * yet, or recorded as built while staging does not list them.
 */
function failedComponent(cycle: VerifyCycle, staging: readonly BinaryPackage[]): VerifyComponent {
  const staged = new Set(staging.map((pkg) => pkg.cpv));
  const weights = VERIFY_WEIGHTS.failed;
  const problems: { readonly line: string; readonly critical: boolean; readonly kind: string }[] = [];
  for (const pkg of cycle.packages) {
    const kind = problemOf(pkg, staged);
    if (kind === undefined) continue;
    problems.push({ line: `${pkg.cpv} ${kind}`, critical: isCritical(cpOf(pkg.cpv)), kind: kind.startsWith('not built') ? 'not built' : kind });
  }
  const critical = problems.filter((problem) => problem.critical);
  const other = problems.filter((problem) => !problem.critical);
  if (problems.length === 0) {
    return { id: 'failed', points: 0, packages: [], detail: `all ${count(cycle.packages.length)} packages of the cycle are built and in staging` };
  }
  const raw = critical.length * weights.critical + other.length * weights.other;
  const kinds = PROBLEM_KINDS.map((kind) => [kind, problems.filter((problem) => problem.kind === kind).length] as const)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${count(n)} ${kind}`)
    .join(', ');
  return {
    id: 'failed',
    points: Math.min(weights.cap, raw),
    packages: [...critical, ...other].map((problem) => problem.line),
    detail: `${count(problems.length)} of ${count(cycle.packages.length)} packages: ${kinds}; ${critical.length} critical × ${weights.critical} + ${other.length} other × ${weights.other}${capNote(raw, weights.cap)}`,
  };
}

/** The order the detail counts them in. */
const PROBLEM_KINDS = ['failed', 'blocked', 'skipped', 'not built', 'built, not in staging'] as const;

function problemOf(pkg: VerifyCyclePackage, staged: ReadonlySet<string>): string | undefined {
  switch (pkg.state) {
    case 'built':
      return staged.has(pkg.cpv) ? undefined : 'built, not in staging';
    case 'failed':
    case 'blocked':
    case 'skipped':
      return pkg.state;
    case undefined:
      return 'not built (no record)';
    default:
      return `not built (${pkg.state})`;
  }
}

/**
 * RDEPEND and PDEPEND of every staged package, reduced with the package's own USE (Packages already stores them
 * reduced; reducing again is harmless and keeps hand-written indexes honest), that no package in staging or
 * production satisfies. Blockers are left out: they are about what is installed together, and a binhost may hold
 * both sides. A dependency string that cannot be read counts as unsatisfied.
 */
function unsatisfiedDepsComponent(staging: readonly BinaryPackage[], available: BinaryIndex, where: string): VerifyComponent {
  const weights = VERIFY_WEIGHTS.unsatisfiedDeps;
  const lines = new Set<string>();
  for (const pkg of staging) {
    for (const field of ['RDEPEND', 'PDEPEND'] as const) {
      for (const line of unsatisfiedOf(pkg, field, available)) lines.add(line);
    }
  }
  if (lines.size === 0) {
    return { id: 'unsatisfied-deps', points: 0, packages: [], detail: `every RDEPEND and PDEPEND of the ${count(staging.length)} staged packages is satisfied by ${where}` };
  }
  const raw = lines.size * weights.each;
  return {
    id: 'unsatisfied-deps',
    points: Math.min(weights.cap, raw),
    packages: [...lines],
    detail: `${plural(lines.size, 'dependency', 'dependencies')} of staged packages not satisfied by ${where}; ${weights.each} each${capNote(raw, weights.cap)}`,
  };
}

function unsatisfiedOf(pkg: BinaryPackage, field: 'RDEPEND' | 'PDEPEND', available: BinaryIndex): string[] {
  const text = pkg.fields[field] ?? '';
  if (text.trim() === '') return [];
  const spec = parseDepSpec(text, { field });
  const problem = spec.diagnostics[0];
  if (problem !== undefined) return [`${pkg.cpv} has an unreadable ${field} (${problem.message}: ${problem.field ?? ''})`];
  const eapi = pkg.fields['EAPI'];
  const nodes = withoutBlockers(evaluateDepSpec(spec.nodes, pkg.use, eapi === undefined ? {} : { eapi }));
  const candidates = [...new Set(collectAtoms(nodes).flatMap((atom) => candidatesFor(atom, available)))];
  return matchDepSpec(nodes, candidates).unsatisfied.map((node) => `${pkg.cpv} needs ${formatDepNode(node)}`);
}

/** The tree without blocker atoms; a group that held only blockers goes with them. */
function withoutBlockers(nodes: readonly DepNode[]): DepNode[] {
  return nodes.flatMap((node): DepNode[] => {
    if (node.kind === 'atom') return node.atom.blocker === undefined ? [node] : [];
    if (node.kind === 'token' || node.children.length === 0) return [node];
    const children = withoutBlockers(node.children);
    return children.length === 0 ? [] : [{ ...node, children }];
  });
}

/** Two versions in one (category/name, SLOT) of staging. Several builds of one version are not a conflict. */
function slotConflictComponent(staging: readonly BinaryPackage[]): VerifyComponent {
  const weights = VERIFY_WEIGHTS.slotConflict;
  const slots = new Map<string, BinaryPackage[]>();
  for (const pkg of staging) {
    const key = `${pkg.parsed.cp}:${pkg.slot}`;
    const versions = slots.get(key) ?? [];
    if (!versions.some((other) => other.cpv === pkg.cpv)) versions.push(pkg);
    slots.set(key, versions);
  }
  const conflicts = [...slots].filter(([, versions]) => versions.length > 1);
  if (conflicts.length === 0) return { id: 'slot-conflict', points: 0, packages: [], detail: 'one version per slot in staging' };
  const raw = conflicts.length * weights.each;
  return {
    id: 'slot-conflict',
    points: Math.min(weights.cap, raw),
    packages: conflicts.map(([key, versions]) => `${key} has ${sortedVersions(versions).join(', ')}`),
    detail: `${plural(conflicts.length, 'slot', 'slots')} of staging with two or more versions; ${weights.each} each${capNote(raw, weights.cap)}`,
  };
}

/**
 * Critical packages, and packages a pin names (without wildcards), whose USE in staging differs from what is
 * pinned: every flag of the profile's USE that the package has in IUSE, then the pins matching the package
 * (package.use order: the most specific atom last, later lines override).
 */
function criticalUseComponent(staging: readonly BinaryPackage[], profileUse: string, pins: readonly PackageConfigEntry[]): VerifyComponent {
  const weights = VERIFY_WEIGHTS.criticalUse;
  const lines: string[] = [];
  let checked = 0;
  for (const pkg of staging) {
    const resolved = resolvePackageUse(pins, pkg);
    if (!isCritical(pkg.parsed.cp) && !resolved.entries.some((entry) => !entry.atom.wildcard)) continue;
    checked += 1;
    const pinned = pinnedFlags(profileUse, pkg.iuse, resolved.flags);
    const wrong = [...pinned].filter(([flag, on]) => pkg.use.has(flag) !== on);
    if (wrong.length === 0) continue;
    const built = wrong.map(([flag, on]) => (on ? `-${flag}` : flag)).join(' ');
    const wanted = wrong.map(([flag, on]) => (on ? flag : `-${flag}`)).join(' ');
    lines.push(`${pkg.cpv} built with USE ${built}, pinned ${wanted}`);
  }
  if (lines.length === 0) return { id: 'critical-use', points: 0, packages: [], detail: `the ${count(checked)} critical or pinned packages in staging have the pinned USE` };
  const raw = lines.length * weights.each;
  return {
    id: 'critical-use',
    points: Math.min(weights.cap, raw),
    packages: lines,
    detail: `${count(lines.length)} of ${count(checked)} critical or pinned packages were built with other USE than pinned; ${weights.each} each${capNote(raw, weights.cap)}`,
  };
}

/**
 * Flag → wanted state. Profile USE pins only flags the package declares (another package's flag says nothing
 * about this one); a package pin pins its flag even when IUSE lacks it (pinned on, it cannot be honoured). `-*`
 * and `prefix_*` wildcards reset or expand USE and pin no single flag: they are left out.
 */
export function pinnedFlags(profileUse: string, iuse: readonly string[], packageFlags: readonly string[]): Map<string, boolean> {
  const declared = new Set(iuse.map((flag) => flag.replace(/^[+-]/, '')));
  const pinned = new Map<string, boolean>();
  const apply = (token: string, onlyDeclared: boolean): void => {
    const on = !token.startsWith('-');
    const flag = token.replace(/^[+-]/, '');
    if (flag === '' || flag.includes('*') || (onlyDeclared && !declared.has(flag))) return;
    pinned.set(flag, on);
  };
  for (const token of profileUse.split(/\s+/)) apply(token, true);
  for (const token of packageFlags) apply(token, false);
  return pinned;
}

/** The share of the world file's atoms that some package in staging or production satisfies (slots included). */
function worldCoverageComponent(world: readonly WorldAtom[], available: BinaryIndex, where: string): VerifyComponent {
  const missing = world.filter((entry) => !candidatesFor(entry.atom, available).some((pkg) => matchAtom(entry.atom, pkg)));
  return coverageComponent(world.length, missing.map((entry) => entry.text), `world atoms have a binary package in ${where}`);
}

/** Without a world file: the share of the cycle's packages that are built. */
function cycleCoverageComponent(cycle: VerifyCycle): VerifyComponent {
  const missing = cycle.packages.filter((pkg) => pkg.state !== 'built');
  return coverageComponent(cycle.packages.length, missing.map((pkg) => pkg.cpv), 'packages of the cycle are built (no --world given)');
}

function coverageComponent(total: number, missing: readonly string[], what: string): VerifyComponent {
  const weights = VERIFY_WEIGHTS.coverage;
  if (total === 0) return { id: 'coverage', points: 0, packages: [], detail: `nothing to cover: 0 ${what}` };
  const covered = total - missing.length;
  const raw = Math.ceil((missing.length * 100) / total) * weights.perMissingPercent;
  // A binhost missing one package of thousands must not show 100.0 %, nor one with a single package 0.0 %.
  const percent = Math.min(covered === total ? 100 : 99.9, Math.max(covered === 0 ? 0 : 0.1, Math.round((covered * 1000) / total) / 10)).toFixed(1);
  return {
    id: 'coverage',
    points: Math.min(weights.cap, raw),
    packages: [...missing],
    detail: `${percent} %, ${count(covered)} of ${count(total)} ${what}${missing.length === 0 ? '' : `; ${weights.perMissingPercent} per missing percent${capNote(raw, weights.cap)}`}`,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Packages

/** Stanzas whose CPV does not parse are left out: the reader refuses such an index before scoring. */
function toBinaryPackages(stanzas: readonly IndexStanza[]): BinaryPackage[] {
  return stanzas.flatMap((fields): BinaryPackage[] => {
    const parsed = tryParseCpv(fields['CPV'] ?? '');
    if (!parsed.ok) return [];
    const [slot = '0', subSlot] = (fields['SLOT'] || '0').split('/');
    const use = words(fields['USE']);
    const iuse = words(fields['IUSE']).map((flag) => flag.replace(/^[+-]/, ''));
    const repo = fields['REPO'];
    return [
      {
        cpv: parsed.value.cpv,
        parsed: parsed.value,
        slot,
        ...(subSlot === undefined ? {} : { subSlot }),
        ...(repo === undefined || repo === '' ? {} : { repo }),
        use: new Set(use),
        iuse,
        // Enabled flags are in IUSE_EFFECTIVE even when implicit (elibc_glibc, kernel_linux, the arch).
        iuseEffective: [...new Set([...iuse, ...use])],
        fields,
      },
    ];
  });
}

function indexByCp(packages: readonly BinaryPackage[]): Map<string, BinaryPackage[]> {
  const index = new Map<string, BinaryPackage[]>();
  for (const pkg of packages) {
    const list = index.get(pkg.parsed.cp);
    if (list === undefined) index.set(pkg.parsed.cp, [pkg]);
    else list.push(pkg);
  }
  return index;
}

function candidatesFor(atom: Atom, available: BinaryIndex): readonly BinaryPackage[] {
  if (!atom.wildcard) return available.get(atom.cp) ?? [];
  return [...available.values()].flat();
}

function sortedVersions(packages: readonly BinaryPackage[]): string[] {
  return [...packages].sort((a, b) => compareVersions(a.parsed.parsed, b.parsed.parsed)).map((pkg) => pkg.parsed.pvr);
}

const CRITICAL = new Set(VERIFY_CRITICAL_PACKAGES);

function isCritical(cp: string): boolean {
  return CRITICAL.has(cp);
}

function cpOf(cpv: string): string {
  const parsed = tryParseCpv(cpv);
  return parsed.ok ? parsed.value.cp : cpv;
}

function words(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter((word) => word !== '');
}

/** `4,637`: thousands separated, whatever the machine's locale. */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

function plural(n: number, one: string, many: string): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

function capNote(raw: number, cap: number): string {
  return raw > cap ? ` = ${raw}, capped at ${cap}` : '';
}

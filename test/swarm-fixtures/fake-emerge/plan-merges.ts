/**
 * The merge list of `emerge --oneshot --usepkg --getbinpkg =CAT/PF`, reduced to what a build drone needs: the
 * target's build-time dependencies (DEPEND and BDEPEND, USE-reduced, blockers ignored), depth first, each one
 *
 * - merged as a binary when the binhost has a matching package (highest version; with `--binpkg-respect-use`,
 *   on by default, a binary whose USE differs from what the ebuild would get now is passed over) unless that very
 *   instance (same CPV and BUILD_ID) is installed already;
 * - else left alone when an installed package satisfies it;
 * - else built from source first, with its own build-time dependencies, when the repository has a matching
 *   ebuild;
 * - else taken as provided by the system.
 *
 * `|| ( ... )` picks the first alternative that is installed, planned or available as a binary, else the first
 * one the repository can build. The target itself is always built from source. Dependency cycles are cut where
 * they close.
 */

import { compareVersions } from '../../../src/core/gentoo/compare-versions.ts';
import { matchAtom, type PackageRef } from '../../../src/core/gentoo/match-atom.ts';
import type { Atom } from '../../../src/core/gentoo/parse-atom.ts';
import type { Cpv } from '../../../src/core/gentoo/parse-cpv.ts';
import type { DepNode } from '../../../src/core/gentoo/parse-dep-spec.ts';
import type { Md5CacheEntry } from '../../../src/core/gentoo/parse-md5-cache-entry.ts';
import type { IndexFields } from '../../../src/core/gentoo/packages-index.ts';
import { enabledUse, reducedDependencyTree, splitWords } from './package-metadata.ts';
import type { Binhost } from './read-settings.ts';

export interface RepoPackage extends PackageRef {
  readonly parsed: Cpv;
  readonly entry: Md5CacheEntry;
}

export interface BinhostPackage extends PackageRef {
  readonly parsed: Cpv;
  /** The stanza of the binhost's `Packages`, defaults and header values applied. */
  readonly fields: Readonly<IndexFields>;
  /** Where its PATH is fetched from. */
  readonly base: PackageBase;
  /** The PORTAGE_BINHOST entry it came from. */
  readonly binhost: Binhost;
}

/**
 * `BASE_URI` of a binhost's packages (the index header's URI, else the binhost itself): a host folder (file:// or a
 * path), an http(s) URL (credentials included), or something this fake cannot fetch from.
 */
export type PackageBase =
  | { readonly kind: 'local'; readonly dir: string }
  | { readonly kind: 'remote'; readonly uri: string }
  | { readonly kind: 'unsupported'; readonly uri: string };

export interface InstalledRef extends PackageRef {
  readonly buildId?: number;
}

export interface PlanSources {
  /** Every version of `category/pn` the repository has. */
  readonly repository: (cp: string) => Promise<readonly RepoPackage[]>;
  /** Every binary of `category/pn` the binhosts list (empty without --getbinpkg). */
  readonly binhost: (cp: string) => readonly BinhostPackage[];
  readonly installed: (cp: string) => readonly InstalledRef[];
  /** make.conf (and environment) USE tokens. */
  readonly useTokens: readonly string[];
}

export type PlannedMerge =
  | { readonly kind: 'source'; readonly pkg: RepoPackage; readonly use: readonly string[] }
  | { readonly kind: 'binary'; readonly pkg: BinhostPackage };

function newestFirst<T extends { readonly parsed: Cpv }>(packages: readonly T[]): T[] {
  return [...packages].sort((a, b) => compareVersions(b.parsed.parsed, a.parsed.parsed));
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  const left = [...new Set(a)].sort();
  const right = [...new Set(b)].sort();
  return left.length === right.length && left.every((flag, index) => flag === right[index]);
}

function atomsOf(node: DepNode): Atom[] {
  if (node.kind === 'atom') return node.atom.blocker === undefined ? [node.atom] : [];
  if (node.kind === 'token') return [];
  return node.children.flatMap(atomsOf);
}

export async function planMerges(target: RepoPackage, sources: PlanSources): Promise<PlannedMerge[]> {
  const merges: PlannedMerge[] = [];
  const visiting = new Set<string>();
  const useOf = (pkg: RepoPackage): string[] => enabledUse(splitWords(pkg.entry.values.IUSE), sources.useTokens);

  /** The binary `emerge -g` would take for the atom (with --binpkg-respect-use), if any. */
  const binaryFor = async (atom: Atom): Promise<BinhostPackage | undefined> => {
    const ebuilds = await sources.repository(atom.cp);
    return newestFirst(sources.binhost(atom.cp).filter((pkg) => matchAtom(atom, pkg))).find((pkg) => {
      const ebuild = ebuilds.find((candidate) => candidate.cpv === pkg.cpv);
      if (ebuild === undefined) return true;
      const declared = new Set((pkg.iuse ?? []).map((flag) => flag.replace(/^[+-]/, '')));
      const built = [...(pkg.use ?? [])].filter((flag) => declared.has(flag));
      return sameFlags(built, useOf(ebuild));
    });
  };
  const isPlanned = (atom: Atom): boolean =>
    merges.some((merge) => matchAtom(atom, merge.kind === 'source' ? { ...merge.pkg, use: merge.use } : merge.pkg));
  const isInstalled = (atom: Atom): boolean => sources.installed(atom.cp).some((pkg) => matchAtom(atom, pkg));
  const ebuildFor = async (atom: Atom): Promise<RepoPackage | undefined> =>
    newestFirst((await sources.repository(atom.cp)).filter((pkg) => matchAtom(atom, pkg)))[0];

  const resolveAtom = async (atom: Atom): Promise<void> => {
    if (atom.blocker !== undefined || isPlanned(atom)) return;
    const binary = await binaryFor(atom);
    if (binary !== undefined) {
      const buildId = Number(binary.fields.BUILD_ID || Number.NaN);
      const sameInstance = sources.installed(atom.cp).some((pkg) => pkg.cpv === binary.cpv && pkg.buildId === buildId);
      if (!sameInstance) merges.push({ kind: 'binary', pkg: binary });
      return;
    }
    if (isInstalled(atom)) return;
    const ebuild = await ebuildFor(atom);
    if (ebuild !== undefined && !visiting.has(ebuild.cpv)) await buildFromSource(ebuild);
  };

  const isPresent = async (atom: Atom): Promise<boolean> => isPlanned(atom) || isInstalled(atom) || (await binaryFor(atom)) !== undefined;
  const isBuildable = async (atom: Atom): Promise<boolean> => (await ebuildFor(atom)) !== undefined;
  const findChoice = async (choices: readonly DepNode[], test: (atom: Atom) => Promise<boolean>): Promise<DepNode | undefined> => {
    for (const choice of choices) {
      let all = true;
      for (const atom of atomsOf(choice)) all &&= await test(atom);
      if (all) return choice;
    }
    return undefined;
  };

  const resolveNodes = async (nodes: readonly DepNode[]): Promise<void> => {
    for (const node of nodes) {
      if (node.kind === 'atom') await resolveAtom(node.atom);
      else if (node.kind === 'any-of') {
        const choice = (await findChoice(node.children, isPresent)) ?? (await findChoice(node.children, isBuildable));
        if (choice !== undefined) await resolveNodes([choice]);
      } else if (node.kind !== 'token') await resolveNodes(node.children);
    }
  };

  const buildFromSource = async (pkg: RepoPackage): Promise<void> => {
    visiting.add(pkg.cpv);
    const use = useOf(pkg);
    await resolveNodes([...reducedDependencyTree(pkg.entry, 'DEPEND', use), ...reducedDependencyTree(pkg.entry, 'BDEPEND', use)]);
    merges.push({ kind: 'source', pkg, use });
  };

  await buildFromSource(target);
  return merges;
}

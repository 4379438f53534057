/**
 * The package.use lines that apply to one package, in the order Portage applies them (`config.setcpv` with
 * `ordered_by_atom_specificity` and `best_match_to_list`, lib/portage/package/ebuild/_config/helper.py and
 * lib/portage/dep/__init__.py). The order is by atom specificity, not by file order, so later flags override
 * earlier ones the way the user means:
 *
 *   wildcard (`*` `/` `*`, `dev-libs/*`) < wildcard with slot < wildcard `=…*…*` < `cat/pkg` < `>=`, `<=`, `>`, `<`
 *   < `cat/pkg:slot` < `=cat/pkg-1*` < `~cat/pkg-1` < `=cat/pkg-1`.
 *
 * Lines with the same atom are merged in file order (Portage keys them by atom). Among atoms of equal rank the one
 * listed first wins, i.e. is applied last; among `>=`/`<`-style atoms the one whose version is closest to the
 * package's wins. The flags of the winning atoms come last so that they override. Feed the result to
 * `mergeIncremental` on top of make.conf USE.
 */

import { compareVersions } from './compare-versions.ts';
import { matchAtom, type PackageRef } from './match-atom.ts';
import type { Atom, AtomOperator } from './parse-atom.ts';
import { tryParseCpv } from './parse-cpv.ts';
import { packageConfigKey, type PackageConfigEntry } from './parse-package-use.ts';
import type { Version } from './parse-version.ts';

export interface ResolvedPackageUse {
  /** Flags in the order to apply them (least specific atom first). */
  readonly flags: readonly string[];
  /** The matching lines, in the same order. */
  readonly entries: readonly PackageConfigEntry[];
}

const OPERATOR_RANK: Readonly<Record<AtomOperator | 'none', number>> = {
  '=': 6,
  '~': 5,
  '=*': 4,
  '>': 2,
  '<': 2,
  '>=': 2,
  '<=': 2,
  none: 1,
};

interface Group {
  readonly atom: Atom;
  readonly entries: PackageConfigEntry[];
}

/** Portage's `best_match_to_list`: the most specific atom, first-listed on ties. */
function pickBest(groups: readonly Group[], pkgVersion: Version | undefined): Group | undefined {
  let best: Group | undefined;
  let bestRank = -99;
  for (const group of groups) {
    const atom = group.atom;
    if (atom.wildcard) {
      const rank = atom.operator === '=*' ? 0 : atom.slot !== undefined ? -1 : -2;
      if (rank > bestRank) {
        bestRank = rank;
        best = group;
      }
      continue;
    }
    if (atom.slot !== undefined && bestRank < 3) {
      bestRank = 3;
      best = group;
    }
    const rank = OPERATOR_RANK[atom.operator ?? 'none'];
    if (rank > bestRank) {
      bestRank = rank;
      best = group;
    } else if (rank === bestRank && rank === 2 && best !== undefined && pkgVersion !== undefined) {
      if (isCloser(atom.version, best.atom.version, pkgVersion)) best = group;
    }
  }
  return best;
}

/**
 * Portage's tie rule for `<`/`>`-style atoms: sort [best, package, candidate] by version; when the package sorts
 * first or last, the candidate wins if it sorts in the middle (it is between the package and the current best).
 */
function isCloser(candidate: Version | undefined, current: Version | undefined, pkg: Version): boolean {
  if (candidate === undefined || current === undefined) return false;
  if (current.text === pkg.text || current.text === candidate.text) return false;
  if (candidate.text === pkg.text) return true;
  const sorted = [
    { version: current, id: 'current' },
    { version: pkg, id: 'pkg' },
    { version: candidate, id: 'candidate' },
  ].sort((a, b) => compareVersions(a.version, b.version));
  const pkgAtEnd = sorted[0]?.id === 'pkg' || sorted[2]?.id === 'pkg';
  return pkgAtEnd && sorted[1]?.id === 'candidate';
}

export function resolvePackageUse(entries: readonly PackageConfigEntry[], pkg: PackageRef): ResolvedPackageUse {
  // Portage's ExtendedAtomDict lists plain atoms before wildcard ones; each keeps first-appearance order.
  const plain = new Map<string, Group>();
  const wildcard = new Map<string, Group>();
  for (const entry of entries) {
    if (!matchAtom(entry.atom, pkg)) continue;
    const groups = entry.atom.wildcard ? wildcard : plain;
    const key = packageConfigKey(entry);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { atom: entry.atom, entries: [entry] });
    else group.entries.push(entry);
  }
  const remaining = [...plain.values(), ...wildcard.values()];
  const cpv = tryParseCpv(pkg.cpv);
  const pkgVersion = cpv.ok ? cpv.value.parsed : undefined;
  const ordered: Group[] = [];
  for (let best = pickBest(remaining, pkgVersion); best !== undefined; best = pickBest(remaining, pkgVersion)) {
    remaining.splice(remaining.indexOf(best), 1);
    ordered.push(best);
  }
  ordered.reverse();
  const matched = ordered.flatMap((group) => group.entries);
  return { flags: matched.flatMap((entry) => entry.flags), entries: matched };
}

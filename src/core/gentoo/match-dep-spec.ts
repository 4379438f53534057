/**
 * Whether a set of packages (an installed system, a binhost index) satisfies a dependency tree: an atom needs a
 * matching package, a blocker (`!atom`, `!!atom`) needs none, `||` needs one member, `^^` exactly one, `??` at
 * most one, an all-of group needs all. Pass a tree already reduced with `evaluateDepSpec` (as VDB and Packages
 * dependencies are); a USE conditional still present is checked like an all-of group, plain tokens are ignored.
 */

import { matchAtom, type PackageRef } from './match-atom.ts';
import type { Atom } from './parse-atom.ts';
import { tryParseCpv } from './parse-cpv.ts';
import type { DepNode } from './parse-dep-spec.ts';

export interface DepSpecMatch {
  readonly satisfied: boolean;
  /** The top-level nodes that are not satisfied, in order. */
  readonly unsatisfied: readonly DepNode[];
}

/** Groups packages by `category/name`; a package whose CPV does not parse is left out, as it can match nothing. */
function indexByCp<T extends PackageRef>(packages: readonly T[]): Map<string, T[]> {
  const index = new Map<string, T[]>();
  for (const pkg of packages) {
    const cpv = tryParseCpv(pkg.cpv);
    if (!cpv.ok) continue;
    const list = index.get(cpv.value.cp);
    if (list === undefined) index.set(cpv.value.cp, [pkg]);
    else list.push(pkg);
  }
  return index;
}

export function matchDepSpec(nodes: readonly DepNode[], packages: readonly PackageRef[]): DepSpecMatch {
  const byCp = indexByCp(packages);
  const hasMatch = (atom: Atom): boolean => {
    const candidates = atom.wildcard ? packages : (byCp.get(atom.cp) ?? []);
    return candidates.some((pkg) => matchAtom(atom, pkg));
  };
  const isSatisfied = (node: DepNode): boolean => {
    switch (node.kind) {
      case 'atom':
        return hasMatch(node.atom) !== (node.atom.blocker !== undefined);
      case 'token':
        return true;
      case 'any-of':
        return node.children.some(isSatisfied);
      case 'exactly-one-of':
        return node.children.filter(isSatisfied).length === 1;
      case 'at-most-one-of':
        return node.children.filter(isSatisfied).length <= 1;
      default:
        return node.children.every(isSatisfied);
    }
  };
  const unsatisfied = nodes.filter((node) => !isSatisfied(node));
  return { satisfied: unsatisfied.length === 0, unsatisfied };
}

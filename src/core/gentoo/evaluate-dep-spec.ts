/**
 * Reduces a dependency tree for a given set of enabled USE flags, with the result of Portage's `use_reduce`
 * (lib/portage/dep/__init__.py), checked against its own test cases:
 *
 * - `flag? ( … )` keeps its contents when the flag is enabled (`!flag?` when disabled) and disappears otherwise;
 * - redundant groups vanish: an all-of group inside an all-of context is spliced into it, `|| ( A )` becomes `A`,
 *   a group with one element becomes that element, `|| ( A || ( B C ) )` becomes `|| ( A B C )`;
 * - conditional USE dependencies inside atoms (`[foo?]`, `[foo=]`) are resolved with `evaluateAtomUse`;
 * - an any-of group left empty (all its members were disabled conditionals) is kept as an empty any-of node, which
 *   nothing satisfies (EAPI 7 and later); with `eapi` 0 to 6 it is dropped, as those EAPIs count it as satisfied.
 *
 * `^^` and `??` groups (REQUIRED_USE) keep their members, with conditionals resolved.
 */

import { evaluateAtomUse } from './evaluate-atom-use.ts';
import type { Atom } from './parse-atom.ts';
import type { DepNode } from './parse-dep-spec.ts';

export interface EvaluateDepSpecOptions {
  /** EAPI of the package the text belongs to; decides what an empty any-of group means. Default: EAPI 7+. */
  readonly eapi?: string;
}

type Context = 'all' | 'any';

const EMPTY_GROUPS_TRUE_EAPIS: ReadonlySet<string> = new Set(['0', '1', '2', '3', '4', '5', '6']);

export function evaluateDepSpec(
  nodes: readonly DepNode[],
  use: ReadonlySet<string> | readonly string[],
  options: EvaluateDepSpecOptions = {},
): DepNode[] {
  const enabled: ReadonlySet<string> = use instanceof Set ? use : new Set(use);
  const dropEmptyAnyOf = options.eapi !== undefined && EMPTY_GROUPS_TRUE_EAPIS.has(options.eapi);

  const reduceList = (list: readonly DepNode[], context: Context): DepNode[] => list.flatMap((node) => reduce(node, context));

  /** The nodes that `node` becomes inside a list of the given kind (spliced into that list). */
  const reduce = (node: DepNode, context: Context): DepNode[] => {
    switch (node.kind) {
      case 'atom':
        return [{ kind: 'atom', atom: evaluateAtomUse(node.atom, enabled) }];
      case 'token':
        return [node];
      case 'conditional': {
        if (enabled.has(node.flag) === node.negated) return [];
        return reduce({ kind: 'all-of', children: node.children }, context);
      }
      case 'all-of': {
        const children = reduceList(node.children, 'all');
        if (context === 'all' || children.length <= 1) return children;
        return [{ kind: 'all-of', children }];
      }
      case 'any-of': {
        const children = reduceList(node.children, 'any').flatMap((child) =>
          child.kind === 'any-of' && child.children.length > 0 ? child.children : [child],
        );
        if (children.length === 0) return dropEmptyAnyOf ? [] : [{ kind: 'any-of', children }];
        if (children.length > 1) return [{ kind: 'any-of', children }];
        const only = children[0] as DepNode;
        return only.kind === 'all-of' && context === 'all' ? [...only.children] : [only];
      }
      default: {
        const children = node.children.flatMap((child) => reduce(child, 'any'));
        return children.length === 0 ? [] : [{ kind: node.kind, children }];
      }
    }
  };

  return reduceList(nodes, 'all');
}

/** Every atom in the tree, depth first, whatever group it sits in. */
export function collectAtoms(nodes: readonly DepNode[]): Atom[] {
  const atoms: Atom[] = [];
  const visit = (list: readonly DepNode[]): void => {
    for (const node of list) {
      if (node.kind === 'atom') atoms.push(node.atom);
      else if (node.kind !== 'token') visit(node.children);
    }
  };
  visit(nodes);
  return atoms;
}

/**
 * Canonical text of a dependency tree: single spaces, `( … )` around every group, `|| ( … )`, `flag? ( … )`.
 * `parseDepSpec(formatDepSpec(nodes))` gives the same nodes back.
 */

import { formatAtom } from './format-atom.ts';
import type { DepGroupKind, DepNode } from './parse-dep-spec.ts';

const GROUP_PREFIX: Readonly<Record<DepGroupKind, string>> = {
  'all-of': '',
  'any-of': '|| ',
  'exactly-one-of': '^^ ',
  'at-most-one-of': '?? ',
};

export function formatDepSpec(nodes: readonly DepNode[]): string {
  return nodes.map(formatDepNode).join(' ');
}

export function formatDepNode(node: DepNode): string {
  switch (node.kind) {
    case 'atom':
      return formatAtom(node.atom);
    case 'token':
      return node.text;
    case 'conditional':
      return `${node.negated ? '!' : ''}${node.flag}? ( ${formatDepSpec(node.children)} )`;
    default:
      return `${GROUP_PREFIX[node.kind]}( ${formatDepSpec(node.children)} )`;
  }
}

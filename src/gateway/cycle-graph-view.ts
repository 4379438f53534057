/** A cycle's DAG as the dashboard draws it: nodes with their dependencies, and the critical path. */

import { cycleGraph, type CycleDefinition } from '../core/swarm/cycle-model.ts';

export interface CycleGraphView {
  readonly cycle: string;
  readonly profile: string;
  readonly referenceSpeed: number;
  /** `duration`: expected seconds at the reference speed. */
  readonly nodes: readonly { readonly cpv: string; readonly duration: number; readonly heavy: boolean; readonly deps: readonly string[] }[];
  /** The longest chain of expected durations, first to last. */
  readonly criticalPath: readonly string[];
}

export function cycleGraphView(definition: CycleDefinition): CycleGraphView {
  const graph = cycleGraph(definition);
  const rank = (cpv: string): number => graph.ranks.get(cpv) ?? 0;
  const path: string[] = [];
  // Ranks are upward (a node's duration plus its longest chain of dependents): start at the highest, then
  // always follow the dependent that carries the rest of the chain.
  let next = graph.order.reduce<string | undefined>((best, cpv) => (best === undefined || rank(cpv) > rank(best) ? cpv : best), undefined);
  while (next !== undefined) {
    path.push(next);
    next = (graph.dependents.get(next) ?? []).reduce<string | undefined>((best, cpv) => (best === undefined || rank(cpv) > rank(best) ? cpv : best), undefined);
  }
  return {
    cycle: definition.id,
    profile: definition.profile,
    referenceSpeed: definition.referenceSpeed,
    nodes: definition.nodes.map((node) => ({ cpv: node.cpv, duration: node.duration, heavy: node.heavy, deps: graph.deps.get(node.cpv) ?? [] })),
    criticalPath: path,
  };
}

/**
 * The build DAG of a swarm cycle: one node per package to build, one edge per dependency between two of them.
 * Built from a binhost Packages index (every listed package is rebuilt) or from an `emerge -pv` plan plus the
 * repository's md5-cache. Atoms that match no package of the cycle are satisfied elsewhere and ignored; blockers
 * are ignored. An atom matching several packages of the cycle depends on the highest version among them.
 */

import type { Diagnostic } from '../gentoo/diagnostics.ts';
import { compareVersions } from '../gentoo/compare-versions.ts';
import { collectAtoms, evaluateDepSpec } from '../gentoo/evaluate-dep-spec.ts';
import { findMatches } from '../gentoo/match-atom.ts';
import type { PackagesIndexEntry } from '../gentoo/packages-index.ts';
import { tryParseCpv } from '../gentoo/parse-cpv.ts';
import { parseDepSpec } from '../gentoo/parse-dep-spec.ts';
import type { EmergePlanPackage } from '../gentoo/parse-emerge-plan.ts';
import type { Md5CacheEntry } from '../gentoo/parse-md5-cache-entry.ts';

export type EdgeKind = 'build' | 'runtime';

export interface DagNode {
  readonly cpv: string;
  readonly category: string;
  /** `category/name`, the key of its build history. */
  readonly cp: string;
  /** Expected build time in seconds on the reference drone (see simulate-swarm.ts). */
  readonly duration: number;
  readonly heavy: boolean;
}

export interface DagEdge {
  /** The dependency. */
  readonly from: string;
  /** The package that needs it. */
  readonly to: string;
  readonly kind: EdgeKind;
}

export interface BrokenCycle {
  /** The strongly connected component, sorted. */
  readonly members: readonly string[];
  /** The edges removed to make it acyclic. */
  readonly removed: readonly DagEdge[];
}

export interface BuildDag {
  /** In input order (fifo uses it). */
  readonly nodes: ReadonlyMap<string, DagNode>;
  /** Acyclic: cycles are broken on the way in. */
  readonly edges: readonly DagEdge[];
  readonly cyclesBroken: readonly BrokenCycle[];
  readonly diagnostics: readonly Diagnostic[];
}

/** What a package brings to the DAG before durations are known. */
export interface DagInputPackage {
  readonly cpv: string;
  readonly slot?: string;
  readonly subSlot?: string;
  readonly repo?: string;
  readonly use: readonly string[];
  readonly iuse?: readonly string[];
  readonly eapi?: string;
  /** Raw DEPEND, BDEPEND and RDEPEND texts. */
  readonly depend: string;
  readonly bdepend: string;
  readonly rdepend: string;
  /** Where the texts came from, for diagnostics. */
  readonly file?: string;
  readonly line?: number;
}

/** Gives a package its expected duration and heavy class (see expected-durations.ts). */
export type EstimateDuration = (cpv: string, cp: string, category: string) => { readonly duration: number; readonly heavy: boolean };

export function packagesFromIndex(entries: readonly PackagesIndexEntry[], file?: string): DagInputPackage[] {
  return entries.map((entry) => {
    const fields = entry.fields;
    const [slot, subSlot] = (fields.SLOT ?? '0').split('/');
    return {
      cpv: fields.CPV as string,
      ...(slot === undefined ? {} : { slot }),
      ...(subSlot === undefined ? {} : { subSlot }),
      ...(fields.REPO === undefined ? {} : { repo: fields.REPO }),
      use: splitWords(fields.USE),
      iuse: splitWords(fields.IUSE),
      ...(fields.EAPI === undefined ? {} : { eapi: fields.EAPI }),
      depend: fields.DEPEND ?? '',
      bdepend: fields.BDEPEND ?? '',
      rdepend: fields.RDEPEND ?? '',
      ...(file === undefined ? {} : { file }),
    };
  });
}

/**
 * The plan's `[ebuild …]` lines with their md5-cache entries (`cache` keyed by CPV). USE is what the plan line
 * shows: plain flags as named, USE_EXPAND flags as `group_flag` in lower case (PYTHON_TARGETS="python3_12" →
 * `python_targets_python3_12`). A package without a cache entry is reported and has no dependencies.
 */
export function packagesFromPlan(
  plan: readonly EmergePlanPackage[],
  cache: ReadonlyMap<string, { readonly entry: Md5CacheEntry; readonly file?: string }>,
  planFile?: string,
): { readonly packages: DagInputPackage[]; readonly diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const packages = plan
    .filter((pkg) => pkg.kind === 'ebuild')
    .map((pkg): DagInputPackage => {
      const use = pkg.use.filter((flag) => flag.enabled && !flag.removed).map((flag) => (flag.expandGroup === undefined ? flag.name : `${flag.expandGroup.toLowerCase()}_${flag.name}`));
      const cached = cache.get(pkg.cpv);
      if (cached === undefined) {
        diagnostics.push({ ...(planFile === undefined ? {} : { file: planFile }), line: pkg.line, field: pkg.cpv, message: 'no md5-cache entry for a planned package; built with no dependencies', action: 'defaulted' });
      }
      const values = cached?.entry.values ?? {};
      const [slot, subSlot] = (values.SLOT ?? pkg.slot ?? '0').split('/');
      return {
        cpv: pkg.cpv,
        ...(slot === undefined ? {} : { slot }),
        ...(subSlot === undefined ? {} : { subSlot }),
        ...(pkg.repo === undefined ? {} : { repo: pkg.repo }),
        use,
        iuse: splitWords(values.IUSE),
        ...(cached === undefined ? {} : { eapi: cached.entry.eapi }),
        depend: values.DEPEND ?? '',
        bdepend: values.BDEPEND ?? '',
        rdepend: values.RDEPEND ?? '',
        ...(cached?.file === undefined ? {} : { file: cached.file }),
      };
    });
  return { packages, diagnostics };
}

/** The DAG over `packages`, cycles broken (runtime edges first), each node's duration from `estimate`. */
export function buildDag(packages: readonly DagInputPackage[], estimate: EstimateDuration): BuildDag {
  const diagnostics: Diagnostic[] = [];
  const nodes = new Map<string, DagNode>();
  const refs = packages.map((pkg) => ({ ...pkg, iuse: pkg.iuse?.map((flag) => flag.replace(/^[+-]/, '')) }));
  for (const pkg of refs) {
    const parsed = tryParseCpv(pkg.cpv);
    if (!parsed.ok) {
      diagnostics.push({ ...(pkg.file === undefined ? {} : { file: pkg.file }), ...(pkg.line === undefined ? {} : { line: pkg.line }), field: pkg.cpv, message: 'not a valid CPV; left out of the cycle', action: 'ignored' });
      continue;
    }
    if (nodes.has(pkg.cpv)) continue;
    const { category, cp } = parsed.value;
    nodes.set(pkg.cpv, { cpv: pkg.cpv, category, cp, ...estimate(pkg.cpv, cp, category) });
  }
  const candidates = refs.filter((pkg) => nodes.has(pkg.cpv));

  const edgeKinds = new Map<string, EdgeKind>();
  for (const pkg of candidates) {
    const fields: readonly (readonly [string, string, EdgeKind])[] = [
      ['DEPEND', pkg.depend, 'build'],
      ['BDEPEND', pkg.bdepend, 'build'],
      ['RDEPEND', pkg.rdepend, 'runtime'],
    ];
    for (const [field, text, kind] of fields) {
      if (text.trim() === '') continue;
      const spec = parseDepSpec(text, { field, ...(pkg.file === undefined ? {} : { file: pkg.file }), ...(pkg.line === undefined ? {} : { line: pkg.line }) });
      diagnostics.push(...spec.diagnostics);
      const atoms = collectAtoms(evaluateDepSpec(spec.nodes, pkg.use, pkg.eapi === undefined ? {} : { eapi: pkg.eapi }));
      for (const atom of atoms) {
        if (atom.blocker !== undefined) continue;
        const matches = findMatches(atom, candidates);
        if (matches.length === 0) continue;
        const best = matches.reduce((a, b) => (compareVersions(versionOf(a.cpv), versionOf(b.cpv)) >= 0 ? a : b));
        const key = `${best.cpv}\u0000${pkg.cpv}`;
        // A build edge is the stronger of the two: it stays when the same pair also has a runtime edge.
        if (edgeKinds.get(key) !== 'build') edgeKinds.set(key, kind);
      }
    }
  }
  const edges: DagEdge[] = [...edgeKinds].map(([key, kind]) => {
    const [from, to] = key.split('\u0000') as [string, string];
    return { from, to, kind };
  });
  const { kept, cyclesBroken } = breakCycles([...nodes.keys()], edges);
  return { nodes, edges: kept, cyclesBroken, diagnostics };
}

/**
 * Tarjan's strongly connected components; each component with a cycle (more than one member, or a self edge)
 * loses edges one cycle at a time until it is acyclic: a runtime edge of the cycle found when it has one
 * (Portage drops runtime priorities first), else a build edge. Ties by `from`, then `to`.
 */
export function breakCycles(order: readonly string[], edges: readonly DagEdge[]): { readonly kept: DagEdge[]; readonly cyclesBroken: BrokenCycle[] } {
  const components = stronglyConnected(order, edges);
  const removedKeys = new Set<string>();
  const cyclesBroken: BrokenCycle[] = [];
  for (const members of components) {
    const inside = new Set(members);
    let local = edges.filter((edge) => inside.has(edge.from) && inside.has(edge.to));
    if (members.length === 1 && local.length === 0) continue;
    const removed: DagEdge[] = [];
    for (let cycle = findCycle(members, local); cycle !== undefined; cycle = findCycle(members, local)) {
      const runtime = cycle.filter((edge) => edge.kind === 'runtime');
      const victim = [...(runtime.length > 0 ? runtime : cycle)].sort(compareEdges)[0] as DagEdge;
      removed.push(victim);
      removedKeys.add(edgeKey(victim));
      local = local.filter((edge) => edge !== victim);
    }
    cyclesBroken.push({ members: [...members].sort(), removed: removed.sort(compareEdges) });
  }
  return { kept: edges.filter((edge) => !removedKeys.has(edgeKey(edge))), cyclesBroken };
}

function stronglyConnected(order: readonly string[], edges: readonly DagEdge[]): string[][] {
  const next = adjacency(order, edges);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const root of order) {
    if (index.has(root)) continue;
    // Iterative DFS: each frame is a node and the position in its successor list.
    const frames: { node: string; position: number }[] = [{ node: root, position: 0 }];
    index.set(root, counter);
    low.set(root, counter);
    counter += 1;
    stack.push(root);
    onStack.add(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as { node: string; position: number };
      const successors = next.get(frame.node) ?? [];
      if (frame.position < successors.length) {
        const successor = (successors[frame.position] as DagEdge).to;
        frame.position += 1;
        if (!index.has(successor)) {
          index.set(successor, counter);
          low.set(successor, counter);
          counter += 1;
          stack.push(successor);
          onStack.add(successor);
          frames.push({ node: successor, position: 0 });
        } else if (onStack.has(successor)) {
          low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(successor) as number));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  }
  return components;
}

/** One cycle's edges within `members`, or undefined when the subgraph is acyclic. */
function findCycle(members: readonly string[], edges: readonly DagEdge[]): DagEdge[] | undefined {
  const next = adjacency([...members].sort(), edges);
  const state = new Map<string, 'open' | 'done'>();
  for (const root of [...members].sort()) {
    if (state.has(root)) continue;
    const path: DagEdge[] = [];
    const frames: { node: string; position: number }[] = [{ node: root, position: 0 }];
    state.set(root, 'open');
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as { node: string; position: number };
      const successors = next.get(frame.node) ?? [];
      if (frame.position < successors.length) {
        const edge = successors[frame.position] as DagEdge;
        frame.position += 1;
        const seen = state.get(edge.to);
        if (seen === 'open') {
          const start = path.findIndex((step) => step.from === edge.to);
          return [...(start === -1 ? [] : path.slice(start)), edge];
        }
        if (seen === undefined) {
          state.set(edge.to, 'open');
          path.push(edge);
          frames.push({ node: edge.to, position: 0 });
        }
        continue;
      }
      state.set(frame.node, 'done');
      frames.pop();
      path.pop();
    }
  }
  return undefined;
}

function adjacency(order: readonly string[], edges: readonly DagEdge[]): Map<string, DagEdge[]> {
  const next = new Map<string, DagEdge[]>(order.map((cpv) => [cpv, []]));
  for (const edge of [...edges].sort(compareEdges)) next.get(edge.from)?.push(edge);
  return next;
}

const edgeKey = (edge: DagEdge): string => `${edge.from}\u0000${edge.to}\u0000${edge.kind}`;

function compareEdges(a: DagEdge, b: DagEdge): number {
  return a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0;
}

function versionOf(cpv: string): string {
  const parsed = tryParseCpv(cpv);
  return parsed.ok ? parsed.value.pvr : '0';
}

function splitWords(text: string | undefined): string[] {
  return text === undefined ? [] : text.split(/\s+/).filter((word) => word !== '');
}

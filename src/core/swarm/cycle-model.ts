/**
 * A swarm cycle as the orchestrator keeps it: the DAG it was created with, and one record per package whose
 * state only the leading orchestrator changes. Pure: the orchestrator stores these records in Redis and applies
 * the transitions below.
 *
 * States (Debian wanna-build's vocabulary where it has one):
 * - `dep-wait`: a dependency of the cycle is not built yet;
 * - `queued`: ready, or handed to a drone's queue and not started;
 * - `building`: a drone runs it;
 * - `built`: its binary package is in staging;
 * - `failed`: it failed on `maxAttempts` distinct drones (each attempt's log kept);
 * - `blocked`: a dependency failed or is blocked;
 * - `skipped`: left out of the cycle by an operator.
 */

import type { BrokenCycle, DagEdge } from './build-dag.ts';
import type { SchedulingPolicy } from './dispatch-policy.ts';
import { topologicalOrder, upwardRanks } from './simulate-swarm.ts';

/** A cycle id (`<profile>-<time>-<hex>` when `fresh` makes it): what may appear in keys, job ids and URLs. */
export const CYCLE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export type PackageState = 'queued' | 'blocked' | 'dep-wait' | 'building' | 'built' | 'failed' | 'skipped';
export const PACKAGE_STATES: readonly PackageState[] = ['queued', 'blocked', 'dep-wait', 'building', 'built', 'failed', 'skipped'];

export interface CycleNode {
  readonly cpv: string;
  readonly cp: string;
  /** Expected seconds at the cycle's reference speed. */
  readonly duration: number;
  readonly heavy: boolean;
}

export interface CycleDefinition {
  readonly id: string;
  readonly profile: string;
  /** Epoch ms. */
  readonly createdAt: number;
  /** What it was made from, for people: `plan FILE`, `packages-index FILE`. */
  readonly source: string;
  readonly policy: SchedulingPolicy;
  /** Cores of the drone the durations are expressed at. */
  readonly referenceSpeed: number;
  readonly nodes: readonly CycleNode[];
  readonly edges: readonly DagEdge[];
  readonly cyclesBroken: readonly BrokenCycle[];
}

export type FailureKind = 'package' | 'infrastructure';

export interface AttemptFailure {
  readonly attempt: number;
  readonly drone: string;
  /** Epoch ms. */
  readonly at: number;
  readonly kind: FailureKind;
  readonly reason: string;
  /** Where this attempt's build log is kept. */
  readonly log?: string;
  readonly seconds?: number;
}

export interface BuiltBinary {
  readonly drone: string;
  readonly attempt: number;
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  readonly buildId: string;
  readonly seconds: number;
  readonly log?: string;
}

export interface PackageRecord {
  readonly cpv: string;
  readonly state: PackageState;
  /** Epoch ms of the last state change. */
  readonly since: number;
  /** Dispatches so far (each a BullMQ job `<cycle>:<cpv>:<attempt>`). */
  readonly attempt: number;
  /** The drone of the current dispatch (queued or building). */
  readonly drone?: string;
  readonly jobId?: string;
  /** Epoch ms it became ready (aging counts from here). */
  readonly readyAt?: number;
  /** Epoch ms before which it must not be dispatched again (infrastructure backoff). */
  readonly notBefore?: number;
  readonly startedAt?: number;
  readonly failures: readonly AttemptFailure[];
  readonly built?: BuiltBinary;
  /** Why it is blocked, failed or skipped. */
  readonly reason?: string;
}

export interface CycleGraph {
  readonly order: readonly string[];
  readonly deps: ReadonlyMap<string, readonly string[]>;
  readonly dependents: ReadonlyMap<string, readonly string[]>;
  readonly ranks: ReadonlyMap<string, number>;
  readonly nodes: ReadonlyMap<string, CycleNode>;
  /** Total expected work and the longest chain, in reference seconds. */
  readonly work: number;
  readonly criticalPath: number;
}

export function cycleGraph(definition: CycleDefinition): CycleGraph {
  const order = definition.nodes.map((node) => node.cpv);
  const indexOf = new Map(order.map((cpv, index) => [cpv, index]));
  const successors: number[][] = order.map(() => []);
  const predecessors: number[][] = order.map(() => []);
  const deps = new Map<string, string[]>(order.map((cpv) => [cpv, []]));
  const dependents = new Map<string, string[]>(order.map((cpv) => [cpv, []]));
  for (const edge of definition.edges) {
    const from = indexOf.get(edge.from);
    const to = indexOf.get(edge.to);
    if (from === undefined || to === undefined) continue;
    successors[from]?.push(to);
    predecessors[to]?.push(from);
    deps.get(edge.to)?.push(edge.from);
    dependents.get(edge.from)?.push(edge.to);
  }
  let topological: number[];
  try {
    topological = topologicalOrder(order.length, successors, predecessors);
  } catch {
    throw new Error(`cycle ${definition.id}: its DAG has a cycle`);
  }
  const durations = definition.nodes.map((node) => node.duration);
  const rankList = upwardRanks(topological, successors, durations);
  return {
    order,
    deps,
    dependents,
    ranks: new Map(order.map((cpv, index) => [cpv, rankList[index] as number])),
    nodes: new Map(definition.nodes.map((node) => [node.cpv, node])),
    work: durations.reduce((a, b) => a + b, 0),
    criticalPath: rankList.reduce((a, b) => Math.max(a, b), 0),
  };
}

/** Every package in `queued` (no dependency) or `dep-wait`. */
export function initialRecords(graph: CycleGraph, now: number): PackageRecord[] {
  return graph.order.map((cpv) => {
    const ready = (graph.deps.get(cpv) ?? []).length === 0;
    return { cpv, state: ready ? 'queued' : 'dep-wait', since: now, attempt: 0, failures: [], ...(ready ? { readyAt: now } : {}) };
  });
}

/** `dep-wait` packages whose dependencies are all built become `queued`. */
export function releaseDependents(graph: CycleGraph, records: ReadonlyMap<string, PackageRecord>, built: string, now: number): PackageRecord[] {
  const changed: PackageRecord[] = [];
  for (const dependent of graph.dependents.get(built) ?? []) {
    const record = records.get(dependent);
    if (record?.state !== 'dep-wait') continue;
    const allBuilt = (graph.deps.get(dependent) ?? []).every((dep) => records.get(dep)?.state === 'built');
    if (allBuilt) changed.push({ ...record, state: 'queued', since: now, readyAt: now });
  }
  return changed;
}

/** Every package that transitively needs `failed` and is not finished becomes `blocked`, naming it. */
export function blockDependents(graph: CycleGraph, records: ReadonlyMap<string, PackageRecord>, failed: string, now: number): PackageRecord[] {
  const changed: PackageRecord[] = [];
  const seen = new Set<string>([failed]);
  const stack = [...(graph.dependents.get(failed) ?? [])];
  while (stack.length > 0) {
    const cpv = stack.pop() as string;
    if (seen.has(cpv)) continue;
    seen.add(cpv);
    const record = records.get(cpv);
    if (record === undefined || record.state === 'built' || record.state === 'failed' || record.state === 'skipped') continue;
    if (record.state === 'dep-wait' || record.state === 'blocked') {
      changed.push({ ...record, state: 'blocked', since: now, reason: `needs ${failed}, which failed` });
      stack.push(...(graph.dependents.get(cpv) ?? []));
    }
  }
  return changed;
}

/** Drones this package failed on (package failures only: an infrastructure failure says nothing about it). */
export function failedOn(record: PackageRecord): Set<string> {
  return new Set(record.failures.filter((failure) => failure.kind === 'package').map((failure) => failure.drone));
}

/** Whether the cycle is over: nothing left that could still be built. */
export function isCycleFinished(records: Iterable<PackageRecord>): boolean {
  for (const record of records) if (record.state === 'queued' || record.state === 'building' || record.state === 'dep-wait') return false;
  return true;
}

/** Exponential backoff for infrastructure failures: base × 2^(n−1), at most max. */
export function infrastructureBackoff(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

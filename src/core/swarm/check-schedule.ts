/**
 * Checks a schedule against its DAG, as anyone holding `--schedule-out` can: every package built exactly once,
 * no two builds overlapping on one drone, no package starting before each of its dependencies has ended.
 */

import type { BuildDag } from './build-dag.ts';
import type { ScheduledBuild } from './simulate-swarm.ts';

export interface ScheduleProblem {
  readonly kind: 'missing' | 'duplicate' | 'unknown' | 'overlap' | 'early-start' | 'negative';
  readonly cpv: string;
  /** The other package involved: the one it overlaps, or the dependency it started before. */
  readonly other?: string;
  readonly drone?: string;
}

const EPSILON = 1e-6;

export function checkSchedule(schedule: readonly ScheduledBuild[], dag: BuildDag): ScheduleProblem[] {
  const problems: ScheduleProblem[] = [];
  const byCpv = new Map<string, ScheduledBuild>();
  for (const build of schedule) {
    if (!dag.nodes.has(build.cpv)) problems.push({ kind: 'unknown', cpv: build.cpv });
    if (byCpv.has(build.cpv)) problems.push({ kind: 'duplicate', cpv: build.cpv });
    else byCpv.set(build.cpv, build);
    if (build.end < build.start || build.start < 0) problems.push({ kind: 'negative', cpv: build.cpv });
  }
  for (const cpv of dag.nodes.keys()) if (!byCpv.has(cpv)) problems.push({ kind: 'missing', cpv });

  const byDrone = new Map<string, ScheduledBuild[]>();
  for (const build of schedule) byDrone.set(build.drone, [...(byDrone.get(build.drone) ?? []), build]);
  for (const [drone, builds] of byDrone) {
    const sorted = [...builds].sort((a, b) => a.start - b.start || a.end - b.end);
    let latest: ScheduledBuild | undefined;
    for (const current of sorted) {
      if (latest !== undefined && current.start < latest.end - EPSILON) problems.push({ kind: 'overlap', cpv: current.cpv, other: latest.cpv, drone });
      if (latest === undefined || current.end > latest.end) latest = current;
    }
  }
  for (const edge of dag.edges) {
    const dependency = byCpv.get(edge.from);
    const dependent = byCpv.get(edge.to);
    if (dependency === undefined || dependent === undefined) continue;
    if (dependent.start < dependency.end - EPSILON) problems.push({ kind: 'early-start', cpv: edge.to, other: edge.from });
  }
  return problems;
}

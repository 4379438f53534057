import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { breakCycles, type BuildDag, type DagEdge } from './build-dag.ts';
import { checkSchedule } from './check-schedule.ts';
import { reverseDependencyCounts, simulate, type SchedulingPolicy, type SimulatedDrone } from './simulate-swarm.ts';

/** A DAG from `name:duration` nodes (input order kept) and `dep>dependent` build edges. */
function dag(nodes: readonly string[], edges: readonly string[] = [], heavy: readonly string[] = []): BuildDag {
  return {
    nodes: new Map(
      nodes.map((text) => {
        const [name, duration] = text.split(':') as [string, string];
        const cpv = `cat/${name}-1`;
        return [cpv, { cpv, category: 'cat', cp: `cat/${name}`, duration: Number(duration), heavy: heavy.includes(name) }];
      }),
    ),
    edges: edges.map((text) => {
      const [from, to] = text.split('>') as [string, string];
      return { from: `cat/${from}-1`, to: `cat/${to}-1`, kind: 'build' as const };
    }),
    cyclesBroken: [],
    diagnostics: [],
  };
}

const drones = (...speeds: number[]): SimulatedDrone[] => speeds.map((speed, index) => ({ id: `d${index + 1}`, speed, sweeper: false }));
const POLICIES: readonly SchedulingPolicy[] = ['critical-path', 'rdeps', 'fifo'];

describe('simulate', () => {
  it.each([
    ['a chain on one drone', dag(['a:10', 'b:20', 'c:30'], ['a>b', 'b>c']), drones(1), 60, 60],
    ['four equal packages on two equal drones', dag(['a:10', 'b:10', 'c:10', 'd:10']), drones(1, 1), 20, 20],
    ['a chain beside two short packages', dag(['x:10', 'y:10', 'a:10', 'b:10', 'c:10'], ['a>b', 'b>c']), drones(1, 1), 30, 30],
    ['one package on the fastest of two drones', dag(['a:10']), drones(1, 2), 10, 10],
    ['a long and a short package on a fast and a slow drone', dag(['s:10', 'l:100']), drones(1, 2), 100, 100],
  ])('critical-path reaches the optimal makespan: %s', (_name, graph, fleet, makespan, lowerBound) => {
    const result = simulate(graph, fleet, 'critical-path');
    expect([result.makespan, result.lowerBound, result.ratio]).toEqual([makespan, lowerBound, makespan / lowerBound]);
    expect(checkSchedule(result.schedule, graph)).toEqual([]);
  });

  it('fifo takes the input order and so starts the chain late; rdeps and critical-path start it first', () => {
    const graph = dag(['x:10', 'y:10', 'a:10', 'b:10', 'c:10'], ['a>b', 'b>c']);
    const makespans = POLICIES.map((policy) => simulate(graph, drones(1, 1), policy).makespan);
    expect(makespans).toEqual([30, 30, 40]);
    const first = (policy: SchedulingPolicy): string[] => simulate(graph, drones(1, 1), policy).schedule.filter((build) => build.start === 0).map((build) => build.cpv).sort();
    expect(first('fifo')).toEqual(['cat/x-1', 'cat/y-1']);
    expect(first('critical-path')).toEqual(['cat/a-1', 'cat/x-1']);
  });

  it('critical-path weights by duration where rdeps counts dependents', () => {
    // `wide` has three short dependents, `long` one long one: Hydra's count picks `wide` first.
    const graph = dag(['wide:10', 'w1:10', 'w2:10', 'w3:10', 'long:10', 'tail:100'], ['wide>w1', 'wide>w2', 'wide>w3', 'long>tail']);
    const critical = simulate(graph, drones(1), 'critical-path');
    const rdeps = simulate(graph, drones(1), 'rdeps');
    expect(critical.schedule[0]?.cpv).toBe('cat/long-1');
    expect(rdeps.schedule[0]?.cpv).toBe('cat/wide-1');
  });

  it('measures time on a drone as duration × referenceSpeed / speed, and the lower bound in those units', () => {
    const graph = dag(['a:30', 'b:30', 'c:30']);
    const result = simulate(graph, drones(3, 1, 2), 'critical-path');
    expect(result.referenceSpeed).toBe(3);
    expect(result.work).toBe(90);
    expect(result.criticalPath).toBe(30);
    expect(result.lowerBound).toBe(Math.max(30, (90 * 3) / 6));
    const onSlow = result.schedule.find((build) => build.drone === 'd2');
    if (onSlow !== undefined) expect(onSlow.end - onSlow.start).toBe(90);
  });

  it('gives a heavy package to the sweeper when the sweeper finishes it as soon as any drone', () => {
    const graph = dag(['big:100', 'small:10'], [], ['big']);
    const fleet: SimulatedDrone[] = [
      { id: 'a-plain', speed: 10, sweeper: false },
      { id: 'z-sweeper', speed: 10, sweeper: true },
    ];
    const result = simulate(graph, fleet, 'critical-path');
    expect(result.schedule.find((build) => build.cpv === 'cat/big-1')?.drone).toBe('z-sweeper');
    expect(result.schedule.find((build) => build.cpv === 'cat/small-1')?.drone).toBe('a-plain');
  });

  it('waits for a busy faster drone when that finishes a package sooner (earliest finish time)', () => {
    // d1 (speed 10) is busy with `a` until 10; `b` (100 s at speed 10) would take 1000 s on d2 (speed 1).
    const graph = dag(['a:10', 'b:100', 'c:1'], ['c>b']);
    const result = simulate(graph, drones(10, 1), 'critical-path');
    expect(result.schedule.find((build) => build.cpv === 'cat/b-1')?.drone).toBe('d1');
    expect(checkSchedule(result.schedule, graph)).toEqual([]);
  });

  it('is deterministic: ties go by cpv', () => {
    const graph = dag(['b:10', 'a:10', 'c:10']);
    const runs = [0, 1, 2].map(() => simulate(graph, drones(1), 'critical-path').schedule.map((build) => build.cpv));
    expect(runs).toEqual([0, 1, 2].map(() => ['cat/a-1', 'cat/b-1', 'cat/c-1']));
  });

  it('lists each package with its direct dependencies', () => {
    const graph = dag(['a:1', 'b:1', 'c:1'], ['a>c', 'b>c']);
    expect(simulate(graph, drones(1), 'fifo').schedule.find((build) => build.cpv === 'cat/c-1')?.deps).toEqual(['cat/a-1', 'cat/b-1']);
  });

  it.each(POLICIES)('%s: on random DAGs and fleets the schedule is valid and never beats the lower bound', (policy) => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 80 }),
        fc.array(fc.integer({ min: 1, max: 32 }), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        (durations, pairs, speeds, sweeper) => {
          const names = durations.map((duration, index) => `p${index}:${duration}`);
          // Edges from a lower to a higher index only: acyclic.
          const edges = [...new Set(pairs.map(([a, b]) => [a % durations.length, b % durations.length] as const).filter(([a, b]) => a < b).map(([a, b]) => `p${a}>p${b}`))];
          const graph = dag(names, edges, names.filter((_, index) => index % 7 === 0).map((text) => text.split(':')[0] as string));
          const fleet = speeds.map((speed, index) => ({ id: `d${index}`, speed, sweeper: index === sweeper % speeds.length }));
          const result = simulate(graph, fleet, policy);
          expect(checkSchedule(result.schedule, graph)).toEqual([]);
          expect(result.makespan).toBeGreaterThanOrEqual(result.lowerBound - 1e-6);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('reverseDependencyCounts (rdeps counts transitive reverse dependencies)', () => {
  it('counts every package that depends on one, directly or through others, once', () => {
    // 0 → 1 → 3, 0 → 2 → 3
    expect(reverseDependencyCounts([0, 1, 2, 3], [[1, 2], [3], [3], []])).toEqual([3, 1, 1, 0]);
  });
});

describe('breakCycles', () => {
  const edge = (from: string, to: string, kind: DagEdge['kind']): DagEdge => ({ from, to, kind });

  it('removes the runtime edge of a two-package cycle and reports it with the members', () => {
    const result = breakCycles(['a', 'b', 'c'], [edge('a', 'b', 'build'), edge('b', 'a', 'runtime'), edge('b', 'c', 'build')]);
    expect(result.cyclesBroken).toEqual([{ members: ['a', 'b'], removed: [edge('b', 'a', 'runtime')] }]);
    expect(result.kept).toEqual([edge('a', 'b', 'build'), edge('b', 'c', 'build')]);
  });

  it('removes a build edge only when the cycle has no runtime edge', () => {
    const result = breakCycles(['a', 'b'], [edge('a', 'b', 'build'), edge('b', 'a', 'build')]);
    expect(result.cyclesBroken).toEqual([{ members: ['a', 'b'], removed: [edge('a', 'b', 'build')] }]);
    expect(result.kept).toHaveLength(1);
  });

  it('keeps every build edge of a three-package cycle closed by one runtime edge', () => {
    const edges = [edge('a', 'b', 'build'), edge('b', 'c', 'build'), edge('c', 'a', 'runtime')];
    const result = breakCycles(['a', 'b', 'c'], edges);
    expect(result.cyclesBroken).toEqual([{ members: ['a', 'b', 'c'], removed: [edge('c', 'a', 'runtime')] }]);
  });

  it('breaks every cycle of a component with several, and reports a package depending on itself', () => {
    const edges = [edge('a', 'b', 'runtime'), edge('b', 'a', 'runtime'), edge('b', 'c', 'build'), edge('c', 'b', 'build'), edge('d', 'd', 'build')];
    const result = breakCycles(['a', 'b', 'c', 'd'], edges);
    expect(result.cyclesBroken.map((cycle) => cycle.members)).toEqual([['a', 'b', 'c'], ['d']]);
    expect(result.cyclesBroken.flatMap((cycle) => cycle.removed)).toEqual([edge('a', 'b', 'runtime'), edge('b', 'c', 'build'), edge('d', 'd', 'build')]);
  });

  it('leaves an acyclic graph alone', () => {
    const edges = [edge('a', 'b', 'build'), edge('a', 'c', 'runtime'), edge('b', 'c', 'build')];
    expect(breakCycles(['a', 'b', 'c'], edges)).toEqual({ kept: edges, cyclesBroken: [] });
  });
});

describe('checkSchedule', () => {
  const graph = dag(['a:10', 'b:10'], ['a>b']);
  it.each([
    ['overlap on a drone', [{ cpv: 'cat/a-1', drone: 'd1', start: 0, end: 10, deps: [] }, { cpv: 'cat/b-1', drone: 'd1', start: 10, end: 20, deps: [] }, { cpv: 'cat/x-1', drone: 'd1', start: 5, end: 6, deps: [] }], ['unknown', 'overlap']],
    ['a dependent started before its dependency ended', [{ cpv: 'cat/a-1', drone: 'd1', start: 0, end: 10, deps: [] }, { cpv: 'cat/b-1', drone: 'd2', start: 9, end: 19, deps: [] }], ['early-start']],
    ['a package missing and one built twice', [{ cpv: 'cat/a-1', drone: 'd1', start: 0, end: 10, deps: [] }, { cpv: 'cat/a-1', drone: 'd2', start: 0, end: 10, deps: [] }], ['duplicate', 'missing']],
    ['a valid schedule', [{ cpv: 'cat/a-1', drone: 'd1', start: 0, end: 10, deps: [] }, { cpv: 'cat/b-1', drone: 'd2', start: 10, end: 20, deps: [] }], []],
  ])('finds %s', (_name, schedule, kinds) => {
    expect(checkSchedule(schedule, graph).map((problem) => problem.kind)).toEqual(kinds);
  });
});

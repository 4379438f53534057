import { describe, expect, it } from 'vitest';
import { blockDependents, cycleGraph, failedOn, infrastructureBackoff, initialRecords, isCycleFinished, releaseDependents, type CycleDefinition, type PackageRecord } from './cycle-model.ts';

// a ← b ← d, a ← c ← d (d needs b and c, both need a); e stands alone.
const definition: CycleDefinition = {
  id: 'desktop-1',
  profile: 'desktop',
  createdAt: 0,
  source: 'test',
  policy: 'critical-path',
  referenceSpeed: 8,
  nodes: ['a', 'b', 'c', 'd', 'e'].map((name, index) => ({ cpv: `dev-libs/${name}-1`, cp: `dev-libs/${name}`, duration: 10 * (index + 1), heavy: false })),
  edges: [
    { from: 'dev-libs/a-1', to: 'dev-libs/b-1', kind: 'build' },
    { from: 'dev-libs/a-1', to: 'dev-libs/c-1', kind: 'build' },
    { from: 'dev-libs/b-1', to: 'dev-libs/d-1', kind: 'build' },
    { from: 'dev-libs/c-1', to: 'dev-libs/d-1', kind: 'runtime' },
  ],
  cyclesBroken: [],
};
const graph = cycleGraph(definition);
const asMap = (records: readonly PackageRecord[]) => new Map(records.map((record) => [record.cpv, record]));

describe('cycle records', () => {
  it('ranks by the longest remaining chain of durations', () => {
    expect(graph.ranks.get('dev-libs/a-1')).toBe(10 + 30 + 40);
    expect(graph.criticalPath).toBe(80);
    expect(graph.work).toBe(150);
  });

  it('starts with the packages without dependencies queued, the rest waiting on them', () => {
    expect(initialRecords(graph, 5).map((record) => [record.cpv, record.state])).toEqual([
      ['dev-libs/a-1', 'queued'],
      ['dev-libs/b-1', 'dep-wait'],
      ['dev-libs/c-1', 'dep-wait'],
      ['dev-libs/d-1', 'dep-wait'],
      ['dev-libs/e-1', 'queued'],
    ]);
  });

  it('releases a dependent only when all of its dependencies are built', () => {
    const records = asMap(initialRecords(graph, 0));
    records.set('dev-libs/a-1', { ...(records.get('dev-libs/a-1') as PackageRecord), state: 'built' });
    expect(releaseDependents(graph, records, 'dev-libs/a-1', 7).map((record) => [record.cpv, record.state, record.readyAt])).toEqual([
      ['dev-libs/b-1', 'queued', 7],
      ['dev-libs/c-1', 'queued', 7],
    ]);
    records.set('dev-libs/b-1', { ...(records.get('dev-libs/b-1') as PackageRecord), state: 'built' });
    expect(releaseDependents(graph, records, 'dev-libs/b-1', 8)).toEqual([]);
  });

  it('blocks everything that transitively needs a failed package, naming it, and leaves the rest', () => {
    const records = asMap(initialRecords(graph, 0));
    records.set('dev-libs/a-1', { ...(records.get('dev-libs/a-1') as PackageRecord), state: 'failed' });
    const blocked = blockDependents(graph, records, 'dev-libs/a-1', 9);
    expect(blocked.map((record) => record.cpv).sort()).toEqual(['dev-libs/b-1', 'dev-libs/c-1', 'dev-libs/d-1']);
    expect(blocked.every((record) => record.state === 'blocked' && record.reason === 'needs dev-libs/a-1, which failed')).toBe(true);
    for (const record of blocked) records.set(record.cpv, record);
    expect(isCycleFinished(records.values())).toBe(false); // e is still queued
    records.set('dev-libs/e-1', { ...(records.get('dev-libs/e-1') as PackageRecord), state: 'built' });
    expect(isCycleFinished(records.values())).toBe(true);
  });

  it('holds only package failures against a drone', () => {
    const record: PackageRecord = {
      cpv: 'dev-libs/a-1',
      state: 'queued',
      since: 0,
      attempt: 3,
      failures: [
        { attempt: 1, drone: 'x', at: 0, kind: 'package', reason: 'emake failed' },
        { attempt: 2, drone: 'y', at: 0, kind: 'infrastructure', reason: 'lease lost' },
      ],
    };
    expect(failedOn(record)).toEqual(new Set(['x']));
  });

  it('backs off infrastructure retries exponentially up to a cap', () => {
    expect([1, 2, 3, 4, 10].map((count) => infrastructureBackoff(count, 5_000, 60_000))).toEqual([5_000, 10_000, 20_000, 40_000, 60_000]);
  });

  it('refuses a definition whose graph still has a cycle', () => {
    expect(() => cycleGraph({ ...definition, edges: [...definition.edges, { from: 'dev-libs/d-1', to: 'dev-libs/a-1', kind: 'build' }] })).toThrow(/has a cycle/);
  });
});

import { describe, expect, it } from 'vitest';
import { CLOSED_BREAKER } from './drone-breaker.ts';
import type { CycleDefinition, PackageRecord } from './cycle-model.ts';
import { swarmStatus, type DroneInput } from './swarm-status.ts';

const definition: CycleDefinition = {
  id: 'desktop-1',
  profile: 'desktop',
  createdAt: 0,
  source: 'test',
  policy: 'critical-path',
  referenceSpeed: 16,
  nodes: [
    { cpv: 'dev-libs/a-1', cp: 'dev-libs/a', duration: 100, heavy: false },
    { cpv: 'dev-libs/b-1', cp: 'dev-libs/b', duration: 200, heavy: false },
  ],
  edges: [{ from: 'dev-libs/a-1', to: 'dev-libs/b-1', kind: 'build' }],
  cyclesBroken: [],
};
const drone = (id: string, extra: Partial<DroneInput> = {}): DroneInput => ({
  id,
  cores: 16,
  slots: 1,
  sweeper: false,
  profiles: ['desktop'],
  alive: true,
  lastSeen: 900,
  startedAt: 100,
  breaker: CLOSED_BREAKER,
  ...extra,
});
const record = (cpv: string, extra: Partial<PackageRecord>): PackageRecord => ({ cpv, state: 'dep-wait', since: 0, attempt: 0, failures: [], ...extra });

describe('the operator status', () => {
  it('names each drone idle, building, grounded or offline, with the reason and since when', () => {
    const status = swarmStatus({
      now: 1_000,
      drones: [
        drone('busy'),
        drone('quiet'),
        drone('broken', { breaker: { ...CLOSED_BREAKER, consecutive: 5, groundedSince: 500, groundedUntil: 5_000, reason: '5 builds in a row failed' } }),
        drone('gone', { alive: false, lastSeen: 300 }),
        drone('stopped', { alive: false, stoppedAt: 400 }),
      ],
      cycles: [{ definition, status: 'running', startedAt: 0, records: new Map([['dev-libs/a-1', record('dev-libs/a-1', { state: 'building', drone: 'busy', startedAt: 0, attempt: 1 })], ['dev-libs/b-1', record('dev-libs/b-1', {})]]) }],
    });
    expect(status.drones.map((entry) => [entry.id, entry.state, entry.since, entry.reason])).toEqual([
      ['busy', 'building', 100, undefined],
      ['quiet', 'idle', 100, undefined],
      ['broken', 'grounded', 500, '5 builds in a row failed'],
      ['gone', 'offline', 300, 'no heartbeat'],
      ['stopped', 'offline', 400, 'stopped'],
    ]);
    expect(status.drones[0]?.building).toEqual(['desktop-1 dev-libs/a-1']);
  });

  it('gives the cycle its work, critical path, lower bound, elapsed time, ETA and their ratio in wall seconds', () => {
    const records = new Map([
      ['dev-libs/a-1', record('dev-libs/a-1', { state: 'built' })],
      ['dev-libs/b-1', record('dev-libs/b-1', { state: 'queued' })],
    ]);
    const status = swarmStatus({ now: 10_000, drones: [drone('one'), drone('two', { cores: 8 })], cycles: [{ definition, status: 'running', startedAt: 0, records }] });
    const cycle = status.cycles[0];
    // Durations are at 16 cores: 300 reference seconds are 4,800 core-seconds; CP 300 s on the fastest (16).
    expect(cycle).toMatchObject({ work: 4_800, criticalPath: 300, lowerBound: 300, elapsed: 10, counts: { built: 1, queued: 1 } });
    // b is left: 200 s on the fastest drone, or 3,200 core-seconds over 24 cores.
    expect(cycle?.eta).toBe(200);
    expect(cycle?.ratio).toBeCloseTo((10 + 200) / 300);
  });

  it('says a finished cycle has no ETA and its ratio is makespan over lower bound', () => {
    const records = new Map([
      ['dev-libs/a-1', record('dev-libs/a-1', { state: 'built' })],
      ['dev-libs/b-1', record('dev-libs/b-1', { state: 'failed', reason: 'failed on one', failures: [{ attempt: 1, drone: 'one', at: 0, kind: 'package', reason: 'emake failed', log: '/logs/b.log' }] })],
    ]);
    const cycle = swarmStatus({ now: 99_000, drones: [drone('one')], cycles: [{ definition, status: 'finished', startedAt: 0, finishedAt: 600_000, records }] }).cycles[0];
    expect(cycle).toMatchObject({ eta: 0, elapsed: 600, ratio: 2 });
    expect(cycle?.packages.find((entry) => entry.cpv === 'dev-libs/b-1')).toMatchObject({ state: 'failed', failures: 1, logs: ['/logs/b.log'], reason: 'failed on one' });
  });
});

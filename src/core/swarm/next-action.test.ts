import { describe, expect, it } from 'vitest';
import { nextAction } from './next-action.ts';
import type { CycleStatus, DroneStatus, SwarmStatus } from './swarm-status.ts';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const drone = (id: string, state: DroneStatus['state'], extra: Partial<DroneStatus> = {}): DroneStatus => ({ id, state, since: NOW, cores: 8, slots: 1, sweeper: false, profiles: ['desktop'], building: [], lastSeen: NOW, ...extra });
const cycle = (status: CycleStatus['status'], counts: Partial<CycleStatus['counts']>, extra: Partial<CycleStatus> = {}): CycleStatus => ({
  id: 'c1',
  profile: 'desktop',
  status,
  createdAt: NOW,
  counts: { queued: 0, blocked: 0, 'dep-wait': 0, building: 0, built: 0, failed: 0, skipped: 0, ...counts },
  queue: { heavy: 0, normal: 0 },
  packages: [],
  work: 100,
  criticalPath: 50,
  lowerBound: 50,
  elapsed: 10,
  eta: 120,
  ratio: 1.2,
  ...extra,
});
const status = (change: Partial<SwarmStatus>): SwarmStatus => ({ at: NOW, leader: { id: 'o1', epoch: 1, ttlMs: 15_000 }, drones: [drone('d1', 'building')], cycles: [], ...change });

describe('nextAction', () => {
  it.each([
    ['no leader', status({ leader: undefined }), /No orchestrator leads/, /build-swarm-orchestrator/],
    ['no drone', status({ drones: [] }), /No drone has registered/, /build-swarm-drone/],
    ['all grounded', status({ drones: [drone('d1', 'grounded', { reason: 'disk' })] }), /Every online drone is grounded \(d1: disk\)/, /unground d1/],
    ['failures in a running cycle', status({ cycles: [cycle('running', { failed: 2, blocked: 5, building: 1 })] }), /2 packages failed in cycle c1 \(5 blocked by them\)/, /fix-blocked --cycle c1/],
    ['blocked after a cancel', status({ cycles: [cycle('finished', { built: 3, blocked: 2, skipped: 1 })] }), /2 packages are blocked in cycle c1/, /fix-blocked --cycle c1/],
    ['a cycle no online drone builds', status({ drones: [drone('d1', 'idle', { profiles: ['server'] })], cycles: [cycle('running', { queued: 4 })] }), /no online drone builds profile desktop/, /--profile desktop/],
    ['building', status({ cycles: [cycle('running', { queued: 3, building: 1, built: 2 })] }), /Cycle c1 \(desktop\) is building: 4 packages left, about 2 min 0 s/, /^build-swarm monitor$/],
    ['all built', status({ cycles: [cycle('finished', { built: 6 })] }), /finished: every package built/, /verify --profile desktop && build-swarm finalize --profile desktop/],
    ['nothing yet', status({}), /No cycle yet/, /build-swarm fresh/],
  ])('%s', (_name, input, reason, command) => {
    const next = nextAction(input);
    expect(next.reason).toMatch(reason);
    expect(next.command).toMatch(command);
  });
});

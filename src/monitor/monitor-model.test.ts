import { describe, expect, it } from 'vitest';
import type { SwarmStatus } from '../core/swarm/swarm-status.ts';
import { allocateRows } from './monitor-app.tsx';
import { fit, formatDuration, plainText, progressBar } from './monitor-format.ts';
import { applyEvent, droneRows, INITIAL_STATE, keyCommand, monitorReducer } from './monitor-model.ts';
import { monitorTheme } from './monitor-theme.ts';

const T = 1_760_000_000_000;
const NO_KEY = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageUp: false, pageDown: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false };

const status: SwarmStatus = {
  at: T,
  drones: [
    { id: 'd1', state: 'building', since: T - 5000, cores: 16, slots: 1, sweeper: true, profiles: ['desktop'], building: ['c-1 sys-libs/zlib-1.3.1'], lastSeen: T },
    { id: 'd2', state: 'idle', since: T - 5000, cores: 8, slots: 1, sweeper: false, profiles: ['desktop'], building: [], lastSeen: T },
  ],
  cycles: [
    {
      id: 'c-1',
      profile: 'desktop',
      status: 'running',
      createdAt: T,
      startedAt: T,
      counts: { queued: 1, blocked: 0, 'dep-wait': 0, building: 1, built: 0, failed: 0, skipped: 0 },
      queue: { heavy: 0, normal: 1 },
      packages: [
        { cpv: 'sys-libs/zlib-1.3.1', state: 'building', since: T - 5000, drone: 'd1', attempt: 1, failures: 0, logs: [], startedAt: T - 5000, expected: 10, heavy: false },
        { cpv: 'app-shells/bash-5.2', state: 'queued', since: T, attempt: 0, failures: 0, logs: [], expected: 20, heavy: false },
      ],
      work: 480,
      criticalPath: 30,
      lowerBound: 30,
      elapsed: 5,
      eta: 25,
      ratio: 1,
    },
  ],
};

describe('the monitor model', () => {
  it('applies a package event to the drones and counts before the status is read again', () => {
    const event = { id: '1-0', type: 'package', at: T + 1000, fields: { cycle: 'c-1', cpv: 'app-shells/bash-5.2', state: 'building', drone: 'd2', attempt: '1' } };
    const next = applyEvent(status, event);
    expect(next.drones.map((drone) => [drone.id, drone.state, drone.building])).toEqual([
      ['d1', 'building', ['c-1 sys-libs/zlib-1.3.1']],
      ['d2', 'building', ['c-1 app-shells/bash-5.2']],
    ]);
    expect(next.cycles[0]?.counts).toMatchObject({ queued: 0, building: 2 });
    const second = applyEvent(status, { ...event, fields: { ...event.fields, drone: 'd1' } });
    expect(second.drones[0]?.building).toEqual(['c-1 app-shells/bash-5.2', 'c-1 sys-libs/zlib-1.3.1']);
    expect(droneRows(second, T + 1000)[0]).toMatchObject({ cpv: 'app-shells/bash-5.2', more: 1 });
    const built = applyEvent(next, { ...event, id: '2-0', fields: { cycle: 'c-1', cpv: 'sys-libs/zlib-1.3.1', state: 'built', drone: 'd1', attempt: '1' } });
    expect(built.drones.map((drone) => [drone.id, drone.state])).toEqual([
      ['d1', 'idle'],
      ['d2', 'building'],
    ]);
    expect(applyEvent(status, { ...event, fields: { ...event.fields, cycle: 'c-unknown' } })).toBe(status);
  });

  it('measures a build against the time expected on its own drone', () => {
    // zlib: 10 s on the fastest drone (16 cores); d1 is that drone, 5 s in: half-way.
    expect(droneRows(status, T)[0]).toMatchObject({ id: 'd1', cpv: 'sys-libs/zlib-1.3.1', progress: 0.5, seconds: 5 });
    const slow = { ...status, drones: [{ ...(status.drones[0] as SwarmStatus['drones'][number]), cores: 8 }, status.drones[1] as SwarmStatus['drones'][number], { ...(status.drones[1] as SwarmStatus['drones'][number]), id: 'd9', cores: 16 }] };
    expect(droneRows(slow, T)[0]?.progress).toBe(0.25);
  });

  it('keeps the selection inside the lists and the focus among the panes', () => {
    let state = monitorReducer(INITIAL_STATE, { type: 'status', status, receivedAt: T - 2000 });
    expect(state.clockOffset).toBe(2000);
    state = monitorReducer(state, { type: 'move', step: 5 });
    expect(state.selected.drones).toBe(1);
    state = monitorReducer(state, { type: 'focus', step: -1 });
    expect(state.focus).toBe('failures');
    state = monitorReducer(state, { type: 'move', step: 1 });
    expect(state.selected.failures).toBe(0);
  });

  it.each([
    ['q', {}, 'quit'],
    ['c', { ctrl: true }, 'quit'],
    ['', { tab: true }, 'focus'],
    ['', { tab: true, shift: true }, 'focus'],
    ['l', {}, 'log'],
    ['', { escape: true }, 'close'],
    ['?', {}, 'help'],
    ['', { downArrow: true }, 'move'],
    ['x', {}, undefined],
  ])('maps %j %j to %s', (input, key, type) => {
    expect(keyCommand(input, { ...NO_KEY, ...key }, 10)?.type).toBe(type);
  });

  it('strips escape sequences and control characters from what it shows', () => {
    expect(plainText('\u001b[01;32m * \u001b[0mok\u001b]0;title\u0007 done\r')).toBe(' * ok done');
    expect(plainText('10%\r55%\r100%')).toBe('100%');
    expect(fit('sys-devel/gcc-14.2.0', 10)).toBe('sys-devel~');
    expect(progressBar(0.5, 12)).toBe('[#####-----]');
    expect(progressBar(2, 6)).toBe('[####]');
    expect([formatDuration(59), formatDuration(61), formatDuration(3 * 3600 + 5 * 60), formatDuration(undefined)]).toEqual(['59s', '1m01s', '3h05m', '-']);
  });

  it('splits the rows between the panes, none without one', () => {
    expect(allocateRows(10, [3, 0, 40])).toEqual([3, 1, 6]);
    expect(allocateRows(10, [20, 20, 20])).toEqual([4, 3, 3]);
    expect(allocateRows(10, [1, 1, 1])).toEqual([1, 1, 8]);
  });

  it('draws without colour under NO_COLOR and with ASCII boxes on the Linux console', () => {
    const tty = { isTTY: true };
    expect(monitorTheme(tty, { TERM: 'xterm-256color', LANG: 'en_US.UTF-8' })).toEqual({ colour: true, ascii: false });
    expect(monitorTheme(tty, { TERM: 'xterm-256color', LANG: 'en_US.UTF-8', NO_COLOR: '1' })).toEqual({ colour: false, ascii: false });
    expect(monitorTheme(tty, { TERM: 'linux', LANG: 'en_US.UTF-8' })).toEqual({ colour: true, ascii: true });
    expect(monitorTheme(tty, { TERM: 'dumb', LANG: 'en_US.UTF-8' })).toEqual({ colour: false, ascii: true });
    expect(monitorTheme(tty, { TERM: 'xterm', LANG: 'C' }, false)).toEqual({ colour: true, ascii: false });
  });
});

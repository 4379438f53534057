import { describe, expect, it, vi } from 'vitest';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { estimateEtaMs, startProgress } from './progress.ts';

describe('estimateEtaMs', () => {
  it.each([
    ['from the rate so far', { done: 25, total: 100, elapsedMs: 10_000, expectedMs: undefined }, 30_000],
    ['none before a second has passed', { done: 25, total: 100, elapsedMs: 500, expectedMs: undefined }, undefined],
    ['none before the first unit', { done: 0, total: 100, elapsedMs: 5000, expectedMs: undefined }, undefined],
    ['zero when all are done', { done: 100, total: 100, elapsedMs: 5000, expectedMs: undefined }, 0],
    ['from the last build', { done: undefined, total: undefined, elapsedMs: 60_000, expectedMs: 300_000 }, 240_000],
    ['none past the last build', { done: undefined, total: undefined, elapsedMs: 400_000, expectedMs: 300_000 }, undefined],
    ['none without a source', { done: undefined, total: undefined, elapsedMs: 60_000, expectedMs: undefined }, undefined],
  ])('%s', (_name, state, expected) => {
    expect(estimateEtaMs(state)).toBe(expected);
  });
});

describe('startProgress', () => {
  it('writes at most one event per interval, then the last one with state done', () => {
    const { logger, events } = createMemoryLogger();
    let now = 0;
    const progress = startProgress(logger, { task: 'snapshot restore', unit: 'paths', total: 1000, now: () => now });
    for (let done = 1; done <= 1000; done += 1) {
      now += 5; // 5 s in all: about five events, not a thousand
      progress.advance(1, `/etc/file-${done}`);
    }
    progress.finish();
    progress.finish();
    const written = events('progress');
    expect(written.length).toBeGreaterThanOrEqual(5);
    expect(written.length).toBeLessThanOrEqual(8);
    expect(written[0]).toMatchObject({ task: 'snapshot restore', unit: 'paths', done: 0, total: 1000, elapsedMs: 0, state: 'running', level: 'info', msg: 'Progress' });
    expect(written[2]).toMatchObject({ state: 'running', done: 400, etaMs: 3000, current: '/etc/file-400' });
    expect(written.at(-1)).toMatchObject({ done: 1000, total: 1000, elapsedMs: 5000, state: 'done' });
  });

  it('says stopped when disposed before it finished (a failure, Ctrl-C)', () => {
    const { logger, events } = createMemoryLogger();
    let now = 0;
    {
      using progress = startProgress(logger, { task: 'libxcrypt source build', expectedMs: 120_000, now: () => now });
      now = 30_000;
      progress.note('configure');
    }
    expect(events('progress').map((event) => [event['state'], event['etaMs']])).toEqual([
      ['running', 120_000],
      ['running', 90_000],
      ['stopped', undefined],
    ]);
  });

  it('beats while nothing advances, so that elapsed and ETA move, and stops beating when finished', () => {
    vi.useFakeTimers();
    try {
      const { logger, events } = createMemoryLogger();
      const progress = startProgress(logger, { task: 'snapshot diff', heartbeatMs: 1000, now: () => Date.now() });
      vi.advanceTimersByTime(3500);
      expect(events('progress').map((event) => event['elapsedMs'])).toEqual([0, 1000, 2000, 3000]);
      progress.finish();
      vi.advanceTimersByTime(10_000);
      expect(events('progress')).toHaveLength(5);
      expect(events('progress').at(-1)).toMatchObject({ state: 'done', elapsedMs: 3500 });
    } finally {
      vi.useRealTimers();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { ArgoError } from '../core/errors.ts';
import { systemClock } from '../system/clock.ts';
import type { System } from '../system/open-system.ts';
import { runPreflight } from './run-preflight.ts';
import type { Check, CheckContext } from './types.ts';

/** Checks here use nothing but the clock; every other capability fails loudly if touched. */
const system = new Proxy({ root: '/mnt/gentoo', clock: systemClock } as Partial<System>, {
  get(target, key) {
    if (key in target) return target[key as keyof System];
    throw new Error(`unexpected use of system.${String(key)}`);
  },
}) as System;

const context = {
  system,
  signal: new AbortController().signal,
  plan: () => Promise.reject(new Error('no plan in this test')),
} as unknown as CheckContext;

const check = (id: Check['id'], run: Check['run'], budgetMs = 1000): Check => ({ id, budgetMs, run });

describe('runPreflight', () => {
  it('runs the checks concurrently and turns a crash or a timeout into fail while the others still report', async () => {
    const started = Date.now();
    const report = await runPreflight(
      [
        check('news', async () => ({ status: 'warn', summary: '2 unread news items', details: {} })),
        check('fstab', async () => {
          throw new ArgoError('ARGO_FILE_NOT_FOUND', '/etc/fstab vanished', { hint: 'restore it' });
        }),
        check('glibc', () => new Promise(() => undefined), 300),
        check('boot-fallback', async () => {
          await new Promise((resolve) => setTimeout(resolve, 250));
          return { status: 'pass', summary: '2 boot entries', details: {} };
        }),
      ],
      context,
    );
    expect(Date.now() - started).toBeLessThan(900);
    expect(report.verdict).toBe('no-go');
    expect(report.checks.map((result) => [result.id, result.status, result.summary])).toEqual([
      ['news', 'warn', '2 unread news items'],
      ['fstab', 'fail', 'could not be checked: /etc/fstab vanished'],
      ['glibc', 'fail', 'could not finish within 300 ms'],
      ['boot-fallback', 'pass', '2 boot entries'],
    ]);
    expect(report.checks[1]?.advice).toBe('restore it');
  });

  it('aborts the signal of a check that runs past its budget, so its commands are killed', async () => {
    let seen: AbortSignal | undefined;
    const report = await runPreflight(
      [
        check(
          'glibc',
          ({ signal }) => {
            seen = signal;
            return new Promise(() => undefined);
          },
          100,
        ),
      ],
      context,
    );
    expect(report.checks[0]).toMatchObject({ status: 'fail', summary: 'could not finish within 100 ms', details: { error: { code: 'ARGO_STEP_TIMED_OUT' } } });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toMatchObject({ code: 'ARGO_STEP_TIMED_OUT', message: 'check glibc ran past its budget of 100 ms' });
  });

  it('ends a check that ignores its signal when the run is interrupted, before or while it runs', async () => {
    const before = new AbortController();
    before.abort(new ArgoError('ARGO_INTERRUPTED', 'Interrupted by SIGINT'));
    const during = new AbortController();
    const hangs = (): Promise<never> => new Promise(() => undefined);
    const started = Date.now();
    const [early, late] = await Promise.all([
      runPreflight([check('news', hangs, 60_000)], { ...context, signal: before.signal }),
      runPreflight([check('news', hangs, 60_000)], { ...context, signal: during.signal }),
      Promise.resolve().then(() => during.abort(new ArgoError('ARGO_INTERRUPTED', 'Interrupted by SIGINT'))),
    ]);
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const report of [early, late]) {
      expect(report.checks[0]).toMatchObject({ status: 'fail', summary: 'could not be checked: Interrupted by SIGINT', details: { error: { code: 'ARGO_INTERRUPTED' } } });
    }
  });

  it('says go when nothing fails, warnings included', async () => {
    const report = await runPreflight([check('news', async () => ({ status: 'warn', summary: 'x', details: {} })), check('console', async () => ({ status: 'pass', summary: 'y', details: {} }))], context);
    expect(report.verdict).toBe('go');
  });
});

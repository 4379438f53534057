/**
 * Progress of a task that can take minutes (a snapshot diff or restore, a source build), as `progress` log
 * events: the console renderer draws them (a live line on a terminal, a line every few seconds elsewhere),
 * the log file keeps them. Events are rate-limited here, at the source, so that a restore of 100,000 paths
 * writes about one event a second, not 100,000.
 */

import type { Logger } from 'pino';
import { logEvent } from '../core/log-events.ts';

export interface ProgressOptions {
  /** What runs, for people: `snapshot restore`, `libxcrypt source build`. */
  readonly task: string;
  /** What is counted (`paths`, `packages`); empty when nothing is. */
  readonly unit?: string;
  /** Units in all, when known before the task starts. */
  readonly total?: number | undefined;
  /** How long the task is expected to take (the last build of the same package): the ETA of a task that counts nothing. */
  readonly expectedMs?: number | undefined;
  /** The time left as the caller knows it better than the rate (emerge.log's past builds of what is left). */
  readonly eta?: (() => number | undefined) | undefined;
  /** Least time between two events. Default 1000 ms. */
  readonly everyMs?: number;
  /** Also emit every `heartbeatMs` when nothing advances (a compile prints no count), so elapsed and ETA move. */
  readonly heartbeatMs?: number | undefined;
  /** Monotonic milliseconds; default performance.now. */
  readonly now?: () => number;
}

export interface Progress extends Disposable {
  /** `n` more units done (default 1); `current` is what the task works on now. */
  advance(n?: number, current?: string): void;
  /** What the task works on now, without counting. */
  note(current: string): void;
  /** Units done in all, as counted elsewhere (emerge's own "N of M"), and what it works on now. */
  set(done: number, current?: string): void;
  /** The total, once known (a diff that has finished walking). */
  setTotal(total: number): void;
  /** The last event, `state: done`. Later calls do nothing. */
  finish(): void;
  /** The last event, `state: stopped` (it failed or was interrupted); nothing when finish() came first. Also on dispose. */
  stop(): void;
}

/** Rates measured over less than this are noise: no ETA from them. */
const MIN_RATE_WINDOW_MS = 1000;

/** Expected time left: from the rate so far when units are counted, else from the expected duration. */
export function estimateEtaMs(state: { done: number | undefined; total: number | undefined; elapsedMs: number; expectedMs: number | undefined }): number | undefined {
  const { done, total, elapsedMs, expectedMs } = state;
  if (total !== undefined && done !== undefined) {
    if (done >= total) return 0;
    if (done > 0 && elapsedMs >= MIN_RATE_WINDOW_MS) return Math.round((elapsedMs / done) * (total - done));
    return undefined;
  }
  // Past the expected duration the estimate says nothing any more: better no ETA than a wrong "0 s left".
  if (expectedMs !== undefined && elapsedMs < expectedMs) return Math.round(expectedMs - elapsedMs);
  return undefined;
}

export function startProgress(logger: Logger, options: ProgressOptions): Progress {
  const now = options.now ?? (() => performance.now());
  const everyMs = options.everyMs ?? 1000;
  const started = now();
  let done: number | undefined = options.total === undefined ? undefined : 0;
  let total = options.total;
  let current: string | undefined;
  let lastEmit = -Infinity;
  let finished = false;

  const emit = (state: 'running' | 'done' | 'stopped'): void => {
    const at = now();
    lastEmit = at;
    const elapsedMs = Math.round(at - started);
    logEvent(logger, 'progress', {
      task: options.task,
      unit: options.unit ?? '',
      done,
      total,
      elapsedMs,
      etaMs: state !== 'running' ? undefined : options.eta !== undefined ? options.eta() : estimateEtaMs({ done, total, elapsedMs, expectedMs: options.expectedMs }),
      current,
      state,
    });
  };
  const maybeEmit = (): void => {
    if (!finished && now() - lastEmit >= everyMs) emit('running');
  };
  const heartbeat = options.heartbeatMs === undefined ? undefined : setInterval(maybeEmit, options.heartbeatMs);
  heartbeat?.unref();
  emit('running');

  const end = (state: 'done' | 'stopped'): void => {
    if (finished) return;
    finished = true;
    if (heartbeat !== undefined) clearInterval(heartbeat);
    emit(state);
  };
  return {
    advance(n = 1, what?: string) {
      done = (done ?? 0) + n;
      if (what !== undefined) current = what;
      maybeEmit();
    },
    note(what) {
      current = what;
      maybeEmit();
    },
    set(value, what) {
      done = value;
      current = what;
      maybeEmit();
    },
    setTotal(value) {
      total = value;
      done ??= 0;
    },
    finish: () => end('done'),
    stop: () => end('stopped'),
    [Symbol.dispose]: () => end('stopped'),
  };
}

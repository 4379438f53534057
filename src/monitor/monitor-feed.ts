/**
 * What keeps the monitor current: the status read once, then again shortly after every event of the gateway's
 * stream (debounced: a burst of events is one read), and every few seconds while the stream is down. The stream
 * reconnects from the last event it delivered. Nothing here throws: a gateway that does not answer, or refuses
 * the token, is reported as an action and tried again.
 */

import { ArgoError } from '../core/errors.ts';
import type { SwarmStatus } from '../core/swarm/swarm-status.ts';
import type { MonitorAction, MonitorEvent } from './monitor-model.ts';

/** A build's output as the gateway streams it: lines as they come, then how the attempt ended. */
export type OutputChunk = { readonly type: 'lines'; readonly lines: readonly string[] } | { readonly type: 'end'; readonly state: string };

/** The part of the gateway client (src/swarm-client) the monitor uses: it only reads. */
export interface MonitorClient {
  readonly url: string;
  status(): Promise<SwarmStatus>;
  events(options: { since?: string; signal: AbortSignal }): AsyncIterable<MonitorEvent>;
  output(cycle: string, cpv: string, options: { attempt?: number; signal: AbortSignal }): AsyncIterable<OutputChunk>;
}

export interface FeedTiming {
  /** The local clock (epoch ms), stamped on each status read (default Date.now). */
  readonly clock?: () => number;
  /** Wait after an event before reading the status, so a burst is one read (default 250 ms). */
  readonly debounceMs?: number;
  /** Status reads while the event stream is down (default 3 s). */
  readonly pollMs?: number;
  /** Status reads while it is open: the ETA and queue move without events too (default 15 s). */
  readonly livePollMs?: number;
  /** First wait before reconnecting the stream; doubles up to `maxRetryMs` (default 1 s, 10 s). */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

/** Runs until `signal` aborts. */
export function startMonitorFeed(client: MonitorClient, dispatch: (action: MonitorAction) => void, signal: AbortSignal, timing: FeedTiming = {}): void {
  const clock = timing.clock ?? Date.now;
  const debounceMs = timing.debounceMs ?? 250;
  const pollMs = timing.pollMs ?? 3000;
  const livePollMs = timing.livePollMs ?? 15_000;
  const retryMs = timing.retryMs ?? 1000;
  const maxRetryMs = timing.maxRetryMs ?? 10_000;
  let streamOpen = false;
  let reading = false;
  let readAgain = false;
  let debounce: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;

  const readStatus = async (): Promise<void> => {
    if (reading) {
      readAgain = true;
      return;
    }
    reading = true;
    try {
      do {
        readAgain = false;
        try {
          const status = await client.status();
          if (!signal.aborted) dispatch({ type: 'status', status, receivedAt: clock() });
        } catch (error) {
          if (!signal.aborted) dispatch({ type: 'status-failed', ...describeFailure(error) });
        }
      } while (readAgain && !signal.aborted);
    } finally {
      reading = false;
    }
  };
  const soon = (): void => {
    if (debounce !== undefined || signal.aborted) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      void readStatus();
    }, debounceMs);
  };
  // One poll timer at a time: rescheduling replaces it (the stream dropping shortens the wait).
  const schedulePoll = (): void => {
    clearTimeout(poll);
    if (signal.aborted) return;
    poll = setTimeout(
      () => {
        void readStatus().finally(schedulePoll);
      },
      streamOpen ? livePollMs : pollMs,
    );
  };

  const follow = async (): Promise<void> => {
    let since: string | undefined;
    let wait = retryMs;
    while (!signal.aborted) {
      try {
        const events = client.events({ ...(since === undefined ? {} : { since }), signal })[Symbol.asyncIterator]();
        // The stream says nothing until an event comes: one that has not failed within half a second is open.
        const opened = (): void => {
          clearTimeout(openTimer);
          if (streamOpen) return;
          streamOpen = true;
          wait = retryMs;
          dispatch({ type: 'events-open' });
        };
        const openTimer = setTimeout(opened, 500);
        try {
          for (let next = await events.next(); next.done !== true; next = await events.next()) {
            opened();
            since = next.value.id;
            dispatch({ type: 'event', event: next.value });
            soon();
          }
        } finally {
          clearTimeout(openTimer);
        }
        if (signal.aborted) return;
        streamOpen = false;
        dispatch({ type: 'events-down', message: 'the gateway closed the event stream', unauthorized: false });
        schedulePoll();
      } catch (error) {
        if (signal.aborted) return;
        streamOpen = false;
        dispatch({ type: 'events-down', ...describeFailure(error) });
        schedulePoll();
      }
      await pause(wait, signal);
      wait = Math.min(maxRetryMs, wait * 2);
      // What changed while the stream was down is in the status, not in the events it may have missed.
      soon();
    }
  };

  signal.addEventListener(
    'abort',
    () => {
      clearTimeout(debounce);
      clearTimeout(poll);
    },
    { once: true },
  );
  void readStatus().finally(schedulePoll);
  void follow();
}

/** Streams a build's output into the log view until it ends or `signal` aborts. */
export async function followOutput(client: MonitorClient, target: { cycle: string; cpv: string; attempt?: number }, dispatch: (action: MonitorAction) => void, signal: AbortSignal): Promise<void> {
  try {
    for await (const chunk of client.output(target.cycle, target.cpv, { ...(target.attempt === undefined ? {} : { attempt: target.attempt }), signal })) {
      if (signal.aborted) return;
      if (chunk.type === 'lines') dispatch({ type: 'log-lines', lines: chunk.lines });
      else dispatch({ type: 'log-end', state: chunk.state });
    }
  } catch (error) {
    if (!signal.aborted) dispatch({ type: 'log-failed', message: describeFailure(error).message });
  }
}

/** The one line the status bar shows for a failed request; whether the gateway refused the token. */
export function describeFailure(error: unknown): { message: string; unauthorized: boolean } {
  if (error instanceof ArgoError) {
    const unauthorized = error.code === 'ARGO_SWARM_UNAUTHORIZED';
    return { message: error.message, unauthorized };
  }
  return { message: error instanceof Error ? error.message : String(error), unauthorized: false };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * One live Server-Sent Events answer of the gateway (the swarm's events, a build's output): registered in the
 * gateway's set of streams (capped, and ended when the gateway stops), written with backpressure (a client that
 * does not read makes the writer wait, never the gateway's memory grow), and closed when a client stops reading
 * for STALL_MS: a stalled reader must not hold one of the few slots for ever.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';

/** Live streams, each one Redis connection: a cap keeps readers from starving drones of Redis connections. */
export const MAX_EVENT_STREAMS = 32;
/** Of those, streams without a token (a --public-read gateway): the rest stay for operators and clients. */
export const MAX_ANONYMOUS_STREAMS = 8;
const STALL_MS = 60_000;

/** The live streams of one gateway, so it can end them all when it stops. */
export type EventStreams = Set<() => void>;

export interface SseStream {
  /** False once the client went or the stream was closed. */
  readonly open: () => boolean;
  /** Writes one chunk; waits while the client's buffer is full (closes the stream after STALL_MS). */
  write(text: string): Promise<void>;
  close(): void;
  /** Called once when the stream closes (to release what the writer holds). */
  onClose(listener: () => void): void;
}

export function openSseStream(request: IncomingMessage, response: ServerResponse, registries: readonly EventStreams[]): SseStream {
  let open = true;
  const listeners: (() => void)[] = [];
  const close = (): void => {
    if (!open) return;
    open = false;
    for (const registry of registries) registry.delete(close);
    for (const listener of listeners) listener();
    if (!response.writableEnded) response.end();
  };
  for (const registry of registries) registry.add(close);
  request.on('close', close);
  response.on('close', close);
  response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  return {
    open: () => open,
    async write(text) {
      if (!open || response.write(text)) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          close();
          resolve();
        }, STALL_MS);
        const done = (): void => {
          clearTimeout(timer);
          response.off('drain', done);
          response.off('close', done);
          resolve();
        };
        response.once('drain', done);
        response.once('close', done);
      });
    },
    close,
    onClose(listener) {
      if (open) listeners.push(listener);
      else listener();
    },
  };
}

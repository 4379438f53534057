/**
 * The swarm's event stream (`argo:events`, a Redis stream) as Server-Sent Events: each entry becomes one
 * `event: <type>` with its stream id as `id:`, so a browser's EventSource resumes where it stopped
 * (`Last-Event-ID`). Each client reads with its own blocking connection (XREAD BLOCK), closed when the client
 * goes; a comment line every 15 s keeps proxies from closing an idle stream.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SwarmEvent } from '../swarm-client/api.ts';
import type { SwarmKeys } from '../swarm/swarm-keys.ts';

const BLOCK_MS = 15_000;

/** Live streams, each one Redis connection: a cap keeps readers from starving drones of Redis connections. */
export const MAX_EVENT_STREAMS = 32;

/** The live streams of one gateway, so it can end them all when it stops. */
export type EventStreams = Set<() => void>;

export async function streamSwarmEvents(redis: Redis, keys: SwarmKeys, request: IncomingMessage, response: ServerResponse, since: string, logger: Logger, streams: EventStreams): Promise<void> {
  const reader = redis.duplicate({ maxRetriesPerRequest: null, lazyConnect: false, enableOfflineQueue: true });
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    streams.delete(close);
    reader.disconnect();
    if (!response.writableEnded) response.end();
  };
  streams.add(close);
  request.on('close', close);
  response.on('close', close);
  response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  response.write(': argo swarm events\n\n');
  let position = since;
  try {
    while (open) {
      const answer = (await reader.xread('COUNT', 500, 'BLOCK', BLOCK_MS, 'STREAMS', keys.events, position)) as [string, [string, string[]][]][] | null;
      if (!open) break;
      if (answer === null) {
        response.write(': keep-alive\n\n');
        continue;
      }
      for (const [, entries] of answer) {
        for (const [id, flat] of entries) {
          position = id;
          const event = toEvent(id, flat);
          response.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        }
      }
    }
  } catch (error) {
    if (open) logger.warn({ err: error }, 'event stream ended');
  } finally {
    close();
  }
}

export function toEvent(id: string, flat: readonly string[]): SwarmEvent {
  const fields: Record<string, string> = {};
  for (let index = 0; index + 1 < flat.length; index += 2) fields[flat[index] as string] = flat[index + 1] as string;
  const { type = 'unknown', at = '0', ...rest } = fields;
  return { id, type, at: Number(at), fields: rest };
}

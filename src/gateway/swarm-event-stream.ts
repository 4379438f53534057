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
import { entryFields } from '../swarm/swarm-events.ts';
import { openSseStream, type EventStreams } from './sse-stream.ts';

const BLOCK_MS = 15_000;

export { MAX_EVENT_STREAMS, type EventStreams } from './sse-stream.ts';

export async function streamSwarmEvents(redis: Redis, keys: SwarmKeys, request: IncomingMessage, response: ServerResponse, since: string, logger: Logger, registries: readonly EventStreams[]): Promise<void> {
  const reader = redis.duplicate({ maxRetriesPerRequest: null, lazyConnect: false, enableOfflineQueue: true });
  const stream = openSseStream(request, response, registries);
  stream.onClose(() => reader.disconnect());
  await stream.write(': argo swarm events\n\n');
  let position = since;
  try {
    while (stream.open()) {
      const answer = (await reader.xread('COUNT', 500, 'BLOCK', BLOCK_MS, 'STREAMS', keys.events, position)) as [string, [string, string[]][]][] | null;
      if (!stream.open()) break;
      if (answer === null) {
        await stream.write(': keep-alive\n\n');
        continue;
      }
      for (const [, entries] of answer) {
        for (const [id, flat] of entries) {
          position = id;
          const event = toEvent(id, flat);
          await stream.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        }
      }
    }
  } catch (error) {
    if (stream.open()) logger.warn({ err: error }, 'event stream ended');
  } finally {
    stream.close();
  }
}

export function toEvent(id: string, flat: readonly string[]): SwarmEvent {
  const fields: Record<string, string> = Object.fromEntries(entryFields(flat));
  const { type = 'unknown', at = '0', ...rest } = fields;
  return { id, type, at: Number(at), fields: rest };
}

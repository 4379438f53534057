/**
 * A build's output as Server-Sent Events (`build-swarm logs CPV --follow`, the monitor's and the dashboard's live
 * log): `event: lines` with `{"lines": [...]}`, then one `event: end` with `{"state": ...}` when the attempt is over.
 *
 * A running attempt's lines come from its own capped Redis stream (`<prefix>:output:<jobId>`, written by the
 * drone about once a second, at most OUTPUT_KEEP entries, expiring two days after the last): first what it
 * holds, a page at a time, then new entries as they come. An attempt that is over is answered from the log the
 * gateway kept of it, read as a stream. Every write waits for the client (src/gateway/sse-stream.ts), so neither
 * a long log nor a client that stops reading grows the gateway's memory. The record is read again every second:
 * the stream ends when the leader records the outcome.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PackageRecord } from '../core/swarm/cycle-model.ts';
import { logPath } from '../system/file-gateway.ts';
import { readLogLines } from '../system/gateway-files.ts';
import { buildJobId, type SwarmKeys } from '../swarm/swarm-keys.ts';
import { openSseStream, type EventStreams, type SseStream } from './sse-stream.ts';

const BLOCK_MS = 1_000;
const PAGE = 50;
const LINES_PER_MESSAGE = 500;

export interface OutputTarget {
  readonly data: string;
  readonly cycle: string;
  readonly cpv: string;
  readonly attempt: number;
  /** The drone of that attempt (undefined when it was never dispatched). */
  readonly drone: string | undefined;
  /** False: what a running build printed so far, then `end` with its current state, without waiting. */
  readonly follow: boolean;
}

/** The drone an attempt ran on, from the record: the current dispatch, a failure, or the build. */
export function droneOfAttempt(record: PackageRecord, attempt: number): string | undefined {
  if (attempt === record.attempt && record.drone !== undefined) return record.drone;
  if (record.built?.attempt === attempt) return record.built.drone;
  return record.failures.find((failure) => failure.attempt === attempt)?.drone;
}

export async function streamBuildOutput(redis: Redis, keys: SwarmKeys, target: OutputTarget, request: IncomingMessage, response: ServerResponse, logger: Logger, registries: readonly EventStreams[]): Promise<void> {
  const reader = redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true });
  const stream = openSseStream(request, response, registries);
  stream.onClose(() => reader.disconnect());
  const send = (event: string, data: unknown): Promise<void> => stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const recordNow = async (): Promise<PackageRecord | undefined> => {
    const json = await redis.hget(keys.packages(target.cycle), target.cpv);
    return json === null ? undefined : (JSON.parse(json) as PackageRecord);
  };
  const live = (record: PackageRecord | undefined): boolean => record !== undefined && record.attempt === target.attempt && (record.state === 'queued' || record.state === 'building');
  try {
    let record = await recordNow();
    if (target.drone !== undefined && live(record)) {
      const key = keys.output(buildJobId(target.cycle, target.cpv, target.attempt));
      let position = '-';
      // What the stream holds, a page at a time.
      for (;;) {
        const page = (await reader.xrange(key, position === '-' ? '-' : `(${position}`, '+', 'COUNT', PAGE)) as [string, string[]][];
        for (const [id, flat] of page) {
          position = id;
          await relay(flat, send);
        }
        if (page.length < PAGE || !stream.open()) break;
      }
      if (position === '-') position = '0';
      while (target.follow && stream.open() && live(record)) {
        const answer = (await reader.xread('COUNT', PAGE, 'BLOCK', BLOCK_MS, 'STREAMS', key, position)) as [string, [string, string[]][]][] | null;
        for (const [, entries] of answer ?? []) {
          for (const [id, flat] of entries) {
            position = id;
            await relay(flat, send);
          }
        }
        record = await recordNow();
      }
    } else if (target.drone !== undefined) {
      await sendKeptLog(logPath(target.data, { cycle: target.cycle, cpv: target.cpv, attempt: target.attempt, drone: target.drone }), stream, send);
    }
    await send('end', { state: record === undefined ? 'unknown' : record.attempt === target.attempt ? record.state : 'superseded' });
  } catch (error) {
    if (stream.open()) logger.warn({ err: error }, 'build output stream ended');
  } finally {
    stream.close();
  }
}

async function relay(flat: readonly string[], send: (event: string, data: unknown) => Promise<void>): Promise<void> {
  const index = flat.indexOf('lines');
  if (index < 0 || index + 1 >= flat.length) return;
  try {
    const lines = JSON.parse(flat[index + 1] as string) as unknown;
    if (Array.isArray(lines)) await send('lines', { lines: lines.filter((line): line is string => typeof line === 'string') });
  } catch {
    // Not the drone's shape: nothing to show.
  }
}

/** The kept log of an attempt, LINES_PER_MESSAGE lines a message; nothing when it was not kept. */
async function sendKeptLog(file: string, stream: SseStream, send: (event: string, data: unknown) => Promise<void>): Promise<void> {
  const log = await readLogLines(file, LINES_PER_MESSAGE);
  if (log === undefined) return;
  stream.onClose(() => log.stop());
  for await (const lines of log.batches) {
    await send('lines', { lines });
    if (!stream.open()) return;
  }
}

/**
 * A build's output as Server-Sent Events (`build-swarm logs CPV --follow`, the monitor's and the dashboard's live
 * log): `event: lines` with `{"lines": [...]}`, then one `event: end` with `{"state": ...}` when the attempt is over.
 *
 * A running attempt's lines come from its BullMQ job's progress events (the drone publishes what emerge printed
 * about once a second): first those the queue's event stream still holds, then new ones as they come. An attempt
 * that is over is answered from the log the gateway kept of it. The record is read again every second, so the
 * stream ends when the leader records the outcome even if the queue's events were trimmed.
 */

import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PackageRecord } from '../core/swarm/cycle-model.ts';
import { logPath } from '../system/file-gateway.ts';
import { isMissing } from '../system/fs-errors.ts';
import { buildJobId, droneQueueName, type SwarmKeys } from '../swarm/swarm-keys.ts';
import type { EventStreams } from './swarm-event-stream.ts';

const BLOCK_MS = 1_000;

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

export async function streamBuildOutput(redis: Redis, keys: SwarmKeys, target: OutputTarget, request: IncomingMessage, response: ServerResponse, logger: Logger, streams: EventStreams): Promise<void> {
  const reader = redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true });
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
  const send = (event: string, data: unknown): void => {
    if (open) response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const recordNow = async (): Promise<PackageRecord | undefined> => {
    const json = await redis.hget(keys.packages(target.cycle), target.cpv);
    return json === null ? undefined : (JSON.parse(json) as PackageRecord);
  };
  const live = (record: PackageRecord | undefined): boolean => record !== undefined && record.attempt === target.attempt && (record.state === 'queued' || record.state === 'building');
  try {
    let record = await recordNow();
    if (target.drone !== undefined && live(record)) {
      const stream = `${keys.bullPrefix}:${droneQueueName(target.drone)}:events`;
      const jobId = buildJobId(target.cycle, target.cpv, target.attempt);
      const kept = (await reader.xrange(stream, '-', '+')) as [string, string[]][];
      let position = kept.at(-1)?.[0] ?? '0';
      let over = relay(kept, jobId, send) || !target.follow;
      while (open && !over) {
        const answer = (await reader.xread('COUNT', 500, 'BLOCK', BLOCK_MS, 'STREAMS', stream, position)) as [string, [string, string[]][]][] | null;
        for (const [, entries] of answer ?? []) {
          position = entries.at(-1)?.[0] ?? position;
          over = relay(entries, jobId, send) || over;
        }
        record = await recordNow();
        if (!live(record)) over = true;
      }
      // The leader records the outcome a moment after the job ends: wait for it, briefly.
      for (let wait = 0; target.follow && open && live(record) && wait < 10; wait += 1) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        record = await recordNow();
      }
    } else if (target.drone !== undefined) {
      const text = await readFile(logPath(target.data, { cycle: target.cycle, cpv: target.cpv, attempt: target.attempt, drone: target.drone }), 'utf8').catch((error: unknown) => {
        if (isMissing(error)) return undefined;
        throw error;
      });
      if (text !== undefined) {
        const lines = text.split('\n');
        if (lines.at(-1) === '') lines.pop();
        for (let index = 0; index < lines.length; index += 500) send('lines', { lines: lines.slice(index, index + 500) });
      }
    }
    send('end', { state: record === undefined ? 'unknown' : record.attempt === target.attempt ? record.state : 'superseded' });
  } catch (error) {
    if (open) logger.warn({ err: error }, 'build output stream ended');
  } finally {
    close();
  }
}

/** Sends the progress lines of `jobId` among `entries`; true when one says the job ended. */
function relay(entries: readonly [string, string[]][], jobId: string, send: (event: string, data: unknown) => void): boolean {
  let over = false;
  for (const [, flat] of entries) {
    const fields = new Map<string, string>();
    for (let index = 0; index + 1 < flat.length; index += 2) fields.set(flat[index] as string, flat[index + 1] as string);
    if (fields.get('jobId') !== jobId) continue;
    const event = fields.get('event');
    if (event === 'completed' || event === 'failed' || event === 'removed') over = true;
    if (event !== 'progress') continue;
    try {
      const data = JSON.parse(fields.get('data') ?? 'null') as { lines?: unknown };
      if (Array.isArray(data?.lines)) send('lines', { lines: data.lines.filter((line): line is string => typeof line === 'string') });
    } catch {
      // Not the drone's progress shape: nothing to show.
    }
  }
  return over;
}

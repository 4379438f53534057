/**
 * What a drone does beside building, for operators:
 * - `sync`: `build-swarm sync` (through the gateway) appends a request to the `drone-commands` stream; every
 *   drone reads it and runs `emerge --sync` in each of its profile roots (PORTAGE_CONFIGROOT) within the
 *   request's budget, then appends a `sync-result` event (`ok`, `failed` or `timeout`, with the last line of
 *   output), which the CLI waits for, one per drone.
 * - taking builds back: a reset or a cancel rewrites the package's record, so the drone's lease is no longer
 *   current; the drone checks its running builds' leases every few seconds and stops the emerge of any build the
 *   swarm took back, rather than letting it run to a refused upload.
 */

import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import type { CommandRunner } from '../system/run-command.ts';
import type { LeaseToken } from '../system/staging-store.ts';
import { isLeaseCurrent } from './job-lease.ts';
import { appendSwarmEvent, entryFields } from './swarm-events.ts';
import type { SwarmKeys } from './swarm-keys.ts';

/** Requests kept (approximately: Redis trims whole nodes). */
const KEEP_REQUESTS = 1_000;
const READ_BLOCK_MS = 5_000;
export const LEASE_CHECK_MS = 2_000;

export const syncRequestSchema = z.object({
  type: z.literal('sync'),
  /** Only drones building this profile sync (all when absent). */
  profile: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/).optional(),
  budgetSeconds: z.number().int().min(10).max(6 * 3600),
  /** Sync even while this drone builds (the tree changes under its emerges). */
  force: z.boolean().optional(),
});
export type SyncRequest = z.infer<typeof syncRequestSchema>;

export async function sendSyncRequest(redis: Redis, keys: SwarmKeys, request: SyncRequest, by: string): Promise<string> {
  const checked = syncRequestSchema.parse(request);
  return (await redis.xadd(keys.droneCommands, 'MAXLEN', '~', String(KEEP_REQUESTS), '*', 'by', by, 'at', String(Date.now()), 'request', JSON.stringify(checked))) as string;
}

export interface DroneRequestOptions {
  readonly id: string;
  readonly redis: Redis;
  readonly keys: SwarmKeys;
  /** The drone's profiles and their config roots. */
  readonly profiles: readonly { readonly name: string; readonly root: string }[];
  /** emerge, with the drone's prefix (setpriv …). */
  readonly emergeCommand: readonly string[];
  readonly runner: CommandRunner;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Builds this drone runs now: a sync waits for none, it is refused unless forced. */
  readonly building: () => number;
}

/** Reads sync requests made after the drone started, until `signal`; one at a time. */
export async function serveDroneRequests(options: DroneRequestOptions): Promise<void> {
  const { redis, keys, logger, signal } = options;
  const reader = redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true });
  const stop = (): void => reader.disconnect();
  signal.addEventListener('abort', stop, { once: true });
  try {
    const newest = (await reader.xrevrange(keys.droneCommands, '+', '-', 'COUNT', 1))[0];
    let position = newest?.[0] ?? '0';
    while (!signal.aborted) {
      const answer = (await reader.xread('COUNT', 10, 'BLOCK', READ_BLOCK_MS, 'STREAMS', keys.droneCommands, position).catch((error: unknown) => {
        if (!signal.aborted) logEvent(logger, 'swarm.redis-error', { source: 'drone' }, { err: error });
        return null;
      })) as [string, [string, string[]][]][] | null;
      if (signal.aborted) break;
      for (const [, entries] of answer ?? []) {
        for (const [id, flat] of entries) {
          position = id;
          const fields = entryFields(flat);
          let parsed: SyncRequest | undefined;
          try {
            const checked = syncRequestSchema.safeParse(JSON.parse(fields.get('request') ?? 'null'));
            parsed = checked.success ? checked.data : undefined;
          } catch {
            parsed = undefined;
          }
          if (parsed !== undefined) await syncProfiles(options, id, parsed);
        }
      }
    }
  } finally {
    signal.removeEventListener('abort', stop);
    reader.disconnect();
  }
}

async function syncProfiles(options: DroneRequestOptions, request: string, sync: SyncRequest): Promise<void> {
  const profiles = options.profiles.filter((profile) => sync.profile === undefined || profile.name === sync.profile);
  if (profiles.length === 0) return;
  const started = Date.now();
  const building = options.building();
  if (building > 0 && sync.force !== true) {
    logEvent(options.logger, 'swarm.sync-finished', { drone: options.id, request, outcome: 'failed', seconds: 0 });
    await appendSwarmEvent(options.redis, options.keys, { type: 'sync-result', request, drone: options.id, outcome: 'failed', seconds: 0, detail: `refused: ${building} build(s) running here (sync with --force to do it anyway)` }).catch(() => undefined);
    return;
  }
  const deadline = started + sync.budgetSeconds * 1000;
  let outcome: 'ok' | 'failed' | 'timeout' = 'ok';
  let detail = '';
  const [program, ...prefix] = options.emergeCommand as [string, ...string[]];
  for (const profile of profiles) {
    let last = '';
    try {
      await options.runner.run(program, [...prefix, '--sync'], {
        budgetMs: Math.max(1_000, deadline - Date.now()),
        env: { ...(process.env as Record<string, string>), LC_ALL: 'C', PORTAGE_CONFIGROOT: profile.root, ROOT: profile.root },
        signal: options.signal,
        onLine: (line) => {
          if (line.trim() !== '') last = line.trim();
        },
      });
      detail = `${profile.name}: ${last}`;
    } catch (error) {
      outcome = error instanceof ArgoError && error.code === 'ARGO_COMMAND_TIMED_OUT' ? 'timeout' : 'failed';
      detail = `${profile.name}: ${last === '' ? (error instanceof Error ? error.message : String(error)) : last}`;
      break;
    }
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  logEvent(options.logger, 'swarm.sync-finished', { drone: options.id, request, outcome, seconds });
  await appendSwarmEvent(options.redis, options.keys, { type: 'sync-result', request, drone: options.id, outcome, seconds, detail: detail.slice(0, 500) }).catch(() => undefined);
}

/**
 * Every LEASE_CHECK_MS, the builds whose lease is no longer current (the record names another job, or none) are
 * handed to `takeBack`. A Redis error says nothing about a lease: the build goes on.
 */
export function watchLeases(redis: Redis, keys: SwarmKeys, held: ReadonlyMap<string, LeaseToken>, takeBack: (jobId: string) => void): () => void {
  let checking = false;
  const timer = setInterval(() => {
    if (checking || held.size === 0) return;
    checking = true;
    void Promise.all(
      [...held].map(async ([jobId, lease]) => {
        const current = await isLeaseCurrent(redis, keys, lease).catch(() => true);
        if (!current && held.has(jobId)) takeBack(jobId);
      }),
    ).finally(() => {
      checking = false;
    });
  }, LEASE_CHECK_MS);
  return () => clearInterval(timer);
}

export interface SyncResult {
  readonly drone: string;
  readonly outcome: 'ok' | 'failed' | 'timeout' | 'no answer';
  readonly seconds: number;
  readonly detail: string;
}

/**
 * Asks the online drones (of `profile`) to sync and waits for each one's `sync-result` within the budget and a
 * grace period; a drone that does not answer is reported as such. For callers with Redis (`build-swarm fresh
 * --sync`); the gateway's clients wait on its event stream instead.
 */
export async function syncDrones(redis: Redis, keys: SwarmKeys, request: SyncRequest, drones: readonly string[], by: string, signal: AbortSignal): Promise<SyncResult[]> {
  const id = await sendSyncRequest(redis, keys, request, by);
  const results = new Map<string, SyncResult>();
  const reader = redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true });
  const deadline = Date.now() + (request.budgetSeconds + 30) * 1000;
  let position = `${Math.max(0, Number(id.split('-')[0]) - 1)}-0`;
  try {
    while (!signal.aborted && Date.now() < deadline && !drones.every((drone) => results.has(drone))) {
      const answer = (await reader.xread('COUNT', 100, 'BLOCK', Math.max(1, Math.min(2_000, deadline - Date.now())), 'STREAMS', keys.events, position)) as [string, [string, string[]][]][] | null;
      for (const [, entries] of answer ?? []) {
        for (const [entryId, flat] of entries) {
          position = entryId;
          const fields = entryFields(flat);
          if (fields.get('type') !== 'sync-result' || fields.get('request') !== id) continue;
          const drone = fields.get('drone') ?? '?';
          const outcome = fields.get('outcome');
          results.set(drone, { drone, outcome: outcome === 'ok' || outcome === 'timeout' ? outcome : 'failed', seconds: Number(fields.get('seconds') ?? 0), detail: fields.get('detail') ?? '' });
        }
      }
    }
  } finally {
    reader.disconnect();
  }
  return drones.map((drone) => results.get(drone) ?? { drone, outcome: 'no answer', seconds: 0, detail: `no result within ${request.budgetSeconds} s` });
}

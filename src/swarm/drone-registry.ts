/**
 * Drones announce themselves in Redis: a registration hash (written by the drone) and a heartbeat key with a
 * TTL. A drone whose heartbeat key expired is offline. Breaker states are the leader's (fenced writes).
 */

import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ArgoError } from '../core/errors.ts';
import { PROFILE_NAME_PATTERN, SWARM_ID_PATTERN } from '../core/swarm/swarm-config.ts';
import { CLOSED_BREAKER, type BreakerState } from '../core/swarm/drone-breaker.ts';
import { fencedHset } from './leader-lease.ts';
import type { SwarmKeys } from './swarm-keys.ts';

export interface DroneRegistration {
  readonly id: string;
  readonly cores: number;
  readonly slots: number;
  readonly sweeper: boolean;
  readonly profiles: readonly string[];
  readonly host: string;
  readonly pid: number;
  /** Epoch ms. */
  readonly startedAt: number;
}

const registrationSchema = z
  .object({
    id: z.string().regex(SWARM_ID_PATTERN),
    cores: z.number().int().min(1).max(4096),
    slots: z.number().int().min(1).max(256),
    sweeper: z.boolean(),
    profiles: z.array(z.string().regex(PROFILE_NAME_PATTERN)).max(64),
    host: z.string().max(255),
    pid: z.number().int().nonnegative(),
    startedAt: z.number(),
  })
  .strict();

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export interface DroneView extends DroneRegistration {
  readonly alive: boolean;
  /** Epoch ms of the last heartbeat. */
  readonly lastSeen: number;
  /** Epoch ms the drone said it stops (SIGTERM), if it did. */
  readonly stoppedAt?: number;
  /** Epoch ms it started draining: it takes no new build. */
  readonly drainingSince?: number;
  readonly breaker: BreakerState;
}

/** Refused with ARGO_DRONE_ID_IN_USE while another live process holds the id (its heartbeat key). */
export async function registerDrone(redis: Redis, keys: SwarmKeys, drone: DroneRegistration, ttlMs: number): Promise<void> {
  const holder = `${drone.host}:${drone.pid}`;
  const taken = await redis.set(keys.alive(drone.id), holder, 'PX', ttlMs, 'NX');
  if (taken === null) {
    const [current, left] = await Promise.all([redis.get(keys.alive(drone.id)), redis.pttl(keys.alive(drone.id))]);
    if (current !== null && current !== holder) {
      throw new ArgoError('ARGO_DRONE_ID_IN_USE', `Drone id ${drone.id} is in use by ${current}`, {
        hint: `Give this drone another --id, or stop the other one; if it died, its heartbeat expires in ${Math.max(0, Math.ceil(left / 1000))} s.`,
        details: { drone: drone.id, holder: current },
      });
    }
  }
  await redis
    .multi()
    .sadd(keys.drones, drone.id)
    .hset(keys.drone(drone.id), { registration: JSON.stringify(drone), lastSeen: String(Date.now()) })
    .hdel(keys.drone(drone.id), 'stoppedAt', 'drainingSince')
    .set(keys.alive(drone.id), holder, 'PX', ttlMs)
    .exec();
}

/** KEYS[1] the heartbeat key, KEYS[2] the registration; ARGV[1] holder, ARGV[2] TTL, ARGV[3] now. */
const HEARTBEAT = `
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[2], 'lastSeen', ARGV[3])
return 1`;

/**
 * Renews the drone's heartbeat, unless another process holds the id now (this one was paused past its TTL and
 * a new drone registered under the same id): then false, and this one must stop.
 */
export async function heartbeat(redis: Redis, keys: SwarmKeys, droneId: string, holder: string, ttlMs: number): Promise<boolean> {
  return Number(await redis.eval(HEARTBEAT, 2, keys.alive(droneId), keys.drone(droneId), holder, String(ttlMs), String(Date.now()))) === 1;
}

/** Said when SIGTERM arrives: the leader sends it nothing more and takes back what it had not started. */
export async function markDraining(redis: Redis, keys: SwarmKeys, droneId: string): Promise<void> {
  await redis.hset(keys.drone(droneId), 'drainingSince', String(Date.now()));
}

/** KEYS[1] the heartbeat key, KEYS[2] the registration; ARGV[1] holder, ARGV[2] now. */
const SIGN_OFF = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'stoppedAt', ARGV[2])
return 1`;

/** Said on a clean stop: the drone is offline at once instead of after its TTL (unless another holds the id now). */
export async function signOff(redis: Redis, keys: SwarmKeys, droneId: string, holder: string): Promise<void> {
  await redis.eval(SIGN_OFF, 2, keys.alive(droneId), keys.drone(droneId), holder, String(Date.now()));
}

export async function listDrones(redis: Redis, keys: SwarmKeys): Promise<DroneView[]> {
  const ids = (await redis.smembers(keys.drones)).filter((id) => SWARM_ID_PATTERN.test(id)).sort();
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hgetall(keys.drone(id)).exists(keys.alive(id));
  pipeline.hgetall(keys.breakers);
  const results = (await pipeline.exec()) ?? [];
  const breakers = (results[results.length - 1]?.[1] ?? {}) as Record<string, string>;
  const drones: DroneView[] = [];
  ids.forEach((id, index) => {
    const fields = (results[index * 2]?.[1] ?? {}) as Record<string, string>;
    const alive = results[index * 2 + 1]?.[1] === 1;
    if (fields.registration === undefined) return;
    // A registration is outside data (anyone with the Redis password can write one): only well-formed ones count.
    const parsed = registrationSchema.safeParse(safeJson(fields.registration));
    if (!parsed.success || parsed.data.id !== id) return;
    const registration: DroneRegistration = parsed.data;
    const breakerJson = breakers[id];
    drones.push({
      ...registration,
      alive,
      lastSeen: Number(fields.lastSeen ?? 0),
      ...(fields.stoppedAt === undefined ? {} : { stoppedAt: Number(fields.stoppedAt) }),
      ...(fields.drainingSince === undefined ? {} : { drainingSince: Number(fields.drainingSince) }),
      breaker: breakerJson === undefined ? CLOSED_BREAKER : (JSON.parse(breakerJson) as BreakerState),
    });
  });
  return drones;
}

export async function writeBreaker(redis: Redis, keys: SwarmKeys, epoch: number, droneId: string, state: BreakerState): Promise<void> {
  await fencedHset(redis, keys, epoch, new Map([[keys.breakers, { [droneId]: JSON.stringify(state) }]]));
}

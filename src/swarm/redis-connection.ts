/**
 * Redis clients for the swarm roles. Commands fail fast while Redis is away (`enableOfflineQueue: false`, one
 * retry) and the caller's loop retries; BullMQ workers and blocking readers wait (`maxRetriesPerRequest: null`).
 * Both reconnect forever with a capped backoff and say so in the log. The password never reaches a log line or
 * an error: endpoints are shown by their redacted URL.
 */

import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { ArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
  readonly tls?: object;
  /** For messages: the URL without any password. */
  readonly shownUrl: string;
}

export type RedisRole = 'commands' | 'blocking';

const MAX_BACKOFF_MS = 5_000;

export function redisOptions(endpoint: RedisEndpoint, role: RedisRole, logger: Logger, name: string): RedisOptions {
  return {
    host: endpoint.host,
    port: endpoint.port,
    ...(endpoint.username === undefined ? {} : { username: endpoint.username }),
    ...(endpoint.password === undefined ? {} : { password: endpoint.password }),
    ...(endpoint.db === undefined ? {} : { db: endpoint.db }),
    ...(endpoint.tls === undefined ? {} : { tls: endpoint.tls }),
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: role === 'blocking',
    maxRetriesPerRequest: role === 'blocking' ? null : 1,
    retryStrategy: (times) => {
      const delayMs = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(times, 10));
      logEvent(logger, 'swarm.redis-retry', { url: endpoint.shownUrl, attempt: times, delayMs });
      return delayMs;
    },
  };
}

/** The same options for BullMQ, which opens its own connections from them. */
export function bullConnection(endpoint: RedisEndpoint, role: RedisRole, logger: Logger, name: string): ConnectionOptions {
  return redisOptions(endpoint, role, logger, name) as ConnectionOptions;
}

/** A connected client, or ARGO_REDIS_UNREACHABLE naming the URL when Redis does not answer within `timeoutMs`. */
export async function connectRedis(endpoint: RedisEndpoint, role: RedisRole, logger: Logger, name: string, timeoutMs = 10_000): Promise<Redis> {
  const client = new Redis(redisOptions(endpoint, role, logger, name));
  let lastError: unknown;
  // The connection's own error (ECONNREFUSED, WRONGPASS) says more than a command's "stream isn't writeable".
  let connectionError: unknown;
  client.on('error', (error: unknown) => {
    connectionError = error;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (client.status === 'wait' || client.status === 'end') await client.connect();
      await client.ping();
      return client;
    } catch (error) {
      lastError = error;
      if (Date.now() >= deadline) {
        client.disconnect();
        throw unreachable(endpoint, connectionError ?? lastError);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export function unreachable(endpoint: RedisEndpoint, cause: unknown): ArgoError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ArgoError('ARGO_REDIS_UNREACHABLE', `Cannot reach Redis at ${endpoint.shownUrl}: ${redactPassword(reason, endpoint.password)}`, {
    hint: 'Check that redis-server runs and listens there, and that redis.password_file holds its password (requirepass).',
    details: { url: endpoint.shownUrl },
  });
}

function redactPassword(text: string, password: string | undefined): string {
  return password === undefined || password === '' ? text : text.split(password).join('***');
}

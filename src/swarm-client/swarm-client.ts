/**
 * The one client of the gateway's API, used by the `build-swarm` commands, drones, `argo preflight --swarm` and
 * `apkg update`. Every answer is checked against the schema the gateway answers with (./api.ts). Reads are
 * retried with backoff when nothing answers or the gateway is briefly unavailable (502/503/504); writes are sent
 * once, and the caller decides (a drone's upload is retried by the drone, which holds the lease).
 */

import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { ArgoError } from '../core/errors.ts';
import type { SwarmStatus } from '../core/swarm/swarm-status.ts';
import {
  API_PREFIX,
  errorBodySchema,
  finalizedSchema,
  LEASE_HEADERS,
  logStoredSchema,
  profilesSchema,
  releasesSchema,
  groundRequestSchema,
  queuedCommandSchema,
  startCycleRequestSchema,
  startedCycleSchema,
  statusSchema,
  cycleGraphSchema,
  swarmEventSchema,
  syncQueuedSchema,
  whoamiSchema,
  type OutputMessage,
  type SwarmEvent,
  switchedSchema,
  uploadedSchema,
  verifyReportSchema,
  type VerifyReport,
} from './api.ts';
import type { ArtifactGateway, LeaseToken, LogInput, UploadInput } from '../system/file-gateway.ts';
import { readBytes, uploadSource } from '../system/gateway-files.ts';
import { EventSourceParserStream, type EventSourceMessage } from 'eventsource-parser/stream';

export interface SwarmClientOptions {
  /** The gateway's base URL, e.g. `https://swarm.lan:8470`. */
  readonly url: string;
  readonly token?: string;
  /** Per request (default 10 s; uploads get their own, longer budget). */
  readonly timeoutMs?: number;
  /** Attempts of a read (default 4: 0.25 s, 0.5 s, 1 s between them). */
  readonly readAttempts?: number;
}

export interface SwarmClient {
  readonly url: string;
  status(): Promise<SwarmStatus>;
  profiles(): Promise<z.infer<typeof profilesSchema>>;
  releases(profile: string): Promise<z.infer<typeof releasesSchema>>;
  verify(profile: string, threshold?: number): Promise<VerifyReport>;
  finalize(profile: string, request: { force?: string; threshold?: number }): Promise<z.infer<typeof finalizedSchema>>;
  rollback(profile: string, to?: string): Promise<z.infer<typeof switchedSchema>>;
  ground(drone: string, request: z.infer<typeof groundRequestSchema>): Promise<z.infer<typeof queuedCommandSchema>>;
  unground(drone: string): Promise<z.infer<typeof queuedCommandSchema>>;
  restart(drone: string): Promise<z.infer<typeof queuedCommandSchema>>;
  cancelCycle(cycle: string): Promise<z.infer<typeof queuedCommandSchema>>;
  /** Starts a cycle building the packages of an `emerge -pv` plan; ARGO_CYCLE_ACTIVE when the profile has one running. */
  startCycle(profile: string, request: z.infer<typeof startCycleRequestSchema>): Promise<z.infer<typeof startedCycleSchema>>;
  /** The text of a file under the gateway (a binhost's Packages, a build log), or undefined when it is not there. */
  fetchText(path: string): Promise<string | undefined>;
  whoami(): Promise<z.infer<typeof whoamiSchema>>;
  graph(cycle: string): Promise<z.infer<typeof cycleGraphSchema>>;
  reset(): Promise<z.infer<typeof queuedCommandSchema>>;
  sync(request: { profile?: string; budgetSeconds?: number; force?: boolean }): Promise<z.infer<typeof syncQueuedSchema>>;
  cancelPackage(cycle: string, cpv: string): Promise<z.infer<typeof queuedCommandSchema>>;
  /**
   * The swarm's events, live, from `since` (an event id, `0` for all kept, `$` for new ones: the default), until
   * `signal` aborts. The stream is not resumed by itself: a caller that wants to go on passes the last id again.
   */
  events(options: { since?: string; signal: AbortSignal }): AsyncIterable<SwarmEvent>;
  /** A build's output: what it printed so far, then live, then `end` (the attempt's outcome). */
  output(cycle: string, cpv: string, options: { attempt?: number; follow?: boolean; signal: AbortSignal }): AsyncIterable<OutputMessage>;
}

const RETRIED_STATUS = new Set([502, 503, 504]);
/** Finalize, rollback and a new cycle's DAG can take minutes on a large staging; 15 min before saying "unknown". */
const WRITE_TIMEOUT_MS = 15 * 60_000;
/** Codes of the gateway's answers a caller acts on, kept as they are; others become ARGO_SWARM_REQUEST_FAILED. */
const PASSED_ON = ['ARGO_LEASE_LOST', 'ARGO_INVALID_INPUT', 'ARGO_GPKG_INVALID', 'ARGO_CYCLE_ACTIVE', 'ARGO_UPLOAD_TOO_LARGE', 'ARGO_FILE_NOT_FOUND', 'ARGO_INDEX_INVALID'] as const;

export function createSwarmClient(options: SwarmClientOptions): SwarmClient {
  const base = normalizeBase(options.url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const attempts = options.readAttempts ?? 4;
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    accept: 'application/json',
    ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    ...extra,
  });

  const send = async (method: string, path: string, init: { body?: string; retry: boolean; allow?: readonly number[]; timeoutMs?: number }): Promise<Response> => {
    const url = `${base}${path}`;
    for (let attempt = 1; ; attempt += 1) {
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: headers(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(init.body === undefined ? {} : { body: init.body }),
          signal: AbortSignal.timeout(init.timeoutMs ?? timeoutMs),
        });
      } catch (error) {
        if (init.retry && attempt < attempts) {
          await delay(250 * 2 ** (attempt - 1));
          continue;
        }
        if (!init.retry && error instanceof Error && error.name === 'TimeoutError') {
          // A write the gateway may still be carrying out: say so rather than "does not answer".
          throw new ArgoError('ARGO_SWARM_REQUEST_FAILED', `${method} ${url} got no answer within ${Math.round((init.timeoutMs ?? timeoutMs) / 1000)} s; the gateway may still be carrying it out`, { hint: 'Look before trying again: build-swarm releases and build-swarm status show what happened.', cause: error });
        }
        throw unreachable(url, error);
      }
      if (init.retry && attempt < attempts && RETRIED_STATUS.has(response.status)) {
        await response.body?.cancel();
        await delay(250 * 2 ** (attempt - 1));
        continue;
      }
      if (response.ok || init.allow?.includes(response.status) === true) return response;
      throw await refusal(url, response);
    }
  };
  const command = async (method: string, path: string, body: unknown): Promise<z.infer<typeof queuedCommandSchema>> => {
    const response = await send(method, path, { ...(body === undefined ? {} : { body: JSON.stringify(body) }), retry: false });
    return parseAnswer(`${base}${path}`, queuedCommandSchema, await response.json());
  };
  const read = async <T>(path: string, schema: z.ZodType<T>): Promise<T> => parseAnswer(`${base}${path}`, schema, await (await send('GET', path, { retry: true })).json());

  return {
    url: base,
    status: () => read(`${API_PREFIX}/status`, statusSchema),
    profiles: () => read(`${API_PREFIX}/profiles`, profilesSchema),
    releases: (profile) => read(`${API_PREFIX}/profiles/${encodeURIComponent(profile)}/releases`, releasesSchema),
    verify: (profile, threshold) => read(`${API_PREFIX}/profiles/${encodeURIComponent(profile)}/verify${threshold === undefined ? '' : `?threshold=${threshold}`}`, verifyReportSchema),
    async finalize(profile, request) {
      const path = `${API_PREFIX}/profiles/${encodeURIComponent(profile)}/finalize`;
      // Finalize may wait for another finalize's lock (5 min) and then hashes and links every staged file.
      const response = await send('POST', path, { body: JSON.stringify(request), retry: false, allow: [409], timeoutMs: WRITE_TIMEOUT_MS });
      return parseAnswer(`${base}${path}`, finalizedSchema, await response.json());
    },
    async rollback(profile, to) {
      const path = `${API_PREFIX}/profiles/${encodeURIComponent(profile)}/rollback`;
      const response = await send('POST', path, { body: JSON.stringify(to === undefined ? {} : { to }), retry: false, timeoutMs: WRITE_TIMEOUT_MS });
      return parseAnswer(`${base}${path}`, switchedSchema, await response.json());
    },
    ground: (drone, request) => command('POST', `${API_PREFIX}/drones/${encodeURIComponent(drone)}/ground`, request),
    unground: (drone) => command('POST', `${API_PREFIX}/drones/${encodeURIComponent(drone)}/unground`, {}),
    restart: (drone) => command('POST', `${API_PREFIX}/drones/${encodeURIComponent(drone)}/restart`, {}),
    cancelCycle: (cycle) => command('DELETE', `${API_PREFIX}/cycles/${encodeURIComponent(cycle)}`, undefined),
    async startCycle(profile, request) {
      const path = `${API_PREFIX}/profiles/${encodeURIComponent(profile)}/cycles`;
      const response = await send('POST', path, { body: JSON.stringify(request), retry: false, timeoutMs: WRITE_TIMEOUT_MS });
      return parseAnswer(`${base}${path}`, startedCycleSchema, await response.json());
    },
    whoami: () => read(`${API_PREFIX}/whoami`, whoamiSchema),
    graph: (cycle) => read(`${API_PREFIX}/cycles/${encodeURIComponent(cycle)}/graph`, cycleGraphSchema),
    reset: () => command('POST', `${API_PREFIX}/reset`, {}),
    async sync(request) {
      const path = `${API_PREFIX}/sync`;
      const response = await send('POST', path, { body: JSON.stringify(request), retry: false });
      return parseAnswer(`${base}${path}`, syncQueuedSchema, await response.json());
    },
    cancelPackage: (cycle, cpv) => command('DELETE', `${API_PREFIX}/cycles/${encodeURIComponent(cycle)}/packages/${cpvPath(cpv)}`, undefined),
    async *events({ since, signal }) {
      for await (const message of serverSentEvents(`${base}${API_PREFIX}/events${since === undefined ? '' : `?since=${encodeURIComponent(since)}`}`, headers({ accept: 'text/event-stream' }), signal)) {
        const parsed = swarmEventSchema.safeParse(JSON.parse(message.data));
        if (parsed.success) yield parsed.data;
      }
    },
    async *output(cycle, cpv, { attempt, follow, signal }) {
      const query = new URLSearchParams({ ...(attempt === undefined ? {} : { attempt: String(attempt) }), ...(follow === false ? { follow: '0' } : {}) }).toString();
      const url = `${base}${API_PREFIX}/cycles/${encodeURIComponent(cycle)}/packages/${cpvPath(cpv)}/output${query === '' ? '' : `?${query}`}`;
      for await (const message of serverSentEvents(url, headers({ accept: 'text/event-stream' }), signal)) {
        const data = JSON.parse(message.data) as { lines?: unknown; state?: unknown };
        if (message.event === 'lines' && Array.isArray(data.lines)) yield { type: 'lines', lines: data.lines.map(String) };
        if (message.event === 'end') {
          yield { type: 'end', state: String(data.state) };
          return;
        }
      }
    },
    async fetchText(path) {
      const response = await send('GET', path, { retry: true, allow: [404] });
      if (response.status === 404) {
        await response.body?.cancel();
        return undefined;
      }
      return response.text();
    },
  };
}

export interface HttpGatewayOptions extends SwarmClientOptions {
  /** Profile name of each binhost path the drone builds (uploads and staging URLs are by profile). */
  readonly profiles: readonly { readonly name: string; readonly binhostPath: string }[];
  /** Budget of one upload (default 30 min, as the gateway's request timeout). */
  readonly uploadTimeoutMs?: number;
}

/**
 * A drone's gateway over HTTP: uploads stream the file with the job's lease in `x-argo-*` headers; the staging
 * binhost URL carries the token as Basic auth (Portage hides URL passwords in what it prints).
 */
export function createHttpGateway(options: HttpGatewayOptions): ArtifactGateway {
  const base = normalizeBase(options.url);
  const profileOf = (binhost: string): string => {
    const profile = options.profiles.find((candidate) => candidate.binhostPath === binhost);
    if (profile === undefined) throw new ArgoError('ARGO_INVALID_INPUT', `No profile of this drone publishes to ${binhost}`, { hint: 'The drone\'s profiles come from the swarm configuration.' });
    return profile.name;
  };
  const auth = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
  const put = async (path: string, body: NonNullable<RequestInit["body"]>, extra: Record<string, string>, timeoutMs: number): Promise<unknown> => {
    const url = `${base}${path}`;
    let response: Response;
    try {
      response = await fetch(url, { method: 'PUT', headers: { accept: 'application/json', ...auth, ...extra }, body, duplex: 'half', signal: AbortSignal.timeout(timeoutMs) } as RequestInit);
    } catch (error) {
      throw unreachable(url, error);
    }
    if (!response.ok) throw await refusal(url, response);
    return response.json();
  };
  return {
    stagingUrl(binhost) {
      const url = new URL(`${base}/staging/${encodeURIComponent(profileOf(binhost))}`);
      if (options.token !== undefined) {
        url.username = 'drone';
        url.password = options.token;
      }
      return url.toString();
    },
    async upload(input: UploadInput) {
      const name = input.file.split('/').pop() ?? '';
      const category = input.cpv.split('/')[0] ?? '';
      const source = await uploadSource(input.file);
      const answer = await put(
        `${API_PREFIX}/profiles/${encodeURIComponent(profileOf(input.binhost))}/packages/${encodeURIComponent(category)}/${encodeURIComponent(name)}`,
        source.stream() as unknown as NonNullable<RequestInit["body"]>,
        { 'content-type': 'application/octet-stream', 'content-length': String(source.size), ...leaseHeaders(input.lease), [LEASE_HEADERS.sha256]: source.sha256 },
        options.uploadTimeoutMs ?? 30 * 60_000,
      );
      return parseAnswer(base, uploadedSchema, answer);
    },
    async storeLog(input: LogInput) {
      const [category, pf] = input.cpv.split('/');
      const path = `${API_PREFIX}/logs/${[input.cycle, category ?? '', pf ?? '', String(input.attempt), input.drone].map(encodeURIComponent).join('/')}`;
      const answer = await put(path, await readBytes(input.file), { 'content-type': 'text/plain', ...leaseHeaders(input.lease) }, options.timeoutMs ?? 60_000);
      return `${base}${parseAnswer(base, logStoredSchema, answer).path}`;
    },
  };
}

function leaseHeaders(lease: LeaseToken): Record<string, string> {
  return { [LEASE_HEADERS.cpv]: lease.cpv, [LEASE_HEADERS.queue]: lease.queue, [LEASE_HEADERS.job]: lease.jobId, [LEASE_HEADERS.lock]: lease.token, [LEASE_HEADERS.cycle]: lease.cycle };
}

function normalizeBase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ArgoError('ARGO_CONFIG_INVALID', `Not a gateway URL: ${JSON.stringify(url)}`, { hint: 'Give http://HOST:PORT or https://HOST:PORT.' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ArgoError('ARGO_CONFIG_INVALID', `The gateway URL ${url} is not http(s)`, { hint: 'Give http://HOST:PORT or https://HOST:PORT.' });
  if (parsed.username !== '' || parsed.password !== '') throw new ArgoError('ARGO_CONFIG_INVALID', 'The gateway URL carries credentials', { hint: 'Put the token in a file and give --token-file; never in a URL.' });
  return parsed.toString().replace(/\/+$/, '');
}

function unreachable(url: string, error: unknown): ArgoError {
  const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
  return new ArgoError('ARGO_SWARM_UNREACHABLE', `The swarm gateway at ${url} does not answer: ${cause}`, { hint: 'Check that build-swarm gateway runs there and that the port is open.', cause: error });
}

async function refusal(url: string, response: Response): Promise<ArgoError> {
  const text = await response.text().catch(() => '');
  let body: z.infer<typeof errorBodySchema> | undefined;
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success) body = parsed.data;
  } catch {
    body = undefined;
  }
  const message = body === undefined ? `${response.status} ${response.statusText}` : `${body.error.code}: ${body.error.message}`;
  const code = response.status === 401 || response.status === 403 ? 'ARGO_SWARM_UNAUTHORIZED' : (PASSED_ON.find((known) => known === body?.error.code) ?? 'ARGO_SWARM_REQUEST_FAILED');
  return new ArgoError(code, `The swarm gateway refused ${url}: ${message}`, { hint: body?.error.hint ?? 'The gateway\'s log says more.', details: { ...body?.error.details, status: response.status } });
}

function parseAnswer<T>(url: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ArgoError('ARGO_SWARM_REQUEST_FAILED', `The swarm gateway at ${url} answered something this client does not understand: ${parsed.error.issues[0]?.message ?? ''}`, { hint: 'Run the same version of argo on the gateway and here.' });
}

/** `category/pf`, each part encoded for a path. */
function cpvPath(cpv: string): string {
  const slash = cpv.indexOf('/');
  if (slash < 0) throw new ArgoError('ARGO_USAGE', `Not a CATEGORY/PF: ${JSON.stringify(cpv)}`, { hint: 'Name a package as category/name-version, e.g. sys-libs/libxcrypt-4.4.36-r3.' });
  return `${encodeURIComponent(cpv.slice(0, slash))}/${encodeURIComponent(cpv.slice(slash + 1))}`;
}

/** The messages of a Server-Sent Events answer (parsed by eventsource-parser), until it ends or `signal` aborts. */
async function* serverSentEvents(url: string, headers: Record<string, string>, signal: AbortSignal): AsyncGenerator<EventSourceMessage> {
  let response: Response;
  try {
    response = await fetch(url, { headers, signal });
  } catch (error) {
    if (signal.aborted) return;
    throw unreachable(url, error);
  }
  if (!response.ok || response.body === null) throw await refusal(url, response);
  const messages = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  try {
    for await (const message of messages) yield message;
  } catch (error) {
    if (signal.aborted) return;
    throw unreachable(url, error);
  }
}

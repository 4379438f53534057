/**
 * The swarm's gateway: a Fastify app, built without listening (`buildGateway`) so tests can `inject()` as well
 * as use a real socket. It serves
 * - `/binhost/<profile>/` (production) and `/staging/<profile>/` as static binhosts (`Packages`,
 *   `Packages.gz`, the packages), usable as a `binrepos.conf` `sync-uri`;
 * - the JSON API under `/api/v1/` (schemas in src/swarm-client/api.ts, shared with the client): status,
 *   profiles, releases, verify, finalize, rollback, drone uploads and build logs, and the swarm's events as
 *   Server-Sent Events;
 * - `/metrics` for Prometheus.
 *
 * Every request but the public ones needs a bearer token of the right scope (src/gateway/gateway-tokens.ts);
 * Basic auth with the token as password is accepted too, because Portage can put credentials in a binhost URL
 * and nowhere else.
 */

import { basename, dirname, join, relative } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ArgoError, type ErrorCode } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import { SWARM_ID_PATTERN, type ProfileSettings } from '../core/swarm/swarm-config.ts';
import { CYCLE_ID_PATTERN } from '../core/swarm/cycle-model.ts';
import { tryParseCpv } from '../core/gentoo/parse-cpv.ts';
import {
  API_PREFIX,
  finalizeRequestSchema,
  LEASE_HEADERS,
  rollbackRequestSchema,
  groundRequestSchema,
  startCycleRequestSchema,
  syncRequestBodySchema,
  type ErrorBody,
} from '../swarm-client/api.ts';
import { DEFAULT_VERIFY_THRESHOLD, type VerifyReport } from '../core/swarm/verify-score.ts';
import type { ReleaseMeta, ReleasePlan } from '../system/binhost-releases.ts';
import { isLeaseCurrent } from '../swarm/job-lease.ts';
import type { SwarmKeys } from '../swarm/swarm-keys.ts';
import { readSwarmState } from '../swarm/swarm-state.ts';
import { startCycle } from '../swarm/start-cycle.ts';
import { sendOperatorCommand, type OperatorCommand } from '../swarm/operator-commands.ts';
import { keepLogFile, servedFile } from '../system/gateway-files.ts';
import { logPath } from '../system/file-gateway.ts';
import { isMissing } from '../system/fs-errors.ts';
import { checkPackageName, publishPackage, rebuildStagingIndex, stagingFolder, type LeaseToken } from '../system/staging-store.ts';
import { registerDashboard } from './dashboard.ts';
import { createGatewayMetrics } from './gateway-metrics.ts';
import { allows, SCOPES, type Scope, type TokenHolder, type TokenTable } from './gateway-tokens.ts';
import { droneOfAttempt, streamBuildOutput } from './build-output.ts';
import { cycleGraphView } from './cycle-graph-view.ts';
import { readCycle, runningCyclesOf } from '../swarm/cycle-store.ts';
import { sendSyncRequest } from '../swarm/drone-requests.ts';
import type { PackageRecord } from '../core/swarm/cycle-model.ts';
import { streamSwarmEvents } from './swarm-event-stream.ts';
import { MAX_ANONYMOUS_STREAMS, MAX_EVENT_STREAMS, type EventStreams } from './sse-stream.ts';

/** Thrown by finalize's gate: verify says the release is not safe and nobody forced it. */
class FinalizeRefused extends Error {
  readonly report: VerifyReport;
  constructor(report: VerifyReport) {
    super(`verify scored ${report.score}`);
    this.report = report;
  }
}

/** What the gateway needs of the release store (src/system/binhost-releases.ts), per binhost path. */
export interface ReleaseStore {
  /** Publishes staging; `gate` judges the exact release under the store's lock (throws to refuse) and gives what to record. */
  finalize(binhost: string, gate: (plan: ReleasePlan) => Promise<ReleaseMeta>): Promise<{ release: string; previous?: string; packages: number; pruned: readonly string[] }>;
  rollback(binhost: string, to?: string): Promise<{ release: string; previous?: string }>;
  list(binhost: string): Promise<{ current?: string; releases: readonly Record<string, unknown>[] }>;
  /** Host path of a file a client asks for under the production binhost (current release first, then the kept ones). */
  resolveFile(binhost: string, path: string): Promise<string | undefined>;
}

export interface GatewayOptions {
  readonly data: string;
  readonly redis: Redis;
  /** A second connection for blocking reads of the event stream (one per live client is duplicated from it). */
  readonly keys: SwarmKeys;
  readonly profiles: Readonly<Record<string, ProfileSettings>>;
  readonly tokens: TokenTable;
  /** Binhost reads (`/binhost/`, `/staging/`) without a token. */
  readonly publicBinhost: boolean;
  /** `/metrics` without a token. */
  readonly publicMetrics: boolean;
  /** Every read-scope GET (status, events, logs, verify, releases, the dashboard's data) without a token. */
  readonly publicRead?: boolean;
  readonly maxPackageBytes: number;
  readonly releases: ReleaseStore;
  /** Verify of a profile: of `plan` when given (finalize's), else of the release finalize would publish now. */
  readonly verify: (profile: ProfileSettings, threshold?: number, plan?: ReleasePlan) => Promise<VerifyReport>;
  readonly logger: Logger;
  /** TLS, for drones across sites. */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
  /** The repository the swarm builds from (its metadata/md5-cache) and emerge.log files, for cycles started over the API. */
  readonly cycles?: { readonly md5Cache: string; readonly history: readonly string[] };
}

const MAX_LOG_BYTES = 64 * 1024 ** 2;
const PATH_SEGMENT = /^[A-Za-z0-9+_][A-Za-z0-9+_.@-]*$/;
const CATEGORY = /^[A-Za-z0-9_][A-Za-z0-9+_.-]*$/;

/** HTTP status of each error a request can end in; anything else is a 500 (and logged as a bug). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  ARGO_INVALID_INPUT: 400,
  ARGO_GPKG_INVALID: 400,
  ARGO_INDEX_INVALID: 400,
  ARGO_COMPRESSION_UNSUPPORTED: 400,
  ARGO_USAGE: 400,
  ARGO_SWARM_UNAUTHORIZED: 401,
  ARGO_FILE_NOT_FOUND: 404,
  ARGO_LEASE_LOST: 409,
  ARGO_CYCLE_ACTIVE: 409,
  ARGO_TARGET_LOCKED: 409,
  ARGO_UPLOAD_TOO_LARGE: 413,
  ARGO_SWARM_BUSY: 503,
  ARGO_REDIS_UNREACHABLE: 503,
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route: a scope, or `binhost`/`metrics` (public when the gateway is told so). */
    readonly access?: Scope | 'binhost' | 'metrics';
  }
  interface FastifyRequest {
    holder?: TokenHolder;
  }
}

export async function buildGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const { logger } = options;
  const app = Fastify({
    loggerInstance: logger.child({ component: 'gateway' }),
    // Our own events name who did what; per-request lines would only repeat URLs.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // A whole upload must arrive within this (1 GiB at ~0.6 MB/s): a slow sender cannot hold a connection forever.
    requestTimeout: 30 * 60_000,
    ...(options.https === undefined ? {} : { https: { cert: options.https.cert, key: options.https.key } }),
  }) as unknown as FastifyInstance;
  await app.register(fastifyStatic, { root: options.data, serve: false, dotfiles: 'deny', index: false, redirect: false, acceptRanges: true });
  const metrics = createGatewayMetrics(options.redis, options.keys);
  const streams: EventStreams = new Set();
  const anonymousStreams: EventStreams = new Set();
  /** The registries a new live stream joins, or 503 when the cap (anonymous readers' own, smaller one) is reached. */
  const admitStream = (request: FastifyRequest): readonly EventStreams[] => {
    if (streams.size >= MAX_EVENT_STREAMS) {
      throw new ArgoError('ARGO_SWARM_BUSY', `The gateway already serves ${MAX_EVENT_STREAMS} live streams`, { hint: 'Close a dashboard, monitor or followed log, or poll /api/v1/status instead.' });
    }
    if (request.holder !== undefined) return [streams];
    if (anonymousStreams.size >= MAX_ANONYMOUS_STREAMS) {
      throw new ArgoError('ARGO_SWARM_BUSY', `The gateway already serves ${MAX_ANONYMOUS_STREAMS} live streams without a token`, { hint: 'Give a token (Authorization: Bearer): streams with one have room of their own.' });
    }
    return [streams, anonymousStreams];
  };
  // Stopping ends the live streams (each would hold the server open) before the server waits for its requests.
  app.addHook('preClose', async () => {
    for (const close of [...streams]) close();
  });
  app.addHook('onClose', async () => metrics.close());

  // Uploads are streamed to disk by their handler, never buffered by Fastify.
  app.addContentTypeParser('application/octet-stream', (_request, _payload, done) => done(null));
  // Build logs: whole, within the route's bodyLimit.
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access;
    if (access === undefined) return;
    if ((access === 'binhost' && options.publicBinhost) || (access === 'metrics' && options.publicMetrics)) return;
    // A token given is always checked (whoami, and writes, need its holder); none is needed to read when public.
    if (access === 'read' && options.publicRead === true && request.method === 'GET' && request.headers.authorization === undefined) return;
    const holder = authenticate(request, options.tokens);
    if (holder === undefined) {
      // Portage (Python's urllib) answers only a Basic challenge with a realm, with the credentials of a binhost URL.
      void reply.header('www-authenticate', access === 'binhost' ? ['Basic realm="argo"', 'Bearer realm="argo"'] : 'Bearer realm="argo"');
      throw new ArgoError('ARGO_SWARM_UNAUTHORIZED', request.headers.authorization === undefined ? 'This request needs a token' : 'The token is not one this gateway knows', { hint: 'Send Authorization: Bearer TOKEN with a token from the gateway\'s tokens file.' });
    }
    // Any token may read the binhosts (drones fetch staging's dependencies); /metrics needs read.
    const needed: Scope = access === 'metrics' ? 'read' : access === 'binhost' ? 'read' : access;
    if (!(access === 'binhost' || allows(holder, needed))) {
      void reply.code(403);
      throw new ArgoError('ARGO_SWARM_UNAUTHORIZED', `The token ${holder.name} has no ${needed} scope`, { hint: `Give a token with the ${needed} scope.` });
    }
    request.holder = holder;
  });

  app.setErrorHandler(async (error, request, reply) => {
    // A refused upload's body may still be on its way: close the connection rather than read it all.
    if (!request.raw.readableEnded) void reply.header('connection', 'close');
    if (error instanceof ArgoError) {
      const status = reply.statusCode === 403 ? 403 : (STATUS[error.code] ?? 500);
      if (status >= 500) request.log.error({ err: error, url: request.url }, 'request failed');
      const details = Object.keys(error.details).length > 0 && error.code !== 'ARGO_SECRET_FILE_UNSAFE' ? error.details : undefined;
      const body: ErrorBody = { error: { code: error.code, message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }), ...(details === undefined ? {} : { details }) } };
      return reply.code(status).send(body);
    }
    const fastifyError = error as { statusCode?: number; message?: string; code?: string };
    if (fastifyError.statusCode !== undefined && fastifyError.statusCode < 500) {
      const code = fastifyError.statusCode === 413 ? 'ARGO_UPLOAD_TOO_LARGE' : 'ARGO_INVALID_INPUT';
      return reply.code(fastifyError.statusCode).send({ error: { code, message: fastifyError.message ?? 'bad request' } } satisfies ErrorBody);
    }
    if (fastifyError.code === 'ENOSPC' || fastifyError.code === 'EDQUOT') {
      request.log.error({ err: error, url: request.url }, 'data folder full');
      return reply.code(507).send({ error: { code: 'ARGO_FILE_WRITE_FAILED', message: `The gateway's data folder ${options.data} is full; nothing was kept`, hint: 'Free space there (old releases, logs of old cycles), then send again.' } } satisfies ErrorBody);
    }
    request.log.error({ err: error, url: request.url }, 'request failed');
    return reply.code(500).send({ error: { code: 'ARGO_INTERNAL', message: 'The gateway failed to answer; its log says why.' } } satisfies ErrorBody);
  });

  const profileOf = (name: string): ProfileSettings => {
    const profile = Object.hasOwn(options.profiles, name) ? options.profiles[name] : undefined;
    if (profile === undefined) {
      throw new ArgoError('ARGO_FILE_NOT_FOUND', `No profile ${JSON.stringify(name)}`, { hint: `Profiles: ${Object.keys(options.profiles).sort().join(', ')}.` });
    }
    return profile;
  };

  await registerDashboard(app);

  // --- static binhosts -------------------------------------------------------------------------------------
  app.get<{ Params: { profile: string; '*': string } }>('/staging/:profile/*', { config: { access: 'binhost' } }, async (request, reply) => {
    const profile = profileOf(request.params.profile);
    const path = checkRelativePath(request.params['*']);
    const root = stagingFolder(options.data, profile.binhostPath);
    return sendFrom(reply, root, path);
  });
  app.get<{ Params: { profile: string; '*': string } }>('/binhost/:profile/*', { config: { access: 'binhost' } }, async (request, reply) => {
    const profile = profileOf(request.params.profile);
    const path = checkRelativePath(request.params['*']);
    const file = await options.releases.resolveFile(profile.binhostPath, path);
    if (file === undefined) throw notFound(`/binhost/${profile.name}/${path}`);
    return sendFrom(reply, dirname(file), basename(file));
  });

  // --- reads ----------------------------------------------------------------------------------------------
  app.get(`${API_PREFIX}/status`, { config: { access: 'read' } }, async () => readSwarmState(options.redis, options.keys));
  app.get(`${API_PREFIX}/whoami`, { config: { access: 'read' } }, async (request) => ({
    name: request.holder?.name ?? null,
    scopes: request.holder === undefined ? ['read'] : SCOPES.filter((scope) => allows(request.holder as TokenHolder, scope)),
  }));
  app.get<{ Params: { cycle: string } }>(`${API_PREFIX}/cycles/:cycle/graph`, { config: { access: 'read' } }, async (request) => {
    const cycle = checkId(request.params.cycle, 'cycle');
    const stored = await readCycle(options.redis, options.keys, cycle);
    if (stored === undefined) throw new ArgoError('ARGO_FILE_NOT_FOUND', `No cycle ${cycle}`, { hint: 'build-swarm status lists the cycles.' });
    return cycleGraphView(stored.definition);
  });
  app.get<{ Params: { cycle: string; category: string; pf: string }; Querystring: { attempt?: string; follow?: string } }>(
    `${API_PREFIX}/cycles/:cycle/packages/:category/:pf/output`,
    { config: { access: 'read' } },
    async (request, reply) => {
      const cycle = checkId(request.params.cycle, 'cycle');
      const cpv = `${request.params.category}/${request.params.pf}`;
      const json = await options.redis.hget(options.keys.packages(cycle), cpv);
      if (json === null) throw new ArgoError('ARGO_FILE_NOT_FOUND', `Cycle ${cycle} has no package ${cpv}`, { hint: 'build-swarm status lists the cycles and their packages.' });
      const record = JSON.parse(json) as PackageRecord;
      const attempt = request.query.attempt === undefined ? record.attempt : parseWith(z.coerce.number().int().min(1).max(999_999), request.query.attempt, 'attempt');
      if (attempt < 1 || attempt > record.attempt) throw new ArgoError('ARGO_FILE_NOT_FOUND', `${cpv} has had ${record.attempt} attempt(s) in cycle ${cycle}; there is no attempt ${attempt}`, { hint: 'Attempts count from 1; a package not dispatched yet has none.' });
      const registries = admitStream(request);
      reply.hijack();
      await streamBuildOutput(options.redis, options.keys, { data: options.data, cycle, cpv, attempt, drone: droneOfAttempt(record, attempt), follow: request.query.follow !== '0' }, request.raw, reply.raw, logger, registries);
    },
  );
  app.get(`${API_PREFIX}/profiles`, { config: { access: 'read' } }, async () => ({
    profiles: Object.values(options.profiles).map((profile) => ({ name: profile.name, binhostPath: profile.binhostPath, staging: `/staging/${profile.name}/`, production: `/binhost/${profile.name}/` })),
  }));
  app.get<{ Params: { profile: string } }>(`${API_PREFIX}/profiles/:profile/releases`, { config: { access: 'read' } }, async (request) => {
    const profile = profileOf(request.params.profile);
    return { profile: profile.name, ...(await options.releases.list(profile.binhostPath)) };
  });
  app.get<{ Params: { profile: string }; Querystring: { threshold?: string } }>(`${API_PREFIX}/profiles/:profile/verify`, { config: { access: 'read' } }, async (request) => {
    const threshold = request.query.threshold === undefined ? undefined : parseWith(z.coerce.number().int().min(0).max(100), request.query.threshold, 'threshold');
    return options.verify(profileOf(request.params.profile), threshold);
  });
  app.get<{ Params: { cycle: string; category: string; pf: string; attempt: string; drone: string } }>(
    `${API_PREFIX}/logs/:cycle/:category/:pf/:attempt/:drone`,
    { config: { access: 'read' } },
    async (request, reply) => {
      const file = logPath(options.data, logParams(request.params));
      return sendFrom(reply, dirname(file), basename(file), `No log of ${request.params.category}/${request.params.pf} attempt ${request.params.attempt} on ${request.params.drone} in cycle ${request.params.cycle}`);
    },
  );
  app.get<{ Querystring: { since?: string } }>(`${API_PREFIX}/events`, { config: { access: 'read' } }, async (request, reply) => {
    const since = request.query.since ?? (typeof request.headers['last-event-id'] === 'string' ? request.headers['last-event-id'] : '$');
    if (since !== '$' && since !== '0' && !/^\d+-\d+$/.test(since)) throw new ArgoError('ARGO_INVALID_INPUT', `Not a stream position: ${JSON.stringify(since)}`, { hint: 'since is $ (new events), 0 (all kept) or an event id.' });
    const registries = admitStream(request);
    reply.hijack();
    await streamSwarmEvents(options.redis, options.keys, request.raw, reply.raw, since, logger, registries);
  });
  app.get('/metrics', { config: { access: 'metrics' } }, async (_request, reply) => {
    void reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  // --- drones ---------------------------------------------------------------------------------------------
  app.put<{ Params: { profile: string; category: string; file: string } }>(
    `${API_PREFIX}/profiles/:profile/packages/:category/:file`,
    { config: { access: 'drone' } },
    async (request) => {
      const profile = profileOf(request.params.profile);
      const { category, file } = request.params;
      const lease = leaseOf(request);
      if (!CATEGORY.test(category)) throw new ArgoError('ARGO_INVALID_INPUT', `Not a category: ${JSON.stringify(category)}`, { hint: 'The upload path is /api/v1/profiles/PROFILE/packages/CATEGORY/PF[-N].gpkg.tar.' });
      const named = checkPackageName(lease.cpv, file);
      if (named.category !== category) throw new ArgoError('ARGO_INVALID_INPUT', `The upload path names category ${category} but the job is ${lease.cpv}`, { hint: 'Upload to the category of the job\'s CPV.' });
      const declared = request.headers['content-length'];
      if (declared !== undefined && Number(declared) > options.maxPackageBytes) {
        throw new ArgoError('ARGO_UPLOAD_TOO_LARGE', `${file} is ${declared} bytes, more than the gateway's limit of ${options.maxPackageBytes}`, { hint: 'Raise the gateway\'s --max-package-mb if the package is genuine.' });
      }
      await requireLeaseOf(options, lease, profile);
      const expected = headerOf(request, LEASE_HEADERS.sha256);
      const uploaded = await publishPackage({
        root: options.data,
        binhost: profile.binhostPath,
        cpv: lease.cpv,
        name: file,
        source: request.raw,
        lease,
        isLeaseCurrent: (current) => isLeaseCurrent(options.redis, options.keys, current),
        maxBytes: options.maxPackageBytes,
        ...(expected === undefined ? {} : { expectedSha256: expected }),
      });
      logEvent(logger, 'gateway.package-published', { profile: profile.name, cpv: lease.cpv, path: uploaded.path, size: uploaded.size, token: request.holder?.name ?? '' });
      return uploaded;
    },
  );
  app.put<{ Params: { cycle: string; category: string; pf: string; attempt: string; drone: string }; Body: Buffer }>(
    `${API_PREFIX}/logs/:cycle/:category/:pf/:attempt/:drone`,
    { config: { access: 'drone' }, bodyLimit: MAX_LOG_BYTES },
    async (request) => {
      const wanted = logParams(request.params);
      const file = logPath(options.data, wanted);
      const lease = leaseOf(request);
      if (lease.cycle !== wanted.cycle || lease.cpv !== wanted.cpv || lease.attempt !== wanted.attempt || lease.drone !== wanted.drone) {
        throw new ArgoError('ARGO_INVALID_INPUT', `The log of ${wanted.cpv} attempt ${wanted.attempt} on ${wanted.drone} does not match the lease of job ${lease.jobId} on ${lease.queue}`, { hint: 'A drone keeps the log of the attempt it holds.' });
      }
      await requireLeaseOf(options, lease, undefined);
      await keepLogFile(file, Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));
      const { cycle, category, pf, attempt, drone } = request.params;
      return { path: `${API_PREFIX}/logs/${[cycle, category, pf, attempt, drone].map(encodeURIComponent).join('/')}` };
    },
  );

  // --- admin ----------------------------------------------------------------------------------------------
  app.post<{ Params: { profile: string } }>(`${API_PREFIX}/profiles/:profile/finalize`, { config: { access: 'request' } }, async (request, reply) => {
    const profile = profileOf(request.params.profile);
    const body = parseWith(finalizeRequestSchema, request.body ?? {}, 'request body');
    if ((body.force !== undefined || body.threshold !== undefined) && (request.holder === undefined || !allows(request.holder, 'admin'))) {
      void reply.code(403);
      throw new ArgoError('ARGO_SWARM_UNAUTHORIZED', `The token ${request.holder?.name ?? ''} may publish only what verify passes`, { hint: 'force and threshold need a token with the admin scope.' });
    }
    if (body.threshold !== undefined && body.threshold > DEFAULT_VERIFY_THRESHOLD && body.force === undefined) {
      throw new ArgoError('ARGO_USAGE', `A threshold above ${DEFAULT_VERIFY_THRESHOLD} publishes what verify calls unsafe: it needs a reason`, { hint: 'Give force with the reason; it is kept in the release.' });
    }
    // A stanza written by an upload the gateway was killed in the middle of is listed before anything is judged.
    await rebuildStagingIndex(stagingFolder(options.data, profile.binhostPath));
    // Verify judges the very release finalize is about to publish, under its lock: no upload lands in between.
    let verify: VerifyReport | undefined;
    try {
      const release = await options.releases.finalize(profile.binhostPath, async (plan) => {
        verify = await options.verify(profile, body.threshold, plan);
        if (!verify.safe && body.force === undefined) throw new FinalizeRefused(verify);
        const forced = body.force === undefined ? undefined : `${body.force}${verify.safe ? '' : ` (score ${verify.score}, threshold ${verify.threshold})`}`;
        return { score: verify.score, cycle: verify.cycle, ...(forced === undefined ? {} : { forced }) };
      });
      if (verify === undefined) {
        // Nothing was staged since the current release: finalize did nothing, and says so.
        return { verify: await options.verify(profile, body.threshold), refused: false, release: { profile: profile.name, ...release, pruned: [...release.pruned] } };
      }
      logEvent(logger, 'gateway.finalized', { profile: profile.name, release: release.release, previous: release.previous ?? '', score: verify.score, forced: body.force ?? '', token: request.holder?.name ?? '' });
      return { verify, refused: false, release: { profile: profile.name, ...release, pruned: [...release.pruned] } };
    } catch (error) {
      if (!(error instanceof FinalizeRefused)) throw error;
      logEvent(logger, 'gateway.finalize-refused', { profile: profile.name, score: error.report.score, token: request.holder?.name ?? '' });
      return reply.code(409).send({ verify: error.report, refused: true });
    }
  });
  app.post<{ Params: { profile: string } }>(`${API_PREFIX}/profiles/:profile/cycles`, { config: { access: 'request' }, bodyLimit: 9 * 1024 * 1024 }, async (request) => {
    const profile = profileOf(request.params.profile);
    const body = parseWith(startCycleRequestSchema, request.body ?? {}, 'request body');
    if (options.cycles === undefined) {
      throw new ArgoError('ARGO_USAGE', 'This gateway starts no cycles: it was not given the repository the swarm builds from', { hint: 'Start the gateway with --md5-cache DIR (the repository\'s metadata/md5-cache), or run build-swarm fresh on a machine that has it.' });
    }
    const started = await startCycle({
      redis: options.redis,
      keys: options.keys,
      profile: profile.name,
      source: { kind: 'plan', file: `plan from ${request.holder?.name ?? 'a client'}`, md5Cache: options.cycles.md5Cache, text: body.plan },
      history: options.cycles.history,
      policy: 'critical-path',
      allowIncomplete: body.allowIncomplete ?? false,
    });
    logEvent(logger, 'gateway.cycle-started', { profile: profile.name, cycle: started.definition.id, packages: started.definition.nodes.length, token: request.holder?.name ?? '' });
    return { cycle: started.definition.id, profile: profile.name, packages: started.definition.nodes.length, diagnostics: started.diagnostics.length, alreadyRunning: started.alreadyRunning };
  });
  const queueCommand = async (command: OperatorCommand, request: FastifyRequest, reply: FastifyReply): Promise<{ command: string; queued: string }> => {
    const by = request.holder?.name ?? 'gateway';
    const id = await sendOperatorCommand(options.redis, options.keys, command, by);
    logEvent(logger, 'gateway.command-queued', { command: command.type, id, token: by });
    void reply.code(202);
    return { command: command.type, queued: id };
  };
  /** A drone that registered with the swarm; anything else is refused before it could reach a restart command. */
  const knownDrone = async (id: string): Promise<string> => {
    if (!SWARM_ID_PATTERN.test(id)) throw new ArgoError('ARGO_INVALID_INPUT', `Not a drone id: ${JSON.stringify(id)}`, { hint: 'A drone id is 1-63 letters, digits, dot, dash and underscore.' });
    if ((await options.redis.sismember(options.keys.drones, id)) === 1) return id;
    const known = (await options.redis.smembers(options.keys.drones)).sort();
    throw new ArgoError('ARGO_FILE_NOT_FOUND', `No drone ${id} ever registered with this swarm`, { hint: known.length === 0 ? 'No drone has registered yet.' : `Drones: ${known.join(', ')}.` });
  };
  app.post<{ Params: { drone: string } }>(`${API_PREFIX}/drones/:drone/ground`, { config: { access: 'admin' } }, async (request, reply) => {
    const body = parseWith(groundRequestSchema, request.body ?? {}, 'request body');
    return queueCommand({ type: 'ground', drone: await knownDrone(request.params.drone), minutes: body.minutes ?? 60, reason: body.reason ?? 'no reason given' }, request, reply);
  });
  app.post<{ Params: { drone: string } }>(`${API_PREFIX}/drones/:drone/unground`, { config: { access: 'admin' } }, async (request, reply) => queueCommand({ type: 'unground', drone: await knownDrone(request.params.drone) }, request, reply));
  app.post<{ Params: { drone: string } }>(`${API_PREFIX}/drones/:drone/restart`, { config: { access: 'admin' } }, async (request, reply) => queueCommand({ type: 'restart', drone: await knownDrone(request.params.drone) }, request, reply));
  app.delete<{ Params: { cycle: string } }>(`${API_PREFIX}/cycles/:cycle`, { config: { access: 'admin' } }, async (request, reply) => {
    const cycle = checkId(request.params.cycle, 'cycle');
    if ((await options.redis.sismember(options.keys.activeCycles, cycle)) === 0) throw new ArgoError('ARGO_FILE_NOT_FOUND', `No running cycle ${cycle}`, { hint: 'build-swarm status lists the running cycles.' });
    return queueCommand({ type: 'cancel-cycle', cycle }, request, reply);
  });
  app.delete<{ Params: { cycle: string; category: string; pf: string } }>(`${API_PREFIX}/cycles/:cycle/packages/:category/:pf`, { config: { access: 'admin' } }, async (request, reply) => {
    const cycle = checkId(request.params.cycle, 'cycle');
    const cpv = `${request.params.category}/${request.params.pf}`;
    if ((await options.redis.sismember(options.keys.activeCycles, cycle)) === 0) throw new ArgoError('ARGO_FILE_NOT_FOUND', `No running cycle ${cycle}`, { hint: 'build-swarm status lists the running cycles.' });
    if ((await options.redis.hexists(options.keys.packages(cycle), cpv)) === 0) throw new ArgoError('ARGO_FILE_NOT_FOUND', `Cycle ${cycle} has no package ${cpv}`, { hint: 'build-swarm status lists the cycles and their packages.' });
    return queueCommand({ type: 'cancel-package', cycle, cpv }, request, reply);
  });
  app.post(`${API_PREFIX}/reset`, { config: { access: 'admin' } }, async (request, reply) => queueCommand({ type: 'reset' }, request, reply));
  app.post(`${API_PREFIX}/sync`, { config: { access: 'admin' } }, async (request, reply) => {
    const body = parseWith(syncRequestBodySchema, request.body ?? {}, 'request body');
    if (body.profile !== undefined) profileOf(body.profile);
    const running = (await runningCyclesOf(options.redis, options.keys, body.profile)).map((cycle) => `${cycle.id} (${cycle.profile})`);
    if (running.length > 0 && body.force !== true) {
      throw new ArgoError('ARGO_CYCLE_ACTIVE', `A cycle is running: ${running.join(', ')}; syncing now would change the tree under its builds`, { hint: 'Wait for it to finish (build-swarm status), cancel it, or sync anyway with --force.' });
    }
    const drones = (await readSwarmState(options.redis, options.keys, { cycles: 0 })).drones.filter((drone) => drone.state !== 'offline' && (body.profile === undefined || drone.profiles.includes(body.profile))).map((drone) => drone.id);
    const by = request.holder?.name ?? 'gateway';
    const budgetSeconds = body.budgetSeconds ?? 1800;
    const id = await sendSyncRequest(options.redis, options.keys, { type: 'sync', budgetSeconds, ...(body.profile === undefined ? {} : { profile: body.profile }), ...(body.force === true ? { force: true } : {}) }, by);
    logEvent(logger, 'gateway.command-queued', { command: 'sync', id, token: by });
    void reply.code(202);
    return { command: 'sync', queued: id, drones, budgetSeconds };
  });
  app.get<{ Params: { cycle: string; category: string; pf: string } }>(`${API_PREFIX}/cycles/:cycle/packages/:category/:pf`, { config: { access: 'read' } }, async (request) => {
    const cycle = checkId(request.params.cycle, 'cycle');
    const cpv = `${request.params.category}/${request.params.pf}`;
    const json = await options.redis.hget(options.keys.packages(cycle), cpv);
    if (json === null) throw new ArgoError('ARGO_FILE_NOT_FOUND', `Cycle ${cycle} has no package ${cpv}`, { hint: 'build-swarm status lists the cycles and their packages.' });
    return { cycle, ...(JSON.parse(json) as Record<string, unknown>) };
  });
  app.post<{ Params: { profile: string } }>(`${API_PREFIX}/profiles/:profile/rollback`, { config: { access: 'admin' } }, async (request) => {
    const profile = profileOf(request.params.profile);
    const body = parseWith(rollbackRequestSchema, request.body ?? {}, 'request body');
    const switched = await options.releases.rollback(profile.binhostPath, body.to);
    logEvent(logger, 'gateway.rolled-back', { profile: profile.name, release: switched.release, previous: switched.previous ?? '', token: request.holder?.name ?? '' });
    return { profile: profile.name, ...switched };
  });

  return app;
}

/** The bearer token (or Basic auth's password) of a request, looked up. */
function authenticate(request: FastifyRequest, tokens: TokenTable): TokenHolder | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const [scheme, value] = header.split(' ', 2);
  if (value === undefined) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return tokens.authenticate(value.trim());
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? undefined : tokens.authenticate(decoded.slice(colon + 1));
  }
  return undefined;
}

/** What a binhost serves: its index and its packages; nothing else the folder holds (stanzas, release.json). */
const BINHOST_FILE = /^(?:Packages|Packages\.gz|[^/]+\/[^/]+\/[^/]+\.gpkg\.tar|[^/]+\/[^/]+\.gpkg\.tar)$/;

/** A path below a binhost: plain segments only (no `..`, `.`, empty, NUL, backslash, or a leading dot). */
function checkRelativePath(path: string): string {
  const segments = path.split('/');
  if (path === '' || path.length > 1024 || segments.some((segment) => !PATH_SEGMENT.test(segment)) || !BINHOST_FILE.test(path)) {
    throw new ArgoError('ARGO_INVALID_INPUT', `Not a binhost path: ${JSON.stringify(path)}`, { hint: 'Ask for Packages, Packages.gz or CATEGORY/PN/PF-N.gpkg.tar.' });
  }
  return path;
}

/** Sends `root/path` when it is a regular file inside root (no symlink leading out of it). */
async function sendFrom(reply: FastifyReply, root: string, path: string, missing?: string): Promise<FastifyReply> {
  const notHere = (): ArgoError => (missing === undefined ? notFound(path) : new ArgoError('ARGO_FILE_NOT_FOUND', missing, { hint: 'The package record (GET /api/v1/cycles/C/packages/CAT/PF) lists the logs each attempt kept.' }));
  const served = await servedFile(root, path);
  if (served === undefined) throw notHere();
  return reply.sendFile(served.path, served.root, { dotfiles: 'deny', cacheControl: false });
}

function checkId(value: string, what: string): string {
  if (!CYCLE_ID_PATTERN.test(value)) throw new ArgoError('ARGO_INVALID_INPUT', `Not a ${what} id: ${JSON.stringify(value)}`, { hint: `A ${what} id is letters, digits, dot, dash and underscore.` });
  return value;
}

function notFound(path: string): ArgoError {
  return new ArgoError('ARGO_FILE_NOT_FOUND', `${path} is not here`, { hint: 'List the binhost\'s Packages for what it holds.' });
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The lease an upload carries, checked for shape before anything reads Redis with it: the queue is a drone's,
 * the job id is the one the leader gives the CPV's attempt in that cycle (`<cycle>:<cpv>:<attempt>`).
 */
function leaseOf(request: FastifyRequest): LeaseToken & { readonly attempt: number; readonly drone: string } {
  const values = {
    cpv: headerOf(request, LEASE_HEADERS.cpv),
    queue: headerOf(request, LEASE_HEADERS.queue),
    jobId: headerOf(request, LEASE_HEADERS.job),
    token: headerOf(request, LEASE_HEADERS.lock),
    cycle: headerOf(request, LEASE_HEADERS.cycle),
  };
  const missing = Object.entries(values).filter(([, value]) => value === undefined).map(([key]) => key);
  if (missing.length > 0) throw new ArgoError('ARGO_INVALID_INPUT', `The request carries no lease (${missing.join(', ')} missing)`, { hint: 'Uploads come from a drone holding the job: it sends the job\'s lease in x-argo-* headers.' });
  const { cpv, queue, jobId, token, cycle } = values as Record<keyof typeof values, string>;
  const drone = queue.startsWith('build-') ? queue.slice('build-'.length) : '';
  const attempt = jobId.startsWith(`${cycle}:${cpv}:`) ? jobId.slice(`${cycle}:${cpv}:`.length) : '';
  if (!tryParseCpv(cpv).ok || !SWARM_ID_PATTERN.test(drone) || !CYCLE_ID_PATTERN.test(cycle) || !/^[1-9]\d{0,5}$/.test(attempt) || !/^[A-Za-z0-9:_-]{1,128}$/.test(token)) {
    throw new ArgoError('ARGO_INVALID_INPUT', 'The lease headers are malformed', { hint: 'x-argo-queue is build-<drone>, x-argo-job is <cycle>:<cpv>:<attempt>, as the drone\'s BullMQ job names them.' });
  }
  return { cpv, queue, jobId, token, cycle, attempt: Number(attempt), drone };
}

/** The lease must be current and its cycle the profile's: a drone holds a job of one profile's cycle. */
async function requireLeaseOf(options: GatewayOptions, lease: LeaseToken, profile: ProfileSettings | undefined): Promise<void> {
  const [cycleProfile, current] = await Promise.all([options.redis.hget(options.keys.cycle(lease.cycle), 'profile'), isLeaseCurrent(options.redis, options.keys, lease)]);
  if (cycleProfile === null || (profile !== undefined && cycleProfile !== profile.name)) {
    throw new ArgoError('ARGO_INVALID_INPUT', `Cycle ${lease.cycle} is ${cycleProfile === null ? 'not one of this swarm' : `of profile ${cycleProfile}`}${profile === undefined ? '' : `, not ${profile.name}`}`, { hint: 'A drone publishes a job\'s package into the staging binhost of the job\'s profile.' });
  }
  if (!current) {
    throw new ArgoError('ARGO_LEASE_LOST', `Job ${lease.jobId} is not this drone's (its lock token is not the drone's, or the cycle's record names another job)`, { hint: 'Nothing to do when the build was handed to another drone; otherwise the drone is sending a lease it never held.' });
  }
}

function logParams(params: { cycle: string; category: string; pf: string; attempt: string; drone: string }): { cycle: string; cpv: string; attempt: number; drone: string } {
  if (!/^[1-9]\d{0,5}$/.test(params.attempt)) throw new ArgoError('ARGO_INVALID_INPUT', `Not an attempt number: ${JSON.stringify(params.attempt)}`, { hint: 'Attempts count from 1.' });
  return { cycle: params.cycle, cpv: `${params.category}/${params.pf}`, attempt: Number(params.attempt), drone: params.drone };
}


function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ArgoError('ARGO_INVALID_INPUT', `The ${what} is invalid: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`, { hint: 'See docs/gateway.md for the API.' });
}

/**
 * A build drone: one BullMQ Worker on its own queue (`build-<id>`), `slots` builds at a time. Each build runs
 * `emerge --oneshot --buildpkg --usepkg --getbinpkg =CPV` in the profile's root (PORTAGE_CONFIGROOT and ROOT),
 * dependencies coming as binaries from the profile's staging binhost, through the System runner: a process group
 * with a time budget and an inactivity watchdog. Output goes to the attempt's log and, batched, to BullMQ
 * progress events. The binary package is handed to the gateway with the job's lease token.
 *
 * The emerge is killed (its whole process group) when BullMQ cannot renew the job's lock (another drone may get
 * it), when the job is cancelled, and when a drain runs out of time. SIGTERM drains: no new job is taken, the
 * running builds finish within `drainMs` or are handed back (an infrastructure failure: rebuilt elsewhere, never
 * counted against the package).
 */

import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import pTimeout from 'p-timeout';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CYCLE_ID_PATTERN } from '../core/swarm/cycle-model.ts';
import { redactSecretsInText } from '../core/redact-secrets.ts';
import { ArgoError } from '../core/errors.ts';
import { tryParseCpv } from '../core/gentoo/parse-cpv.ts';
import { logEvent } from '../core/log-events.ts';
import { findBuiltPackage, openBuildLog, profilePkgdir, type BuildLog } from '../system/drone-files.ts';
import type { ArtifactGateway, LeaseToken, UploadInput, Uploaded } from '../system/file-gateway.ts';
import type { CommandRunner } from '../system/run-command.ts';
import { failureReason, type BuildJobData, type BuildResult, type FailureCode } from './build-outcome.ts';
import { heartbeat, markDraining, registerDrone, signOff } from './drone-registry.ts';
import { serveDroneRequests, watchLeases } from './drone-requests.ts';
import { bullConnection, connectRedis, type RedisEndpoint } from './redis-connection.ts';
import { droneQueueName, swarmKeys, type SwarmKeys } from './swarm-keys.ts';

export interface DroneProfile {
  readonly name: string;
  readonly use: string;
  readonly makeConf: Readonly<Record<string, string>>;
  readonly binhostPath: string;
}

export interface DroneOptions {
  readonly id: string;
  readonly cores: number;
  readonly slots: number;
  readonly sweeper: boolean;
  /** The profiles this drone builds, each in `<root>/<name>`. */
  readonly profiles: readonly DroneProfile[];
  readonly root: string;
  readonly logDir: string;
  readonly endpoint: RedisEndpoint;
  readonly prefix: string;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly heartbeatMs: number;
  /** The heartbeat key's TTL: offline after this long without one. */
  readonly offlineAfterMs: number;
  readonly buildBudgetMs: number;
  readonly inactivityMs: number;
  readonly drainMs: number;
  readonly emergeCommand: readonly string[];
  /** The gateway drones upload to; it may check leases through Redis. */
  readonly gateway: (redis: Redis, keys: SwarmKeys) => ArtifactGateway;
  readonly runner: CommandRunner;
  readonly logger: Logger;
  /** Aborted by SIGTERM/SIGINT: drain and stop. */
  readonly signal: AbortSignal;
}

const jobDataSchema = z.object({
  cycle: z.string().regex(CYCLE_ID_PATTERN),
  profile: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
  cpv: z.string().min(3).max(256),
  attempt: z.number().int().positive(),
  epoch: z.number().int().positive(),
});

/** How long a stopping drone waits past its drain for BullMQ to let go. */
const STOP_GRACE_MS = 15_000;

/** How often output lines are published as BullMQ progress. */
const PROGRESS_EVERY_MS = 1_000;
/** Lines per BullMQ progress event (the newest; the whole output goes to the job's output stream). */
const PROGRESS_LINES = 20;
/** Lines per entry of a job's output stream, entries kept per job, and how long the stream outlives its last entry. */
const OUTPUT_LINES = 200;
const OUTPUT_KEEP = 500;
const OUTPUT_TTL_SECONDS = 2 * 24 * 3600;

export async function runDrone(options: DroneOptions): Promise<void> {
  const { logger, id } = options;
  const keys = swarmKeys(options.prefix);
  const redis = await connectRedis(options.endpoint, 'commands', logger, `argo-drone-${id}`);
  const registration = {
    id,
    cores: options.cores,
    slots: options.slots,
    sweeper: options.sweeper,
    profiles: options.profiles.map((profile) => profile.name),
    host: hostname(),
    pid: process.pid,
    startedAt: Date.now(),
  };
  await registerDrone(redis, keys, registration, options.offlineAfterMs);
  const superseded = new AbortController();
  const beat = setInterval(() => {
    heartbeat(redis, keys, id, `${registration.host}:${registration.pid}`, options.offlineAfterMs).then(
      (held) => {
        if (held || superseded.signal.aborted) return;
        logEvent(logger, 'swarm.id-taken', { drone: id });
        superseded.abort('another drone holds this id now');
      },
      (error: unknown) => logEvent(logger, 'swarm.redis-error', { source: 'heartbeat' }, { err: error }),
    );
  }, options.heartbeatMs);

  const queueName = droneQueueName(id);
  const gateway = options.gateway(redis, keys);
  // A drone killed outright (OOM, kill -9) must not leave its emerge building on: each one runs under setpriv with
  // PR_SET_PDEATHSIG, so the kernel kills it with the drone. Without setpriv (util-linux) the drone says so.
  const guarded = await options.runner.run('setpriv', ['--help'], { mutates: false, budgetMs: 10_000 }).then(
    () => true,
    () => false,
  );
  const emergeCommand = guarded ? ['setpriv', '--pdeathsig', 'KILL', '--', ...options.emergeCommand] : [...options.emergeCommand];
  const withCommand: DroneOptions = { ...options, emergeCommand };
  const held = new Map<string, LeaseToken>();
  // Builds past `>>> Merging`/`>>> Installing`: stopping emerge there could leave a half-merged package in the
  // profile root that every later build on this drone would start from; such a build finishes (its upload is
  // refused when its lease is gone).
  const merging = new Set<string>();
  // Every line of a build, for `build-swarm logs --follow` and the live views (src/gateway/build-output.ts).
  const output = (jobId: string, lines: readonly string[]): void => {
    const key = keys.output(jobId);
    const multi = redis.multi();
    for (let index = 0; index < lines.length; index += OUTPUT_LINES) multi.xadd(key, 'MAXLEN', '~', String(OUTPUT_KEEP), '*', 'lines', JSON.stringify(lines.slice(index, index + OUTPUT_LINES)));
    multi.expire(key, OUTPUT_TTL_SECONDS);
    multi.exec().catch(() => undefined);
  };
  const worker = new Worker<BuildJobData, BuildResult>(queueName, (job, token, signal) => build(withCommand, gateway, queueName, job, token, signal, held, output, merging), {
    connection: bullConnection(options.endpoint, 'blocking', logger, `argo-drone-worker-${id}`),
    prefix: keys.bullPrefix,
    concurrency: options.slots,
    lockDuration: options.lockDurationMs,
    stalledInterval: options.stalledIntervalMs,
    maxStalledCount: 1,
    autorun: false,
  });
  worker.on('error', (error: unknown) => logEvent(logger, 'swarm.redis-error', { source: 'drone' }, { err: error }));
  worker.on('lockRenewalFailed', (jobIds: string[]) => {
    for (const jobId of jobIds) {
      logEvent(logger, 'swarm.lease-lost', { drone: id, jobId });
      worker.cancelJob(jobId, 'the job lease was lost');
    }
  });
  logEvent(logger, 'swarm.drone-started', { drone: id, cores: options.cores, slots: options.slots, sweeper: options.sweeper, profiles: registration.profiles, url: options.endpoint.shownUrl, buildsDieWithDrone: guarded });
  const running = worker.run();
  // A reset or a cancel takes builds back by rewriting their records: stop their emerges at once.
  const stopWatching = watchLeases(redis, keys, held, (jobId) => {
    if (merging.has(jobId)) return;
    logEvent(logger, 'swarm.build-taken-back', { drone: id, jobId });
    worker.cancelJob(jobId, 'the swarm took this build back (reset or cancel)');
  });
  const requestsStopped = new AbortController();
  const requests = serveDroneRequests({
    id,
    redis,
    keys,
    profiles: options.profiles.map((profile) => ({ name: profile.name, root: join(options.root, profile.name) })),
    emergeCommand,
    runner: options.runner,
    logger,
    signal: requestsStopped.signal,
    building: () => held.size,
  }).catch((error: unknown) => logEvent(logger, 'swarm.redis-error', { source: 'drone' }, { err: error }));

  const stop = AbortSignal.any([options.signal, superseded.signal]);
  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener('abort', () => resolve(), { once: true });
  });
  logEvent(logger, 'swarm.draining', { drone: id, drainMs: options.drainMs });
  if (!superseded.signal.aborted) await markDraining(redis, keys, id).catch((error: unknown) => logEvent(logger, 'swarm.redis-error', { source: 'drone' }, { err: error }));
  const drained = worker.close();
  const timer = setTimeout(() => {
    logEvent(logger, 'swarm.drain-timed-out', { drone: id });
    worker.cancelAllJobs('the drone is shutting down');
  }, options.drainMs);
  try {
    // Past the drain and a grace period (with Redis away, BullMQ would wait for it to hand the job back) the
    // drone stops anyway: its builds are killed, and BullMQ's stall check returns their jobs.
    await pTimeout(Promise.all([drained, running]), {
      milliseconds: options.drainMs + STOP_GRACE_MS,
      fallback: () => {
        logEvent(logger, 'swarm.stop-forced', { drone: id });
        void worker.close(true).catch(() => undefined);
        void worker.disconnect().catch(() => undefined);
        return [undefined, undefined] as const;
      },
    });
  } finally {
    clearTimeout(timer);
    clearInterval(beat);
    stopWatching();
    requestsStopped.abort();
    await requests;
    await signOff(redis, keys, id, `${registration.host}:${registration.pid}`).catch(() => undefined);
    redis.disconnect();
    logEvent(logger, 'swarm.drone-stopped', { drone: id });
  }
}

async function build(options: DroneOptions, gateway: ArtifactGateway, queueName: string, job: Job<BuildJobData, BuildResult>, token: string | undefined, signal: AbortSignal | undefined, held: Map<string, LeaseToken>, output: (jobId: string, lines: readonly string[]) => void, merging: Set<string>): Promise<BuildResult> {
  const { logger, id } = options;
  const data = jobDataSchema.safeParse(job.data);
  const cpv = data.success ? tryParseCpv(data.data.cpv) : undefined;
  if (!data.success || cpv === undefined || !cpv.ok) throw interrupted('ARGO_JOB_INVALID', { reason: `job ${job.id ?? ''} carries invalid data; refused` });
  const { cycle, cpv: atom, attempt } = data.data;
  const lease: LeaseToken = { queue: queueName, jobId: job.id ?? '', token: token ?? '', cycle, cpv: atom };
  const profile = options.profiles.find((candidate) => candidate.name === data.data.profile);
  if (profile === undefined) throw interrupted('ARGO_BUILD_INTERRUPTED', { reason: `drone ${id} does not build profile ${data.data.profile}` });
  const root = join(options.root, profile.name);
  const started = Date.now();
  if (job.id !== undefined) held.set(job.id, lease);
  const seconds = (): number => (Date.now() - started) / 1000;
  let log: BuildLog | undefined;
  let progress: NodeJS.Timeout | undefined;
  let pending: string[] = [];
  const publish = (): void => {
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    if (job.id !== undefined) output(job.id, lines);
    job.updateProgress({ at: Date.now(), lines: lines.slice(-PROGRESS_LINES) }).catch(() => undefined);
  };
  try {
    // Anything that fails before emerge runs is this drone's trouble (a full disk, a bad folder), not the package's.
    let env: Record<string, string>;
    let pkgdir: string;
    try {
      log = await openBuildLog(join(options.logDir, cycle, cpv.value.category, cpv.value.pf, `${attempt}.log`));
      // PKGDIR is a host path, never relative to ROOT: give emerge the profile root's own, so that profiles and
      // the drone's host never share one.
      pkgdir = join(root, await profilePkgdir(root, profile.makeConf.PKGDIR));
      env = {
        ...(process.env as Record<string, string>),
        LC_ALL: 'C',
        ...profile.makeConf,
        PORTAGE_CONFIGROOT: root,
        ROOT: root,
        PKGDIR: pkgdir,
        USE: profile.use,
        PORTAGE_BINHOST: gateway.stagingUrl(profile.binhostPath),
      };
    } catch (error) {
      throw interrupted('ARGO_DRONE_SETUP_FAILED', { reason: `drone ${id} could not prepare the build: ${error instanceof Error ? error.message : String(error)}` });
    }
    const buildLog = log;
    progress = setInterval(publish, PROGRESS_EVERY_MS);
    logEvent(logger, 'swarm.build-running', { drone: id, cycle, cpv: atom, attempt, log: buildLog.path });
    buildLog.append(`>>> argo drone ${id}: ${atom} (cycle ${cycle}, attempt ${attempt}, profile ${profile.name}) at ${new Date(started).toISOString()}`);
    const [program, ...prefixArgs] = options.emergeCommand as [string, ...string[]];
    try {
      // --usepkg-exclude: the target itself is built, never taken from a binhost that has an older build of it.
      await options.runner.run(program, [...prefixArgs, '--oneshot', '--buildpkg', '--usepkg', '--getbinpkg', '--usepkg-exclude', cpv.value.cp, `=${atom}`], {
        ...(signal === undefined ? {} : { signal }),
        budgetMs: options.buildBudgetMs,
        inactivityMs: options.inactivityMs,
        env,
        onLine: (raw) => {
          // The staging URL carries the drone's token; a line that prints it (Portage's "Invalid Portage BINHOST
          // value" does) must not reach the log the gateway keeps and serves.
          const line = redactSecretsInText(raw);
          if (job.id !== undefined && (line.startsWith('>>> Merging') || line.startsWith('>>> Installing ('))) merging.add(job.id);
          buildLog.append(line);
          pending.push(line);
        },
      });
    } catch (error) {
      const code = error instanceof ArgoError ? error.code : 'ARGO_COMMAND_FAILED';
      buildLog.append(`>>> argo drone ${id}: emerge ended: ${error instanceof Error ? error.message : String(error)}`);
      if (signal?.aborted === true || code === 'ARGO_INTERRUPTED') {
        throw interrupted('ARGO_BUILD_INTERRUPTED', { reason: `the build was stopped: ${String(signal?.reason ?? 'interrupted')}`, seconds: seconds() });
      }
      const kept = await keepLog(options, gateway, { cycle, cpv: atom, attempt, file: buildLog.path, lease }, buildLog);
      throw new UnrecoverableError(failureReason('ARGO_BUILD_FAILED', { reason: error instanceof Error ? error.message : String(error), log: kept, seconds: seconds() }));
    }
    const binary = await findBuiltPackage(pkgdir, atom, started);
    if (binary?.stanza === undefined) {
      const reason =
        binary === undefined
          ? `no binary package of ${atom} in ${pkgdir} after the build (is FEATURES=buildpkg honoured?)`
          : `${binary.file} is not listed in ${join(pkgdir, 'Packages')}, so no client could find it`;
      buildLog.append(`>>> argo drone ${id}: ${reason}`);
      const kept = await keepLog(options, gateway, { cycle, cpv: atom, attempt, file: buildLog.path, lease }, buildLog);
      throw new UnrecoverableError(failureReason('ARGO_NO_BINARY', { reason, log: kept, seconds: seconds() }));
    }
    const uploaded = await uploadWithRetry(options, gateway, {
      binhost: profile.binhostPath,
      cpv: atom,
      file: binary.file,
      lease,
    }, seconds, signal);
    const kept = await keepLog(options, gateway, { cycle, cpv: atom, attempt, file: buildLog.path, lease }, buildLog);
    logEvent(logger, 'swarm.build-uploaded', { drone: id, cycle, cpv: atom, attempt, path: uploaded.path, size: uploaded.size, seconds: seconds() });
    return { cpv: atom, drone: id, path: uploaded.path, sha256: uploaded.sha256, size: uploaded.size, buildId: binary.buildId, seconds: seconds(), log: kept };
  } finally {
    if (job.id !== undefined) {
      held.delete(job.id);
      merging.delete(job.id);
    }
    if (progress !== undefined) clearInterval(progress);
    publish();
    await log?.close();
  }
}

/**
 * A finished build is worth keeping: the upload is retried with backoff for as long as the job's lock may still
 * be ours (lockDuration), and given up at once only when the lease is gone or the input is refused.
 */
async function uploadWithRetry(options: DroneOptions, gateway: ArtifactGateway, input: UploadInput, seconds: () => number, signal: AbortSignal | undefined): Promise<Uploaded> {
  const deadline = Date.now() + options.lockDurationMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await gateway.upload(input);
    } catch (error) {
      const code = error instanceof ArgoError ? error.code : undefined;
      const reason = error instanceof Error ? error.message : String(error);
      const final = code === 'ARGO_LEASE_LOST' || code === 'ARGO_INVALID_INPUT' || signal?.aborted === true || Date.now() >= deadline;
      logEvent(options.logger, 'swarm.upload-failed', { drone: options.id, cpv: input.cpv, attempt, reason, final }, { err: error });
      if (final) throw interrupted('ARGO_UPLOAD_FAILED', { reason, seconds: seconds() });
      await delay(Math.min(5_000, 250 * 2 ** attempt), undefined, signal === undefined ? {} : { signal }).catch(() => undefined);
    }
  }
}

/** Copies the attempt's log to the gateway; the local path when that fails (it is kept either way). */
async function keepLog(options: DroneOptions, gateway: ArtifactGateway, input: { cycle: string; cpv: string; attempt: number; file: string; lease: LeaseToken }, log: BuildLog): Promise<string> {
  await log.close();
  try {
    return await gateway.storeLog({ ...input, drone: options.id });
  } catch (error) {
    logEvent(options.logger, 'swarm.log-not-kept', { drone: options.id, cpv: input.cpv, log: input.file }, { err: error });
    return input.file;
  }
}

function interrupted(code: FailureCode, detail: { reason: string; seconds?: number }): Error {
  return new Error(failureReason(code, detail));
}

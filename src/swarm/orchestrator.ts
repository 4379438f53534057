/**
 * The orchestrator: any number run, one leads (leader-lease.ts). The leader keeps each cycle's DAG and package
 * records, hands *ready* packages to drones by the shared policy (dispatch-policy.ts), and turns the outcome of
 * every BullMQ job into the next state. Only the leader writes package records and breakers, each write fenced
 * by its epoch. A standby only tries to take the lease.
 *
 * Every dispatch is written ahead: the record names the drone and the job id before the job is added, so a new
 * leader finds every job the old one may have added (same id: adding it again is a no-op in BullMQ).
 *
 * BullMQ owns leases (job locks renewed by the drone's Worker), stalled-job recovery and events. Because the
 * stall check only runs inside Workers, the leader runs one on every drone queue (a Worker that never takes a
 * job): a dead drone's build returns to `wait` within lockDuration + stalledInterval, and the leader then takes
 * it out of the dead drone's queue and dispatches it elsewhere.
 */

import { setTimeout as delay } from 'node:timers/promises';
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import pTimeout from 'p-timeout';
import type { Logger } from 'pino';
import { ArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import {
  blockDependents,
  cycleGraph,
  failedOn,
  infrastructureBackoff,
  isCycleFinished,
  releaseDependents,
  type CycleDefinition,
  type CycleGraph,
  type PackageRecord,
} from '../core/swarm/cycle-model.ts';
import { DEFAULT_AGING, planDispatch, priorityKey, type DispatchJob, type DispatchSlot } from '../core/swarm/dispatch-policy.ts';
import { CLOSED_BREAKER, breakerPhase, recordOutcome, type BreakerSettings, type BreakerState } from '../core/swarm/drone-breaker.ts';
import type { CommandRunner } from '../system/run-command.ts';
import { parseFailure, type BuildJobData, type BuildResult } from './build-outcome.ts';
import { activeCycleIds, finishCycle, readCycle, readRecords, recordDuration, writeRecords } from './cycle-store.ts';
import { listDrones, writeBreaker, type DroneView } from './drone-registry.ts';
import { acquireLease, fencedHset, releaseLease, renewLease, type Lease } from './leader-lease.ts';
import { readOperatorCommands, type OperatorCommand } from './operator-commands.ts';
import { bullConnection, connectRedis, type RedisEndpoint } from './redis-connection.ts';
import { appendSwarmEvent, appendSwarmEvents } from './swarm-events.ts';
import { LEASE_CHECK_MS } from './drone-requests.ts';
import { buildJobId, droneQueueName, swarmKeys, type SwarmKeys } from './swarm-keys.ts';

/** Commands that act on the work of the moment, and how long after being asked they still may. */
const EXPIRING_COMMANDS: ReadonlySet<OperatorCommand['type']> = new Set(['reset', 'cancel-package', 'cancel-cycle']);
const COMMAND_EXPIRES_MS = 5 * 60_000;

export interface OrchestratorOptions {
  readonly id: string;
  readonly endpoint: RedisEndpoint;
  readonly prefix: string;
  readonly leaseTtlMs: number;
  readonly maintenanceIntervalMs: number;
  readonly staleTaskMs: number;
  readonly breaker: BreakerSettings;
  /** Drone id (or `*`) → argv; `{drone}` in an argument is replaced by the drone's id. */
  readonly restartCommands: Readonly<Record<string, readonly string[]>>;
  readonly restartBudgetMs: number;
  /** A package fails for good after failing on this many drones (or on every drone of its profile). */
  readonly maxAttempts: number;
  readonly infraRetryBaseMs: number;
  readonly infraRetryMaxMs: number;
  /** The stall check on each drone queue (BullMQ's `stalledInterval`); the drones' lockDuration must match. */
  readonly stalledIntervalMs: number;
  /** Fallback period of the dispatch loop; events wake it sooner. Default 1 s. */
  readonly tickMs?: number;
  readonly logger: Logger;
  readonly runner: CommandRunner;
  readonly signal: AbortSignal;
}

/** Runs until `signal` aborts: stands by, leads when it holds the lease, stands by again when it loses it. */
export async function runOrchestrator(options: OrchestratorOptions): Promise<void> {
  const { logger, signal } = options;
  const keys = swarmKeys(options.prefix);
  const redis = await connectRedis(options.endpoint, 'commands', logger, `argo-orchestrator-${options.id}`);
  logEvent(logger, 'swarm.orchestrator-started', { id: options.id, url: options.endpoint.shownUrl });
  try {
    while (!signal.aborted) {
      let lease: Lease | undefined;
      try {
        lease = await acquireLease(redis, keys, options.id, options.leaseTtlMs);
      } catch (error) {
        logEvent(logger, 'swarm.redis-error', { source: 'orchestrator' }, { err: error });
      }
      if (lease === undefined) {
        await sleep(Math.max(200, Math.floor(options.leaseTtlMs / 5)), signal);
        continue;
      }
      logEvent(logger, 'swarm.leading', { id: options.id, epoch: lease.epoch });
      await appendSwarmEvent(redis, keys, { type: 'leader', orchestrator: options.id, epoch: lease.epoch }).catch(() => undefined);
      const reason = await new Leadership(options, redis, keys, lease).lead();
      logEvent(logger, 'swarm.standing-by', { id: options.id, epoch: lease.epoch, reason });
      if (signal.aborted) await releaseLease(redis, keys, lease).catch(() => undefined);
    }
  } finally {
    redis.disconnect();
  }
}

interface LoadedCycle {
  readonly definition: CycleDefinition;
  readonly graph: CycleGraph;
  readonly records: Map<string, PackageRecord>;
  startedAt: number | undefined;
}

interface DroneQueue {
  readonly queue: Queue<BuildJobData, BuildResult>;
  readonly events: QueueEvents;
  readonly checker: Worker<BuildJobData, BuildResult>;
}

/** Longest time between two full reconciliations while events keep coming. */
const FULL_RECONCILE_MS = 5_000;
/** Longest time between two reads of the drones and of the active cycles while events keep coming. */
const REFRESH_MS = 1_000;

interface Inspection {
  readonly job: Job<BuildJobData, BuildResult> | undefined;
  readonly state?: string;
}

interface ReadyJob extends DispatchJob {
  readonly cycle: LoadedCycle;
  readonly record: PackageRecord;
  readonly key: number;
}

class Leadership {
  readonly #options: OrchestratorOptions;
  readonly #redis: Redis;
  readonly #keys: SwarmKeys;
  readonly #lease: Lease;
  readonly #stop = new AbortController();
  readonly #cycles = new Map<string, LoadedCycle>();
  readonly #queues = new Map<string, DroneQueue>();
  readonly #breakers = new Map<string, BreakerState>();
  readonly #offline = new Set<string>();
  #drones = new Map<string, DroneView>();
  /** Jobs named by BullMQ events since the last step. */
  readonly #dirty = new Set<string>();
  #nextFullReconcile = 0;
  #nextRefresh = 0;
  #wake: (() => void) | undefined;
  #woken = false;
  /** The id of the last operator command applied; read from Redis when leadership begins. */
  #commandsCursor: string | undefined;

  constructor(options: OrchestratorOptions, redis: Redis, keys: SwarmKeys, lease: Lease) {
    this.#options = options;
    this.#redis = redis;
    this.#keys = keys;
    this.#lease = lease;
  }

  get #logger(): Logger {
    return this.#options.logger;
  }

  /** Leads until the lease is lost, a write is fenced, or the orchestrator stops; returns why it stopped. */
  async lead(): Promise<string> {
    const { signal, leaseTtlMs } = this.#options;
    const onAbort = (): void => this.#stop.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let lastRenewal = Date.now();
    const renewal = setInterval(() => {
      renewLease(this.#redis, this.#keys, this.#lease, leaseTtlMs).then(
        (held) => {
          if (held) lastRenewal = Date.now();
          else this.#stop.abort('the lease was taken by another orchestrator');
        },
        () => {
          if (Date.now() - lastRenewal >= leaseTtlMs) this.#stop.abort('the lease could not be renewed within its TTL');
        },
      );
    }, Math.max(100, Math.floor(leaseTtlMs / 3)));
    let nextMaintenance = Date.now() + this.#options.maintenanceIntervalMs;
    try {
      while (!this.#stop.signal.aborted) {
        try {
          // A step waits on Redis; losing the lease (or Redis) meanwhile must still end the leadership.
          await pTimeout(this.#step(), { milliseconds: Number.POSITIVE_INFINITY, signal: this.#stop.signal });
          if (Date.now() >= nextMaintenance) {
            nextMaintenance = Date.now() + this.#options.maintenanceIntervalMs;
            await pTimeout(this.#maintain(), { milliseconds: Number.POSITIVE_INFINITY, signal: this.#stop.signal });
          }
        } catch (error) {
          if (this.#stop.signal.aborted) break;
          if (error instanceof ArgoError && error.code === 'ARGO_FENCED') {
            logEvent(this.#logger, 'swarm.fenced', { id: this.#lease.id, epoch: this.#lease.epoch });
            this.#stop.abort('a write was refused: another orchestrator leads');
            break;
          }
          logEvent(this.#logger, 'swarm.step-failed', { id: this.#lease.id }, { err: error });
          await sleep(1_000, this.#stop.signal);
        }
        await this.#idle(this.#options.tickMs ?? 1_000);
      }
      return String(this.#stop.signal.reason ?? 'stopped');
    } finally {
      clearInterval(renewal);
      signal.removeEventListener('abort', onAbort);
      await Promise.allSettled([...this.#queues.values()].map(closeQuickly));
    }
  }

  /** Waits for an event (a job finished somewhere) or `ms`. */
  async #idle(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#stop.signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#stop.signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
    this.#woken = false;
  }

  #poke = (): void => {
    this.#woken = true;
    this.#wake?.();
  };

  async #step(): Promise<void> {
    const now = Date.now();
    // Drones and new cycles change slowly; read them at most every REFRESH_MS, and on every full pass.
    const full = this.#dirty.size === 0 || now >= this.#nextFullReconcile;
    if (full || now >= this.#nextRefresh) {
      this.#nextRefresh = now + REFRESH_MS;
      await this.#refreshDrones();
      await this.#loadCycles();
    }
    // After drones, breakers and cycles are loaded: a command acts on what Redis holds now.
    await this.#applyCommands();
    // After events, only the jobs they named; a full pass at least every FULL_RECONCILE_MS (and whenever idle).
    const dirty = new Set(this.#dirty);
    this.#dirty.clear();
    if (full) this.#nextFullReconcile = now + FULL_RECONCILE_MS;
    const targets: { cycle: LoadedCycle; record: PackageRecord }[] = [];
    for (const cycle of this.#cycles.values()) {
      for (const record of cycle.records.values()) {
        const inFlight = (record.state === 'queued' && record.drone !== undefined) || record.state === 'building';
        if (inFlight && (full || dirty.has(record.jobId as string))) targets.push({ cycle, record });
      }
    }
    // Reads in parallel; state changes one at a time (each sees the ones before it).
    const inspections = await Promise.all(targets.map(({ record }) => this.#inspect(record)));
    for (const [index, { cycle, record }] of targets.entries()) {
      const current = cycle.records.get(record.cpv);
      if (current !== undefined && current.jobId === record.jobId) await this.#reconcile(cycle, current, inspections[index] as Inspection);
    }
    await this.#dispatch(now);
    for (const cycle of [...this.#cycles.values()]) {
      if (!isCycleFinished(cycle.records.values())) continue;
      const finishedAt = Date.now();
      await finishCycle(this.#redis, this.#keys, this.#lease.epoch, cycle.definition.id, finishedAt);
      const counts = countStates(cycle.records.values());
      logEvent(this.#logger, 'swarm.cycle-finished', {
        cycle: cycle.definition.id,
        built: counts.built,
        failed: counts.failed,
        blocked: counts.blocked,
        makespanMs: finishedAt - (cycle.startedAt ?? finishedAt),
      });
      await appendSwarmEvent(this.#redis, this.#keys, { type: 'cycle-finished', cycle: cycle.definition.id, ...counts }).catch(() => undefined);
      this.#cycles.delete(cycle.definition.id);
    }
  }

  async #refreshDrones(): Promise<void> {
    const drones = await listDrones(this.#redis, this.#keys);
    this.#drones = new Map(drones.map((drone) => [drone.id, drone]));
    for (const drone of drones) {
      if (!this.#breakers.has(drone.id)) this.#breakers.set(drone.id, drone.breaker);
      this.#queueOf(drone.id);
      if (!drone.alive && !this.#offline.has(drone.id)) {
        this.#offline.add(drone.id);
        logEvent(this.#logger, 'swarm.drone-offline', { drone: drone.id, lastSeen: new Date(drone.lastSeen).toISOString() });
      } else if (drone.alive && this.#offline.delete(drone.id)) {
        logEvent(this.#logger, 'swarm.drone-online', { drone: drone.id });
      }
    }
  }

  async #loadCycles(): Promise<void> {
    for (const id of await activeCycleIds(this.#redis, this.#keys)) {
      if (this.#cycles.has(id)) continue;
      const stored = await readCycle(this.#redis, this.#keys, id);
      if (stored === undefined) continue;
      const records = await readRecords(this.#redis, this.#keys, id);
      this.#cycles.set(id, { definition: stored.definition, graph: cycleGraph(stored.definition), records, startedAt: stored.startedAt });
      logEvent(this.#logger, 'swarm.cycle-loaded', { cycle: id, profile: stored.definition.profile, packages: records.size });
    }
  }

  #queueOf(droneId: string): DroneQueue {
    const existing = this.#queues.get(droneId);
    if (existing !== undefined) return existing;
    const name = droneQueueName(droneId);
    const prefix = this.#keys.bullPrefix;
    const { endpoint, logger } = this.#options;
    const queue = new Queue<BuildJobData, BuildResult>(name, { connection: bullConnection(endpoint, 'commands', logger, `argo-orch-queue-${droneId}`), prefix });
    const events = new QueueEvents(name, { connection: bullConnection(endpoint, 'blocking', logger, `argo-orch-events-${droneId}`), prefix });
    const checker = new Worker<BuildJobData, BuildResult>(name, null, {
      connection: bullConnection(endpoint, 'blocking', logger, `argo-orch-stall-${droneId}`),
      prefix,
      autorun: false,
      stalledInterval: this.#options.stalledIntervalMs,
    });
    const onError = (error: unknown): void => logEvent(logger, 'swarm.redis-error', { source: 'queue' }, { err: error, level: 'debug' });
    queue.on('error', onError);
    events.on('error', onError);
    checker.on('error', onError);
    const touched = ({ jobId }: { jobId: string }): void => {
      this.#dirty.add(jobId);
      this.#poke();
    };
    events.on('completed', touched);
    events.on('failed', touched);
    events.on('active', touched);
    checker.on('stalled', (jobId: string) => {
      logEvent(logger, 'swarm.stalled', { drone: droneId, jobId });
      this.#dirty.add(jobId);
      this.#poke();
    });
    void checker.startStalledCheckTimer().catch((error: unknown) => logEvent(logger, 'swarm.redis-error', { source: 'queue' }, { err: error }));
    const entry = { queue, events, checker };
    this.#queues.set(droneId, entry);
    return entry;
  }

  async #write(cycle: LoadedCycle, records: readonly PackageRecord[], cycleFields: Readonly<Record<string, string>> = {}): Promise<void> {
    await writeRecords(this.#redis, this.#keys, this.#lease.epoch, cycle.definition.id, records, cycleFields);
    const changed = records.filter((record) => {
      const before = cycle.records.get(record.cpv);
      return before?.state !== record.state || before.attempt !== record.attempt || before.drone !== record.drone;
    });
    for (const record of records) cycle.records.set(record.cpv, record);
    // Operators' views (the monitor, the dashboard) redraw on these rather than polling.
    await appendSwarmEvents(
      this.#redis,
      this.#keys,
      changed.map((record) => ({
        type: 'package',
        cycle: cycle.definition.id,
        cpv: record.cpv,
        state: record.state,
        attempt: record.attempt,
        ...(record.drone === undefined ? {} : { drone: record.drone }),
        ...(record.reason === undefined ? {} : { reason: record.reason }),
      })),
    ).catch(() => undefined);
  }

  /** The job of a dispatched record and its state, read without changing anything (so many can be read at once). */
  async #inspect(record: PackageRecord): Promise<Inspection> {
    const job = await this.#queueOf(record.drone as string).queue.getJob(record.jobId as string);
    return job === undefined ? { job } : { job, state: await job.getState() };
  }

  async #reconcile(cycle: LoadedCycle, record: PackageRecord, inspection: Inspection): Promise<void> {
    const droneId = record.drone as string;
    const jobId = record.jobId as string;
    const { job } = inspection;
    const now = Date.now();
    if (job === undefined) {
      if (record.state === 'queued') {
        this.#stop.signal.throwIfAborted();
        await this.#addJob(cycle, record, droneId);
        return;
      }
      await this.#failed(cycle, record, { kind: 'infrastructure', code: 'ARGO_JOB_LOST', reason: `job ${jobId} disappeared from ${droneId}'s queue` }, 0);
      return;
    }
    const state = inspection.state;
    if (state === 'completed') {
      await this.#built(cycle, record, job);
      return;
    }
    if (state === 'failed') {
      const seconds = job.finishedOn !== undefined && job.processedOn !== undefined ? (job.finishedOn - job.processedOn) / 1000 : 0;
      await this.#failed(cycle, record, parseFailure(job.failedReason), seconds);
      return;
    }
    if (state === 'active') {
      if (record.state !== 'building') {
        await this.#write(cycle, [{ ...record, state: 'building', since: now, startedAt: job.processedOn ?? now }]);
        if (cycle.startedAt === undefined) {
          cycle.startedAt = job.processedOn ?? now;
          await this.#write(cycle, [], { startedAt: String(cycle.startedAt) });
        }
        logEvent(this.#logger, 'swarm.build-started', { cycle: cycle.definition.id, cpv: record.cpv, drone: droneId, attempt: record.attempt });
      }
      return;
    }
    // waiting, prioritized, delayed: not started, or handed back by BullMQ's stall check
    const drone = this.#drones.get(droneId);
    const phase = breakerPhase(this.#breakers.get(droneId) ?? CLOSED_BREAKER, now);
    if (drone?.alive === true && phase !== 'grounded' && drone.drainingSince === undefined) {
      if (record.state === 'building') await this.#write(cycle, [{ ...record, state: 'queued', since: now }]);
      return;
    }
    this.#stop.signal.throwIfAborted();
    const removed = await job.remove().then(
      () => true,
      () => false,
    );
    if (!removed) return;
    const since = drone?.stoppedAt ?? drone?.lastSeen ?? record.since;
    logEvent(this.#logger, 'swarm.reclaimed', {
      cycle: cycle.definition.id,
      cpv: record.cpv,
      drone: droneId,
      reason: drone?.alive !== true ? 'offline' : drone.drainingSince !== undefined ? 'draining' : 'grounded',
      afterMs: now - since,
    });
    await appendSwarmEvent(this.#redis, this.#keys, { type: 'reclaimed', cycle: cycle.definition.id, cpv: record.cpv, drone: droneId, afterMs: String(now - since) }).catch(() => undefined);
    await this.#write(cycle, [requeued(record, now)]);
  }

  async #built(cycle: LoadedCycle, record: PackageRecord, job: Job<BuildJobData, BuildResult>): Promise<void> {
    const now = Date.now();
    const result = job.returnvalue;
    const droneId = record.drone as string;
    const seconds = result?.seconds ?? ((job.finishedOn ?? now) - (job.processedOn ?? now)) / 1000;
    const built: PackageRecord = {
      ...withoutDispatch(record),
      state: 'built',
      since: now,
      built: {
        drone: droneId,
        attempt: record.attempt,
        path: result?.path ?? '',
        sha256: result?.sha256 ?? '',
        size: result?.size ?? 0,
        buildId: result?.buildId ?? '',
        seconds,
        ...(result?.log === undefined ? {} : { log: result.log }),
      },
    };
    const next = new Map(cycle.records);
    next.set(record.cpv, built);
    await this.#write(cycle, [built, ...releaseDependents(cycle.graph, next, record.cpv, now)]);
    logEvent(this.#logger, 'swarm.built', { cycle: cycle.definition.id, cpv: record.cpv, drone: droneId, attempt: record.attempt, seconds });
    await this.#breakerOutcome(droneId, { ok: true, seconds, cpv: record.cpv });
    const node = cycle.graph.nodes.get(record.cpv);
    const cores = this.#drones.get(droneId)?.cores ?? 1;
    // History only sharpens the next cycles' estimates: not worth waiting for.
    if (node !== undefined) void recordDuration(this.#redis, this.#keys, node.cp, seconds, cores).catch(() => undefined);
  }

  async #failed(cycle: LoadedCycle, record: PackageRecord, failure: { kind: 'package' | 'infrastructure'; code: string; reason: string; log?: string }, seconds: number): Promise<void> {
    const now = Date.now();
    const droneId = record.drone as string;
    const failures = [
      ...record.failures,
      { attempt: record.attempt, drone: droneId, at: now, kind: failure.kind, reason: failure.reason, ...(failure.log === undefined ? {} : { log: failure.log }), seconds },
    ];
    logEvent(this.#logger, 'swarm.build-failed', { cycle: cycle.definition.id, cpv: record.cpv, drone: droneId, attempt: record.attempt, kind: failure.kind, code: failure.code, reason: failure.reason });
    if (failure.kind === 'infrastructure') {
      const infra = failures.filter((entry) => entry.kind === 'infrastructure').length;
      const retry = { ...requeued(record, now), failures, notBefore: now + infrastructureBackoff(infra, this.#options.infraRetryBaseMs, this.#options.infraRetryMaxMs), reason: `retrying after ${failure.code} on ${droneId}: ${failure.reason}` };
      await this.#write(cycle, [retry]);
      return;
    }
    await this.#breakerOutcome(droneId, { ok: false, seconds, cpv: record.cpv });
    const withFailure: PackageRecord = { ...record, failures };
    const tried = failedOn(withFailure);
    const candidates = [...this.#drones.values()].filter((drone) => drone.profiles.includes(cycle.definition.profile));
    const exhausted = tried.size >= this.#options.maxAttempts || candidates.every((drone) => tried.has(drone.id));
    if (!exhausted) {
      await this.#write(cycle, [{ ...requeued(withFailure, now), failures }]);
      return;
    }
    const failed: PackageRecord = { ...withoutDispatch(withFailure), state: 'failed', since: now, reason: `failed on ${[...tried].sort().join(', ')}: ${failure.reason}` };
    const next = new Map(cycle.records);
    next.set(record.cpv, failed);
    const blocked = blockDependents(cycle.graph, next, record.cpv, now);
    await this.#write(cycle, [failed, ...blocked]);
    logEvent(this.#logger, 'swarm.package-failed', { cycle: cycle.definition.id, cpv: record.cpv, drones: [...tried].sort(), blocked: blocked.length });
  }

  async #breakerOutcome(droneId: string, outcome: { ok: boolean; seconds: number; cpv: string }): Promise<void> {
    const before = this.#breakers.get(droneId) ?? CLOSED_BREAKER;
    const decision = recordOutcome(before, outcome, this.#options.breaker, Date.now());
    if (JSON.stringify(decision.state) === JSON.stringify(before)) return;
    await writeBreaker(this.#redis, this.#keys, this.#lease.epoch, droneId, decision.state);
    this.#breakers.set(droneId, decision.state);
    if (outcome.ok && before.groundedUntil !== undefined) logEvent(this.#logger, 'swarm.drone-recovered', { drone: droneId, cpv: outcome.cpv });
    if (!decision.grounded) return;
    const reason = decision.state.reason ?? 'failures';
    logEvent(this.#logger, 'swarm.grounded', { drone: droneId, reason, until: new Date(decision.state.groundedUntil ?? 0).toISOString() });
    await appendSwarmEvent(this.#redis, this.#keys, { type: 'grounded', drone: droneId, reason }).catch(() => undefined);
    if (decision.restart) void this.#restart(droneId);
  }

  /** Applies the operators' commands queued since the last one applied (src/swarm/operator-commands.ts). */
  async #applyCommands(): Promise<void> {
    if (this.#commandsCursor === undefined) this.#commandsCursor = (await this.#redis.hget(this.#keys.leaderState, 'commands')) ?? '0';
    const commands = await readOperatorCommands(this.#redis, this.#keys, this.#commandsCursor);
    for (const queued of commands) {
      const { command } = queued;
      // A reset or cancel asked long ago (while no orchestrator led) would hit work started since: not applied.
      const stale = command !== undefined && EXPIRING_COMMANDS.has(command.type) && Date.now() - queued.at > COMMAND_EXPIRES_MS;
      const outcome = command === undefined ? 'invalid' : stale ? 'expired' : await this.#applyCommand(command, queued.by);
      if (command === undefined) logEvent(this.#logger, 'swarm.command-invalid', { id: queued.id, by: queued.by });
      await fencedHset(this.#redis, this.#keys, this.#lease.epoch, new Map([[this.#keys.leaderState, { commands: queued.id }]]));
      this.#commandsCursor = queued.id;
      if (command !== undefined) {
        logEvent(this.#logger, 'swarm.command-applied', { id: queued.id, by: queued.by, command: command.type, outcome });
        await appendSwarmEvent(this.#redis, this.#keys, { type: 'command-applied', command: command.type, commandId: queued.id, by: queued.by, outcome }).catch(() => undefined);
      }
    }
  }

  /** Applies one command; says what came of it (`applied`, or why not) for the event operators wait on. */
  async #applyCommand(command: OperatorCommand, by: string): Promise<'applied' | 'unknown-drone' | 'no-such-running-cycle' | 'no-such-package' | 'already-over'> {
    const now = Date.now();
    if ((command.type === 'ground' || command.type === 'unground' || command.type === 'restart') && !this.#drones.has(command.drone)) return 'unknown-drone';
    switch (command.type) {
      case 'ground': {
        const reason = `grounded by ${by}: ${command.reason}`;
        const state: BreakerState = { ...(this.#breakers.get(command.drone) ?? CLOSED_BREAKER), groundedSince: now, groundedUntil: now + command.minutes * 60_000, reason };
        await writeBreaker(this.#redis, this.#keys, this.#lease.epoch, command.drone, state);
        this.#breakers.set(command.drone, state);
        logEvent(this.#logger, 'swarm.grounded', { drone: command.drone, reason, until: new Date(state.groundedUntil ?? now).toISOString() });
        await appendSwarmEvent(this.#redis, this.#keys, { type: 'grounded', drone: command.drone, reason }).catch(() => undefined);
        return 'applied';
      }
      case 'unground':
        await writeBreaker(this.#redis, this.#keys, this.#lease.epoch, command.drone, CLOSED_BREAKER);
        this.#breakers.set(command.drone, CLOSED_BREAKER);
        logEvent(this.#logger, 'swarm.drone-recovered', { drone: command.drone, cpv: `(ungrounded by ${by})` });
        return 'applied';
      case 'restart':
        // Within its budget, beside the leader's work: dispatch does not wait for a restart.
        void this.#restart(command.drone);
        return 'applied';
      case 'cancel-cycle': {
        if (!this.#cycles.has(command.cycle)) await this.#loadCycles();
        const cycle = this.#cycles.get(command.cycle);
        if (cycle === undefined) return 'no-such-running-cycle';
        const open = [...cycle.records.values()].filter((record) => !['built', 'failed', 'blocked', 'skipped'].includes(record.state));
        const reason = `cancelled by ${by}`;
        // Waiting jobs go now; a running build finishes on its drone and its upload is refused (its record is no longer building).
        for (const record of open) {
          if (record.jobId !== undefined && record.drone !== undefined) await (await this.#queueOf(record.drone).queue.getJob(record.jobId))?.remove().catch(() => undefined);
        }
        await this.#write(cycle, open.map((record) => ({ ...record, state: 'skipped', since: now, reason })));
        logEvent(this.#logger, 'swarm.cycle-cancelled', { cycle: command.cycle, by, skipped: open.length });
        return 'applied';
      }
      case 'cancel-package': {
        if (!this.#cycles.has(command.cycle)) await this.#loadCycles();
        const cycle = this.#cycles.get(command.cycle);
        if (cycle === undefined) return 'no-such-running-cycle';
        const record = cycle.records.get(command.cpv);
        if (record === undefined) return 'no-such-package';
        if (['built', 'failed', 'blocked', 'skipped'].includes(record.state)) return 'already-over';
        await this.#removeJob(record);
        const skipped: PackageRecord = { ...record, state: 'skipped', since: now, reason: `cancelled by ${by}` };
        const next = new Map(cycle.records).set(record.cpv, skipped);
        // What needs it can no longer be built in this cycle: blocked, naming it, as after a failure.
        const blocked = blockDependents(cycle.graph, next, record.cpv, now).map((entry) => ({ ...entry, reason: `needs ${record.cpv}, which was cancelled` }));
        await this.#write(cycle, [skipped, ...blocked]);
        logEvent(this.#logger, 'swarm.package-cancelled', { cycle: command.cycle, cpv: command.cpv, by, blocked: blocked.length });
        return 'applied';
      }
      case 'reset': {
        // Every dispatched build goes back to the ready queue (not counted against the package or its drone);
        // nothing built, failed or blocked changes. Drones stop the emerges of jobs taken back (their lease is gone),
        // which takes a lease check or two: until then nothing is dispatched again, so no drone runs a second
        // emerge of one package beside the one being stopped.
        await this.#loadCycles();
        const notBefore = now + 2 * LEASE_CHECK_MS + 1_000;
        let requeued = 0;
        for (const cycle of this.#cycles.values()) {
          const open = [...cycle.records.values()].filter((record) => record.state === 'building' || (record.state === 'queued' && record.drone !== undefined));
          for (const record of open) await this.#removeJob(record);
          const back = open.map((record): PackageRecord => {
            const { drone: _drone, jobId: _jobId, startedAt: _startedAt, notBefore: _notBefore, ...rest } = record;
            return { ...rest, state: 'queued', since: now, readyAt: now, notBefore, reason: `reset by ${by}` };
          });
          if (back.length > 0) await this.#write(cycle, back);
          requeued += back.length;
        }
        logEvent(this.#logger, 'swarm.reset', { by, requeued });
        return 'applied';
      }
    }
  }

  /** Removes a dispatched record's job when BullMQ lets it (waiting or delayed); a running one stays locked by its drone, which stops it when it sees its lease gone. */
  async #removeJob(record: PackageRecord): Promise<void> {
    if (record.jobId === undefined || record.drone === undefined) return;
    await (await this.#queueOf(record.drone).queue.getJob(record.jobId))?.remove().catch(() => undefined);
  }

  async #restart(droneId: string): Promise<void> {
    if (this.#stop.signal.aborted) return;
    const template = this.#options.restartCommands[droneId] ?? this.#options.restartCommands['*'];
    if (template === undefined || template.length === 0) return;
    const argv = template.map((word) => word.split('{drone}').join(droneId));
    logEvent(this.#logger, 'swarm.drone-restart', { drone: droneId, argv });
    try {
      await this.#options.runner.run(argv[0] as string, argv.slice(1), { budgetMs: this.#options.restartBudgetMs, signal: this.#stop.signal });
    } catch (error) {
      logEvent(this.#logger, 'swarm.drone-restart-failed', { drone: droneId }, { err: error });
    }
  }

  async #dispatch(now: number): Promise<void> {
    const nowSeconds = now / 1000;
    const busy = new Map<string, { until: number }[]>();
    const ready: ReadyJob[] = [];
    let heavyReady = 0;
    for (const cycle of this.#cycles.values()) {
      const origin = cycle.definition.createdAt;
      for (const record of cycle.records.values()) {
        const node = cycle.graph.nodes.get(record.cpv);
        if (node === undefined) continue;
        const coreSeconds = node.duration * cycle.definition.referenceSpeed;
        if ((record.state === 'queued' && record.drone !== undefined) || record.state === 'building') {
          const drone = this.#drones.get(record.drone as string);
          const started = (record.startedAt ?? now) / 1000;
          const list = busy.get(record.drone as string) ?? [];
          list.push({ until: started + coreSeconds / Math.max(1, drone?.cores ?? 1) });
          busy.set(record.drone as string, list);
          continue;
        }
        if (record.state !== 'queued' || (record.notBefore ?? 0) > now) continue;
        const readyAt = ((record.readyAt ?? record.since) - origin) / 1000;
        const rank = (cycle.graph.ranks.get(record.cpv) ?? 0) * cycle.definition.referenceSpeed;
        ready.push({ cpv: record.cpv, duration: coreSeconds, heavy: node.heavy, cycle, record, key: priorityKey(cycle.definition.policy, rank, readyAt, DEFAULT_AGING) });
        if (node.heavy) heavyReady += 1;
      }
    }
    if (ready.length === 0) return;
    const slots: DispatchSlot[] = [];
    for (const drone of this.#drones.values()) {
      if (!drone.alive || drone.drainingSince !== undefined) continue;
      const phase = breakerPhase(this.#breakers.get(drone.id) ?? CLOSED_BREAKER, now);
      if (phase === 'grounded') continue;
      const taken = busy.get(drone.id) ?? [];
      const capacity = phase === 'probe' ? Math.min(1, drone.slots) : drone.slots;
      for (let index = 0; index < drone.slots; index += 1) {
        const occupant = taken[index];
        if (occupant === undefined && index >= capacity) continue;
        slots.push({ slot: `${drone.id}#${index}`, drone: drone.id, speed: drone.cores, sweeper: drone.sweeper, freeAt: occupant === undefined ? nowSeconds : Math.max(occupant.until, nowSeconds + 1e-3) });
      }
    }
    if (!slots.some((slot) => slot.freeAt <= nowSeconds)) return;
    ready.sort((a, b) => b.key - a.key || (a.cpv < b.cpv ? -1 : a.cpv > b.cpv ? 1 : 0));
    const policy = this.#cycles.values().next().value?.definition.policy ?? 'critical-path';
    const plan = planDispatch(ready[Symbol.iterator](), slots, {
      policy,
      now: nowSeconds,
      referenceSpeed: 1,
      heavyReady,
      eligible: (job, slot) => {
        const { cycle, record } = job as ReadyJob;
        const drone = this.#drones.get(slot.drone);
        if (drone === undefined || !drone.profiles.includes(cycle.definition.profile) || failedOn(record).has(slot.drone)) return false;
        // A drone that keeps failing to even run or publish this package (its disk, its folders) is passed over
        // for it while any other drone may still try; the backoff keeps the last one from spinning.
        const troubled = troubledDrones(record);
        if (!troubled.has(slot.drone)) return true;
        const others = [...this.#drones.values()].filter((other) => other.profiles.includes(cycle.definition.profile) && !failedOn(record).has(other.id));
        return others.every((other) => troubled.has(other.id));
      },
    });
    // Every assignment is written (one fenced script per cycle) before any of its jobs is added.
    const assigned = plan.starts.map(({ job, slot }) => {
      const { cycle, record } = job;
      const attempt = record.attempt + 1;
      const next: PackageRecord = { ...record, state: 'queued', since: Date.now(), drone: slot.drone, jobId: buildJobId(cycle.definition.id, record.cpv, attempt), attempt };
      return { cycle, record: next, drone: slot.drone, key: job.key, waitedMs: Date.now() - (record.readyAt ?? record.since) };
    });
    for (const cycle of new Set(assigned.map((entry) => entry.cycle))) {
      await this.#write(cycle, assigned.filter((entry) => entry.cycle === cycle).map((entry) => entry.record));
    }
    await Promise.all(assigned.map((entry) => this.#addJob(entry.cycle, entry.record, entry.drone, entry.key)));
    for (const entry of assigned) {
      logEvent(this.#logger, 'swarm.dispatched', { cycle: entry.cycle.definition.id, cpv: entry.record.cpv, drone: entry.drone, attempt: entry.record.attempt, waitedMs: entry.waitedMs });
    }
  }

  async #addJob(cycle: LoadedCycle, record: PackageRecord, droneId: string, key = 0): Promise<void> {
    const data: BuildJobData = { cycle: cycle.definition.id, profile: cycle.definition.profile, cpv: record.cpv, attempt: record.attempt, epoch: this.#lease.epoch };
    const keepFor = { age: 14 * 24 * 3600 };
    await this.#queueOf(droneId).queue.add('build', data, {
      jobId: record.jobId as string,
      priority: Math.max(1, Math.min(2_097_151, 2_097_151 - Math.round(key))),
      attempts: 1,
      removeOnComplete: keepFor,
      removeOnFail: keepFor,
    });
  }

  /** Offline drones, stale builds, orphan jobs and cooldowns, once per maintenance interval. */
  async #maintain(): Promise<void> {
    const now = Date.now();
    const known = new Set<string>();
    for (const cycle of this.#cycles.values()) for (const record of cycle.records.values()) if (record.jobId !== undefined) known.add(record.jobId);
    for (const [droneId, { queue }] of this.#queues) {
      for (const job of await queue.getJobs(['waiting', 'prioritized', 'delayed'])) {
        if (job.id === undefined || known.has(job.id)) continue;
        const cycle = job.data.cycle;
        if (this.#cycles.has(cycle) || (await this.#redis.sismember(this.#keys.activeCycles, cycle)) === 0) {
          this.#stop.signal.throwIfAborted();
          await job.remove().catch(() => undefined);
          logEvent(this.#logger, 'swarm.orphan-removed', { drone: droneId, jobId: job.id });
        }
      }
      for (const job of await queue.getJobs(['active'])) {
        const progress = job.progress as { at?: number } | number | undefined;
        const last = typeof progress === 'object' && progress !== null && typeof progress.at === 'number' ? progress.at : (job.processedOn ?? now);
        if (now - last > this.#options.staleTaskMs) logEvent(this.#logger, 'swarm.stale-build', { drone: droneId, jobId: job.id ?? '', silentMs: now - last });
      }
    }
    for (const [droneId, breaker] of this.#breakers) {
      if (breaker.groundedUntil !== undefined && breakerPhase(breaker, now) === 'probe') logEvent(this.#logger, 'swarm.probe-due', { drone: droneId });
    }
  }
}

/** How long a step-down waits for BullMQ objects to close cleanly; with Redis away they would wait for it. */
const CLOSE_TIMEOUT_MS = 5_000;

async function closeQuickly(entry: DroneQueue): Promise<void> {
  const parts = [entry.checker, entry.events, entry.queue] as const;
  await pTimeout(Promise.allSettled(parts.map((part) => part.close())), {
    milliseconds: CLOSE_TIMEOUT_MS,
    fallback: () => {
      // Not awaited: with Redis away, BullMQ's disconnect waits for a connection too.
      for (const part of parts) part.disconnect().catch(() => undefined);
      return [];
    },
  });
}

/** Infrastructure failures of one package on the same drone before the drone is passed over for it. */
const INFRA_FAILURES_PER_DRONE = 3;

function troubledDrones(record: PackageRecord): Set<string> {
  const counts = new Map<string, number>();
  for (const failure of record.failures) if (failure.kind === 'infrastructure') counts.set(failure.drone, (counts.get(failure.drone) ?? 0) + 1);
  return new Set([...counts].filter(([, count]) => count >= INFRA_FAILURES_PER_DRONE).map(([drone]) => drone));
}

function requeued(record: PackageRecord, now: number): PackageRecord {
  return { ...withoutDispatch(record), state: 'queued', since: now, readyAt: record.readyAt ?? now };
}

function withoutDispatch(record: PackageRecord): PackageRecord {
  const { drone: _drone, jobId: _jobId, startedAt: _startedAt, notBefore: _notBefore, ...rest } = record;
  return rest;
}

function countStates(records: Iterable<PackageRecord>): Record<'built' | 'failed' | 'blocked', number> {
  const counts = { built: 0, failed: 0, blocked: 0 };
  for (const record of records) if (record.state === 'built' || record.state === 'failed' || record.state === 'blocked') counts[record.state] += 1;
  return counts;
}

/** Waits `ms`, or less when `signal` aborts. */
async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => undefined);
}

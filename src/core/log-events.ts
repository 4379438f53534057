import type { Logger } from 'pino';

/**
 * The catalogue of log events. Each event has a static message and typed fields; the data goes in the
 * fields, never in the message, so lines can be grouped and searched (`jq 'select(.event=="pivot")'`).
 * docs/log-events.md documents every event and field; a test keeps the two in step.
 */
export interface EventFields {
  'run.started': { runId: string; root: string; dryRun: boolean; resumed: boolean };
  'run.finished': { runId: string; status: string; durationMs: number };
  'run.interrupted': { runId: string; signal: string };

  'phase.started': { phase: string };
  'phase.finished': { phase: string; status: string; durationMs: number };
  'phase.skipped': { phase: string; reason: string };

  'step.started': { phase: string; step: string; attempt: string; budgetMs: number };
  'step.succeeded': { phase: string; step: string; attempt: string; durationMs: number };
  'step.failed': { phase: string; step: string; attempt: string; durationMs: number; code: string; reason: string };
  'step.timed-out': { phase: string; step: string; attempt: string; durationMs: number; budgetMs: number };
  'step.skipped': { phase: string; step: string; reason: string };
  'step.already-done': { phase: string; step: string; finishedAt: string };
  pivot: { phase: string; step: string; attempt: string; outcome: string; reason: string; next: string };

  'state.saved': { path: string; steps: number };
  'lock.taken': { root: string; lock: string };
  'lock.taken-over': { root: string; lock: string; pid: number; command: string; startedAt: string };
  'lock.recycled': { root: string; lock: string; pid: number; command: string; startedAt: string; previousRoot: string };

  'command.started': { argv: string[]; pid: number | undefined; budgetMs: number | undefined };
  'command.output': { pid: number | undefined; stream: 'stdout' | 'stderr'; line: string };
  'command.exited': { argv: string[]; pid: number | undefined; exitCode: number | undefined; signal: string | undefined; durationMs: number };
  'command.killed': { argv: string[]; pid: number | undefined; reason: string };
  'command.not-run': { argv: string[]; reason: string };
  'command.released': { argv: string[]; pid: number | undefined };

  'chroot.opened': { root: string; mounts: string[] };
  'chroot.foreign-mounts': { root: string; mounts: string[] };
  'chroot.closed': { root: string };

  'login-proof.pivot': { user: string; from: string; to: string; reason: string };
  'login-proof.finished': { user: string; method: string; proof: string[]; failedStep: string | undefined; service: string | undefined; reason: string | undefined; warnings: string[]; durationMs: number };
  'login-repair.cause': { cause: string; status: string; note: string; changes: number };
  'recover.undo': { path: string; status: string; detail: string };

  'file.replaced': { path: string; backup: string | undefined; bytes: number };
  'log-dir.pivot': { from: string; to: string; reason: string };
  progress: { task: string; unit: string; done: number | undefined; total: number | undefined; elapsedMs: number; etaMs: number | undefined; current: string | undefined; state: 'running' | 'done' | 'stopped' };

  'restore.folder-kept': { path: string; reason: string };
  'rollback.planned': { updateId: string; pre: number; post: number | undefined; restore: number; other: number; changedAfter: number; merged: string[]; unfinished: string[] };
  'rollback.safety-snapshot': { updateId: string; id: number };
  'rollback.finished': { updateId: string; restored: number; durationMs: number };
  'rescue.device': { device: string; verdict: string; detail: string };
  'rescue.candidate': { device: string; subvolume: string | undefined; gentoo: boolean; os: string | undefined };
  'rescue.mounted': { device: string; at: string; options: string[] };
  'rescue.mount-failed': { device: string; at: string; reason: string };
  'rescue.unmounted': { at: string; how: string };
  error: { code: string; message: string; hint: string | undefined };

  'swarm.redis-retry': { url: string; attempt: number; delayMs: number };
  'swarm.redis-error': { source: string };
  'swarm.orchestrator-started': { id: string; url: string };
  'swarm.leading': { id: string; epoch: number };
  'swarm.standing-by': { id: string; epoch: number; reason: string };
  'swarm.fenced': { id: string; epoch: number };
  'swarm.step-failed': { id: string };
  'swarm.cycle-loaded': { cycle: string; profile: string; packages: number };
  'swarm.cycle-finished': { cycle: string; built: number; failed: number; blocked: number; makespanMs: number };
  'swarm.dispatched': { cycle: string; cpv: string; drone: string; attempt: number; waitedMs: number };
  'swarm.build-started': { cycle: string; cpv: string; drone: string; attempt: number };
  'swarm.built': { cycle: string; cpv: string; drone: string; attempt: number; seconds: number };
  'swarm.build-failed': { cycle: string; cpv: string; drone: string; attempt: number; kind: string; code: string; reason: string };
  'swarm.package-failed': { cycle: string; cpv: string; drones: string[]; blocked: number };
  'swarm.reclaimed': { cycle: string; cpv: string; drone: string; reason: string; afterMs: number };
  'swarm.stalled': { drone: string; jobId: string };
  'swarm.drone-offline': { drone: string; lastSeen: string };
  'swarm.drone-online': { drone: string };
  'swarm.grounded': { drone: string; reason: string; until: string };
  'swarm.drone-recovered': { drone: string; cpv: string };
  'swarm.probe-due': { drone: string };
  'swarm.drone-restart': { drone: string; argv: string[] };
  'swarm.drone-restart-failed': { drone: string };
  'swarm.orphan-removed': { drone: string; jobId: string };
  'swarm.stale-build': { drone: string; jobId: string; silentMs: number };
  'swarm.drone-started': { drone: string; cores: number; slots: number; sweeper: boolean; profiles: string[]; url: string; buildsDieWithDrone: boolean };
  'swarm.build-running': { drone: string; cycle: string; cpv: string; attempt: number; log: string };
  'swarm.build-uploaded': { drone: string; cycle: string; cpv: string; attempt: number; path: string; size: number; seconds: number };
  'swarm.upload-failed': { drone: string; cpv: string; attempt: number; reason: string; final: boolean };
  'swarm.log-not-kept': { drone: string; cpv: string; log: string };
  'swarm.lease-lost': { drone: string; jobId: string };
  'swarm.draining': { drone: string; drainMs: number };
  'swarm.drain-timed-out': { drone: string };
  'swarm.drone-stopped': { drone: string };
  'swarm.stop-forced': { drone: string };
  'swarm.id-taken': { drone: string };
  'swarm.command-applied': { id: string; by: string; command: string; outcome: string };
  'swarm.command-invalid': { id: string; by: string };
  'swarm.cycle-cancelled': { cycle: string; by: string; skipped: number };
  'swarm.package-cancelled': { cycle: string; cpv: string; by: string; blocked: number };
  'swarm.reset': { by: string; requeued: number };
  'swarm.up-ready': { url: string; data: string; drones: number };
  'swarm.child-exited': { child: string; code: number | null; signal: string | null; log: string; restarts: number };
  'swarm.build-taken-back': { drone: string; jobId: string };
  'swarm.sync-finished': { drone: string; request: string; outcome: string; seconds: number };
  'gateway.command-queued': { command: string; id: string; token: string };
  'gateway.package-published': { profile: string; cpv: string; path: string; size: number; token: string };
  'gateway.finalize-refused': { profile: string; score: number; token: string };
  'gateway.finalized': { profile: string; release: string; previous: string; score: number; forced: string; token: string };
  'gateway.rolled-back': { profile: string; release: string; previous: string; token: string };
  'gateway.listening': { url: string; data: string; publicBinhost: boolean };
  'gateway.cycle-started': { profile: string; cycle: string; packages: number; token: string };
}

export type EventName = keyof EventFields;
export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

interface EventInfo<K extends EventName> {
  readonly level: EventLevel;
  readonly message: string;
  /** Every field of the event, for docs/log-events.md (a compile-time check below keeps it complete). */
  readonly fields: readonly (keyof EventFields[K])[];
}

export const EVENTS = {
  'run.started': { level: 'info', message: 'Run started', fields: ['runId', 'root', 'dryRun', 'resumed'] },
  'run.finished': { level: 'info', message: 'Run finished', fields: ['runId', 'status', 'durationMs'] },
  'run.interrupted': { level: 'warn', message: 'Run interrupted', fields: ['runId', 'signal'] },
  'phase.started': { level: 'info', message: 'Phase started', fields: ['phase'] },
  'phase.finished': { level: 'info', message: 'Phase finished', fields: ['phase', 'status', 'durationMs'] },
  'phase.skipped': { level: 'info', message: 'Phase skipped', fields: ['phase', 'reason'] },
  'step.started': { level: 'info', message: 'Step started', fields: ['phase', 'step', 'attempt', 'budgetMs'] },
  'step.succeeded': { level: 'info', message: 'Step succeeded', fields: ['phase', 'step', 'attempt', 'durationMs'] },
  'step.failed': { level: 'error', message: 'Step failed', fields: ['phase', 'step', 'attempt', 'durationMs', 'code', 'reason'] },
  'step.timed-out': { level: 'error', message: 'Step ran past its budget', fields: ['phase', 'step', 'attempt', 'durationMs', 'budgetMs'] },
  'step.skipped': { level: 'info', message: 'Step skipped', fields: ['phase', 'step', 'reason'] },
  'step.already-done': { level: 'info', message: 'Step already succeeded in the resumed run', fields: ['phase', 'step', 'finishedAt'] },
  pivot: { level: 'warn', message: 'Attempt failed, trying the next one', fields: ['phase', 'step', 'attempt', 'outcome', 'reason', 'next'] },
  'state.saved': { level: 'debug', message: 'State file saved', fields: ['path', 'steps'] },
  'lock.taken': { level: 'debug', message: 'Target lock taken', fields: ['root', 'lock'] },
  'lock.taken-over': { level: 'warn', message: 'Took over the lock of a run that died', fields: ['root', 'lock', 'pid', 'command', 'startedAt'] },
  'lock.recycled': { level: 'debug', message: 'Reused a lock file left by a run on a root that is gone', fields: ['root', 'lock', 'pid', 'command', 'startedAt', 'previousRoot'] },
  'command.started': { level: 'info', message: 'Command started', fields: ['argv', 'pid', 'budgetMs'] },
  'command.output': { level: 'debug', message: 'Command output', fields: ['pid', 'stream', 'line'] },
  'command.exited': { level: 'info', message: 'Command exited', fields: ['argv', 'pid', 'exitCode', 'signal', 'durationMs'] },
  'command.killed': { level: 'warn', message: 'Command killed', fields: ['argv', 'pid', 'reason'] },
  'command.released': { level: 'debug', message: 'Command stopped as planned (a lock released)', fields: ['argv', 'pid'] },
  'command.not-run': { level: 'info', message: 'Command not run', fields: ['argv', 'reason'] },
  'chroot.opened': { level: 'info', message: 'Chroot session opened', fields: ['root', 'mounts'] },
  'chroot.foreign-mounts': { level: 'warn', message: 'Mounts under the target root were left as they are', fields: ['root', 'mounts'] },
  'chroot.closed': { level: 'info', message: 'Chroot session closed', fields: ['root'] },
  'login-proof.pivot': { level: 'warn', message: 'Login proof method unavailable, trying the next one', fields: ['user', 'from', 'to', 'reason'] },
  'login-proof.finished': { level: 'info', message: 'Login proof finished', fields: ['user', 'method', 'proof', 'failedStep', 'service', 'reason', 'warnings', 'durationMs'] },
  'login-repair.cause': { level: 'info', message: 'Login cause handled', fields: ['cause', 'status', 'note', 'changes'] },
  'recover.undo': { level: 'info', message: 'Recovery change undone or kept', fields: ['path', 'status', 'detail'] },
  'file.replaced': { level: 'info', message: 'File replaced atomically', fields: ['path', 'backup', 'bytes'] },
  'log-dir.pivot': { level: 'warn', message: 'Log folder unavailable, using another', fields: ['from', 'to', 'reason'] },
  'restore.folder-kept': { level: 'warn', message: 'Folder kept while restoring', fields: ['path', 'reason'] },
  'rollback.planned': { level: 'info', message: 'Rollback planned', fields: ['updateId', 'pre', 'post', 'restore', 'other', 'changedAfter', 'merged', 'unfinished'] },
  'rollback.safety-snapshot': { level: 'info', message: 'Safety snapshot taken before the rollback', fields: ['updateId', 'id'] },
  'rollback.finished': { level: 'info', message: 'Rollback finished', fields: ['updateId', 'restored', 'durationMs'] },
  'rescue.device': { level: 'info', message: 'Block device looked at', fields: ['device', 'verdict', 'detail'] },
  'rescue.candidate': { level: 'info', message: 'Filesystem looked into', fields: ['device', 'subvolume', 'gentoo', 'os'] },
  'rescue.mounted': { level: 'info', message: 'Mounted for the rescue', fields: ['device', 'at', 'options'] },
  'rescue.mount-failed': { level: 'warn', message: 'A mount the repair wanted failed; going on without it', fields: ['device', 'at', 'reason'] },
  'rescue.unmounted': { level: 'info', message: 'Unmounted after the rescue', fields: ['at', 'how'] },
  progress: { level: 'info', message: 'Progress', fields: ['task', 'unit', 'done', 'total', 'elapsedMs', 'etaMs', 'current', 'state'] },
  error: { level: 'error', message: 'Error', fields: ['code', 'message', 'hint'] },
  'swarm.redis-retry': { level: 'warn', message: 'Reconnecting to Redis', fields: ['url', 'attempt', 'delayMs'] },
  'swarm.redis-error': { level: 'warn', message: 'Redis command failed; retrying', fields: ['source'] },
  'swarm.orchestrator-started': { level: 'info', message: 'Orchestrator started', fields: ['id', 'url'] },
  'swarm.leading': { level: 'info', message: 'Orchestrator leads', fields: ['id', 'epoch'] },
  'swarm.standing-by': { level: 'info', message: 'Orchestrator stands by', fields: ['id', 'epoch', 'reason'] },
  'swarm.fenced': { level: 'warn', message: 'A write was refused: another orchestrator leads', fields: ['id', 'epoch'] },
  'swarm.step-failed': { level: 'warn', message: 'Orchestrator step failed; retrying', fields: ['id'] },
  'swarm.cycle-loaded': { level: 'info', message: 'Cycle loaded', fields: ['cycle', 'profile', 'packages'] },
  'swarm.cycle-finished': { level: 'info', message: 'Cycle finished', fields: ['cycle', 'built', 'failed', 'blocked', 'makespanMs'] },
  'swarm.dispatched': { level: 'info', message: 'Package dispatched', fields: ['cycle', 'cpv', 'drone', 'attempt', 'waitedMs'] },
  'swarm.build-started': { level: 'info', message: 'Build started', fields: ['cycle', 'cpv', 'drone', 'attempt'] },
  'swarm.built': { level: 'info', message: 'Package built', fields: ['cycle', 'cpv', 'drone', 'attempt', 'seconds'] },
  'swarm.build-failed': { level: 'warn', message: 'Build failed', fields: ['cycle', 'cpv', 'drone', 'attempt', 'kind', 'code', 'reason'] },
  'swarm.package-failed': { level: 'error', message: 'Package failed on every drone it may try', fields: ['cycle', 'cpv', 'drones', 'blocked'] },
  'swarm.reclaimed': { level: 'warn', message: 'Build reclaimed from a drone', fields: ['cycle', 'cpv', 'drone', 'reason', 'afterMs'] },
  'swarm.stalled': { level: 'warn', message: 'BullMQ found a stalled build', fields: ['drone', 'jobId'] },
  'swarm.drone-offline': { level: 'warn', message: 'Drone offline', fields: ['drone', 'lastSeen'] },
  'swarm.drone-online': { level: 'info', message: 'Drone online again', fields: ['drone'] },
  'swarm.grounded': { level: 'warn', message: 'Drone grounded', fields: ['drone', 'reason', 'until'] },
  'swarm.drone-recovered': { level: 'info', message: 'Grounded drone built again', fields: ['drone', 'cpv'] },
  'swarm.probe-due': { level: 'info', message: 'Grounded drone may take a probe build', fields: ['drone'] },
  'swarm.drone-restart': { level: 'warn', message: 'Restarting a grounded drone', fields: ['drone', 'argv'] },
  'swarm.drone-restart-failed': { level: 'warn', message: 'Restart command of a grounded drone failed', fields: ['drone'] },
  'swarm.orphan-removed': { level: 'info', message: 'Orphan job removed', fields: ['drone', 'jobId'] },
  'swarm.stale-build': { level: 'warn', message: 'Build printed nothing for a long time', fields: ['drone', 'jobId', 'silentMs'] },
  'swarm.drone-started': { level: 'info', message: 'Drone started', fields: ['drone', 'cores', 'slots', 'sweeper', 'profiles', 'url', 'buildsDieWithDrone'] },
  'swarm.build-running': { level: 'info', message: 'Drone runs a build', fields: ['drone', 'cycle', 'cpv', 'attempt', 'log'] },
  'swarm.build-uploaded': { level: 'info', message: 'Binary package uploaded', fields: ['drone', 'cycle', 'cpv', 'attempt', 'path', 'size', 'seconds'] },
  'swarm.upload-failed': { level: 'warn', message: 'Upload of a built package failed', fields: ['drone', 'cpv', 'attempt', 'reason', 'final'] },
  'swarm.log-not-kept': { level: 'warn', message: 'Could not hand a build log to the gateway; it stays on the drone', fields: ['drone', 'cpv', 'log'] },
  'swarm.lease-lost': { level: 'warn', message: 'Job lease lost; killing its build', fields: ['drone', 'jobId'] },
  'swarm.draining': { level: 'info', message: 'Drone draining', fields: ['drone', 'drainMs'] },
  'swarm.drain-timed-out': { level: 'warn', message: 'Drain ran out of time; handing builds back', fields: ['drone'] },
  'swarm.id-taken': { level: 'error', message: 'Another drone holds this drone id now; stopping', fields: ['drone'] },
  'swarm.stop-forced': { level: 'warn', message: 'Drone stops without BullMQ letting go of its jobs', fields: ['drone'] },
  'swarm.drone-stopped': { level: 'info', message: 'Drone stopped', fields: ['drone'] },
  'swarm.command-applied': { level: 'info', message: 'Operator command applied', fields: ['id', 'by', 'command', 'outcome'] },
  'swarm.command-invalid': { level: 'warn', message: 'An entry of the command stream is not a command; skipped', fields: ['id', 'by'] },
  'swarm.cycle-cancelled': { level: 'warn', message: 'Cycle cancelled: every package not built yet is skipped', fields: ['cycle', 'by', 'skipped'] },
  'swarm.package-cancelled': { level: 'warn', message: 'Package cancelled: skipped, and what needs it blocked', fields: ['cycle', 'cpv', 'by', 'blocked'] },
  'swarm.up-ready': { level: 'info', message: 'Local swarm ready', fields: ['url', 'data', 'drones'] },
  'swarm.child-exited': { level: 'warn', message: 'A process of the local swarm exited unexpectedly', fields: ['child', 'code', 'signal', 'log', 'restarts'] },
  'swarm.reset': { level: 'warn', message: 'Reset: every dispatched build went back to the ready queue', fields: ['by', 'requeued'] },
  'swarm.build-taken-back': { level: 'warn', message: 'The swarm took this build back (reset or cancel): its emerge is stopped', fields: ['drone', 'jobId'] },
  'swarm.sync-finished': { level: 'info', message: 'Repository sync finished on this drone', fields: ['drone', 'request', 'outcome', 'seconds'] },
  'gateway.command-queued': { level: 'info', message: 'Operator command queued for the leader', fields: ['command', 'id', 'token'] },
  'gateway.package-published': { level: 'info', message: 'Binary package published to staging', fields: ['profile', 'cpv', 'path', 'size', 'token'] },
  'gateway.finalize-refused': { level: 'warn', message: 'Finalize refused: verify says the staging binhost is not safe', fields: ['profile', 'score', 'token'] },
  'gateway.finalized': { level: 'info', message: 'Production binhost switched to a new release', fields: ['profile', 'release', 'previous', 'score', 'forced', 'token'] },
  'gateway.rolled-back': { level: 'warn', message: 'Production binhost rolled back', fields: ['profile', 'release', 'previous', 'token'] },
  'gateway.listening': { level: 'info', message: 'Gateway listening', fields: ['url', 'data', 'publicBinhost'] },
  'gateway.cycle-started': { level: 'info', message: 'Cycle started through the gateway', fields: ['profile', 'cycle', 'packages', 'token'] },
} as const satisfies { readonly [K in EventName]: EventInfo<K> };

/** Fails to compile when an event's `fields` list misses a field of its type. */
type UnlistedFields = { [K in EventName]: Exclude<keyof EventFields[K], (typeof EVENTS)[K]['fields'][number]> }[EventName];
const everyFieldListed: [UnlistedFields] extends [never] ? true : UnlistedFields = true;
void everyFieldListed;

/** Writes one catalogued event; `extra` may carry `err` (an Error, serialised by pino). */
export function logEvent<K extends EventName>(
  logger: Logger,
  event: K,
  fields: EventFields[K],
  extra?: { err?: unknown; level?: EventLevel },
): void {
  const info: { level: EventLevel; message: string } = EVENTS[event];
  const level = extra?.level ?? info.level;
  const record: Record<string, unknown> = { event, ...fields };
  if (extra?.err !== undefined) record['err'] = extra.err;
  logger[level](record, info.message);
}

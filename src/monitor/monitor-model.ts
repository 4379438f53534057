/**
 * The monitor's state and everything it derives for the screen: a reducer over what the gateway says (status,
 * events, a build's output) and what the operator presses, and the rows of each pane. Pure: no clock (the time
 * is a parameter), no I/O; the feed (./monitor-feed.ts) and the ink components (./monitor-app.tsx) do those.
 */

import type { CycleStatus, DroneStatus, PackageStatus, SwarmStatus } from '../core/swarm/swarm-status.ts';
import type { PackageState } from '../core/swarm/cycle-model.ts';

export type PaneId = 'drones' | 'queue' | 'failures';
export const PANES: readonly PaneId[] = ['drones', 'queue', 'failures'];

/** One event of the gateway's stream (`GET /api/v1/events`). */
export interface MonitorEvent {
  readonly id: string;
  readonly type: string;
  readonly at: number;
  readonly fields: Readonly<Record<string, string>>;
}

/** What `l` opened: a package's build output, lines as they come, then how the attempt ended. */
export interface LogView {
  readonly cycle: string;
  readonly cpv: string;
  readonly attempt?: number;
  readonly drone?: string;
  readonly lines: readonly string[];
  /** The attempt's final state once the gateway said `end`. */
  readonly ended?: string;
  readonly error?: string;
  /** Lines scrolled back from the newest (0: following the end). */
  readonly scroll: number;
}

export interface Connection {
  /** Whether the last status read answered, and why not. */
  readonly status: 'connecting' | 'ok' | 'failed';
  readonly statusError?: string;
  readonly unauthorized: boolean;
  /** The event stream: open, or down (the monitor polls status meanwhile and reconnects). */
  readonly events: 'connecting' | 'open' | 'down';
  readonly eventsError?: string;
}

export interface MonitorState {
  readonly status?: SwarmStatus;
  /** Local ms at which `status` was read, and the gateway's clock minus ours then. */
  readonly receivedAt: number;
  readonly clockOffset: number;
  readonly connection: Connection;
  readonly lastEvent?: MonitorEvent;
  readonly focus: PaneId;
  readonly selected: Readonly<Record<PaneId, number>>;
  readonly overlay: 'none' | 'help' | 'log';
  readonly log?: LogView;
  /** A word about the last key (`l` on a package that never started), until the next key. */
  readonly note?: string;
}

export type MonitorAction =
  | { readonly type: 'status'; readonly status: SwarmStatus; readonly receivedAt: number }
  | { readonly type: 'status-failed'; readonly message: string; readonly unauthorized: boolean }
  | { readonly type: 'events-open' }
  | { readonly type: 'events-down'; readonly message: string; readonly unauthorized: boolean }
  | { readonly type: 'event'; readonly event: MonitorEvent }
  | { readonly type: 'focus'; readonly step: 1 | -1 }
  | { readonly type: 'move'; readonly step: number }
  | { readonly type: 'move-to'; readonly end: 'first' | 'last' }
  | { readonly type: 'help' }
  | { readonly type: 'close' }
  | { readonly type: 'log-open'; readonly target: LogTarget }
  | { readonly type: 'log-lines'; readonly lines: readonly string[] }
  | { readonly type: 'log-end'; readonly state: string }
  | { readonly type: 'log-failed'; readonly message: string }
  | { readonly type: 'note'; readonly message: string };

export interface LogTarget {
  readonly cycle: string;
  readonly cpv: string;
  readonly attempt?: number;
  readonly drone?: string;
}

const KEY_ACTIONS: ReadonlySet<MonitorAction['type']> = new Set(['focus', 'move', 'move-to', 'help', 'close', 'log-open']);

/** Lines of a build's output kept in memory (the newest). */
export const LOG_LINES_KEPT = 5000;

export const INITIAL_STATE: MonitorState = {
  receivedAt: 0,
  clockOffset: 0,
  connection: { status: 'connecting', unauthorized: false, events: 'connecting' },
  focus: 'drones',
  selected: { drones: 0, queue: 0, failures: 0 },
  overlay: 'none',
};

export function monitorReducer(current: MonitorState, action: MonitorAction): MonitorState {
  // A note lasts until the operator presses something else.
  const state = current.note !== undefined && KEY_ACTIONS.has(action.type) ? withoutKey(current, 'note') : current;
  switch (action.type) {
    case 'note':
      return { ...state, note: action.message };
    case 'status':
      return clampSelection({
        ...state,
        status: action.status,
        receivedAt: action.receivedAt,
        clockOffset: action.status.at - action.receivedAt,
        connection: { ...withoutKey(state.connection, 'statusError'), status: 'ok', unauthorized: false },
      });
    case 'status-failed':
      return { ...state, connection: { ...state.connection, status: 'failed', statusError: action.message, unauthorized: action.unauthorized } };
    case 'events-open':
      return { ...state, connection: { ...withoutKey(state.connection, 'eventsError'), events: 'open' } };
    case 'events-down':
      return { ...state, connection: { ...state.connection, events: 'down', eventsError: action.message, unauthorized: state.connection.unauthorized || action.unauthorized } };
    case 'event':
      return clampSelection({
        ...state,
        lastEvent: action.event,
        connection: { ...withoutKey(state.connection, 'eventsError'), events: 'open' },
        ...(state.status === undefined ? {} : { status: applyEvent(state.status, action.event) }),
      });
    case 'focus': {
      if (state.overlay !== 'none') return state;
      const index = PANES.indexOf(state.focus);
      return { ...state, focus: PANES[(index + action.step + PANES.length) % PANES.length] as PaneId };
    }
    case 'move':
      if (state.overlay === 'log' && state.log !== undefined) return { ...state, log: { ...state.log, scroll: Math.min(Math.max(0, state.log.scroll - action.step), Math.max(0, state.log.lines.length - 1)) } };
      if (state.overlay !== 'none') return state;
      return clampSelection({ ...state, selected: { ...state.selected, [state.focus]: state.selected[state.focus] + action.step } });
    case 'move-to':
      if (state.overlay === 'log' && state.log !== undefined) return { ...state, log: { ...state.log, scroll: action.end === 'last' ? 0 : Math.max(0, state.log.lines.length - 1) } };
      if (state.overlay !== 'none') return state;
      return clampSelection({ ...state, selected: { ...state.selected, [state.focus]: action.end === 'first' ? 0 : Number.MAX_SAFE_INTEGER } });
    case 'help':
      return state.overlay === 'help' ? { ...state, overlay: 'none' } : { ...state, overlay: 'help' };
    case 'close':
      return withoutKey({ ...state, overlay: 'none' }, 'log');
    case 'log-open':
      return { ...state, overlay: 'log', log: { ...action.target, lines: [], scroll: 0 } };
    case 'log-lines': {
      if (state.log === undefined) return state;
      const lines = [...state.log.lines, ...action.lines.map(plainLine)].slice(-LOG_LINES_KEPT);
      // Scrolled back, the view stays on the same lines while new ones arrive.
      const scroll = state.log.scroll === 0 ? 0 : Math.min(state.log.scroll + action.lines.length, Math.max(0, lines.length - 1));
      return { ...state, log: { ...state.log, lines, scroll } };
    }
    case 'log-end':
      return state.log === undefined ? state : { ...state, log: { ...state.log, ended: action.state } };
    case 'log-failed':
      return state.log === undefined ? state : { ...state, log: { ...state.log, error: action.message } };
  }
}

function plainLine(line: string): string {
  return line.replace(/\n$/, '');
}

function withoutKey<T extends object, K extends keyof T>(value: T, key: K): T {
  const { [key]: _dropped, ...rest } = value;
  return rest as T;
}

/**
 * A `package` event applied to the last status at once, so the drone's line changes before the status is read
 * again (the read that follows replaces it with the gateway's own view).
 */
export function applyEvent(status: SwarmStatus, event: MonitorEvent): SwarmStatus {
  if (event.type !== 'package') return status;
  const { cycle: cycleId, cpv, state, drone, attempt, reason } = event.fields;
  if (cycleId === undefined || cpv === undefined || state === undefined) return status;
  const cycle = status.cycles.find((candidate) => candidate.id === cycleId);
  const previous = cycle?.packages.find((candidate) => candidate.cpv === cpv);
  if (cycle === undefined || previous === undefined) return status;
  const key = `${cycleId} ${cpv}`;
  const updated: PackageStatus = {
    ...withoutKey(previous, 'reason'),
    state: state as PackageState,
    since: event.at,
    ...(attempt === undefined || !Number.isFinite(Number(attempt)) ? {} : { attempt: Number(attempt) }),
    ...(drone === undefined || drone === '' ? {} : { drone }),
    ...(reason === undefined || reason === '' ? {} : { reason }),
    ...(state === 'building' ? { startedAt: event.at } : {}),
    ...(state === 'failed' && previous.state !== 'failed' ? { failures: previous.failures + 1 } : {}),
  };
  const counts = { ...cycle.counts };
  if (previous.state !== updated.state) {
    counts[previous.state] = Math.max(0, (counts[previous.state] ?? 0) - 1);
    counts[updated.state] = (counts[updated.state] ?? 0) + 1;
  }
  const cycles = status.cycles.map((candidate) => (candidate !== cycle ? candidate : { ...cycle, counts, packages: cycle.packages.map((entry) => (entry === previous ? updated : entry)) }));
  // A drone's `building` lists what it builds or has queued (as the status computes it).
  const assigned = (state === 'building' || state === 'queued') && drone !== undefined && drone !== '' ? drone : undefined;
  const drones = status.drones.map((entry): DroneStatus => {
    const had = entry.building.includes(key);
    const has = entry.id === assigned;
    if (had === has) return entry;
    // The newest build first: the drone's line shows it at once, before the status read tells the rest.
    const building = has ? [key, ...entry.building] : entry.building.filter((item) => item !== key);
    const busyState = entry.state === 'idle' || entry.state === 'building' ? (building.length > 0 ? 'building' : 'idle') : entry.state;
    return { ...entry, building, state: busyState, ...(busyState !== entry.state ? { since: event.at } : {}) };
  });
  return { ...status, cycles, drones };
}

function isBuilding(status: SwarmStatus, key: string): boolean {
  const space = key.indexOf(' ');
  const cycle = status.cycles.find((candidate) => candidate.id === key.slice(0, space));
  return cycle?.packages.find((candidate) => candidate.cpv === key.slice(space + 1))?.state === 'building';
}

/** The cycle the monitor shows: the newest running one, else the newest. */
export function currentCycle(status: SwarmStatus | undefined): CycleStatus | undefined {
  if (status === undefined) return undefined;
  return status.cycles.find((cycle) => cycle.status === 'running') ?? status.cycles[0];
}

export interface DroneRow {
  readonly id: string;
  readonly state: DroneStatus['state'];
  /** What it builds (the first build when it runs several), or why it is grounded/offline. */
  readonly detail: string;
  readonly cycle?: string;
  readonly cpv?: string;
  readonly attempt?: number;
  /** Builds beyond the first. */
  readonly more: number;
  /** Elapsed / expected on this drone; undefined when not building or not known. */
  readonly progress?: number;
  /** Seconds: of the build while building, else since the drone entered its state. */
  readonly seconds: number;
}

/**
 * One row per drone. A build's expected time is the package's `expected` (seconds on the fastest drone of the
 * profile) scaled by how much slower this drone is than that one.
 */
export function droneRows(status: SwarmStatus | undefined, now: number): DroneRow[] {
  if (status === undefined) return [];
  return status.drones.map((drone): DroneRow => {
    // What it builds now before what waits on its queue.
    const building = [...drone.building.filter((key) => isBuilding(status, key)), ...drone.building.filter((key) => !isBuilding(status, key))];
    const [first, ...rest] = building;
    const since = Math.max(0, (now - drone.since) / 1000);
    if (first === undefined || drone.state === 'offline' || drone.state === 'grounded') {
      return { id: drone.id, state: drone.state, detail: drone.reason ?? '', more: 0, seconds: since };
    }
    const space = first.indexOf(' ');
    const cycleId = first.slice(0, space);
    const cpv = first.slice(space + 1);
    const cycle = status.cycles.find((candidate) => candidate.id === cycleId);
    const entry = cycle?.packages.find((candidate) => candidate.cpv === cpv);
    const fastest = Math.max(1, ...status.drones.filter((other) => cycle === undefined || other.profiles.includes(cycle.profile)).map((other) => other.cores));
    const expected = entry === undefined || entry.expected <= 0 ? undefined : (entry.expected * fastest) / Math.max(1, drone.cores);
    const started = entry?.state === 'building' ? entry.startedAt : undefined;
    const seconds = started === undefined ? 0 : Math.max(0, (now - started) / 1000);
    const progress = started === undefined || expected === undefined ? undefined : seconds / expected;
    const queued = entry?.state === 'queued';
    return {
      id: drone.id,
      state: drone.state,
      detail: queued ? `${cpv} (queued)` : cpv,
      cycle: cycleId,
      cpv,
      ...(entry === undefined ? {} : { attempt: entry.attempt }),
      more: rest.length,
      ...(progress === undefined ? {} : { progress }),
      seconds: started === undefined ? since : seconds,
    };
  });
}

export interface QueueSummary {
  readonly heavy: number;
  readonly normal: number;
  readonly depWait: number;
  readonly blocked: number;
  readonly building: number;
}

export interface QueueRow {
  readonly cpv: string;
  /** Attempts so far (0: never dispatched, so no output to show). */
  readonly attempt: number;
  readonly state: 'ready' | 'dep-wait' | 'blocked';
  readonly heavy: boolean;
  readonly reason?: string;
}

export function queueSummary(cycle: CycleStatus | undefined): QueueSummary {
  if (cycle === undefined) return { heavy: 0, normal: 0, depWait: 0, blocked: 0, building: 0 };
  return { heavy: cycle.queue.heavy, normal: cycle.queue.normal, depWait: cycle.counts['dep-wait'], blocked: cycle.counts.blocked, building: cycle.counts.building };
}

/** Ready packages (heavy first), then those waiting for a dependency, then blocked ones. */
export function queueRows(cycle: CycleStatus | undefined): QueueRow[] {
  if (cycle === undefined) return [];
  const rank = (entry: PackageStatus): number => (entry.state === 'queued' ? (entry.heavy ? 0 : 1) : entry.state === 'dep-wait' ? 2 : 3);
  return cycle.packages
    .filter((entry) => entry.state === 'queued' || entry.state === 'dep-wait' || entry.state === 'blocked')
    .filter((entry) => entry.state !== 'queued' || entry.drone === undefined)
    .sort((a, b) => rank(a) - rank(b) || a.since - b.since)
    .map((entry) => ({ cpv: entry.cpv, attempt: entry.attempt, state: entry.state === 'queued' ? 'ready' : (entry.state as 'dep-wait' | 'blocked'), heavy: entry.heavy, ...(entry.reason === undefined ? {} : { reason: entry.reason }) }));
}

export interface FailureRow {
  readonly cpv: string;
  readonly drone: string;
  /** `failed` for good, or `retrying` (an attempt failed, the package is back in the queue or building). */
  readonly state: 'failed' | 'retrying';
  readonly attempt: number;
  readonly reason: string;
  readonly since: number;
}

/** Packages of the cycle with a failed attempt, newest first. */
export function failureRows(cycle: CycleStatus | undefined): FailureRow[] {
  if (cycle === undefined) return [];
  return cycle.packages
    .filter((entry) => entry.state === 'failed' || (entry.failures > 0 && entry.state !== 'built' && entry.state !== 'skipped'))
    .sort((a, b) => b.since - a.since)
    .map((entry) => ({
      cpv: entry.cpv,
      drone: entry.drone ?? '-',
      state: entry.state === 'failed' ? 'failed' : 'retrying',
      attempt: entry.attempt,
      reason: entry.reason ?? (entry.state === 'failed' ? 'failed' : `${entry.failures} failed attempt${entry.failures === 1 ? '' : 's'}`),
      since: entry.since,
    }));
}

export interface CycleSummary {
  readonly id: string;
  readonly profile: string;
  readonly status: 'running' | 'finished';
  readonly total: number;
  readonly built: number;
  readonly failed: number;
  readonly building: number;
  readonly blocked: number;
  readonly skipped: number;
  /** Finished packages (built, failed, skipped) over all. */
  readonly progress: number;
  readonly elapsed: number;
  readonly eta: number;
  readonly ratio: number;
  readonly lowerBound: number;
}

/**
 * The cycle's figures, advanced by the seconds since the status was read while it runs (elapsed grows, the ETA
 * shrinks, never below zero), so the line moves between reads.
 */
export function cycleSummary(cycle: CycleStatus | undefined, secondsSinceRead: number): CycleSummary | undefined {
  if (cycle === undefined) return undefined;
  const total = cycle.packages.length;
  const { built, failed, building, blocked, skipped } = cycle.counts;
  const running = cycle.status === 'running' && cycle.startedAt !== undefined;
  const drift = running ? Math.max(0, secondsSinceRead) : 0;
  return {
    id: cycle.id,
    profile: cycle.profile,
    status: cycle.status,
    total,
    built,
    failed,
    building,
    blocked,
    skipped,
    progress: total === 0 ? 1 : (built + failed + skipped) / total,
    elapsed: cycle.elapsed + drift,
    eta: Math.max(0, cycle.eta - drift),
    ratio: cycle.ratio,
    lowerBound: cycle.lowerBound,
  };
}

/** What `l` opens for the selected row of the focused pane; undefined when it has no build to show (never started). */
export function selectedLogTarget(state: MonitorState): LogTarget | undefined {
  const cycle = currentCycle(state.status);
  const index = state.selected[state.focus];
  if (state.focus === 'drones') {
    const row = droneRows(state.status, 0)[index];
    return row?.cycle === undefined || row.cpv === undefined ? undefined : { cycle: row.cycle, cpv: row.cpv, drone: row.id, ...(row.attempt === undefined ? {} : { attempt: row.attempt }) };
  }
  if (cycle === undefined) return undefined;
  if (state.focus === 'queue') {
    const row = queueRows(cycle)[index];
    return row === undefined || row.attempt === 0 ? undefined : { cycle: cycle.id, cpv: row.cpv, attempt: row.attempt };
  }
  const row = failureRows(cycle)[index];
  return row === undefined ? undefined : { cycle: cycle.id, cpv: row.cpv, attempt: row.attempt, ...(row.drone === '-' ? {} : { drone: row.drone }) };
}

export function paneLength(state: MonitorState, pane: PaneId): number {
  if (pane === 'drones') return state.status?.drones.length ?? 0;
  const cycle = currentCycle(state.status);
  return pane === 'queue' ? queueRows(cycle).length : failureRows(cycle).length;
}

function clampSelection(state: MonitorState): MonitorState {
  const selected = { ...state.selected };
  for (const pane of PANES) selected[pane] = Math.max(0, Math.min(selected[pane], paneLength(state, pane) - 1));
  return PANES.every((pane) => selected[pane] === state.selected[pane]) ? state : { ...state, selected };
}

/** What a key does: an action, `quit`, `log` (open the selected row's output), or nothing. */
export type KeyCommand = MonitorAction | { readonly type: 'quit' } | { readonly type: 'log' } | undefined;

export interface KeyPress {
  readonly upArrow: boolean;
  readonly downArrow: boolean;
  readonly leftArrow: boolean;
  readonly rightArrow: boolean;
  readonly pageUp: boolean;
  readonly pageDown: boolean;
  readonly home: boolean;
  readonly end: boolean;
  readonly return: boolean;
  readonly escape: boolean;
  readonly ctrl: boolean;
  readonly shift: boolean;
  readonly tab: boolean;
}

export function keyCommand(input: string, key: KeyPress, page: number): KeyCommand {
  if (key.ctrl && input === 'c') return { type: 'quit' };
  if (input === 'q') return { type: 'quit' };
  if (key.escape) return { type: 'close' };
  if (key.tab) return { type: 'focus', step: key.shift ? -1 : 1 };
  if (key.rightArrow) return { type: 'focus', step: 1 };
  if (key.leftArrow) return { type: 'focus', step: -1 };
  if (key.upArrow || input === 'k') return { type: 'move', step: -1 };
  if (key.downArrow || input === 'j') return { type: 'move', step: 1 };
  if (key.pageUp) return { type: 'move', step: -Math.max(1, page) };
  if (key.pageDown) return { type: 'move', step: Math.max(1, page) };
  if (key.home || input === 'g') return { type: 'move-to', end: 'first' };
  if (key.end || input === 'G') return { type: 'move-to', end: 'last' };
  if (input === 'l' || key.return) return { type: 'log' };
  if (input === '?' || input === 'h') return { type: 'help' };
  return undefined;
}

import type { DestinationStream } from 'pino';
import { parseChrootArgv } from '../system/chroot-argv.ts';

export { consoleStyleFor, decideColour, type ConsoleStyle } from './console-style.ts';

export interface ConsoleRendererOptions {
  /** Where people read: stderr by default, so that stdout stays free for --json. */
  readonly write: (text: string) => void;
  /** ANSI colour (consoleStyleFor decides). */
  readonly colour: boolean;
  /** ✓ ✗ ↻ only under a UTF-8 locale: a Linux text console font may lack them. */
  readonly unicode: boolean;
  /**
   * The stream is a terminal that can redraw a line (a TTY, TERM not dumb): progress is one live line,
   * redrawn in place. Otherwise it is a line of its own every few seconds at most.
   */
  readonly live?: boolean;
  /** Columns of the terminal: a live line longer than this would wrap and could not be redrawn. */
  readonly columns?: number | undefined;
  /** --verbose: also each command run, and the output of builds (commands that log their output at info). */
  readonly verbose?: boolean;
}

interface Record_ {
  readonly level?: string;
  readonly msg?: string;
  readonly event?: string;
  readonly [key: string]: unknown;
}

const SYMBOLS = {
  unicode: { ok: '✓', fail: '✗', pivot: '↻', skip: '–', phase: '▶', warn: '!' },
  ascii: { ok: '[ok]', fail: '[FAIL]', pivot: '[pivot]', skip: '[skip]', phase: '==>', warn: '[!]' },
} as const;

const COLOURS = { green: 32, red: 31, yellow: 33, dim: 2, bold: 1 } as const;

/** A task shorter than this shows no progress at all: a quick restore prints its result, not a bar. */
export const PROGRESS_SHOW_AFTER_MS = 2000;
/** Off a terminal, a task's progress is a line of its own at most this often. */
export const PROGRESS_LINE_EVERY_MS = 5000;

/**
 * A pino destination that turns catalogued events into lines a person reads at a glance: phase progress,
 * ✓/✗ per step, pivots, skips. Lines that are not catalogued events are shown only at warn and above.
 */
export function createConsoleRenderer(options: ConsoleRendererOptions): DestinationStream {
  const symbols = options.unicode ? SYMBOLS.unicode : SYMBOLS.ascii;
  const paint = (colour: keyof typeof COLOURS, text: string): string =>
    options.colour ? `\u001b[${COLOURS[colour]}m${text}\u001b[0m` : text;

  const render = (record: Record_): string | undefined => {
    const field = (name: string): string => String(record[name] ?? '');
    const step = (): string => {
      const attempt = field('attempt');
      return attempt && attempt !== field('step') ? `${field('step')} (${attempt})` : field('step');
    };
    switch (record.event) {
      case 'run.started':
        return paint('bold', `argo run ${field('runId')} on ${field('root')}${record['dryRun'] ? ' (dry run)' : ''}`);
      case 'phase.started':
        return paint('bold', `${symbols.phase} ${field('phase')}`);
      case 'phase.skipped':
        return `${paint('dim', symbols.skip)} ${field('phase')} skipped: ${field('reason')}`;
      case 'phase.finished': {
        const ok = record['status'] === 'succeeded';
        const mark = ok ? paint('green', symbols.ok) : paint('red', symbols.fail);
        return `${mark} ${field('phase')} ${field('status')} ${paint('dim', formatDuration(record['durationMs']))}`;
      }
      case 'step.succeeded':
        return `  ${paint('green', symbols.ok)} ${step()} ${paint('dim', formatDuration(record['durationMs']))}`;
      case 'step.failed':
        return `  ${paint('red', symbols.fail)} ${step()}: ${field('reason')} ${paint('dim', `[${field('code')}]`)}`;
      case 'step.timed-out':
        return `  ${paint('red', symbols.fail)} ${step()}: ran past its budget of ${formatDuration(record['budgetMs'])}`;
      case 'step.skipped':
        return `  ${paint('dim', symbols.skip)} ${field('step')} skipped: ${field('reason')}`;
      case 'step.already-done':
        return `  ${paint('dim', symbols.ok)} ${field('step')} already done in the resumed run`;
      case 'pivot':
        return `  ${paint('yellow', symbols.pivot)} ${field('attempt')} ${field('outcome')} because ${field('reason')}, trying ${field('next')}`;
      case 'command.started':
        return options.verbose ? paint('dim', `  $ ${describeArgv(record['argv'], Infinity)}`) : undefined;
      case 'command.output':
        // The output of a build, which a command logs at info (outputLevel); short commands log theirs at debug.
        // Escape sequences of programs inside the target never reach the terminal.
        return options.verbose && record.level === 'info' ? paint('dim', `  | ${stripControls(field('line'))}`) : undefined;
      case 'command.killed':
        return `  ${paint('yellow', symbols.warn)} killed ${describeArgv(record['argv'])}: ${field('reason')}`;
      case 'log-dir.pivot':
        return `${paint('yellow', symbols.warn)} logs cannot go to ${field('from')} (${field('reason')}); using ${field('to')}`;
      case 'run.interrupted':
        // `signal` is the abort's reason as a sentence ("Interrupted by SIGTERM").
        return `${paint('yellow', symbols.warn)} ${capitalise(field('signal'))}; cleaning up`;
      case 'run.finished':
        return paint('bold', `run ${field('status')} in ${formatDuration(record['durationMs'])}`);
      case 'error': {
        const message = field('message');
        const hint = record['hint'] ? `\n  hint: ${field('hint')}` : '';
        return `${paint('red', symbols.fail)} ${message} ${paint('dim', `[${field('code')}]`)}${hint}`;
      }
      default:
        if (record.level === 'warn') return `${paint('yellow', symbols.warn)} ${field('msg')}`;
        if (record.level === 'error' || record.level === 'fatal') return `${paint('red', symbols.fail)} ${field('msg')}`;
        return undefined;
    }
  };

  // The live progress line on a terminal: other lines are written above it, and it is drawn again below them.
  let liveText: string | undefined;
  // Per task, the elapsedMs of the last progress line shown (off a terminal: to keep to one every few seconds).
  const shown = new Map<string, number>();
  const clearLive = (): string => (liveText === undefined ? '' : '\r\u001b[K');
  const fit = (text: string): string => (options.columns !== undefined && options.columns > 1 && text.length >= options.columns ? `${text.slice(0, options.columns - 2)}…` : text);

  const renderProgressRecord = (record: Record_): void => {
    const task = String(record['task'] ?? '');
    const elapsed = typeof record['elapsedMs'] === 'number' ? record['elapsedMs'] : 0;
    const final = record['state'] === 'done' || record['state'] === 'stopped';
    const last = shown.get(task);
    if (last === undefined && elapsed < PROGRESS_SHOW_AFTER_MS) return;
    const text = describeProgress(record);
    if (options.live === true) {
      if (final) {
        shown.delete(task);
        liveText = undefined;
        options.write(`\r\u001b[K${fit(text)}\n`);
      } else {
        shown.set(task, elapsed);
        liveText = fit(text);
        options.write(`\r\u001b[K${liveText}`);
      }
      return;
    }
    if (final) shown.delete(task);
    else if (last !== undefined && elapsed - last < PROGRESS_LINE_EVERY_MS) return;
    else shown.set(task, elapsed);
    options.write(`${text}\n`);
  };

  return {
    write(line: string): void {
      let record: Record_;
      try {
        record = JSON.parse(line) as Record_;
      } catch {
        return;
      }
      if (record.event === 'progress') {
        renderProgressRecord(record);
        return;
      }
      const text = render(record);
      if (text === undefined) return;
      options.write(`${clearLive()}${text}\n${liveText ?? ''}`);
    },
  };
}

/**
 * `snapshot restore: 1,234 of 5,000 paths (24%), 12 s elapsed, about 36 s left: /usr/lib64/libfoo.so`;
 * `libxcrypt source build: 2 min 13 s elapsed, about 1 min 40 s left`. A task that counts nothing and names
 * what it is on has rendered its own line (emerge's `[ 3/45] … ~5m00s left`): that line is shown as it is.
 */
export function describeProgress(record: Readonly<Record<string, unknown>>): string {
  const number = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
  const task = String(record['task'] ?? '');
  const done = number(record['done']);
  const total = number(record['total']);
  const state = record['state'];
  const running = state !== 'done' && state !== 'stopped';
  const current = typeof record['current'] === 'string' && record['current'] !== '' ? stripControls(record['current']) : undefined;
  if (done === undefined && current !== undefined) return `${task}: ${current}${running ? '' : state === 'done' ? ' (done)' : ' (stopped)'}`;
  const unit = typeof record['unit'] === 'string' && record['unit'] !== '' ? ` ${record['unit']}` : '';
  const parts: string[] = [];
  if (done !== undefined && total !== undefined) {
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    parts.push(`${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}${unit} (${percent}%)`);
  } else if (done !== undefined) parts.push(`${done.toLocaleString('en-US')}${unit}`);
  parts.push(state === 'done' ? `done in ${formatRoughly(record['elapsedMs'])}` : state === 'stopped' ? `stopped after ${formatRoughly(record['elapsedMs'])}` : `${formatRoughly(record['elapsedMs'])} elapsed`);
  const eta = number(record['etaMs']);
  if (running && eta !== undefined) parts.push(`about ${formatRoughly(Math.max(eta, 1000))} left`);
  return `${task}: ${parts.join(', ')}${running && current !== undefined ? `: ${current}` : ''}`;
}

export function formatDuration(value: unknown): string {
  const ms = typeof value === 'number' ? value : 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

/** Without ANSI escape sequences and other control characters (a tab stays). */
export function stripControls(text: string): string {
  return text.replace(/\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b\[[0-?]*[ -\/]*[@-~]|\u001b[@-_]|[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, '');
}

/** Whole seconds, minutes or hours, for progress: `7 s`, `4 min 05 s`, `1 h 12 min`. */
export function formatRoughly(value: unknown): string {
  const seconds = Math.round((typeof value === 'number' && Number.isFinite(value) ? Math.max(value, 0) : 0) / 1000);
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(seconds / 3600)} h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')} min`;
}

function describeArgv(argv: unknown, words = 3): string {
  if (!Array.isArray(argv)) return '';
  const all = argv.map(String);
  const chroot = parseChrootArgv(all);
  const command = chroot?.command ?? all;
  return command.slice(0, words).join(' ') + (command.length > words ? ' …' : '') + (chroot ? ` (inside ${chroot.root})` : '');
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

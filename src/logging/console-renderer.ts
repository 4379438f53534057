import type { DestinationStream } from 'pino';
import { parseChrootArgv } from '../system/chroot-argv.ts';

export interface ConsoleRendererOptions {
  /** Where people read: stderr by default, so that stdout stays free for --json. */
  readonly write: (text: string) => void;
  /** ANSI colour; only when the stream is a TTY and NO_COLOR is not set. */
  readonly colour: boolean;
  /** ✓ ✗ ↻ only under a UTF-8 locale: a Linux text console font may lack them. */
  readonly unicode: boolean;
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

/** Decides colour and symbols for a stream the way a careful CLI does. */
export function consoleStyleFor(
  stream: { isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>>,
): { colour: boolean; unicode: boolean } {
  const locale = env['LC_ALL'] || env['LC_CTYPE'] || env['LANG'] || '';
  return {
    colour: stream.isTTY === true && env['NO_COLOR'] === undefined && env['TERM'] !== 'dumb',
    unicode: /utf-?8/i.test(locale),
  };
}

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
      case 'command.killed':
        return `  ${paint('yellow', symbols.warn)} killed ${describeArgv(record['argv'])}: ${field('reason')}`;
      case 'log-dir.pivot':
        return `${paint('yellow', symbols.warn)} logs cannot go to ${field('from')} (${field('reason')}); using ${field('to')}`;
      case 'run.interrupted':
        return `${paint('yellow', symbols.warn)} interrupted by ${field('signal')}; cleaning up`;
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

  return {
    write(line: string): void {
      let record: Record_;
      try {
        record = JSON.parse(line) as Record_;
      } catch {
        return;
      }
      const text = render(record);
      if (text !== undefined) options.write(`${text}\n`);
    },
  };
}

export function formatDuration(value: unknown): string {
  const ms = typeof value === 'number' ? value : 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

function describeArgv(argv: unknown): string {
  if (!Array.isArray(argv)) return '';
  const words = argv.map(String);
  const chroot = parseChrootArgv(words);
  const command = chroot?.command ?? words;
  return command.slice(0, 3).join(' ') + (command.length > 3 ? ' …' : '') + (chroot ? ` (inside ${chroot.root})` : '');
}

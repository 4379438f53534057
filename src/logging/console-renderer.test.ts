import { describe, expect, it } from 'vitest';
import { logEvent, type EventFields } from '../core/log-events.ts';
import { createConsoleRenderer, describeProgress, formatRoughly, stripControls } from './console-renderer.ts';
import { createLogger } from './create-logger.ts';

type Progress = EventFields['progress'];
const step = (fields: Partial<Progress>): Progress => ({ task: 'snapshot restore', unit: 'paths', done: undefined, total: undefined, elapsedMs: 0, etaMs: undefined, current: undefined, state: 'running', ...fields });

function console_(options: { live: boolean; verbose?: boolean; columns?: number; level?: 'debug' | 'info' | 'warn' }) {
  const out: string[] = [];
  const { logger } = createLogger({
    streams: [{ stream: createConsoleRenderer({ write: (text) => out.push(text), colour: false, unicode: false, live: options.live, verbose: options.verbose ?? false, columns: options.columns }), level: options.level ?? 'info' }],
  });
  return { logger, out, text: () => out.join('') };
}

describe('progress on the console', () => {
  it.each([
    [step({ done: 1234, total: 5000, elapsedMs: 12_000, etaMs: 36_000, current: '/usr/lib64/libfoo.so' }), 'snapshot restore: 1,234 of 5,000 paths (24%), 12 s elapsed, about 36 s left: /usr/lib64/libfoo.so'],
    [step({ done: 5000, total: 5000, elapsedMs: 48_000, state: 'done' }), 'snapshot restore: 5,000 of 5,000 paths (100%), done in 48 s'],
    [step({ done: 10, total: 5000, elapsedMs: 3000, state: 'stopped', current: '/etc/x' }), 'snapshot restore: 10 of 5,000 paths (0%), stopped after 3 s'],
    [step({ task: 'libxcrypt source build', unit: '', elapsedMs: 133_000, etaMs: 100_000 }), 'libxcrypt source build: 2 min 13 s elapsed, about 1 min 40 s left'],
    [step({ task: 'snapshot diff 3..now', unit: 'changes', elapsedMs: 4000 }), 'snapshot diff 3..now: 4 s elapsed'],
    [step({ task: 'apkg update', unit: '', elapsedMs: 4000, current: '[ 3/45] sys-libs/glibc-2.40-r5 (binary)  elapsed 2m13s  ~5m00s left' }), 'apkg update: [ 3/45] sys-libs/glibc-2.40-r5 (binary)  elapsed 2m13s  ~5m00s left'],
    [step({ task: 'emerge', unit: '', current: 'evil\u001b]0;title\u0007 line\u001b[2J' }), 'emerge: evil line'],
  ])('describes %o', (fields, line) => {
    expect(describeProgress(fields as unknown as Record<string, unknown>)).toBe(line);
  });

  it('off a terminal: nothing for a task shorter than 2 s, then a line every 5 s at most, and the last one', () => {
    const { logger, out } = console_({ live: false });
    logEvent(logger, 'progress', step({ task: 'quick', done: 0, total: 3, elapsedMs: 0 }));
    logEvent(logger, 'progress', step({ task: 'quick', done: 3, total: 3, elapsedMs: 400, state: 'done' }));
    expect(out).toEqual([]);
    for (let second = 0; second <= 20; second += 1) logEvent(logger, 'progress', step({ done: second * 10, total: 200, elapsedMs: second * 1000 }));
    logEvent(logger, 'progress', step({ done: 200, total: 200, elapsedMs: 20_500, state: 'done' }));
    expect(out.map((line) => line.replace(/ \(.*$/s, ''))).toEqual([
      'snapshot restore: 20 of 200 paths',
      'snapshot restore: 70 of 200 paths',
      'snapshot restore: 120 of 200 paths',
      'snapshot restore: 170 of 200 paths',
      'snapshot restore: 200 of 200 paths',
    ]);
    expect(out.every((line) => line.endsWith('\n') && !line.includes('\r'))).toBe(true);
  });

  it('on a terminal: one live line redrawn in place, other lines above it, and ended by the last event', () => {
    const { logger, text } = console_({ live: true, columns: 60 });
    logEvent(logger, 'progress', step({ done: 10, total: 100, elapsedMs: 2000 }));
    logEvent(logger, 'progress', step({ done: 20, total: 100, elapsedMs: 3000, current: '/a/very/long/path/that/does/not/fit/into/sixty/columns/at/all' }));
    logEvent(logger, 'phase.started', { phase: 'verify' });
    logEvent(logger, 'progress', step({ done: 100, total: 100, elapsedMs: 4000, state: 'done' }));
    const clear = '\r\u001b[K';
    const live = 'snapshot restore: 20 of 100 paths (20%), 3 s elapsed: /a/v…';
    expect(live.length).toBe(59);
    expect(text()).toBe(
      `${clear}snapshot restore: 10 of 100 paths (10%), 2 s elapsed` + `${clear}${live}` + `${clear}==> verify\n${live}` + `${clear}snapshot restore: 100 of 100 paths (100%), done in 4 s\n`,
    );
  });

  it('shows no progress with --quiet (the console takes warnings and errors only)', () => {
    const { logger, out } = console_({ live: false, level: 'warn' });
    logEvent(logger, 'progress', step({ done: 10, total: 100, elapsedMs: 9000 }));
    logEvent(logger, 'restore.folder-kept', { path: '/var/x', reason: 'not empty' });
    expect(out).toEqual(['[!] Folder kept while restoring\n']);
  });

  it('shows the commands run and the output of builds (logged at info), without escapes, only with --verbose', () => {
    const emit = (verbose: boolean): string => {
      const { logger, text } = console_({ live: false, verbose, level: verbose ? 'debug' : 'info' });
      logEvent(logger, 'command.started', { argv: ['emerge', '--oneshot', '--usepkgonly', 'sys-libs/libxcrypt'], pid: 7, budgetMs: 1000 });
      logEvent(logger, 'command.output', { pid: 7, stream: 'stdout', line: '\u001b[32m>>> Emerging\u001b[0m (1 of 1)' }, { level: 'info' });
      logEvent(logger, 'command.output', { pid: 8, stream: 'stdout', line: 'a short command\'s output, logged at debug' });
      return text();
    };
    expect(emit(false)).toBe('');
    expect(emit(true)).toBe('  $ emerge --oneshot --usepkgonly sys-libs/libxcrypt\n  | >>> Emerging (1 of 1)\n');
  });
});

describe('formatRoughly and stripControls', () => {
  it.each([
    [0, '0 s'],
    [7_400, '7 s'],
    [245_000, '4 min 05 s'],
    [4_320_000, '1 h 12 min'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatRoughly(ms)).toBe(text);
  });

  it('keeps tabs and text, drops escape sequences and control characters', () => {
    expect(stripControls('a\tb\u001b[1mc\u001b[0m\u0007\r\nd')).toBe('a\tbcd');
  });
});

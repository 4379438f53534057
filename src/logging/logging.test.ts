import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { consoleStyleFor, createConsoleRenderer } from './console-renderer.ts';
import { createLogger } from './create-logger.ts';
import { logEvent } from '../core/log-events.ts';

describe('createLogger', () => {
  it('writes JSON lines with a static message and the data in fields', () => {
    const { logger, records } = createMemoryLogger();
    logEvent(logger, 'phase.skipped', { phase: 'display-manager', reason: 'no display manager installed' });
    expect(records[0]).toMatchObject({ level: 'info', msg: 'Phase skipped', event: 'phase.skipped', phase: 'display-manager', reason: 'no display manager installed' });
    expect(typeof records[0]?.['time']).toBe('string');
  });

  it('redacts secret fields and hashes hidden in text', () => {
    const { logger, text } = createMemoryLogger();
    logger.info({ password: 'correct horse', user: { token: 'abc123' }, line: 'alice:$y$j9T$salt$hashhashhash:19000::' }, 'Example');
    logger.error({ err: new Error('usermod -p $6$rounds=5000$salt$hashvaluehash failed') }, 'Example');
    const output = text();
    expect(output).not.toContain('correct horse');
    expect(output).not.toContain('abc123');
    expect(output).not.toContain('hashhashhash');
    expect(output).not.toContain('hashvaluehash');
    expect(output).toContain('alice:[redacted]:19000');
  });

  it('redacts the password of a URL (a binhost URL carrying a gateway token)', () => {
    const { logger, text } = createMemoryLogger();
    logger.info({ line: 'PORTAGE_BINHOST=https://client:0f3a9c77e1d2b4a5@swarm.lan:8470/binhost/desktop emerge -g' }, 'Example');
    const output = text();
    expect(output).not.toContain('0f3a9c77e1d2b4a5');
    expect(output).toContain('https://client:[redacted]@swarm.lan:8470/binhost/desktop');
  });

  it('keeps the last line on disk when the process is killed right after logging', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'argo-log-'));
    const file = join(dir, 'main.log');
    const module = new URL('./create-logger.ts', import.meta.url).pathname;
    const script = `
      import { createLogger } from ${JSON.stringify(module)};
      const { logger } = createLogger({ file: ${JSON.stringify(file)} });
      for (let i = 0; i < 100; i += 1) logger.info({ i }, 'Line');
      logger.warn({ last: true }, 'Last line before the crash');
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script]);
    expect(child.signal).toBe('SIGKILL');
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(101);
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ last: true, msg: 'Last line before the crash' });
    await rm(dir, { recursive: true, force: true });
  });
});

describe('createConsoleRenderer', () => {
  const render = (style: { colour: boolean; unicode: boolean }) => {
    const out: string[] = [];
    const { logger } = createLogger({ streams: [{ stream: createConsoleRenderer({ write: (text) => out.push(text), ...style }), level: 'info' }] });
    logEvent(logger, 'phase.started', { phase: 'libxcrypt-rebuild' });
    logEvent(logger, 'pivot', { phase: 'libxcrypt-rebuild', step: 'rebuild', attempt: 'binary-package', outcome: 'failed', reason: 'no binary', next: 'source-build' });
    logEvent(logger, 'step.succeeded', { phase: 'libxcrypt-rebuild', step: 'rebuild', attempt: 'source-build', durationMs: 61_000 });
    logEvent(logger, 'step.failed', { phase: 'pam-canary', step: 'login', attempt: 'login', durationMs: 20, code: 'ARGO_COMMAND_FAILED', reason: 'pamtester refused' });
    logEvent(logger, 'command.output', { pid: 1, stream: 'stdout', line: 'noise' });
    return out.join('');
  };

  it('renders plain ASCII without a UTF-8 locale or a TTY', () => {
    expect(render({ colour: false, unicode: false })).toBe(
      [
        '==> libxcrypt-rebuild',
        '  [pivot] binary-package failed because no binary, trying source-build',
        '  [ok] rebuild (source-build) 1 min 1 s',
        '  [FAIL] login: pamtester refused [ARGO_COMMAND_FAILED]',
        '',
      ].join('\n'),
    );
  });

  it('uses symbols under UTF-8 and colour only when asked', () => {
    const text = render({ colour: true, unicode: true });
    expect(text).toContain('✓');
    expect(text).toContain('✗');
    expect(text).toContain('\u001b[32m');
    expect(render({ colour: false, unicode: true })).not.toContain('\u001b[');
  });

  it.each([
    [{ isTTY: true }, { LANG: 'en_US.UTF-8' }, { colour: true, unicode: true }],
    [{ isTTY: false }, { LANG: 'en_US.UTF-8' }, { colour: false, unicode: true }],
    [{ isTTY: true }, { LANG: 'C' }, { colour: true, unicode: false }],
    [{ isTTY: true }, { LC_ALL: 'C.utf8', NO_COLOR: '1' }, { colour: false, unicode: true }],
    [{ isTTY: true }, { TERM: 'dumb' }, { colour: false, unicode: false }],
  ])('decides style for %o with %o', (stream, env, expected) => {
    expect(consoleStyleFor(stream, env)).toEqual(expected);
  });
});

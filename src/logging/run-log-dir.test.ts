import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { createHostRunner } from '../system/run-command.ts';
import { createLogger } from './create-logger.ts';
import { logEvent } from '../core/log-events.ts';
import { createPivotLog, openRunLogDir } from './run-log-dir.ts';

let dir: string;
const mounted: string[] = [];
const host = createHostRunner({ logger: createMemoryLogger().logger });

async function mountTmpfs(name: string, options: string): Promise<string> {
  const point = join(dir, name);
  await mkdir(point);
  await host.run('mount', ['-t', 'tmpfs', '-o', options, 'argo-test', point]);
  mounted.push(point);
  return point;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'argo-logdir-'));
});
afterEach(async () => {
  for (const point of mounted.splice(0)) await host.run('umount', [point]);
  await rm(dir, { recursive: true, force: true });
});

describe('openRunLogDir', () => {
  it('creates the run folder with mode 0700 in the first base that takes it', async () => {
    const logs = openRunLogDir([join(dir, 'var/log/argo')], 'recovery-20261122T034000Z');
    expect(logs.dir).toBe(join(dir, 'var/log/argo/recovery-20261122T034000Z'));
    expect((await stat(logs.dir)).mode & 0o777).toBe(0o700);
    expect(logs.pivotedFrom).toEqual([]);
    await logs.write('report', '{}\n');
    expect(await readFile(logs.path('report'), 'utf8')).toBe('{}\n');
  });

  it('never shares a folder between two runs, unless asked to reuse it', async () => {
    const first = openRunLogDir([dir], 'recovery-1');
    const second = openRunLogDir([dir], 'recovery-1');
    const third = openRunLogDir([dir], 'recovery-1');
    expect([first.dir, second.dir, third.dir]).toEqual([join(dir, 'recovery-1'), join(dir, 'recovery-1-2'), join(dir, 'recovery-1-3')]);
    expect(openRunLogDir([dir], 'recovery-1', { reuse: true }).dir).toBe(join(dir, 'recovery-1'));
  });

  it('pivots past a read-only and a full filesystem, saying why', async () => {
    const readOnly = await mountTmpfs('ro', 'ro,size=1m');
    const full = await mountTmpfs('full', 'size=32k');
    const fallback = join(dir, 'tmp');
    const logs = openRunLogDir([join(readOnly, 'var/log/argo'), full, fallback], 'recovery-1');
    expect(logs.dir).toBe(join(fallback, 'recovery-1'));
    expect(logs.pivotedFrom).toEqual([
      { dir: join(readOnly, 'var/log/argo/recovery-1'), reason: 'read-only filesystem' },
      { dir: join(full, 'recovery-1'), reason: 'no space left' },
    ]);
  });

  it('fails with every reason when nothing can take the logs', async () => {
    const readOnly = await mountTmpfs('ro', 'ro,size=1m');
    expect(() => openRunLogDir([readOnly], 'recovery-1')).toThrow(expect.objectContaining({ code: 'ARGO_LOG_DIR_UNAVAILABLE' }));
  });
});

describe('createPivotLog', () => {
  it('writes each pivot as one sentence and ignores other events', async () => {
    const file = join(dir, 'pivots.log');
    const { logger } = createLogger({ streams: [{ stream: createPivotLog(file), level: 'info' }] });
    logEvent(logger, 'step.started', { phase: 'libxcrypt-rebuild', step: 'rebuild', attempt: 'binary-package', budgetMs: 1 });
    logEvent(logger, 'pivot', { phase: 'libxcrypt-rebuild', step: 'rebuild', attempt: 'binary-package', outcome: 'failed', reason: 'no binary package on the binhost', next: 'source-build' });
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z libxcrypt-rebuild\/rebuild: binary-package failed because no binary package on the binhost, trying source-build\n$/);
  });
});

import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { isArgoError } from '../core/errors.ts';
import { lockTarget } from './target-lock.ts';

describe('lockTarget', () => {
  let scratch: string;
  let lockDir: string;
  let root: string;
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'argo-target-lock-'));
    lockDir = join(scratch, 'locks');
    root = join(scratch, 'root');
    await mkdir(root);
  });
  afterEach(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** The lock file as a run that died leaves it: its holder still written, the kernel's lock long gone. */
  async function leaveDeadHolder(holderRoot: string): Promise<string> {
    const { logger } = createMemoryLogger();
    const lock = await lockTarget(root, 'argo recover', { logger, lockDir });
    await lock.release();
    await writeFile(lock.file, `${JSON.stringify({ pid: 4242, command: 'argo recover', root: holderRoot, startedAt: '2026-11-29T10:00:00.000Z' })}\n`);
    return lock.file;
  }

  it('releases by clearing the holder, and a second run takes it quietly', async () => {
    const log = createMemoryLogger();
    const first = await lockTarget(root, 'argo recover', { logger: log.logger, lockDir });
    expect(JSON.parse(await readFile(first.file, 'utf8'))).toMatchObject({ pid: process.pid, command: 'argo recover', root });
    await first.release();
    expect(await readFile(first.file, 'utf8')).toBe('');
    await (await lockTarget(root, 'apkg update', { logger: log.logger, lockDir })).release();
    expect(log.records.filter((record) => record.level === 'warn')).toEqual([]);
  });

  it('refuses while another descriptor holds it, naming the holder', async () => {
    const { logger } = createMemoryLogger();
    const held = await lockTarget(root, 'argo recover', { logger, lockDir });
    try {
      const refused = await lockTarget(root, 'apkg update', { logger, lockDir }).catch((error: unknown) => error);
      expect(isArgoError(refused) && refused.code).toBe('ARGO_TARGET_LOCKED');
      expect(String((refused as Error).message)).toContain(`argo recover (pid ${process.pid}`);
    } finally {
      await held.release();
    }
  });

  it('warns when it takes over from a run on this root that died', async () => {
    await leaveDeadHolder(root);
    const log = createMemoryLogger();
    await (await lockTarget(root, 'argo recover', { logger: log.logger, lockDir })).release();
    expect(log.events('lock.taken-over')).toEqual([expect.objectContaining({ level: 'warn', pid: 4242, root })]);
    expect(log.events('lock.recycled')).toEqual([]);
  });

  it('counts a dead run on this root by another name (a symbolic link) as a takeover too', async () => {
    const alias = join(scratch, 'alias');
    await symlink(root, alias);
    await leaveDeadHolder(alias);
    const log = createMemoryLogger();
    await (await lockTarget(root, 'argo recover', { logger: log.logger, lockDir })).release();
    expect(log.events('lock.taken-over')).toHaveLength(1);
  });

  it('does not warn when the dead run was on a root that is gone and whose inode number this root reuses', async () => {
    for (const gone of [join(scratch, 'deleted-root'), 'relative/path']) {
      await leaveDeadHolder(gone);
      const log = createMemoryLogger();
      await (await lockTarget(root, 'argo recover', { logger: log.logger, lockDir })).release();
      expect(log.events('lock.taken-over')).toEqual([]);
      expect(log.events('lock.recycled')).toEqual([expect.objectContaining({ level: 'debug', pid: 4242, previousRoot: gone, root })]);
    }
  });

  it('does not warn when the dead run was on another folder that exists', async () => {
    const other = join(scratch, 'other');
    await mkdir(other);
    await leaveDeadHolder(other);
    const log = createMemoryLogger();
    await (await lockTarget(root, 'argo recover', { logger: log.logger, lockDir })).release();
    expect(log.events('lock.taken-over')).toEqual([]);
    expect(log.events('lock.recycled')).toHaveLength(1);
  });
});

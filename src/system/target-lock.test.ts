import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { isArgoError } from '../core/errors.ts';
import { lockTarget } from './target-lock.ts';

// The roots live on a small ext4 of the test's own: ext4 keeps birth times and gives a freed inode number to
// the next new folder (btrfs and tmpfs count up), whatever filesystem this machine's /tmp is.
let disk: string;
let image: string;
beforeAll(async () => {
  const base = await mkdtemp(join(tmpdir(), 'argo-target-lock-'));
  image = join(base, 'ext4.img');
  disk = join(base, 'disk');
  await mkdir(disk);
  execFileSync('truncate', ['-s', '16M', image]);
  execFileSync('mkfs.ext4', ['-q', '-F', image]);
  execFileSync('mount', ['-o', 'loop', image, disk]);
});
afterAll(async () => {
  execFileSync('umount', [disk]);
  await rm(join(disk, '..'), { recursive: true, force: true });
});

describe('lockTarget', () => {
  let scratch: string;
  let lockDir: string;
  let root: string;
  beforeEach(async () => {
    scratch = await mkdtemp(join(disk, 'test-'));
    lockDir = join(scratch, 'locks');
    root = join(scratch, 'root');
    await mkdir(root);
  });
  afterEach(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** The lock file as a run that died leaves it: its holder still written, the kernel's lock long gone. */
  async function leaveDeadHolder(holder: { root: string; rootBirth?: string }, on = root): Promise<string> {
    const { logger } = createMemoryLogger();
    const lock = await lockTarget(on, 'argo recover', { logger, lockDir });
    await lock.release();
    await writeFile(lock.file, `${JSON.stringify({ pid: 4242, command: 'argo recover', startedAt: '2026-11-29T10:00:00.000Z', ...holder })}\n`);
    return lock.file;
  }

  async function birthOf(folder: string): Promise<string> {
    return (await stat(folder, { bigint: true })).birthtimeNs.toString();
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

  it('records the root and its birth time in the holder', async () => {
    const { logger } = createMemoryLogger();
    const lock = await lockTarget(root, 'argo recover', { logger, lockDir });
    try {
      expect(JSON.parse(await readFile(lock.file, 'utf8'))).toMatchObject({ root, rootBirth: await birthOf(root) });
      expect(await birthOf(root)).not.toBe('0');
    } finally {
      await lock.release();
    }
  });

  it('warns when it takes over from a run on this root that died', async () => {
    await leaveDeadHolder({ root, rootBirth: await birthOf(root) });
    const log = createMemoryLogger();
    await (await lockTarget(root, 'argo recover', { logger: log.logger, lockDir })).release();
    expect(log.events('lock.taken-over')).toEqual([expect.objectContaining({ level: 'warn', pid: 4242, root })]);
    expect(log.events('lock.recycled')).toEqual([]);
  });

  it('still warns when that root has been renamed or mounted elsewhere since (its old path names nothing now)', async () => {
    const renamed = join(scratch, 'renamed');
    await leaveDeadHolder({ root, rootBirth: await birthOf(root) });
    await rename(root, renamed);
    const log = createMemoryLogger();
    await (await lockTarget(renamed, 'argo recover', { logger: log.logger, lockDir })).release();
    expect(log.events('lock.taken-over')).toEqual([expect.objectContaining({ pid: 4242, root: renamed })]);
  });

  it('warns when it cannot tell: a holder written without a birth time (by an older argo)', async () => {
    await leaveDeadHolder({ root: join(scratch, 'gone') });
    const log = createMemoryLogger();
    await (await lockTarget(root, 'argo recover', { logger: log.logger, lockDir })).release();
    expect(log.events('lock.taken-over')).toHaveLength(1);
  });

  it('does not warn when the dead run was on a deleted root whose inode number this root reuses (born at another time)', async () => {
    const earlier = (BigInt(await birthOf(root)) - 1_000_000_000n).toString();
    await leaveDeadHolder({ root: join(scratch, 'deleted-root'), rootBirth: earlier });
    const log = createMemoryLogger();
    await (await lockTarget(root, 'argo recover', { logger: log.logger, lockDir })).release();
    expect(log.events('lock.taken-over')).toEqual([]);
    expect(log.events('lock.recycled')).toEqual([expect.objectContaining({ level: 'debug', pid: 4242, previousRoot: join(scratch, 'deleted-root'), root })]);
  });

  it('reuses the lock file of a real deleted root quietly when the filesystem hands out its inode again', async () => {
    // The CI found this case: a test root in /tmp got the inode of another test's root that a SIGKILLed run
    // had locked, and the next run warned of a takeover.
    const { logger } = createMemoryLogger();
    const first = join(scratch, 'first');
    await mkdir(first);
    const lock = await lockTarget(first, 'argo recover', { logger, lockDir });
    const holder = await readFile(lock.file, 'utf8');
    await lock.release();
    await writeFile(lock.file, holder); // as if that run had died holding it
    const inode = (await stat(first)).ino;
    await rmdir(first);
    let reused: string | undefined;
    for (let attempt = 0; attempt < 50 && reused === undefined; attempt += 1) {
      const candidate = join(scratch, `next-${attempt}`);
      await mkdir(candidate);
      if ((await stat(candidate)).ino === inode) reused = candidate;
    }
    expect(reused, 'the filesystem did not reuse the inode number').toBeDefined();
    const log = createMemoryLogger();
    await (await lockTarget(reused as string, 'argo recover', { logger: log.logger, lockDir })).release();
    expect(log.events('lock.taken-over')).toEqual([]);
    expect(log.events('lock.recycled')).toEqual([expect.objectContaining({ previousRoot: first, root: reused })]);
  });
});

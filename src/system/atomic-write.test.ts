import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { createHostRunner } from './run-command.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'argo-atomic-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('keeps mode, owner and group of the file it replaces, and leaves no temporary file', async () => {
    const shadow = join(dir, 'shadow');
    await writeFile(shadow, 'old\n');
    await chown(shadow, 0, 42);
    await chmod(shadow, 0o640);
    await writeFileAtomic(shadow, 'new\n');
    const after = await stat(shadow);
    expect(await readFile(shadow, 'utf8')).toBe('new\n');
    expect(after.mode & 0o7777).toBe(0o640);
    expect([after.uid, after.gid]).toEqual([0, 42]);
    expect(await readdir(dir)).toEqual(['shadow']);
  });

  it('keeps a backup of the old content with the same permissions', async () => {
    const shadow = join(dir, 'shadow');
    await writeFile(shadow, 'old\n');
    await chown(shadow, 0, 42);
    await chmod(shadow, 0o600);
    await writeFileAtomic(shadow, 'new\n', { backupPath: join(dir, 'shadow-') });
    const backup = await stat(join(dir, 'shadow-'));
    expect(await readFile(join(dir, 'shadow-'), 'utf8')).toBe('old\n');
    expect(backup.mode & 0o7777).toBe(0o600);
    expect(backup.gid).toBe(42);
  });

  it('creates a new file with the mode and owner asked for', async () => {
    await writeFileAtomic(join(dir, 'fresh'), 'x', { mode: 0o600, uid: 1000, gid: 1000 });
    const created = await stat(join(dir, 'fresh'));
    expect(created.mode & 0o7777).toBe(0o600);
    expect([created.uid, created.gid]).toEqual([1000, 1000]);
  });

  it('leaves the original intact and says why when the disk is full', async () => {
    const mountPoint = join(dir, 'small');
    await mkdir(mountPoint);
    const host = createHostRunner({ logger: createMemoryLogger().logger });
    await host.run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'argo-test', mountPoint]);
    try {
      const file = join(mountPoint, 'shadow');
      await writeFile(file, 'precious\n');
      const error = await writeFileAtomic(file, Buffer.alloc(256 * 1024, 0x61)).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'ARGO_FILE_WRITE_FAILED', hint: expect.stringContaining('full') });
      expect(await readFile(file, 'utf8')).toBe('precious\n');
      expect(await readdir(mountPoint)).toEqual(['shadow']);
    } finally {
      await host.run('umount', [mountPoint]);
    }
  });

  it('never leaves a mix of old and new content when the writer is killed with SIGKILL', async () => {
    const file = join(dir, 'shadow');
    const old = `${'o'.repeat(200_000)}\n`;
    const fresh = `${'n'.repeat(300_000)}\n`;
    await writeFile(file, old);
    const script = `
      import { writeFileAtomic } from ${JSON.stringify(new URL('./atomic-write.ts', import.meta.url).pathname)};
      const old = 'o'.repeat(200_000) + '\\n';
      const fresh = 'n'.repeat(300_000) + '\\n';
      for (let i = 0; ; i += 1) {
        await writeFileAtomic(${JSON.stringify(file)}, i % 2 ? old : fresh);
        if (i === 0) console.log('replaced');
      }
    `;
    let replaced = 0;
    for (let round = 0; round < 12; round += 1) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
      // Wait until the writer is in its loop (a loaded machine starts node slowly), then kill it at varying points.
      await new Promise((resolve) => child.stdout?.once('data', resolve));
      await new Promise((resolve) => setTimeout(resolve, round * 3));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const content = await readFile(file, 'utf8');
      expect(content === old || content === fresh).toBe(true);
      if (content === fresh) replaced += 1;
    }
    // The writer really ran: the file was replaced at least once during the rounds.
    expect(replaced).toBeGreaterThan(0);
  });
});

import { spawnSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertRegularFile, withPrivateCopy } from './private-copy.ts';
import { createRootedFs } from './rooted-fs.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'argo-private-copy-'));
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc/shadow'), 'root:!:1::::::\ncanary:!$6$s$h:1:::::1:\n');
  await chown(join(root, 'etc/shadow'), 0, 42);
  await chmod(join(root, 'etc/shadow'), 0o640);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('withPrivateCopy', () => {
  it('removes copies an argo killed with SIGKILL left behind (their pid is gone), and keeps those of a live argo', async () => {
    const child = spawnSync('true');
    const dead = join(tmpdir(), `argo-overlay-${child.pid}-abandoned`);
    const live = join(tmpdir(), `argo-overlay-${process.ppid}-in-use`);
    for (const folder of [dead, live]) {
      await mkdir(folder, { mode: 0o700 });
      await writeFile(join(folder, 'shadow'), 'root:$6$old$hash:1::::::\n', { mode: 0o600 });
    }
    try {
      await withPrivateCopy(createRootedFs(root), '/etc/shadow', (text) => text, async () => undefined);
      await expect(stat(dead)).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await stat(join(live, 'shadow'))).isFile()).toBe(true);
    } finally {
      await rm(dead, { recursive: true, force: true });
      await rm(live, { recursive: true, force: true });
    }
  });

  it("hands over an edited copy with the original's owner, group and mode in a root-only folder, and removes it afterwards", async () => {
    const target = createRootedFs(root);
    let seen: { hostFile: string; text: string; mode: number; gid: number; folderMode: number } | undefined;
    const returned = await withPrivateCopy(target, '/etc/shadow', (text) => text.replace('!$6$', '$6$'), async (overlay) => {
      expect(overlay.targetPath).toBe('/etc/shadow');
      const stats = await lstat(overlay.hostFile);
      seen = { hostFile: overlay.hostFile, text: await readFile(overlay.hostFile, 'utf8'), mode: stats.mode & 0o7777, gid: stats.gid, folderMode: (await lstat(join(overlay.hostFile, '..'))).mode & 0o7777 };
      return 'done';
    });
    expect(returned).toBe('done');
    expect(seen).toMatchObject({ text: 'root:!:1::::::\ncanary:$6$s$h:1:::::1:\n', mode: 0o640, gid: 42, folderMode: 0o700 });
    expect(seen?.hostFile.startsWith(root)).toBe(false);
    await expect(stat(join(seen?.hostFile as string, '..'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toBe('root:!:1::::::\ncanary:!$6$s$h:1:::::1:\n');
  });

  it('removes the copy when the work throws, and makes none when the edit throws', async () => {
    const target = createRootedFs(root);
    let copy = '';
    await expect(
      withPrivateCopy(target, '/etc/shadow', (text) => text, async (overlay) => {
        copy = overlay.hostFile;
        throw new Error('the proof failed');
      }),
    ).rejects.toThrow('the proof failed');
    await expect(stat(copy)).rejects.toMatchObject({ code: 'ENOENT' });
    let worked = false;
    await expect(
      withPrivateCopy(target, '/etc/shadow', () => {
        throw new Error('no canary');
      }, async () => {
        worked = true;
      }),
    ).rejects.toThrow('no canary');
    expect(worked).toBe(false);
  });

  it.each([
    ['a symlink', async () => {
      await rm(join(root, 'etc/shadow'));
      await symlink('/etc/passwd', join(root, 'etc/shadow'));
    }, { code: 'ARGO_UNSAFE_PATH', message: expect.stringContaining('symbolic link') }],
    ['a folder', async () => {
      await rm(join(root, 'etc/shadow'));
      await mkdir(join(root, 'etc/shadow'));
    }, { code: 'ARGO_UNSAFE_PATH', message: expect.stringContaining('not a regular file') }],
    ['missing', async () => rm(join(root, 'etc/shadow')), { code: 'ARGO_FILE_NOT_FOUND' }],
  ])('refuses a file that is %s', async (_name, plant, error) => {
    await plant();
    const target = createRootedFs(root);
    await expect(assertRegularFile(target, '/etc/shadow')).rejects.toMatchObject(error);
    await expect(withPrivateCopy(target, '/etc/shadow', (text) => text, async () => 'ran')).rejects.toMatchObject(error);
  });

  it('refuses a temporary folder where others could rename its entries', async () => {
    const open = await mkdtemp(join(tmpdir(), 'argo-open-tmp-'));
    await chmod(open, 0o777);
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = open;
    try {
      await expect(withPrivateCopy(createRootedFs(root), '/etc/shadow', (text) => text, async () => 'ran')).rejects.toMatchObject({ code: 'ARGO_UNSAFE_PATH', message: expect.stringContaining('no sticky bit') });
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
    }
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toContain('canary:!$6$');
    await rm(open, { recursive: true, force: true });
  });
});

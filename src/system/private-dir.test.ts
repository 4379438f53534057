import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPrivateDirInside, withPrivateTempDir } from './private-dir.ts';
import { createRootedFs } from './rooted-fs.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'argo-private-dir-'));
  await chmod(root, 0o755);
  await mkdir(join(root, 'var/tmp'), { recursive: true });
  await chmod(join(root, 'var/tmp'), 0o1777);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Mode, owner and kind of a folder, as lstat sees it (a symlink is never followed). */
function shape(dir: string): [boolean, number, number] {
  const stats = lstatSync(dir);
  return [stats.isDirectory(), stats.uid, stats.mode & 0o7777];
}

describe('createPrivateDirInside', () => {
  it('makes a 0700 folder with an unpredictable name even under a umask that takes the owner bits, and removes it with what it holds', async () => {
    const saved = process.umask(0o277);
    let made;
    try {
      made = await createPrivateDirInside(createRootedFs(root), '/var/tmp', 'argo-test');
    } finally {
      process.umask(saved);
    }
    expect(made.inside).toMatch(new RegExp(`^/var/tmp/argo-test-${process.pid}-[A-Za-z0-9]{12}$`));
    expect(made.host).toBe(join(root, made.inside));
    expect(shape(made.host)).toEqual([true, 0, 0o700]);
    await mkdir(join(made.host, 'libxcrypt-4.4.36/.libs'), { recursive: true });
    await writeFile(join(made.host, 'libxcrypt-4.4.36/.libs/libcrypt.so.1'), 'built');
    made.remove();
    expect(existsSync(made.host)).toBe(false);
    made.remove();
  });

  it('reaches its folder through the links of the target, never the host', async () => {
    await mkdir(join(root, 'scratch'), { mode: 0o1777 });
    await chmod(join(root, 'scratch'), 0o1777);
    await symlink('/scratch', join(root, 'var/tmp/link'));
    const made = await createPrivateDirInside(createRootedFs(root), '/var/tmp/link', 'argo-test');
    expect(made.host.startsWith(`${join(root, 'scratch')}/`)).toBe(true);
    expect(await readdir(join(root, 'scratch'))).toEqual([basename(made.host)]);
    made.remove();
  });
});

describe('withPrivateTempDir', () => {
  it('runs the work in a 0700 folder of ours under TMPDIR whose name carries our pid (the sweep of abandoned copies reads it), and removes it however the work ends', async () => {
    let seen = '';
    await expect(
      withPrivateTempDir(`argo-overlay-${process.pid}`, async (dir) => {
        seen = dir;
        expect(basename(dir)).toMatch(new RegExp(`^argo-overlay-${process.pid}-`));
        expect(shape(dir)).toEqual([true, 0, 0o700]);
        await writeFile(join(dir, 'shadow'), 'secret');
        throw new Error('the proof failed');
      }),
    ).rejects.toThrow('the proof failed');
    expect(existsSync(seen)).toBe(false);
  });
});

describe('createPrivateTempDir', () => {
  it('is removed by tmp when its process exits, in a process that turned on graceful cleanup', async () => {
    const script = [
      "import tmp from 'tmp';",
      `import { createPrivateTempDir } from ${JSON.stringify(join(import.meta.dirname, 'private-dir.ts'))};`,
      "import { writeFileSync } from 'node:fs';",
      'tmp.setGracefulCleanup();',
      "const made = createPrivateTempDir('argo-exit-test');",
      "writeFileSync(made.dir + '/shadow', 'secret');",
      'console.log(made.dir);',
    ].join('\n');
    const dir = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '../..'), encoding: 'utf8' }).trim();
    expect(basename(dir)).toMatch(/^argo-exit-test-\d+-/);
    expect(existsSync(dir)).toBe(false);
  });
});

import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMountDir, removeMountDir, sweepMountDirs } from './rescue-devices.ts';

// Above any pid_max Linux allows (2^22): kill(pid, 0) answers ESRCH, as for a run that is gone.
const GONE = 99_999_999;

describe('the probe folders of argo rescue', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'argo-sweep-test-'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('are named with the pid of the argo that made them, private, and removed with rmdir', async () => {
    const dir = await createMountDir();
    expect(dir).toMatch(new RegExp(`/argo-rescue-${process.pid}-[A-Za-z0-9]{6}$`));
    await writeFile(join(dir, 'a-file-of-the-root'), '');
    await expect(removeMountDir(dir)).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    await rm(join(dir, 'a-file-of-the-root'));
    await removeMountDir(dir);
  });

  it('a sweep removes only the empty folders of runs that are gone, and only folders', async () => {
    const names = {
      gone: `argo-rescue-${GONE}-aB3dE6`,
      goneNotEmpty: `argo-rescue-${GONE}-Zz9Yy8`,
      goneSymlink: `argo-rescue-${GONE}-Ln4kXx`,
      mine: `argo-rescue-${process.pid}-Qq1Ww2`,
      alive: 'argo-rescue-1-Pp0Oo9',
      other: `argo-rescuer-${GONE}-aaaaaa`,
    };
    for (const name of [names.gone, names.goneNotEmpty, names.mine, names.alive, names.other]) await mkdir(join(base, name));
    await writeFile(join(base, names.goneNotEmpty, 'etc-shadow'), 'root:x:\n');
    await mkdir(join(base, 'elsewhere'));
    await symlink(join(base, 'elsewhere'), join(base, names.goneSymlink));

    expect(await sweepMountDirs(base)).toEqual([join(base, names.gone)]);
    expect((await readdir(base)).sort()).toEqual([names.goneNotEmpty, names.goneSymlink, names.mine, names.alive, names.other, 'elsewhere'].sort());
    expect(await readdir(join(base, names.goneNotEmpty))).toEqual(['etc-shadow']);
  });

  it('a sweep of a folder that cannot be read removes nothing and does not fail', async () => {
    expect(await sweepMountDirs(join(base, 'missing'))).toEqual([]);
  });
});

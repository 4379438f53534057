import { chmod, chown, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAncestors } from './trusted-path.ts';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'argo-trusted-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('checkAncestors', () => {
  it('accepts folders of root written by root alone, and a sticky folder open to all (/tmp)', async () => {
    await mkdir(join(base, 'ok/deeper'), { recursive: true, mode: 0o755 });
    await mkdir(join(base, 'sticky'), { mode: 0o755 });
    await chmod(join(base, 'sticky'), 0o1777);
    await mkdir(join(base, 'sticky/mine'), { mode: 0o700 });
    await expect(checkAncestors(join(base, 'ok/deeper/data'), 'The data folder')).resolves.toBeUndefined();
    await expect(checkAncestors(join(base, 'sticky/mine/data'), 'The data folder')).resolves.toBeUndefined();
  });

  it.each([
    ['a folder group or others may write in', async (folder: string) => chmod(folder, 0o777), 'lets group or others write in it'],
    ['a folder of another user', async (folder: string) => chown(folder, 65534, 65534), 'owned by uid 65534'],
  ])('refuses %s above the path, naming it', async (_name, spoil, problem) => {
    const folder = await mkdtemp(join(base, 'spoilt-'));
    await chmod(folder, 0o755);
    await mkdir(join(folder, 'inner'), { mode: 0o755 });
    await spoil(folder);
    await expect(checkAncestors(join(folder, 'inner/data'), 'The data folder')).rejects.toMatchObject({ code: 'ARGO_UNSAFE_PATH', details: { folder, problem: expect.stringContaining(problem) } });
  });

  it('refuses a symbolic link on the way', async () => {
    await mkdir(join(base, 'real'), { mode: 0o755 });
    await symlink(join(base, 'real'), join(base, 'link'));
    await expect(checkAncestors(join(base, 'link/data'), 'The data folder')).rejects.toMatchObject({ code: 'ARGO_UNSAFE_PATH', details: { folder: join(base, 'link'), problem: 'it is a symbolic link' } });
  });
});

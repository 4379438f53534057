import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRootedFs } from './rooted-fs.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'argo-rooted-'));
  await mkdir(join(root, 'etc/portage'), { recursive: true });
  await mkdir(join(root, 'var/db/repos/gentoo/profiles/default/linux/amd64/23.0'), { recursive: true });
  await writeFile(join(root, 'var/db/repos/gentoo/profiles/default/linux/amd64/23.0/make.defaults'), 'USE="fixture"\n');
  await writeFile(join(root, 'etc/shadow'), 'root:fixture-shadow:19000::::::\n');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('createRootedFs', () => {
  it('re-roots an absolute symlink such as make.profile instead of following it onto the host', async () => {
    await symlink('/var/db/repos/gentoo/profiles/default/linux/amd64/23.0', join(root, 'etc/portage/make.profile'));
    const target = createRootedFs(root);
    expect(await target.readText('/etc/portage/make.profile/make.defaults')).toBe('USE="fixture"\n');
    expect(await target.resolve('/etc/portage/make.profile')).toBe(join(root, 'var/db/repos/gentoo/profiles/default/linux/amd64/23.0'));
  });

  it('resolves a symlink pointing to /etc/shadow inside the fixture, never the host file', async () => {
    await symlink('/etc/shadow', join(root, 'shadow-link'));
    const target = createRootedFs(root);
    expect(await target.resolve('/shadow-link')).toBe(join(root, 'etc/shadow'));
    expect(await target.readText('/shadow-link')).toBe('root:fixture-shadow:19000::::::\n');
  });

  it.each([
    ['../../../../etc/shadow'],
    ['/etc/../../../etc/shadow'],
    ['etc/portage/../../../../etc/shadow'],
  ])('keeps %s inside the root', async (path) => {
    expect(await createRootedFs(root).resolve(path)).toBe(join(root, 'etc/shadow'));
  });

  it('clamps relative symlinks that climb above the root', async () => {
    await symlink('../../../../../../etc/shadow', join(root, 'etc/portage/climb'));
    expect(await createRootedFs(root).readText('/etc/portage/climb')).toContain('fixture-shadow');
  });

  it('follows chains of links through directories', async () => {
    await symlink('/var/db', join(root, 'db'));
    await symlink('repos/gentoo', join(root, 'var/db/tree'));
    expect(await createRootedFs(root).resolve('/db/tree/profiles')).toBe(join(root, 'var/db/repos/gentoo/profiles'));
  });

  it('reports a symlink loop with a stable code', async () => {
    await symlink('/loop-b', join(root, 'loop-a'));
    await symlink('/loop-a', join(root, 'loop-b'));
    await expect(createRootedFs(root).readText('/loop-a')).rejects.toMatchObject({ code: 'ARGO_SYMLINK_LOOP' });
  });

  it('resolves the parent but not the last component for lstat and readlink', async () => {
    await symlink('/etc/shadow', join(root, 'etc/link'));
    const target = createRootedFs(root);
    expect((await target.lstat('/etc/link')).isSymbolicLink()).toBe(true);
    expect(await target.readlink('/etc/link')).toBe('/etc/shadow');
  });

  it('writes through a symlink to the file inside the root', async () => {
    await symlink('/etc/shadow', join(root, 'etc/link'));
    await createRootedFs(root).writeFileAtomic('/etc/link', 'replaced\n');
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toBe('replaced\n');
  });

  it('creates folders inside the root, also under a symlinked parent', async () => {
    await symlink('/var/db', join(root, 'db'));
    const target = createRootedFs(root);
    await target.mkdir('/db/pkg/sys-libs');
    expect(await target.isDirectory('/var/db/pkg/sys-libs')).toBe(true);
  });

  it('tells missing files apart from other errors', async () => {
    const target = createRootedFs(root);
    expect(await target.readTextIfExists('/etc/nologin')).toBeUndefined();
    expect(await target.exists('/etc/shadow')).toBe(true);
    expect(await target.exists('/etc/shadow/not-a-dir')).toBe(false);
    await expect(target.readTextIfExists('/etc')).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('lists a folder sorted with entry types', async () => {
    await symlink('/etc/shadow', join(root, 'etc/link'));
    expect(await createRootedFs(root).readdir('/etc')).toEqual([
      { name: 'link', type: 'symlink' },
      { name: 'portage', type: 'directory' },
      { name: 'shadow', type: 'file' },
    ]);
  });
});

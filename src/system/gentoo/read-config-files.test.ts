import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLUSTERHQ_ROOT } from '../../../test/support/gentoo-fixtures.ts';
import { parsePackageUse } from '../../core/gentoo/parse-package-use.ts';
import { createRootedFs } from '../rooted-fs.ts';
import { readConfigFiles } from './read-config-files.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'argo-config-'));
  await mkdir(join(root, 'etc/portage/package.use/sub'), { recursive: true });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readConfigFiles', () => {
  it('reads a directory in lexical order, descending into subdirectories where they sort', async () => {
    const dir = join(root, 'etc/portage/package.use');
    await writeFile(join(dir, 'b-system'), 'sys-libs/glibc multiarch\n');
    await writeFile(join(dir, 'a-local'), 'sys-auth/pambase sha512\n');
    await writeFile(join(dir, 'sub/c'), 'net-misc/openssh pam\n');
    await writeFile(join(dir, 'z'), 'app-misc/tmux -vim-syntax\n');
    await writeFile(join(dir, '.hidden'), 'x/y z\n');
    await writeFile(join(dir, 'backup~'), 'x/y z\n');
    await mkdir(join(dir, '.git'));
    await writeFile(join(dir, '.git/config'), 'x/y z\n');
    await mkdir(join(dir, 'CVS'));
    await writeFile(join(dir, 'CVS/Entries'), 'x/y z\n');
    const files = await readConfigFiles(createRootedFs(root), '/etc/portage/package.use');
    expect(files.map((file) => file.path)).toEqual([
      '/etc/portage/package.use/a-local',
      '/etc/portage/package.use/b-system',
      '/etc/portage/package.use/sub/c',
      '/etc/portage/package.use/z',
    ]);
    const entries = files.flatMap((file) => parsePackageUse(file.text, { file: file.path }).entries);
    expect(entries.map((entry) => `${entry.file}:${entry.line} ${entry.atomText}`)).toEqual([
      '/etc/portage/package.use/a-local:1 sys-auth/pambase',
      '/etc/portage/package.use/b-system:1 sys-libs/glibc',
      '/etc/portage/package.use/sub/c:1 net-misc/openssh',
      '/etc/portage/package.use/z:1 app-misc/tmux',
    ]);
  });

  it('reads a plain file as it is, and a missing path as no file', async () => {
    const files = await readConfigFiles(createRootedFs(CLUSTERHQ_ROOT), '/etc/portage/package.accept_keywords');
    expect(files).toEqual([{ path: '/etc/portage/package.accept_keywords', text: expect.stringContaining('sys-libs/glibc ~*') }]);
    expect(await readConfigFiles(createRootedFs(CLUSTERHQ_ROOT), '/etc/portage/package.use')).toEqual([]);
  });

  it('follows symlinks inside the root and skips links back to a parent directory', async () => {
    await mkdir(join(root, 'srv'));
    await writeFile(join(root, 'srv/shared.use'), 'dev-lang/python sqlite\n');
    await symlink('/srv/shared.use', join(root, 'etc/portage/package.use/shared'));
    await symlink('/etc/portage/package.use', join(root, 'etc/portage/package.use/sub/loop'));
    await symlink('..', join(root, 'etc/portage/package.use/sub/up'));
    const files = await readConfigFiles(createRootedFs(root), '/etc/portage/package.use');
    expect(files).toEqual([{ path: '/etc/portage/package.use/shared', text: 'dev-lang/python sqlite\n' }]);
  });
});

import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BASH_VDB_ENTRY, CLUSTERHQ_ROOT } from '../../../test/support/gentoo-fixtures.ts';
import { findInstalled } from '../../core/gentoo/find-installed.ts';
import { createRootedFs } from '../rooted-fs.ts';
import { readVdb } from './read-vdb.ts';

describe('readVdb on the real Prefix VDB', () => {
  it('reads the 136 installed packages and reports the -MERGING- leftover', async () => {
    const vdb = await readVdb(createRootedFs(CLUSTERHQ_ROOT));
    expect(vdb.packages).toHaveLength(136);
    expect(vdb.diagnostics).toEqual([
      {
        file: '/var/db/pkg/sys-apps/-MERGING-getent-0',
        message: 'a -MERGING- directory is left over from an interrupted merge; Portage ignores it',
        action: 'ignored',
      },
    ]);
    const cpvs = vdb.packages.map((pkg) => pkg.cpv);
    expect(cpvs).toEqual([...cpvs].sort());
    expect(cpvs).toContain('sys-devel/gcc-config-1.8-r00.1');
    expect(findInstalled(vdb, 'sys-libs/glibc')[0]).toMatchObject({ slot: '2.2', counter: 502, eprefix: '/home/core/gentoo' });
    const glibc = findInstalled(vdb, 'sys-libs/glibc')[0];
    expect(glibc?.values['glibc-2.19-r1.ebuild']).toBeUndefined();
    expect(glibc?.values['environment.bz2']).toBeUndefined();
  });
});

/** Copies a (read-only) fixture entry into writable files. */
async function copyEntry(from: string, to: string, overrides: Record<string, string> = {}): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) await writeFile(join(to, name), overrides[name] ?? (await readFile(join(from, name))));
}

it('stops when its signal is aborted', async () => {
  const controller = new AbortController();
  controller.abort(new Error('interrupted'));
  await expect(readVdb(createRootedFs(CLUSTERHQ_ROOT), { signal: controller.signal })).rejects.toThrow('interrupted');
});

describe('readVdb on a prepared root', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'argo-vdb-'));
    await copyEntry(BASH_VDB_ENTRY, join(root, 'var/db/pkg/app-shells/bash-4.4_p23-r1'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('skips hidden names, VCS directories, stray files and invalid category names without a word, as Portage does', async () => {
    await mkdir(join(root, 'var/db/pkg/.cache'), { recursive: true });
    await mkdir(join(root, 'var/db/pkg/app-shells/.keep-dir'), { recursive: true });
    await mkdir(join(root, 'var/db/pkg/.git/objects'), { recursive: true });
    await mkdir(join(root, 'var/db/pkg/-bad-category/foo-1'), { recursive: true });
    await writeFile(join(root, 'var/db/pkg/app-shells/notes.txt'), 'x');
    await writeFile(join(root, 'var/db/pkg/stray'), 'x');
    const vdb = await readVdb(createRootedFs(root));
    expect(vdb.packages.map((pkg) => pkg.cpv)).toEqual(['app-shells/bash-4.4_p23-r1']);
    expect(vdb.diagnostics).toEqual([]);
  });

  it('reports and skips a directory that is not NAME-VERSION', async () => {
    await mkdir(join(root, 'var/db/pkg/app-shells/bash'), { recursive: true });
    const vdb = await readVdb(createRootedFs(root));
    expect(vdb.packages).toHaveLength(1);
    expect(vdb.diagnostics).toEqual([expect.objectContaining({ file: '/var/db/pkg/app-shells/bash', action: 'ignored' })]);
  });

  it('follows a symlinked entry inside the root, never onto the host', async () => {
    await copyEntry(BASH_VDB_ENTRY, join(root, 'srv/elsewhere/zsh-5.9'), { PF: 'zsh-5.9\n' });
    await symlink('/srv/elsewhere/zsh-5.9', join(root, 'var/db/pkg/app-shells/zsh-5.9'));
    await symlink('/etc/hostname', join(root, 'var/db/pkg/app-shells/bash-4.4_p23-r1/HOSTNAME'));
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/hostname'), 'fixture-host\n');
    const vdb = await readVdb(createRootedFs(root));
    expect(vdb.packages.map((pkg) => pkg.cpv)).toEqual(['app-shells/bash-4.4_p23-r1', 'app-shells/zsh-5.9']);
    expect(vdb.packages[0]?.values.HOSTNAME).toBe('fixture-host');
    expect(vdb.diagnostics).toEqual([]);
  });

  it('reads a VDB at another path and reports a missing one as empty', async () => {
    await cp(join(root, 'var/db/pkg'), join(root, 'mnt/pkgdb'), { recursive: true });
    expect((await readVdb(createRootedFs(root), { vdbPath: '/mnt/pkgdb/' })).packages).toHaveLength(1);
    const missing = await readVdb(createRootedFs(root), { vdbPath: '/nonexistent' });
    expect(missing.packages).toEqual([]);
    expect(missing.diagnostics).toEqual([expect.objectContaining({ file: '/nonexistent' })]);
  });
});

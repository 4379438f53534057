import { afterAll, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { appendFileSync, chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fixtureEnv } from './debian-target.ts';

const run = promisify(execFile);

export interface BtrfsDisk {
  /** A writable root for one test: a btrfs snapshot of the pristine Debian root, itself a subvolume. */
  makeRoot(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real btrfs filesystem on a loop device holding the healthy Debian fixture root once, as the subvolume
 * `pristine`; every test gets its own writable snapshot of it (instant), so its root is a btrfs subvolume
 * like a Gentoo root on btrfs. close() unmounts and detaches, whatever happened.
 */
export async function openBtrfsDisk(): Promise<BtrfsDisk> {
  const env = await fixtureEnv();
  const dir = await mkdtemp('/var/tmp/argo-btrfs-');
  const image = join(dir, 'disk.img');
  const mountPoint = join(dir, 'mnt');
  await mkdir(mountPoint);
  // Sparse: 6 GiB of address space, a few hundred MB written. The preflight disk check wants 2 GiB free.
  await run('truncate', ['-s', '6G', image]);
  const loop = (await run('losetup', ['--find', '--show', image])).stdout.trim();
  const roots: string[] = [];
  try {
    await run('mkfs.btrfs', ['-q', loop]);
    await run('mount', [loop, mountPoint]);
    await run('btrfs', ['subvolume', 'create', join(mountPoint, 'pristine')]);
    await run('cp', ['-a', `${env['ARGO_FIXTURE_BASE'] as string}/.`, join(mountPoint, 'pristine')]);
  } catch (error) {
    await run('umount', [mountPoint]).catch(() => undefined);
    await run('losetup', ['-d', loop]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    async makeRoot(name) {
      const root = join(mountPoint, name);
      await run('btrfs', ['subvolume', 'snapshot', join(mountPoint, 'pristine'), root]);
      roots.push(root);
      return root;
    },
    async close() {
      const { stdout } = await run('findmnt', ['-rn', '-o', 'TARGET']);
      for (const point of stdout.split('\n').filter((line) => line.startsWith(`${mountPoint}/`)).sort().reverse()) {
        await run('umount', ['-R', '--lazy', point]).catch(() => undefined);
      }
      await run('umount', [mountPoint]).catch(() => run('umount', ['--lazy', mountPoint]));
      await run('losetup', ['-d', loop]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One btrfs disk for the tests of a file: opened before them, closed after them (vitest hooks registered
 * here). Returns a getter, since the disk exists only once beforeAll has run.
 */
export function useBtrfsDisk(): () => BtrfsDisk {
  let disk: BtrfsDisk | undefined;
  beforeAll(async () => {
    disk = await openBtrfsDisk();
  }, 300_000);
  afterAll(async () => {
    await disk?.close();
  });
  return () => {
    if (disk === undefined) throw new Error('the btrfs disk is not open yet (use it inside a test)');
    return disk;
  };
}

/**
 * What an `emerge` of a few packages does to the Debian fixture root, the same each time: ~140 files rewritten
 * with new content, 100 rewritten with the same bytes (new inodes), a library bumped (new file, symlink
 * retargeted, old file removed), 30 files added, 25 removed, a folder of 70 files renamed, 5 modes changed, a hard
 * link added and a hard-linked file changed in place. Changes about 300 paths.
 */
export function applyUpdateLikeChange(root: string): void {
  const files = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
  // Portage merges a file by writing it beside its place and renaming it over the old one.
  const replace = (file: string, content: Buffer | string): void => {
    writeFileSync(`${file}.argo-bench`, content);
    renameSync(`${file}.argo-bench`, file);
  };
  for (const file of [...files('usr/lib/python3.11/email'), ...files('usr/lib/python3.11/json'), ...files('usr/lib/python3.11/asyncio')].slice(0, 140)) {
    replace(file, Buffer.concat([readFileSync(file), Buffer.from('\n# updated\n')]));
  }
  for (const file of files('usr/lib/python3.11/collections').concat(files('usr/lib/python3.11/concurrent'), files('usr/lib/x86_64-linux-gnu/perl-base')).slice(0, 100)) {
    replace(file, readFileSync(file));
  }
  const lib = join(root, 'usr/lib/x86_64-linux-gnu');
  writeFileSync(join(lib, 'libz.so.1.3.1'), Buffer.concat([readFileSync(join(lib, 'libz.so.1.2.13')), Buffer.from('1.3.1')]));
  unlinkSync(join(lib, 'libz.so.1'));
  symlinkSync('libz.so.1.3.1', join(lib, 'libz.so.1'));
  unlinkSync(join(lib, 'libz.so.1.2.13'));
  mkdirSync(join(root, 'usr/share/doc/argo-bench-1.0'));
  for (let index = 0; index < 30; index += 1) writeFileSync(join(root, `usr/share/doc/argo-bench-1.0/file-${index}`), `file ${index}\n`);
  for (const file of files('usr/share/locale/fr')) rmSync(file);
  renameSync(join(root, 'usr/share/zoneinfo/Europe'), join(root, 'usr/share/zoneinfo/Europa'));
  for (const name of ['ls', 'cat', 'cp', 'mv', 'rm']) chmodSync(join(root, 'usr/bin', name), 0o700);
  linkSync(join(root, 'etc/hostname'), join(root, 'etc/hostname.bak'));
  // Changed in place under one of its two names: both names change.
  appendFileSync(join(root, 'usr/bin/gunzip'), '# patched\n');
}

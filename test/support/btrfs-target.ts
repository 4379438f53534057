import { afterAll, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
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

import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { copyTarget, FIXTURE_CACHE, fixtureEnv, installFakeEmerge } from './debian-target.ts';
import { makeTinyRoot } from './tiny-root.ts';

const run = promisify(execFile);

/**
 * The disks of a machine `argo rescue` is booted on, as image files attached to loop devices:
 * - `gentoo-ext4.img`: a GPT disk, partition 1 an ext4 /boot, partition 2 an ext4 Gentoo root (the broken
 *   Debian fixture with Gentoo's os-release and the fake emerge) whose fstab names /boot by UUID (noauto,
 *   as many Gentoo installs have it), a distfiles disk that is not there, and a tmpfs;
 * - `gentoo-btrfs.img`: btrfs with the same root in subvolume `@` and its /var/log in subvolume `@log`
 *   (fstab: `subvol=@log`), the default subvolume left at the top level;
 * - `other-xfs.img`: XFS holding a non-Gentoo Linux root (busybox, os-release ID=debian), to be ignored;
 * - `locked-luks.img`: a LUKS2 container, to be reported with the command that opens it.
 * Built once per fixture version under the fixture cache; each test copies the images it changes.
 */

const VERSION = 2;
// Made at build time: two test runs on one machine with images of different builds never see one UUID (or
// one btrfs fsid, which the kernel's device registry would confuse) on two devices.
const EXT4_ROOT_UUID = randomUUID();
const EXT4_BOOT_UUID = randomUUID();
const BTRFS_UUID = randomUUID();
export const LUKS_PASSPHRASE = 'argo rescue fixture';

export const GENTOO_OS_RELEASE = `NAME=Gentoo
ID=gentoo
PRETTY_NAME="Gentoo Linux"
ANSI_COLOR="1;32"
HOME_URL="https://www.gentoo.org/"
SUPPORT_URL="https://www.gentoo.org/support/"
BUG_REPORT_URL="https://bugs.gentoo.org/"
VERSION_ID="2.17"
`;

export interface RescueImages {
  readonly dir: string;
  readonly ext4: string;
  readonly btrfs: string;
  readonly xfs: string;
  readonly luks: string;
}

async function imagesKey(): Promise<string> {
  const env = await fixtureEnv();
  const hash = createHash('sha256');
  // Bump VERSION when the images change; a rebuilt fixture root or fake emerge rebuilds them too.
  hash.update(`${VERSION}\n${env['ARGO_FIXTURE_BUILDER_SHA256'] ?? ''}\n`);
  const installer = env['ARGO_FIXTURE_FAKE_EMERGE_INSTALLER'];
  if (installer !== undefined && existsSync(installer)) hash.update(await readFile(installer));
  return hash.digest('hex').slice(0, 16);
}

/** The cached images, built when missing (about a minute); the cache is never changed by a test. */
export async function rescueImages(): Promise<RescueImages> {
  const dir = join(FIXTURE_CACHE, 'rescue-images', await imagesKey());
  const images: RescueImages = {
    dir,
    ext4: join(dir, 'gentoo-ext4.img'),
    btrfs: join(dir, 'gentoo-btrfs.img'),
    xfs: join(dir, 'other-xfs.img'),
    luks: join(dir, 'locked-luks.img'),
  };
  if (existsSync(join(dir, 'complete'))) return images;
  // Other versions stay while another test run on this machine may be using them: those built in the last
  // day. Older ones (and builds that never completed) go.
  for (const entry of await readdir(join(FIXTURE_CACHE, 'rescue-images')).catch(() => [] as string[])) {
    const other = join(FIXTURE_CACHE, 'rescue-images', entry);
    const built = await stat(join(other, 'complete')).catch(() => undefined);
    const age = Date.now() - (built?.mtimeMs ?? (await stat(other)).mtimeMs);
    if (age > 24 * 3600 * 1000) await rm(other, { recursive: true, force: true });
  }
  const building = `${dir}.building-${process.pid}`;
  await mkdir(building, { recursive: true });
  try {
    const root = await copyTarget('broken');
    try {
      await installFakeEmerge(root.root, { BINARY: 'ok' });
      await writeFile(join(root.root, 'etc/os-release'), GENTOO_OS_RELEASE);
      await buildExt4Disk(join(building, 'gentoo-ext4.img'), root.root);
      await buildBtrfsDisk(join(building, 'gentoo-btrfs.img'), root.root);
    } finally {
      await root.remove();
    }
    await buildXfsDisk(join(building, 'other-xfs.img'));
    await buildLuks(join(building, 'locked-luks.img'));
    await writeFile(join(building, 'complete'), `${new Date().toISOString()}\n`);
    await rename(building, dir);
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw error;
  }
  return images;
}

async function buildExt4Disk(image: string, source: string): Promise<void> {
  await run('truncate', ['-s', '1600M', image]);
  // 1 MiB alignment; partition 1: 64 MiB /boot, partition 2: the rest.
  await runWithInput('sfdisk', ['--quiet', image], 'label: gpt\nsize=64MiB, type=linux, name=boot\ntype=linux, name=gentoo-root\n');
  const fstab = [
    '# /etc/fstab of the rescue fixture (a Gentoo install on a GPT disk)',
    `UUID=${EXT4_ROOT_UUID}  /                     ext4   noatime             0 1`,
    `UUID=${EXT4_BOOT_UUID}  /boot                 ext4   noauto,noatime      0 2`,
    'UUID=00000000-0000-4000-8000-00000000dead  /var/cache/distfiles  ext4  defaults,nofail  0 2',
    'tmpfs  /var/tmp/portage  tmpfs  size=2G,uid=portage,gid=portage,mode=775,nosuid,noatime,nodev  0 0',
    '/dev/cdrom  /mnt/cdrom  auto  noauto,ro  0 0',
    '',
  ].join('\n');
  await writeFile(join(source, 'etc/fstab'), fstab);
  await mkdir(join(source, 'boot'), { recursive: true });
  await mkdir(join(source, 'var/cache/distfiles'), { recursive: true });
  const loop = await attachWithPartitions(image);
  try {
    const boot = await mkdtemp('/var/tmp/argo-rescue-boot-');
    try {
      await writeFile(join(boot, 'vmlinuz-6.6.30-gentoo'), 'not a kernel: the rescue fixture\'s /boot\n');
      await run('mkfs.ext4', ['-q', '-F', '-L', 'boot', '-U', EXT4_BOOT_UUID, '-d', boot, `${loop}p1`]);
    } finally {
      await rm(boot, { recursive: true, force: true });
    }
    // mkfs -d copies the tree (owners, modes, hard links, xattrs) without mounting anything.
    await run('mkfs.ext4', ['-q', '-F', '-L', 'gentoo-root', '-U', EXT4_ROOT_UUID, '-d', source, `${loop}p2`], { maxBuffer: 64 * 1024 * 1024 });
  } finally {
    await detachLoop(loop);
  }
}

async function buildBtrfsDisk(image: string, source: string): Promise<void> {
  await run('truncate', ['-s', '2G', image]);
  await writeFile(
    join(source, 'etc/fstab'),
    [`UUID=${BTRFS_UUID}  /         btrfs  subvol=@,noatime     0 0`, `UUID=${BTRFS_UUID}  /var/log  btrfs  subvol=@log,noatime  0 0`, ''].join('\n'),
  );
  const loop = (await run('losetup', ['--find', '--show', image])).stdout.trim();
  const mountPoint = await mkdtemp('/var/tmp/argo-rescue-btrfs-');
  try {
    await run('mkfs.btrfs', ['-q', '-f', '-L', 'gentoo', '-U', BTRFS_UUID, loop]);
    await run('mount', [loop, mountPoint]);
    try {
      for (const name of ['@', '@log', '@snapshots']) await run('btrfs', ['subvolume', 'create', join(mountPoint, name)]);
      await run('cp', ['-a', `${source}/.`, join(mountPoint, '@')]);
      await run('cp', ['-a', `${source}/var/log/.`, join(mountPoint, '@log')]);
      await run('find', [join(mountPoint, '@/var/log'), '-mindepth', '1', '-delete']);
    } finally {
      await run('umount', [mountPoint]);
    }
  } finally {
    await run('losetup', ['-d', loop]);
    await rm(mountPoint, { recursive: true, force: true });
  }
}

async function buildXfsDisk(image: string): Promise<void> {
  await run('truncate', ['-s', '320M', image]);
  await run('mkfs.xfs', ['-q', '-f', '-L', 'other', image]);
  const source = await makeTinyRoot('/var/tmp');
  const mountPoint = await mkdtemp('/var/tmp/argo-rescue-xfs-');
  try {
    await mkdir(join(source, 'usr/bin'), { recursive: true });
    await writeFile(join(source, 'etc/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n');
    await run('mount', ['-o', 'loop', image, mountPoint]);
    try {
      await run('cp', ['-a', `${source}/.`, mountPoint]);
    } finally {
      await run('umount', [mountPoint]);
    }
  } finally {
    await rm(source, { recursive: true, force: true });
    await rm(mountPoint, { recursive: true, force: true });
  }
}

async function buildLuks(image: string): Promise<void> {
  await run('truncate', ['-s', '40M', image]);
  // PBKDF2 with few iterations: the fixture opens in milliseconds (it is never opened by the tests anyway).
  await runWithInput('cryptsetup', ['luksFormat', '--batch-mode', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', '-', image], LUKS_PASSPHRASE);
}

/**
 * losetup --partscan asks the kernel to read the partition table; on some kernels (a loop driver loaded
 * with max_part=0) it does not, and `partx --add` (BLKPG ioctls) adds the partitions instead.
 */
async function attachWithPartitions(image: string, readOnly = false): Promise<string> {
  const loop = (await run('losetup', ['--find', '--show', '--partscan', ...(readOnly ? ['--read-only'] : []), image])).stdout.trim();
  const { stdout } = await run('sfdisk', ['--dump', loop]).catch(() => ({ stdout: '' }));
  if (/^label:/m.test(stdout) && !existsSync(`${loop}p1`)) await run('partx', ['--add', '--', loop]);
  return loop;
}

/** Partitions added with partx stay behind a detached loop device on such kernels: removed first. */
async function detachLoop(loop: string): Promise<void> {
  if (existsSync(`${loop}p1`)) await run('partx', ['--delete', '--', loop]).catch(() => undefined);
  await run('losetup', ['-d', loop]).catch(() => undefined);
}

function runWithInput(file: string, args: readonly string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, (error) => (error ? reject(error) : resolve()));
    child.stdin?.end(input);
  });
}

/**
 * A small ext4 data disk in the state a forced power-off leaves: an inode on the orphan list (deleted while
 * open). A read-only mount of the writable device cleans the orphan up, and writes, even with `noload`; argo
 * rescue's looks must not change a byte of it.
 */
export async function makeOrphanDisk(dir: string): Promise<string> {
  const image = join(dir, 'orphan.img');
  const file = join(dir, 'orphan-file');
  await run('truncate', ['-s', '32M', image]);
  await run('mkfs.ext4', ['-q', '-F', '-L', 'data', image]);
  await writeFile(file, 'open and deleted\n');
  await run('debugfs', ['-w', '-R', `write ${file} f`, image]);
  const inode = /Inode:\s+(\d+)/.exec((await run('debugfs', ['-R', 'stat f', image])).stdout)?.[1];
  if (inode === undefined) throw new Error('debugfs printed no inode for f');
  await runWithInput('debugfs', ['-w', '-f', '-', image], `set_inode_field f links_count 0\nunlink f\nssv last_orphan ${inode}\n`);
  const { stdout } = await run('dumpe2fs', ['-h', image]);
  if (!new RegExp(`^First orphan inode:\\s+${inode}$`, 'm').test(stdout)) throw new Error('the orphan disk has no orphan inode');
  await rm(file);
  return image;
}

/** A test's own copy of some images (or, read-only, the cached images), attached to loop devices (partitions scanned); detach() cleans up. */
export interface AttachedDisks {
  readonly dir: string;
  readonly devices: Record<string, string>;
  readonly files: Record<string, string>;
  detach(): Promise<void>;
}

export async function attachCopies(images: Record<string, string>, options: { readonly readOnly?: boolean } = {}): Promise<AttachedDisks> {
  const dir = await mkdtemp('/var/tmp/argo-rescue-disks-');
  const devices: Record<string, string> = {};
  const files: Record<string, string> = {};
  const detach = async (): Promise<void> => {
    for (const device of Object.values(devices)) await detachLoop(device);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const [name, image] of Object.entries(images)) {
      // Read-only: the cached image itself behind a read-only loop device (no copy; nothing can write it).
      const file = options.readOnly === true ? image : join(dir, `${name}.img`);
      if (options.readOnly !== true) await run('cp', ['--sparse=always', image, file]);
      files[name] = file;
      devices[name] = await attachWithPartitions(file, options.readOnly === true);
    }
  } catch (error) {
    await detach();
    throw error;
  }
  return { dir, devices, files, detach };
}

/**
 * Where any of `devices` (or a partition of one) is mounted, in ANY mount namespace of the machine: argo
 * rescue mounts in a private namespace, invisible to findmnt here; /proc/PID/mountinfo of every process
 * shows them all. `pid: mount point` entries.
 */
export async function mountsOf(devices: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    let text: string;
    try {
      text = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
    } catch {
      continue; // the process ended meanwhile
    }
    for (const line of text.split('\n')) {
      const [before, after] = line.split(' - ');
      if (before === undefined || after === undefined) continue;
      const source = after.split(' ')[1] ?? '';
      if (devices.some((device) => source === device || (source.startsWith(`${device}p`) && /^\d+$/.test(source.slice(device.length + 1))))) {
        found.add(`${pid}: ${before.split(' ')[4] ?? '?'}`);
      }
    }
  }
  return [...found].sort();
}

/** Waits until no process of the machine has any of `devices` mounted (a killed run's namespace dying), or fails. */
export async function waitUntilUnmounted(devices: readonly string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await mountsOf(devices);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`still mounted after ${timeoutMs} ms: ${left.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

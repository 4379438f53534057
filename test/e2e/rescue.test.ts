import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attachCopies, makeOrphanDisk, mountsOf, rescueImages, waitUntilUnmounted, type AttachedDisks, type RescueImages } from '../support/rescue-images.ts';
import { PROJECT, runBuiltCli, type CliRun } from '../support/run-cli.ts';

const run = promisify(execFile);

interface RescueJson {
  pretend: boolean;
  devices: { device: string; verdict: string; detail: string }[];
  candidates: { device: string; subvolume?: string; gentoo: boolean; evidence: { osId?: string } }[];
  chosen?: { device: string; subvolume?: string };
  mounts: { from: string; device: string; at: string; status: string; detail?: string; unmounted?: string }[];
  repair?: { ok: boolean; exitCode: number; report: { outcome: string; login: { ok: boolean; proof: string[] }; logDir: string; nextSteps: string[] } };
}

let images: RescueImages;
beforeAll(async () => {
  images = await rescueImages();
}, 600_000);

const attached: AttachedDisks[] = [];
const scratch: string[] = [];
afterEach(async () => {
  const leftovers: string[] = [];
  for (const disks of attached.splice(0)) {
    // A test that failed half-way may leave a rescue's namespace behind: its mounts are taken down inside it
    // (nsenter), and the test run still fails for it.
    for (const entry of await mountsOf(Object.values(disks.devices))) {
      leftovers.push(entry);
      const [pid, point] = entry.split(': ') as [string, string];
      await run('nsenter', ['-t', pid, '-m', 'umount', '--lazy', point]).catch(() => undefined);
    }
    await disks.detach();
  }
  expect(leftovers).toEqual([]);
  for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Copies of the images the test may change; `readOnly`: the cached images behind read-only loop devices. */
async function disks(names: readonly (keyof Omit<RescueImages, 'dir'>)[], readOnly = false): Promise<AttachedDisks> {
  const copies = await attachCopies(Object.fromEntries(names.map((name) => [name, images[name]])), { readOnly });
  attached.push(copies);
  return copies;
}

async function passwordFile(): Promise<string> {
  const dir = await mkdtemp('/var/tmp/argo-rescue-test-');
  scratch.push(dir);
  const file = join(dir, 'password');
  await writeFile(file, 'correct horse\n', { mode: 0o600 });
  return file;
}

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp('/var/tmp/argo-rescue-test-');
  scratch.push(dir);
  return dir;
}

const scanArgs = (copies: AttachedDisks): string[] => Object.values(copies.devices).flatMap((device) => ['--scan', device]);

function reportOf(result: CliRun): RescueJson {
  try {
    return JSON.parse(result.stdout) as RescueJson;
  } catch {
    throw new Error(`no JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Mounts `device` (with `options`) on the live system for a look after the run, and always unmounts it. */
async function withMounted<T>(device: string, options: string[], look: (root: string) => Promise<T>): Promise<T> {
  const at = await scratchDir();
  await run('mount', [...(options.length > 0 ? ['-o', options.join(',')] : []), device, at]);
  try {
    return await look(at);
  } finally {
    await run('umount', [at]);
  }
}

/** A real PAM login inside the repaired root, as alice would try it at the console. */
async function pamLogin(root: string, password: string): Promise<number | null> {
  const child = spawn('chroot', [root, 'pamtester', 'login', 'alice', 'authenticate'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(`${password}\n`);
  return new Promise((resolve) => child.once('exit', resolve));
}

describe('argo rescue on loop-device disks', { timeout: 300_000 }, () => {
  it('--pretend finds the ext4 Gentoo root on a partition, ignores the XFS Debian root, reports the LUKS container, and changes no byte', async () => {
    const copies = await disks(['ext4', 'xfs', 'luks']);
    // And a data disk with an orphan inode, as a forced power-off leaves it: looked at, not cleaned up.
    const orphan = await attachCopies({ orphan: await makeOrphanDisk(await scratchDir()) });
    attached.push(orphan);
    Object.assign(copies.devices, orphan.devices);
    Object.assign(copies.files, orphan.files);
    const before = await Promise.all(Object.values(copies.files).map(sha256));
    const mountPoint = join(await scratchDir(), 'gentoo');
    const root = `${copies.devices['ext4'] as string}p2`;
    // A locked container beside it could hold the real root: the admin names the device.
    const result = await runBuiltCli('argo', ['rescue', '--user', 'alice', '--password-file', await passwordFile(), '--pretend', '--device', root, '--mount-point', mountPoint, '--json', ...scanArgs(copies)]);
    const report = reportOf(result);
    expect(result.code, result.stderr).toBe(0);
    expect(report.pretend).toBe(true);
    expect(report.chosen).toMatchObject({ device: root });
    expect(report.candidates.find((candidate) => candidate.device === root)).toMatchObject({ gentoo: true, evidence: { osId: 'gentoo' } });
    expect(report.candidates.find((candidate) => candidate.device === copies.devices['xfs'])).toMatchObject({ gentoo: false, evidence: { osId: 'debian' } });
    const luks = report.devices.find((finding) => finding.device === copies.devices['luks']);
    expect(luks).toMatchObject({ verdict: 'locked' });
    expect(luks?.detail).toContain(`cryptsetup open ${copies.devices['luks'] as string}`);
    // /boot from fstab (noauto there, but the repair may need it), read-only like the root; the missing
    // distfiles disk skipped (nofail), the tmpfs and the cdrom never considered.
    expect(report.mounts.map((mount) => [mount.from, mount.status])).toEqual([
      ['root', 'mounted'],
      ['fstab:3', 'mounted'],
      ['fstab:4', 'skipped'],
    ]);
    expect(report.mounts.every((mount) => mount.status !== 'mounted' || mount.unmounted === 'unmounted')).toBe(true);
    // The repair ran as a dry run against the read-only root and says what it would do.
    expect(report.repair).toMatchObject({ ok: true, exitCode: 0 });
    // Its next steps are argo rescue's (no --dry-run, no umount -R: rescue has its own flag and unmounts itself).
    expect(report.repair?.report.nextSteps).toContain('Run again without --pretend to make these changes.');
    // Nothing changed: not the mount point (never created), not one byte of any disk, nothing left mounted.
    await expect(readdir(mountPoint)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await Promise.all(Object.values(copies.files).map(sha256))).toEqual(before);
    expect(await mountsOf(Object.values(copies.devices))).toEqual([]);
  });

  it('two Gentoo disks: refuses to guess and lists both; nothing is mounted', async () => {
    const copies = await disks(['ext4', 'btrfs'], true);
    const result = await runBuiltCli('argo', ['rescue', '--user', 'alice', '--password-file', await passwordFile(), '--json', ...scanArgs(copies)]);
    expect(result.code, result.stderr).toBe(2);
    const error = (JSON.parse(result.stdout) as { error: { code: string; message: string; hint: string } }).error;
    expect(error.code).toBe('ARGO_RESCUE_AMBIGUOUS');
    expect(error.message).toContain(`${copies.devices['ext4'] as string}p2`);
    expect(error.message).toContain(`${copies.devices['btrfs'] as string} subvol=@`);
    expect(error.hint).toMatch(/--device /);
    expect(await mountsOf(Object.values(copies.devices))).toEqual([]);
  });

  it('one Gentoo root beside a locked LUKS container: does not take it by itself, says how to open the container or name the device', async () => {
    const copies = await disks(['ext4', 'luks'], true);
    const result = await runBuiltCli('argo', ['rescue', '--user', 'alice', '--password-file', await passwordFile(), ...scanArgs(copies)]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('ARGO_RESCUE_AMBIGUOUS');
    expect(result.stderr).toContain(`cryptsetup open ${copies.devices['luks'] as string}`);
    expect(result.stderr).toContain(`--device ${copies.devices['ext4'] as string}p2`);
    expect(await mountsOf(Object.values(copies.devices))).toEqual([]);
  });

  it('only a LUKS container and a Debian disk: says how to open the container, changes nothing', async () => {
    const copies = await disks(['xfs', 'luks'], true);
    const result = await runBuiltCli('argo', ['rescue', '--user', 'alice', '--password-file', await passwordFile(), ...scanArgs(copies)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ARGO_RESCUE_NO_ROOT');
    expect(result.stderr).toContain(`cryptsetup open ${copies.devices['luks'] as string}`);
    expect(result.stderr).toMatch(/Debian GNU\/Linux 12/);
    expect(await mountsOf(Object.values(copies.devices))).toEqual([]);
  });

  it('names a device that is not there: a usage error that says how to list them', async () => {
    const result = await runBuiltCli('argo', ['rescue', '--user', 'alice', '--password-file', await passwordFile(), '--device', '/dev/argo-no-such-disk']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ARGO_DEVICE_NOT_FOUND');
    expect(result.stderr).toContain('lsblk');
  });

  it('repairs the root in btrfs subvolume @, with /var/log from subvolume @log as its fstab says; alice logs in afterwards', async () => {
    const copies = await disks(['btrfs', 'xfs']);
    const device = copies.devices['btrfs'] as string;
    expect(await withMounted(device, ['subvol=@'], (root) => pamLogin(root, 'correct horse'))).not.toBe(0);
    const mountPoint = join(await scratchDir(), 'gentoo');
    const result = await runBuiltCli('argo', ['rescue', '--user', 'alice', '--password-file', await passwordFile(), '--mount-point', mountPoint, '--json', ...scanArgs(copies)]);
    const report = reportOf(result);
    expect(result.code, result.stderr).toBe(0);
    expect(report.chosen).toMatchObject({ device, subvolume: '@' });
    expect(report.mounts.map((mount) => [mount.from, mount.at, mount.status, mount.unmounted])).toEqual([
      ['root', mountPoint, 'mounted', 'unmounted'],
      ['fstab:2', join(mountPoint, 'var/log'), 'mounted', 'unmounted'],
    ]);
    expect(report.repair?.report.outcome).toBe('recovered');
    expect(report.repair?.report.login.ok).toBe(true);
    expect(report.repair?.report.nextSteps.join('\n')).toMatch(/^argo rescue unmounts the root when it is done: reboot into it/m);
    expect(report.repair?.report.nextSteps.join('\n')).not.toContain('umount -R');
    expect(await mountsOf(Object.values(copies.devices))).toEqual([]);
    expect(await readdir(mountPoint)).toEqual([]);
    // The run's logs went to the @log subvolume (mounted at /var/log), not into @ under it.
    const logFolder = report.repair?.report.logDir.slice(join(mountPoint, 'var/log/').length) as string;
    await withMounted(device, ['subvol=@log'], async (logs) => expect((await readdir(join(logs, logFolder))).length).toBeGreaterThan(3));
    await withMounted(device, ['subvol=@'], async (root) => {
      expect(await readdir(join(root, 'var/log'))).toEqual([]);
      expect(await pamLogin(root, 'correct horse')).toBe(0);
    });
  });

  it('leaves nothing mounted when the argo the admin started is killed with SIGKILL half-way', async () => {
    const copies = await disks(['ext4']);
    const mountPoint = join(await scratchDir(), 'gentoo');
    const password = await passwordFile();
    let killed = false;
    const result = await new Promise<CliRun>((resolve) => {
      const child = spawn(process.execPath, [`${PROJECT}dist/cli/argo.js`, 'rescue', '--user', 'alice', '--password-file', password, '--mount-point', mountPoint, ...scanArgs(copies)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // Killed once the root and /boot are mounted, in the middle of the libxcrypt rebuild.
        if (!killed && /▶ libxcrypt-rebuild/.test(stderr)) {
          killed = true;
          child.kill('SIGKILL');
        }
      });
      child.once('close', (code, signal) => resolve({ code, signal, stdout: '', stderr }));
    });
    expect(killed, result.stderr).toBe(true);
    expect(result.signal).toBe('SIGKILL');
    // The inner argo dies with the outer one (its death signal), and its namespace with every mount in it.
    await waitUntilUnmounted(Object.values(copies.devices));
    // The kernel unmounts the filesystem cleanly: its superblock says so (a crash would leave it 'not clean').
    // The namespace's mount table is gone a moment before ext4 has written that: wait for it.
    const deadline = Date.now() + 60_000;
    let state = '';
    while (Date.now() < deadline) {
      state = /^Filesystem state:\s+(.*)$/m.exec((await run('dumpe2fs', ['-h', `${copies.devices['ext4'] as string}p2`])).stdout)?.[1] ?? '';
      if (state === 'clean') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(state).toBe('clean');
  });
});

describe('the SystemRescue autorun hook', { timeout: 300_000 }, () => {
  it('runs argo rescue from a laid-out stick: the password copied privately, the output kept on the stick, alice logs in', async () => {
    const copies = await disks(['ext4', 'xfs', 'luks']);
    const stick = await scratchDir();
    await mkdir(join(stick, 'autorun'));
    await mkdir(join(stick, 'argo'));
    await copyFile(join(PROJECT, 'init/systemrescue/autorun'), join(stick, 'autorun/autorun'));
    // The stick's argo: the single file where it is built; here a launcher of the built tree.
    const launcher = join(stick, 'argo/argo-linux-x64');
    await writeFile(launcher, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(PROJECT, 'dist/cli/argo.js'))} "$@"\n`);
    await chmod(launcher, 0o755);
    // Written on another system: a byte-order mark, Windows line ends, quotes.
    await writeFile(join(stick, 'argo/rescue.conf'), `\uFEFF# written on a Windows machine\r\nARGO_USER="alice"\r\nARGO_DEVICE=${copies.devices['ext4'] as string}p2\r\n`);
    // A FAT stick: every file world-readable; argo would refuse it as a password file as it is.
    await writeFile(join(stick, 'argo/password'), 'correct horse\r\n', { mode: 0o755 });
    const mountPoint = join(await scratchDir(), 'gentoo');
    const hook = await new Promise<CliRun>((resolve) => {
      const child = spawn('sh', [join(stick, 'autorun/autorun')], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1', ARGO_STICK: stick, ARGO_RESCUE_ARGS: [...scanArgs(copies), '--mount-point', mountPoint].join(' ') },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    expect(hook.code, `${hook.stdout}\n${hook.stderr}`).toBe(0);
    expect(hook.stderr).toContain('alice can log in again');
    const logs = await readdir(join(stick, 'argo/logs'));
    expect(logs.some((name) => name.endsWith('.txt'))).toBe(true);
    const text = await readFile(join(stick, 'argo/logs', logs.find((name) => name.endsWith('.txt')) as string), 'utf8');
    expect(text).toContain('RECOVERED: alice can log in again');
    expect(text).not.toContain('correct horse');
    const log = await readFile(join(stick, 'argo/logs', logs.find((name) => name.endsWith('.log')) as string), 'utf8');
    expect(log).toContain('"event":"rescue.mounted"');
    expect(log).not.toContain('correct horse');
    // The private copy of the password is gone.
    expect((await readdir('/run')).filter((name) => name.startsWith('argo-autorun.'))).toEqual([]);
    expect(await mountsOf(Object.values(copies.devices))).toEqual([]);
    await withMounted(`${copies.devices['ext4'] as string}p2`, [], async (root) => expect(await pamLogin(root, 'correct horse')).toBe(0));
  });
});

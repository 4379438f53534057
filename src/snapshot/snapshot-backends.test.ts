import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { openSystem, type System } from '../system/open-system.ts';
import { createBtrfsBackend } from './btrfs-backend.ts';
import { describeSnapshotBackend, type ConformanceTarget } from '../../test/support/snapshot-conformance.ts';
import { detectSnapshotBackend, openSnapshotBackend } from './detect-backend.ts';
import { findProtectedSnapshots } from './retention.ts';
import { createSnapperBackend } from './snapper-backend.ts';

/**
 * Real btrfs on a loop device with Debian's real snapper (bookworm: 0.10.4). One 1 GiB filesystem for the
 * file, three subvolumes on it: one per backend run. Everything is unmounted and detached in afterAll.
 */
const sh = (file: string, args: string[]): string => execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function ensurePackages(): void {
  const missing = [['snapper', '/usr/bin/snapper'], ['btrfs-progs', '/bin/btrfs']].filter(([, program]) => !existsSync(program as string) && !existsSync(`/usr${program as string}`));
  if (missing.length === 0) return;
  const names = missing.map(([name]) => name as string);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...names], { env, stdio: 'pipe' });
  } catch {
    execFileSync('apt-get', ['update'], { env, stdio: 'pipe' });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...names], { env, stdio: 'pipe' });
  }
}

let work = '';
let loop = '';
let mnt = '';
const hostConfig = `argo-snap-${process.pid}`;
let hostConfigCreated = false;
const systems: System[] = [];

function open(root: string): System {
  const system = openSystem({ root, logger: createMemoryLogger().logger });
  systems.push(system);
  return system;
}

async function makeRootTree(dir: string): Promise<void> {
  for (const sub of ['etc/snapper/configs', 'usr/lib', 'var/db/pkg']) await mkdir(join(dir, sub), { recursive: true });
  await writeFile(join(dir, 'etc/hostname'), 'gentoo\n');
  await writeFile(join(dir, 'usr/lib/libcrypt.so.2'), 'not really a library\n');
}

beforeAll(async () => {
  ensurePackages();
  work = await mkdtemp('/var/tmp/argo-snap-');
  mnt = join(work, 'mnt');
  await mkdir(mnt);
  sh('truncate', ['-s', '1G', join(work, 'disk.img')]);
  loop = sh('losetup', ['--find', '--show', join(work, 'disk.img')]).trim();
  sh('mkfs.btrfs', ['-q', loop]);
  sh('mount', [loop, mnt]);
  for (const name of ['snapper-root', 'btrfs-root', 'snapper-host']) {
    sh('btrfs', ['subvolume', 'create', join(mnt, name)]);
    await makeRootTree(join(mnt, name));
  }
  // A target root with its own snapper config for "/", as a Gentoo install mounted at /mnt/gentoo has.
  // create-config cannot run with --root in snapper 0.10.4 ("do not know about fstype 'ext4'"), so the
  // config is written from the template the way create-config writes it.
  const template = await readFile('/usr/share/snapper/config-templates/default', 'utf8');
  await writeFile(join(mnt, 'snapper-root/etc/snapper/configs/root'), template.replace(/^SUBVOLUME=.*$/m, 'SUBVOLUME="/"').replace(/^FSTYPE=.*$/m, 'FSTYPE="btrfs"'));
  sh('btrfs', ['subvolume', 'create', join(mnt, 'snapper-root/.snapshots')]);
  // A host config made by snapper itself, without D-Bus (no snapperd runs here).
  sh('snapper', ['--no-dbus', '-c', hostConfig, 'create-config', join(mnt, 'snapper-host')]);
  hostConfigCreated = true;
}, 300_000);

afterAll(async () => {
  const errors: unknown[] = [];
  const attempt = async (action: () => unknown): Promise<void> => {
    try {
      await action();
    } catch (error) {
      errors.push(error);
    }
  };
  for (const system of systems) await attempt(() => system.close());
  if (hostConfigCreated) await attempt(() => sh('snapper', ['--no-dbus', '-c', hostConfig, 'delete-config']));
  if (mnt !== '') await attempt(() => sh('umount', [mnt]));
  if (loop !== '') await attempt(() => sh('losetup', ['-d', loop]));
  if (work !== '') await attempt(() => rm(work, { recursive: true, force: true }));
  if (errors.length > 0) throw new AggregateError(errors, 'snapshot test clean-up failed');
});

const MIN = 1024 * 1024;

describeSnapshotBackend('btrfs on a foreign root', () => {
  const system = open(join(mnt, 'btrfs-root'));
  return {
    system,
    backend: createBtrfsBackend({ system, minFreeBytes: MIN }),
    hostTree: system.root,
    withMinFree: (bytes) => createBtrfsBackend({ system, minFreeBytes: bytes }),
  } satisfies ConformanceTarget;
});

describeSnapshotBackend('snapper --no-dbus --root on a foreign root', () => {
  const system = open(join(mnt, 'snapper-root'));
  return {
    system,
    backend: createSnapperBackend({ system, config: 'root', minFreeBytes: MIN }),
    hostTree: system.root,
    withMinFree: (bytes) => createSnapperBackend({ system, config: 'root', minFreeBytes: bytes }),
  };
});

describeSnapshotBackend('snapper --no-dbus on the running system (undochange)', () => {
  const system = open('/');
  const subvolume = join(mnt, 'snapper-host');
  return {
    system,
    backend: createSnapperBackend({ system, config: hostConfig, subvolume, minFreeBytes: MIN }),
    hostTree: subvolume,
    withMinFree: (bytes) => createSnapperBackend({ system, config: hostConfig, subvolume, minFreeBytes: bytes }),
  };
});

describe('backend detection', () => {
  it('chooses snapper --root for a foreign root with a snapper config for /', async () => {
    const detection = await detectSnapshotBackend(open(join(mnt, 'snapper-root')));
    expect(detection).toMatchObject({ kind: 'snapper', config: 'root', invocation: 'host-root', fsType: 'btrfs' });
  });
  it('chooses plain btrfs for a subvolume without a snapper config', async () => {
    const { detection, backend } = await openSnapshotBackend(open(join(mnt, 'btrfs-root')));
    expect(detection.kind).toBe('btrfs');
    expect(backend.name).toBe('btrfs');
  });
  it('says none for a folder on btrfs that is not a subvolume', async () => {
    await mkdir(join(mnt, 'plain-folder'), { recursive: true });
    expect(await detectSnapshotBackend(open(join(mnt, 'plain-folder')))).toMatchObject({ kind: 'none', reason: expect.stringMatching(/not a subvolume/) });
  });
  it('says none, with the filesystem, for a root on ext4 and refuses to open a backend', async () => {
    const root = join(work, 'ext4-root');
    await mkdir(root, { recursive: true });
    const fsType = sh('findmnt', ['-n', '-o', 'FSTYPE', '--target', root]).trim();
    const detection = await detectSnapshotBackend(open(root));
    expect(detection).toEqual({ kind: 'none', fsType, reason: `${root} is ${fsType}: no snapshots possible` });
    const error = await openSnapshotBackend(open(root)).catch((caught: unknown) => caught);
    expect((error as { code?: string }).code).toBe('ARGO_SNAPSHOT_UNAVAILABLE');
  });
});

describe('protected snapshots', () => {
  it('protects the default subvolume and a mounted snapshot', async () => {
    const system = open(join(mnt, 'btrfs-root'));
    const backend = createBtrfsBackend({ system, minFreeBytes: MIN });
    const snapshot = await backend.create({ kind: 'single', description: 'boot me' });
    const snapshotHost = join(system.root, backend.snapshotPath(snapshot.id));
    const id = /^ID (\d+)/.exec(sh('btrfs', ['subvolume', 'show', snapshotHost]).split('\n').find((line) => line.includes('Subvolume ID:'))?.replace(/\s*Subvolume ID:\s*/, 'ID ') ?? '')?.[1];
    expect(id).toBeDefined();
    sh('btrfs', ['subvolume', 'set-default', id as string, mnt]);
    try {
      expect(await findProtectedSnapshots(system, backend)).toEqual([{ id: snapshot.id, why: 'default' }]);
    } finally {
      sh('btrfs', ['subvolume', 'set-default', '5', mnt]);
    }
    // Mounted as a root, the way a system booted from a snapshot is.
    const bootMnt = join(work, 'booted');
    await mkdir(bootMnt);
    sh('mount', ['-o', `subvol=btrfs-root/.snapshots/${snapshot.id}/snapshot`, loop, bootMnt]);
    try {
      const booted = open(bootMnt);
      expect(await findProtectedSnapshots(booted, createBtrfsBackend({ system: booted }))).toEqual([{ id: snapshot.id, why: 'mounted' }]);
    } finally {
      sh('umount', [bootMnt]);
    }
  });
});

describe('argo snapshot handler', () => {
  it('creates, lists, diffs and restores one file through the CLI handler on a foreign root', async () => {
    const { runSnapshotCommand } = await import('../cli/commands/snapshot.ts');
    const root = join(mnt, 'btrfs-root');
    const context = { logger: createMemoryLogger().logger, consoleStreams: [], signal: new AbortController().signal, process: {} as never };
    const base = { root, json: true, logFile: undefined, verbose: false, minFree: MIN };
    const created = await runSnapshotCommand({ ...base, action: 'create', type: 'pre', description: 'cli', userdata: ['argo-update=cli-1'] }, context);
    const id = (created.json as { snapshot: { id: number } }).snapshot.id;
    await writeFile(join(root, 'etc/hostname'), 'broken\n');
    const listed = await runSnapshotCommand({ ...base, action: 'list', update: 'cli-1' }, context);
    expect(listed.text).toMatch(new RegExp(`^${id}\\s+pre\\s+\\S+\\s+cli\\s+argo-update=cli-1$`, 'm'));
    const diff = await runSnapshotCommand({ ...base, action: 'diff', update: 'cli-1' }, context);
    expect(diff.text).toContain('c /etc/hostname');
    const restored = await runSnapshotCommand({ ...base, action: 'restore', from: id, paths: ['/etc/hostname'] }, context);
    expect((restored.json as { restored: unknown[] }).restored).toEqual([{ path: '/etc/hostname', status: 'modified' }]);
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('gentoo\n');
  });
});

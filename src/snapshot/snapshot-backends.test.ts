import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { ArgoError } from '../core/errors.ts';
import { openSystem, type System } from '../system/open-system.ts';
import type { CommandRunner } from '../system/run-command.ts';
import { createBtrfsBackend, type DiffMethod } from './btrfs-backend.ts';
import { scratchName, startTimeOf } from './btrfs-send-scratch.ts';
import { parseSendStream, pathOf, SEND_ATTRIBUTE } from './btrfs-send-stream.ts';
import { describeChangeListParity, describeSnapshotBackend, type ConformanceTarget } from '../../test/support/snapshot-conformance.ts';
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
  for (const name of ['snapper-root', 'btrfs-root', 'snapper-host', 'btrfs-stress', 'btrfs-send']) {
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
const PROJECT_SRC = join(import.meta.dirname, '..');

// The change list from btrfs send, without its fallback, and the tree walk as the reference it must equal.
describeSnapshotBackend('btrfs on a foreign root', () => {
  const system = open(join(mnt, 'btrfs-root'));
  return {
    system,
    backend: createBtrfsBackend({ system, minFreeBytes: MIN, diffMethod: 'send' }),
    hostTree: system.root,
    withMinFree: (bytes) => createBtrfsBackend({ system, minFreeBytes: bytes, diffMethod: 'send' }),
    reference: createBtrfsBackend({ system, minFreeBytes: MIN, diffMethod: 'walk' }),
  } satisfies ConformanceTarget;
});

describeChangeListParity('btrfs send against the tree walk', () => {
  const system = open(join(mnt, 'btrfs-stress'));
  return {
    backend: createBtrfsBackend({ system, minFreeBytes: MIN, diffMethod: 'send' }),
    reference: createBtrfsBackend({ system, minFreeBytes: MIN, diffMethod: 'walk' }),
    hostTree: system.root,
  };
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

/**
 * `system` with its host runner wrapped: `intercept` sees each command first and may throw instead of running it;
 * `after` sees each command that ran and may throw instead of returning its result.
 */
function interceptCommands(system: System, intercept: (file: string, args: readonly string[]) => void, after?: (file: string, args: readonly string[]) => void): System {
  const runner: CommandRunner = {
    get history() {
      return system.hostCommands.history;
    },
    dryRun: system.hostCommands.dryRun,
    run: async (file, args, options) => {
      intercept(file, args);
      const result = await system.hostCommands.run(file, args, options);
      after?.(file, args);
      return result;
    },
  };
  return { ...system, hostCommands: runner };
}

/** Whether a process other than a zombie has `pid` as its parent. */
async function hasLiveChildren(pid: number): Promise<boolean> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[1] === String(pid) && fields[0] !== 'Z') return true;
  }
  return false;
}

const scratchesIn = async (root: string): Promise<string[]> => (await readdir(join(root, '.snapshots'))).filter((name) => name.startsWith('argo-diff-')).sort();

/** btrfs-send-changes.ts and btrfs-send-scratch.ts on a subvolume of their own: what the conformance suite cannot show. */
describe('btrfs change list from btrfs send', () => {
  const root = (): string => join(mnt, 'btrfs-send');
  const backendOf = (system: System, diffMethod: DiffMethod, signal?: AbortSignal) => createBtrfsBackend({ system, minFreeBytes: MIN, diffMethod, signal });
  let pre = 0;
  let post = 0;

  beforeAll(async () => {
    const backend = backendOf(open(root()), 'walk');
    await mkdir(join(root(), 'srv/data'), { recursive: true });
    for (const file of ['with space', 'new\nline', 'back\\slash', 'caf\u00e9', 'tab\there', 'del\u007f']) await writeFile(join(root(), 'srv/data', file), 'one\n');
    pre = (await backend.create({ kind: 'pre', description: 'send pre' })).id;
    for (const file of ['with space', 'new\nline', 'caf\u00e9', 'del\u007f']) await writeFile(join(root(), 'srv/data', file), 'two, longer\n');
    await rm(join(root(), 'srv/data/back\\slash'));
    await writeFile(join(root(), 'srv/data/after \\ it'), 'new\n');
    await symlink('with space', join(root(), 'srv/data/a link\nhere'));
    execFileSync('mv', [join(root(), 'srv/data'), join(root(), 'srv/moved data')]);
    post = (await backend.create({ kind: 'post', preId: pre, description: 'send post' })).id;
  });

  it('reads the stream as btrfs receive --dump does: every command, and each path and destination with its escapes', async () => {
    const stream = join(work, 'send-stream');
    sh('btrfs', ['send', '--no-data', '-q', '-p', join(root(), `.snapshots/${pre}/snapshot`), '-f', stream, join(root(), `.snapshots/${post}/snapshot`)]);
    // btrfs-progs' print_path_escaped (cmds/receive-dump.c): C escapes, `\ ` and `\\`, octal for what the C locale does not print.
    const escape = (bytes: Buffer): string =>
      [...bytes]
        .map((byte) => {
          const named: Record<number, string> = { 7: 'a', 8: 'b', 27: 'e', 12: 'f', 10: 'n', 13: 'r', 9: 't', 11: 'v', 32: ' ', 92: '\\' };
          if (named[byte] !== undefined) return `\\${named[byte]}`;
          return byte < 0x20 || byte >= 0x7f ? `\\${byte.toString(8).padStart(3, '0')}` : String.fromCharCode(byte);
        })
        .join('');
    const full = (bytes: Buffer): Buffer => Buffer.concat([Buffer.from('./snapshot/'), bytes]);
    const ours = parseSendStream(await readFile(stream)).commands
      .filter((command) => command.name !== 'end')
      .map((command) => {
        if (command.name === 'snapshot') return `snapshot ${escape(Buffer.from('./'))}${escape(pathOf(command))}`;
        const line = `${command.name} ${escape(full(pathOf(command)))}`;
        if (command.name === 'rename') return `${line} dest=${escape(full(pathOf(command, SEND_ATTRIBUTE.pathTo)))}`;
        if (command.name === 'link' || command.name === 'symlink') return `${line} dest=${escape(pathOf(command, SEND_ATTRIBUTE.pathLink))}`;
        return line;
      });
    // The title is padded to 16 columns and the path to 32; an escaped path holds no bare space.
    const theirs = execFileSync('btrfs', ['receive', '--dump', '-f', stream], { encoding: 'latin1', env: { ...process.env, LC_ALL: 'C' } })
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const match = /^(\S+) +((?:[^\\ ]|\\.)+)(?: +(.*))?$/.exec(line);
        if (match === null) return `unparsed: ${line}`;
        const dest = /^dest=(.*)$/.exec(match[3] ?? '');
        return ['rename', 'link', 'symlink'].includes(match[1] as string) && dest ? `${match[1]} ${match[2]} dest=${dest[1]}` : `${match[1]} ${match[2]}`;
      });
    expect(ours).toEqual(theirs);
    expect(theirs).toEqual(expect.arrayContaining(['rename ./snapshot/srv/data dest=./snapshot/srv/moved\\ data', 'unlink ./snapshot/srv/moved\\ data/back\\\\slash']));
    expect(theirs).toEqual(expect.arrayContaining(['update_extent ./snapshot/srv/moved\\ data/caf\\303\\251', 'update_extent ./snapshot/srv/moved\\ data/del\\177']));
  });

  it('falls back to the tree walk with a pivot when btrfs send fails, and fails without the fallback', async () => {
    const memory = createMemoryLogger();
    const broken = interceptCommands(open(root()), (file, args) => {
      if (file === 'btrfs' && args[0] === 'send') throw new ArgoError('ARGO_COMMAND_FAILED', 'btrfs send … exited with status 1', { hint: 'test' });
    });
    const system = { ...broken, logger: memory.logger };
    const walked = await backendOf(system, 'walk').diff(pre, post);
    expect(walked.length).toBeGreaterThan(5);
    expect(await backendOf(system, 'auto').diff(pre, post)).toEqual(walked);
    expect(memory.events('pivot')).toEqual([expect.objectContaining({ phase: 'snapshot', step: 'diff', attempt: 'btrfs-send', outcome: 'ARGO_COMMAND_FAILED', next: 'tree-walk' })]);
    await expect(backendOf(system, 'send').diff(pre, post)).rejects.toMatchObject({ code: 'ARGO_COMMAND_FAILED' });
    expect(await backendOf(open(root()), 'auto').diff(pre, post)).toEqual(walked);
  });

  it('in a dry run compares the live system by walking (no temporary snapshot) and two snapshots with send', async () => {
    const memory = createMemoryLogger();
    const system = openSystem({ root: root(), logger: memory.logger, dryRun: true });
    systems.push(system);
    const live = await backendOf(system, 'auto').diff(pre, 0);
    expect(live).toEqual(await backendOf(open(root()), 'walk').diff(pre, 0));
    expect(memory.records).toContainEqual(expect.objectContaining({ msg: 'A dry run compares the live system by walking its tree (send would need a temporary snapshot)' }));
    await backendOf(system, 'auto').diff(pre, post);
    expect(memory.events('pivot')).toEqual([]);
    await expect(backendOf(system, 'send').diff(pre, 0)).rejects.toMatchObject({ code: 'ARGO_SNAPSHOT_UNAVAILABLE' });
    expect(system.hostCommands.history.map((record) => record.argv.slice(0, 3).join(' '))).toEqual(['btrfs send --no-data']);
    expect(await scratchesIn(root())).toEqual([]);
  });

  it('leaves a name that is not UTF-8 out of the list, both ways, and says so in the log', async () => {
    const name = Buffer.concat([Buffer.from(join(root(), 'srv/caf')), Buffer.from([0xe9])]);
    await writeFile(name, 'latin-1\n');
    try {
      for (const method of ['send', 'walk'] as const) {
        const memory = createMemoryLogger();
        const changes = await backendOf({ ...open(root()), logger: memory.logger }, method).diff(pre, 0);
        expect(changes.some((change) => change.path.startsWith('/srv/caf'))).toBe(false);
        expect(memory.records).toContainEqual(expect.objectContaining({ level: 'warn', path: '/srv/caf\uFFFD', msg: 'Left out of the change list: a name on the path is not UTF-8' }));
      }
    } finally {
      await rm(name);
    }
  });

  it('puts no temporary snapshot in a .snapshots folder others may write to: the live system is walked', async () => {
    const memory = createMemoryLogger();
    const system = { ...open(root()), logger: memory.logger };
    await chmod(join(root(), '.snapshots'), 0o777);
    try {
      expect(await backendOf(system, 'auto').diff(pre, 0)).toEqual(await backendOf(open(root()), 'walk').diff(pre, 0));
    } finally {
      await chmod(join(root(), '.snapshots'), 0o755);
    }
    expect(memory.events('pivot')).toEqual([expect.objectContaining({ outcome: 'ARGO_UNSAFE_PATH', next: 'tree-walk' })]);
    expect(await scratchesIn(root())).toEqual([]);
  });

  it('deletes its temporary snapshot when interrupted, and does not fall back', async () => {
    const controller = new AbortController();
    const system = interceptCommands(open(root()), (file, args) => {
      if (file === 'btrfs' && args[0] === 'send') controller.abort(new ArgoError('ARGO_INTERRUPTED', 'interrupted by the test'));
    });
    await expect(backendOf(system, 'auto', controller.signal).diff(pre, 0)).rejects.toMatchObject({ code: 'ARGO_INTERRUPTED' });
    expect(await scratchesIn(root())).toEqual([]);
  });

  it('deletes its temporary snapshot when interrupted the moment btrfs made it', async () => {
    const controller = new AbortController();
    const system = interceptCommands(
      open(root()),
      () => undefined,
      (file, args) => {
        if (file !== 'btrfs' || args[1] !== 'snapshot') return;
        controller.abort(new ArgoError('ARGO_INTERRUPTED', 'interrupted by the test'));
        throw controller.signal.reason;
      },
    );
    await expect(backendOf(system, 'auto', controller.signal).diff(pre, 0)).rejects.toMatchObject({ code: 'ARGO_INTERRUPTED' });
    expect(await scratchesIn(root())).toEqual([]);
  });

  it('deletes the temporary snapshot a SIGKILLed comparison left, and leaves those of live runs and anything else of that name', async () => {
    const script = [
      `import pino from 'pino';`,
      `import { openSystem } from ${JSON.stringify(join(PROJECT_SRC, 'system/open-system.ts'))};`,
      `import { createBtrfsBackend } from ${JSON.stringify(join(PROJECT_SRC, 'snapshot/btrfs-backend.ts'))};`,
      `const backend = createBtrfsBackend({ system: openSystem({ root: process.argv[1], logger: pino({ level: 'silent' }) }), diffMethod: 'send' });`,
      `for (;;) await backend.diff(Number(process.argv[2]), 0);`,
    ].join('\n');
    let left: string[] = [];
    for (let attempt = 0; attempt < 20 && left.length === 0; attempt += 1) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, root(), String(pre)], { cwd: join(PROJECT_SRC, '..'), stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // Freeze it the moment its temporary snapshot exists; kill it only if the snapshot is still there.
      while ((await scratchesIn(root())).length === 0 && child.exitCode === null) await new Promise((resolve) => setImmediate(resolve));
      child.kill('SIGSTOP');
      // Its btrfs commands run on (a delete among them would take the snapshot away): the snapshot counts once they are done.
      while (await hasLiveChildren(child.pid as number)) await new Promise((resolve) => setTimeout(resolve, 10));
      left = await scratchesIn(root());
      child.kill('SIGKILL');
      await exited;
    }
    expect(left).toHaveLength(1);
    // A run still going (this one), a plain folder and a symlink under such names: none of them is touched.
    const self = { boot: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).replace(/-/g, '').slice(0, 8), pid: process.pid, startTime: startTimeOf(await readFile('/proc/self/stat', 'utf8')) as string };
    const alive = scratchName(self, 'a1a1a1a1a1a1');
    sh('btrfs', ['subvolume', 'snapshot', '-r', root(), join(root(), '.snapshots', alive)]);
    const gone = spawnSync('true').pid as number;
    const planted = scratchName({ ...self, pid: gone }, 'b2b2b2b2b2b2');
    const link = scratchName({ ...self, pid: gone }, 'c3c3c3c3c3c3');
    await mkdir(join(root(), '.snapshots', planted));
    await symlink('/', join(root(), '.snapshots', link));
    try {
      expect(await backendOf(open(root()), 'send').diff(pre, 0)).toEqual(await backendOf(open(root()), 'walk').diff(pre, 0));
      expect(await scratchesIn(root())).toEqual([alive, planted, link].sort());
    } finally {
      sh('btrfs', ['subvolume', 'delete', join(root(), '.snapshots', alive)]);
      await rm(join(root(), '.snapshots', planted), { recursive: true });
      await rm(join(root(), '.snapshots', link));
    }
  });
});

import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBtrfsDisk } from '../support/btrfs-target.ts';
import { installFakeEmerge } from '../support/debian-target.ts';
import { PROJECT, runBuiltCli, type CliRun } from '../support/run-cli.ts';
import { createMemoryLogger } from '../support/memory-logger.ts';
import { createBtrfsBackend } from '../../src/snapshot/btrfs-backend.ts';
import { openSystem } from '../../src/system/open-system.ts';

const run = promisify(execFile);
const PLAN = join(PROJECT, 'test/fixtures/preflight/update-world.plan');
const NANO = 'usr/share/argo-fake-emerge/installed/nano-8.2';
const INDEX = [
  ['app-editors/nano-8.2', 'amd64 ncurses nls spell unicode'],
  ['app-misc/tmux-3.5a', 'amd64'],
  ['sys-libs/libxcrypt-4.4.36', 'abi_x86_64 amd64 compat elibc_glibc kernel_linux system'],
]
  .map(([cpv, use]) => `BUILD_ID: 1\nCPV: ${cpv}\nPATH: ${cpv}-1.gpkg.tar\nSIZE: 1024\nUSE: ${use}\nMTIME: 1733000000\nREPO: gentoo\n\n`)
  .join('');

interface RollbackJson {
  updateId: string;
  pre: number;
  post?: number;
  done: boolean;
  restore: { path: string; status: string }[];
  restored: { path: string; status: string }[];
  changedAfter: { path: string }[];
  other: { count: number };
  packages: { cpv: string; state: string; replaced: string[] }[];
  safetySnapshot?: number;
}
interface Snap {
  id: number;
  kind: string;
  userdata: Record<string, string>;
}

const btrfs = useBtrfsDisk();

async function updatableRoot(name: string, emerge: Record<string, string>): Promise<string> {
  const root = await btrfs().makeRoot(name);
  await installFakeEmerge(root, emerge);
  await copyFile(PLAN, join(root, 'etc/argo-fake-emerge.plan'));
  await mkdir(join(root, 'var/cache/argo-test-binhost'), { recursive: true });
  await writeFile(join(root, 'var/cache/argo-test-binhost/Packages'), `ARCH: amd64\nCHOST: x86_64-pc-linux-gnu\nPACKAGES: 3\nTIMESTAMP: 1733000000\nVERSION: 0\n\n${INDEX}`);
  await mkdir(join(root, 'etc/portage/package.use'), { recursive: true });
  await writeFile(join(root, 'etc/portage/package.use/libxcrypt'), 'sys-libs/libxcrypt compat system\n');
  const canary = await runBuiltCli('apkg', ['canary', 'setup', '--root', root]);
  expect(canary.code, canary.stderr).toBe(0);
  return root;
}

const updateArgs = (root: string) => ['update', '--root', root, '--json', '--binhost', '/var/cache/argo-test-binhost'];

async function snapshots(root: string): Promise<Snap[]> {
  const listed = await runBuiltCli('argo', ['snapshot', 'list', '--root', root, '--json']);
  return (JSON.parse(listed.stdout) as { snapshots: Snap[] }).snapshots;
}

function parse(result: CliRun): RollbackJson {
  try {
    return JSON.parse(result.stdout) as RollbackJson;
  } catch {
    throw new Error(`no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** Processes whose root is inside `root` (the fake emerge, its children). */
async function processesIn(root: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const link = await readlink(`/proc/${name}/root`).catch(() => '');
    if (link === root || link.startsWith(`${root}/`)) found.push(Number(name));
  }
  return found;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A checksum of everything in the root's filesystem and its snapshot folders: names, types, modes, owners,
 * sizes, link targets, inode numbers, mtimes and ctimes. Any write, rename, chmod or new file changes a ctime
 * or an inode number (and nothing can set a ctime back), so equal checksums prove nothing was changed. Not the
 * times of `.snapshots` itself: a comparison with the live system makes a temporary snapshot there and deletes
 * it (src/snapshot/README.md); its entries, and so any snapshot left or added, are in the sum.
 */
async function treeChecksum(root: string): Promise<string> {
  const script = `cd "$1" && { find . -xdev -path ./.snapshots -prune -o -printf '%p %y %m %U %G %s %i %T@ %C@ %l\\n' | sort; ls -lA --time-style=full-iso .snapshots .snapshots/* 2>/dev/null; } | md5sum`;
  return (await run('bash', ['-c', script, 'checksum', root], { maxBuffer: 1 << 26 })).stdout.trim();
}

/**
 * An update killed with SIGKILL in the middle (a crash: no verify, no post snapshot, no report), while alice
 * works in her home directory and the admin edits /etc. Then the admin's later edits.
 */
async function interruptedUpdate(name: string): Promise<{ root: string; preId: number }> {
  const root = await updatableRoot(name, { BINARY: 'ok', WORLD_SECONDS_PER_PACKAGE: '2' });
  const killed = await runBuiltCli('apkg', updateArgs(root), {
    during: (pid) => {
      void (async () => {
        // After the pre snapshot: people keep working.
        await waitFor('the pre snapshot', async () => (await readFile(join(root, '.snapshots/1/info.json'), 'utf8').catch(() => '')).includes('"pre"'));
        await writeFile(join(root, 'home/alice/notes.txt'), 'written during the update\n');
        await waitFor('tmux to start merging', async () => / >>> emerge \(\d+ of \d+\) app-misc\/tmux-/.test(await readFile(join(root, 'var/log/emerge.log'), 'utf8').catch(() => '')), 180_000);
        process.kill(pid, 'SIGKILL');
      })().catch((error: unknown) => console.error(error));
    },
  });
  expect(killed.signal, `${killed.stdout}\n${killed.stderr}`).toBe('SIGKILL');
  // The orphaned emerge may still finish its package or die with its group: wait until nothing runs in the root.
  await waitFor('the orphaned emerge to end', async () => (await processesIn(root)).length === 0);
  await writeFile(join(root, 'etc/argo-admin.conf'), 'edited after the crash\n');
  await mkdir(join(root, 'var/lib/appdb'), { recursive: true });
  await writeFile(join(root, 'var/lib/appdb/data'), 'rows\n');
  const listed = await snapshots(root);
  expect(listed.map((snapshot) => snapshot.kind)).toEqual(['pre']);
  return { root, preId: listed[0]!.id };
}

describe('apkg rollback of an interrupted update (no post snapshot) on a real btrfs root', () => {
  let root = '';
  let preId = 0;
  beforeAll(async () => {
    ({ root, preId } = await interruptedUpdate('crashed'));
  }, 240_000);

  it('--pretend shows the plan and changes nothing at all (tree checksum before and after)', async () => {
    const before = await treeChecksum(root);
    const pretend = await runBuiltCli('apkg', ['rollback', '--root', root, '--pretend', '--json']);
    expect(pretend.code, pretend.stderr).toBe(0);
    const plan = parse(pretend);
    expect(plan.done).toBe(false);
    expect(plan.post).toBeUndefined();
    expect(plan.packages.find((entry) => entry.cpv === 'app-editors/nano-8.2')).toMatchObject({ state: 'merged', replaced: [] });
    expect(plan.restore.map((change) => change.path)).toContain(`/${NANO}`);
    expect(await treeChecksum(root)).toBe(before);
    const text = await runBuiltCli('apkg', ['rollback', '--root', root, '--pretend']);
    expect(text.stdout).toMatch(/^Would roll back update \S+ \(btrfs: pre snapshot \d+; the update left no post snapshot/);
    expect(text.stdout).toMatch(/Left alone: \d+ other changes since the pre snapshot/);
    expect(text.stdout).toMatch(/Nothing was changed \(--pretend\)\./);
    expect(await treeChecksum(root)).toBe(before);
  }, 120_000);

  it('argo snapshot restore against the live system without --paths or --all-changes is refused and changes nothing', async () => {
    const before = await treeChecksum(root);
    const refused = await runBuiltCli('argo', ['snapshot', 'restore', String(preId), '--root', root]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/needs --paths or --all-changes/);
    expect(await treeChecksum(root)).toBe(before);
  }, 120_000);

  it('refuses (exit 3, nothing changed) while a file of the update was changed after it', async () => {
    const original = await readFile(join(root, NANO));
    await writeFile(join(root, NANO), 'hand-edited after the update\n');
    try {
      const before = await treeChecksum(root);
      const refused = await runBuiltCli('apkg', ['rollback', '--root', root, '--json']);
      expect(refused.code).toBe(3);
      const body = JSON.parse(refused.stdout) as { error: { code: string; details: { changedAfter: string[] } } };
      expect(body.error.code).toBe('ARGO_ROLLBACK_CONFLICT');
      expect(body.error.details.changedAfter).toEqual([`/${NANO}`]);
      expect(await treeChecksum(root)).toBe(before);
    } finally {
      await writeFile(join(root, NANO), original);
    }
  }, 120_000);

  it('puts back only what the update changed: /home, a database and later /etc edits survive; a safety snapshot comes first', async () => {
    const rollback = await runBuiltCli('apkg', ['rollback', '--root', root, '--json']);
    expect(rollback.code, rollback.stderr).toBe(0);
    const result = parse(rollback);
    expect(result.done).toBe(true);
    const restored = result.restored.map((change) => change.path);
    expect(restored).toContain(`/${NANO}`);
    expect(restored.some((file) => file.startsWith('/home/') || file === '/etc/argo-admin.conf' || file.startsWith('/var/lib/appdb') || file.startsWith('/var/log/'))).toBe(false);
    expect(await readFile(join(root, 'home/alice/notes.txt'), 'utf8')).toBe('written during the update\n');
    expect(await readFile(join(root, 'etc/argo-admin.conf'), 'utf8')).toBe('edited after the crash\n');
    expect(await readFile(join(root, 'var/lib/appdb/data'), 'utf8')).toBe('rows\n');
    expect(await readFile(join(root, NANO)).catch((error: NodeJS.ErrnoException) => error.code)).toBe('ENOENT');
    expect(await readdir(join(root, 'var/db/pkg')).then((names) => names.includes('app-editors'))).toBe(false);
    // The update's own record stays: emerge.log and argo's log folder.
    expect(await readFile(join(root, 'var/log/emerge.log'), 'utf8')).toMatch(/>>> emerge \(\d+ of \d+\) app-misc\/tmux-3\.5a to \//);
    const safety = (await snapshots(root)).find((snapshot) => snapshot.id === result.safetySnapshot);
    expect(safety).toMatchObject({ kind: 'single', userdata: { 'argo-rollback-of': result.updateId } });
    // The update's files are as in the pre snapshot now: the diff has nothing of them left.
    const diff = await runBuiltCli('argo', ['snapshot', 'diff', String(preId), '--root', root, '--json']);
    const left = (JSON.parse(diff.stdout) as { changes: { path: string }[] }).changes.map((change) => change.path);
    expect(left.filter((file) => file.startsWith('/var/db/pkg/') || file.startsWith('/usr/share/argo-fake-emerge/installed/'))).toEqual([]);
    expect(left).toEqual(expect.arrayContaining(['/home/alice/notes.txt', '/etc/argo-admin.conf', '/var/lib/appdb/data']));
    // Run again: nothing left to do.
    const again = parse(await runBuiltCli('apkg', ['rollback', '--root', root, '--json']));
    expect(again.restore).toEqual([]);
  }, 180_000);
});

describe('snapshots in a dry run', () => {
  it('btrfs create, restore and delete record their commands and change nothing (no .snapshots folder, no info.json)', async () => {
    const root = await btrfs().makeRoot('dry-run');
    await writeFile(join(root, 'etc/argo-admin.conf'), 'one\n');
    const real = openSystem({ root, logger: createMemoryLogger().logger });
    const pre = await createBtrfsBackend({ system: real, minFreeBytes: 0 }).create({ kind: 'pre', description: 'real', userdata: {} });
    await writeFile(join(root, 'etc/argo-admin.conf'), 'two\n');
    const before = await treeChecksum(root);
    const system = openSystem({ root, logger: createMemoryLogger().logger, dryRun: true });
    const backend = createBtrfsBackend({ system, minFreeBytes: 0 });
    const created = await backend.create({ kind: 'post', preId: pre.id, description: 'dry', userdata: { 'argo-update': 'x' } });
    expect(created.id).toBe(0);
    expect(await backend.restore(pre.id)).toEqual([{ path: '/etc/argo-admin.conf', status: 'modified' }]);
    await backend.delete(pre.id);
    expect(system.hostCommands.history.map((entry) => [entry.argv[0], entry.argv[1], entry.ran])).toEqual(
      expect.arrayContaining([['btrfs', 'subvolume', false], ['cp', '-a', false], ['mv', '-f', false]]),
    );
    expect(system.hostCommands.history.every((entry) => !entry.ran || entry.argv[0] !== 'mkdir')).toBe(true);
    expect(await treeChecksum(root)).toBe(before);
    expect(await readdir(join(root, '.snapshots'))).toEqual([String(pre.id)]);
  }, 120_000);
});

describe('budgets', () => {
  it('a snapshot command past its --budget is stopped with its command killed: exit 124', async () => {
    const root = await btrfs().makeRoot('budget');
    const stopped = await runBuiltCli('argo', ['snapshot', 'list', '--root', root, '--budget', '0.001', '--json']);
    expect(stopped.code).toBe(124);
    expect((JSON.parse(stopped.stdout) as { error: { code: string } }).error.code).toBe('ARGO_SNAPSHOT_TIMED_OUT');
    const rollback = await runBuiltCli('apkg', ['rollback', '--root', root, '--budget', '0.001', '--json']);
    expect(rollback.code).toBe(124);
  }, 60_000);
});

describe('apkg rollback of a finished update (with a post snapshot)', () => {
  it('keeps a file of the update changed after it with --keep-changed, and rolls back the rest', async () => {
    const root = await updatableRoot('finished', { BINARY: 'ok' });
    const update = await runBuiltCli('apkg', updateArgs(root));
    expect(update.code, update.stderr).toBe(0);
    await writeFile(join(root, NANO), 'mine now\n');
    await writeFile(join(root, 'home/alice/after.txt'), 'after the update\n');
    const refused = await runBuiltCli('apkg', ['rollback', '--root', root, '--json']);
    expect(refused.code).toBe(3);
    const kept = await runBuiltCli('apkg', ['rollback', '--root', root, '--keep-changed', '--json']);
    expect(kept.code, kept.stderr).toBe(0);
    const result = parse(kept);
    expect(result.post).toBeDefined();
    expect(result.changedAfter.map((change) => change.path)).toEqual([`/${NANO}`]);
    expect(await readFile(join(root, NANO), 'utf8')).toBe('mine now\n');
    expect(await readFile(join(root, 'home/alice/after.txt'), 'utf8')).toBe('after the update\n');
    expect(await readdir(join(root, 'var/db/pkg/app-misc')).catch((error: NodeJS.ErrnoException) => error.code)).toBe('ENOENT');
  }, 240_000);
});

describe('apkg rollback on a terminal', () => {
  /** Runs the built apkg under a real pseudo-terminal (util-linux script), typing `answer` into it. */
  function onTerminal(args: readonly string[], answer: string): Promise<{ code: number | null; output: string }> {
    const command = [process.execPath, `${PROJECT}dist/cli/apkg.js`, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Roll back now? [y/N]')) child.stdin.end(answer);
    });
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
  }

  it('shows the plan and asks; anything but yes changes nothing (exit 3), yes rolls back', async () => {
    const root = await updatableRoot('terminal', { BINARY: 'ok' });
    expect((await runBuiltCli('apkg', updateArgs(root))).code).toBe(0);
    const before = await treeChecksum(root);
    const declined = await onTerminal(['rollback', '--root', root], 'n\n');
    expect(declined.output).toMatch(/Will roll back update \S+ \(btrfs: pre snapshot 1, post snapshot 2\)/);
    expect(declined.output).toMatch(/A safety snapshot of the current state is taken first\./);
    expect(declined.code).toBe(3);
    expect(await treeChecksum(root)).toBe(before);
    const accepted = await onTerminal(['rollback', '--root', root], 'y\n');
    expect(accepted.code, accepted.output).toBe(0);
    expect(accepted.output).toMatch(/Rolled back update/);
    expect(await readFile(join(root, NANO)).catch((error: NodeJS.ErrnoException) => error.code)).toBe('ENOENT');
  }, 240_000);
});

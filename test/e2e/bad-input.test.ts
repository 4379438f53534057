import { execFile, spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/core/errors.ts';
import { PROJECT, runBuiltCli, type CliRun } from '../support/run-cli.ts';
import { makeTinyRoot } from '../support/tiny-root.ts';

const run = promisify(execFile);

/**
 * Every command checks its inputs at the door: a wrong --root, a bad password file, a huge value, a second
 * run on the same target. Each case asserts the exit code, the error code, and that nothing was created: the
 * scratch tree, /tmp/argo and the mount table are the same before and after.
 */
let scratch: string;
let gentoo: string; // a tiny Linux root with /etc/portage: passes the door of every command
let plainLinux: string; // a tiny Linux root that is not Gentoo
let readOnly: string; // the Gentoo-shaped root, bind-mounted read-only
let goodPassword: string;

beforeAll(async () => {
  scratch = await mkdtemp('/var/tmp/argo-bad-input-');
  gentoo = await makeTinyRoot(scratch);
  await mkdir(join(gentoo, 'etc/portage'));
  plainLinux = await makeTinyRoot(scratch);
  readOnly = join(scratch, 'read-only');
  await mkdir(readOnly);
  await run('mount', ['--bind', gentoo, readOnly]);
  await run('mount', ['-o', 'remount,bind,ro', readOnly]);
  await mkdir(join(scratch, 'empty'));
  await mkdir(join(scratch, 'not-linux/photos'), { recursive: true });
  await writeFile(join(scratch, 'not-linux/notes.txt'), 'a data disk\n');
  await writeFile(join(scratch, 'a-file'), 'not a folder\n');
  goodPassword = join(scratch, 'password');
  await writeFile(goodPassword, 'correct horse\n', { mode: 0o600 });
});

afterAll(async () => {
  await unmountUnder(scratch);
  await rm(scratch, { recursive: true, force: true });
});

async function unmountUnder(dir: string): Promise<void> {
  const { stdout } = await run('findmnt', ['-rn', '-o', 'TARGET']);
  const points = stdout.split('\n').filter((point) => point.startsWith(`${dir}/`)).sort().reverse();
  for (const point of points) await run('umount', ['-R', '--lazy', point]).catch(() => undefined);
}

/** Every path under `dir` with its type, size and mode: what a run must not change. */
async function treeOf(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of (await readdir(at, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(at, entry.name);
      const info = await lstat(full);
      lines.push(`${full} ${info.mode.toString(8)} ${entry.isDirectory() ? '-' : info.size}`);
      if (entry.isDirectory()) await walk(full);
    }
  };
  await walk(dir);
  return lines;
}

/**
 * What a refused run must leave as it was: the scratch tree, the mounts under it, and /tmp/argo (the log
 * fallback; other test files may add their own runs there concurrently, so only a run about our scratch
 * folder counts).
 */
async function worldOf(): Promise<{ tree: string[]; mounts: string[]; ourRunsInTmp: string[] }> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(scratch))
    .sort();
  const ourRunsInTmp: string[] = [];
  for (const name of await readdir('/tmp/argo').catch(() => [] as string[])) {
    const log = await readFile(join('/tmp/argo', name, 'main.log'), 'utf8').catch(() => '');
    if (log.includes(scratch)) ourRunsInTmp.push(name);
  }
  return { tree: await treeOf(scratch), mounts, ourRunsInTmp };
}

function codeOf(result: CliRun): string | undefined {
  try {
    return (JSON.parse(result.stdout) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

type Cli = 'argo' | 'apkg';
interface Command {
  readonly name: string;
  readonly cli: Cli;
  readonly argv: (root: string) => string[];
  readonly gentooOnly: boolean;
  readonly changes: boolean;
}

const COMMANDS: readonly Command[] = [
  { name: 'argo recover', cli: 'argo', argv: (root) => ['recover', '--root', root, '--user', 'alice', '--password-file', goodPassword], gentooOnly: true, changes: true },
  { name: 'argo preflight', cli: 'argo', argv: (root) => ['preflight', '--root', root], gentooOnly: false, changes: false },
  { name: 'apkg preflight', cli: 'apkg', argv: (root) => ['preflight', '--root', root], gentooOnly: false, changes: false },
  { name: 'argo snapshot list', cli: 'argo', argv: (root) => ['snapshot', 'list', '--root', root], gentooOnly: false, changes: false },
  { name: 'argo snapshot create', cli: 'argo', argv: (root) => ['snapshot', 'create', '--root', root], gentooOnly: false, changes: true },
  { name: 'argo chroot', cli: 'argo', argv: (root) => ['chroot', '--root', root, '--', 'true'], gentooOnly: false, changes: false },
  { name: 'apkg update', cli: 'apkg', argv: (root) => ['update', '--root', root], gentooOnly: true, changes: true },
  { name: 'apkg rollback', cli: 'apkg', argv: (root) => ['rollback', '--root', root], gentooOnly: false, changes: true },
  { name: 'apkg canary setup', cli: 'apkg', argv: (root) => ['canary', 'setup', '--root', root], gentooOnly: false, changes: true },
];

interface BadRoot {
  readonly name: string;
  readonly root: () => string;
  readonly code: ErrorCode;
  readonly applies: (command: Command) => boolean;
}

const BAD_ROOTS: readonly BadRoot[] = [
  { name: 'does not exist (a typo)', root: () => join(scratch, 'mnt/gento'), code: 'ARGO_ROOT_NOT_FOUND', applies: () => true },
  { name: 'is below a file', root: () => join(scratch, 'a-file/root'), code: 'ARGO_ROOT_NOT_FOUND', applies: () => true },
  { name: 'is a file', root: () => join(scratch, 'a-file'), code: 'ARGO_ROOT_NOT_A_DIRECTORY', applies: () => true },
  { name: 'is empty', root: () => join(scratch, 'empty'), code: 'ARGO_NOT_A_LINUX_ROOT', applies: () => true },
  { name: 'is not a Linux root', root: () => join(scratch, 'not-linux'), code: 'ARGO_NOT_A_LINUX_ROOT', applies: () => true },
  { name: 'is a 5000-character path', root: () => `/${'x'.repeat(5000)}`, code: 'ARGO_USAGE', applies: () => true },
  { name: 'is not Gentoo', root: () => plainLinux, code: 'ARGO_NOT_A_GENTOO_ROOT', applies: (command) => command.gentooOnly },
  { name: 'is read-only', root: () => readOnly, code: 'ARGO_ROOT_READ_ONLY', applies: (command) => command.changes },
];

const CASES = BAD_ROOTS.flatMap((bad) => COMMANDS.filter((command) => bad.applies(command)).map((command) => ({ bad, command })));

async function expectRefused(cli: Cli, argv: string[], code: ErrorCode): Promise<CliRun> {
  const before = await worldOf();
  // --json right after the command word: after `--` it would belong to the command argo chroot runs.
  const result = await runBuiltCli(cli, [argv[0] as string, '--json', ...argv.slice(1)]);
  expect(codeOf(result), result.stderr).toBe(code);
  expect(result.code).toBe(ERROR_CODES[code].exit);
  expect(await worldOf()).toEqual(before);
  return result;
}

describe('a wrong --root is refused at the door, and nothing is created', () => {
  it.each(CASES.map(({ bad, command }) => [command.name, bad.name, bad, command] as const))('%s: the root %s', async (_name, _bad, bad, command) => {
    const result = await expectRefused(command.cli, command.argv(bad.root()), bad.code);
    expect(result.code).toBe(2);
  });

  it('does not create the log folder of a mistyped root (argo recover --root /mnt/gento)', async () => {
    const typo = join(scratch, 'mnt/gento');
    await expectRefused('argo', ['recover', '--root', typo, '--user', 'alice', '--password-file', goodPassword], 'ARGO_ROOT_NOT_FOUND');
    await expect(stat(join(scratch, 'mnt'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('runs argo chroot on a read-only root (a command may only read)', async () => {
    const result = await runBuiltCli('argo', ['chroot', '--root', readOnly, '--', 'cat', '/etc/passwd']);
    expect(result.code, result.stderr).toBe(0);
  });
});

describe('argo recover refuses bad secrets and values before it creates anything', () => {
  const secretFile = async (name: string, content: string | Buffer, mode = 0o600): Promise<string> => {
    const file = join(scratch, name);
    await writeFile(file, content, { mode });
    await chmod(file, mode);
    return file;
  };
  const recover = (extra: string[]) => ['recover', '--root', gentoo, '--user', 'alice', ...extra];

  it.each([
    ['world-readable', () => secretFile('pw-world', 'correct horse\n', 0o644), 'ARGO_SECRET_FILE_UNSAFE'],
    ['group-readable', () => secretFile('pw-group', 'correct horse\n', 0o640), 'ARGO_SECRET_FILE_UNSAFE'],
    ['empty', () => secretFile('pw-empty', ''), 'ARGO_SECRET_FILE_UNSAFE'],
    ['only a line end', () => secretFile('pw-newline', '\n'), 'ARGO_SECRET_FILE_UNSAFE'],
    ['with a carriage return inside (CRLF pasted twice)', () => secretFile('pw-cr', 'correct\r\nhorse\r\n'), 'ARGO_SECRET_FILE_UNSAFE'],
    ['two lines', () => secretFile('pw-two', 'correct\nhorse\n'), 'ARGO_SECRET_FILE_UNSAFE'],
    ['1 MiB', () => secretFile('pw-huge', Buffer.alloc(1 << 20, 'a')), 'ARGO_SECRET_FILE_UNSAFE'],
    ['missing', async () => join(scratch, 'pw-missing'), 'ARGO_FILE_NOT_FOUND'],
    ['a folder', async () => join(scratch, 'empty'), 'ARGO_SECRET_FILE_UNSAFE'],
    ['a symlink planted to a private file', async () => {
      const link = join(scratch, 'pw-link');
      await symlink(goodPassword, link);
      return link;
    }, 'ARGO_SECRET_FILE_UNSAFE'],
    ['owned by another user', async () => {
      const file = await secretFile('pw-nobody', 'correct horse\n');
      await chown(file, 65534, 65534);
      return file;
    }, 'ARGO_SECRET_FILE_UNSAFE'],
    ['a FIFO that nobody writes (must not hang)', async () => {
      const fifo = join(scratch, 'pw-fifo');
      await run('mkfifo', ['-m', '600', fifo]);
      return fifo;
    }, 'ARGO_SECRET_FILE_UNSAFE'],
  ] as const)('--password-file %s', async (_name, make, code) => {
    await expectRefused('argo', recover(['--password-file', await make()]), code);
  });

  it.each([
    ['--password-hash-file holding a password, not a hash', async () => ['--password-hash-file', await secretFile('hash-password', 'correct horse\n')], 'ARGO_SECRET_FILE_UNSAFE'],
    ['--password-hash-file world-readable', async () => ['--password-hash-file', await secretFile('hash-world', '$6$salt$abc\n', 0o644)], 'ARGO_SECRET_FILE_UNSAFE'],
    ['--password-hash of 100 000 characters', async () => ['--password-hash', `$6$${'a'.repeat(100_000)}`], 'ARGO_USAGE'],
    ['--user of 100 000 characters', async () => ['--user', 'a'.repeat(100_000), '--password-file', goodPassword], 'ARGO_USAGE'],
    ['--user with a colon', async () => ['--user', 'alice:0', '--password-file', goodPassword], 'ARGO_USAGE'],
    ['two password options', async () => ['--password-file', goodPassword, '--generate-password'], 'ARGO_USAGE'],
    ['--skip of a phase that does not exist', async () => ['--password-file', goodPassword, '--skip', 'everything'], 'ARGO_USAGE'],
  ] as const)('%s', async (_name, make, code) => {
    await expectRefused('argo', recover(await make()), code);
  });
});

describe('one run per target root', () => {
  const lockFileOf = async (root: string): Promise<string> => {
    const info = await stat(root);
    return `/run/argo/locks/root-${info.dev}-${info.ino}.lock`;
  };

  /** An argo chroot that holds the lock of `root` until `root/tmp/release` exists; resolves once it holds it. */
  async function holdLock(root: string): Promise<{ pid: number; done: Promise<number | null> }> {
    await rm(join(root, 'tmp/release'), { force: true });
    const child = spawn(process.execPath, [`${PROJECT}dist/cli/argo.js`, 'chroot', '--root', root, '--', 'sh', '-c', 'while [ ! -e /tmp/release ]; do sleep 0.05; done'], {
      stdio: 'ignore',
    });
    const done = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const lock = await lockFileOf(root);
    // Ready when the lock file names this process: it holds the lock.
    for (;;) {
      const text = await readFile(lock, 'utf8').catch(() => '');
      if (text.includes(`"pid":${child.pid}`)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { pid: child.pid as number, done };
  }

  it('refuses every command that changes the target while another run holds it, naming the holder', async () => {
    const holder = await holdLock(gentoo);
    try {
      const alias = join(scratch, 'alias-of-the-root');
      await symlink(gentoo, alias);
      for (const command of COMMANDS.filter((candidate) => candidate.changes || candidate.name === 'argo chroot')) {
        // The same root by another name (a symlink, a bind mount) is the same lock.
        for (const root of command.name === 'argo recover' ? [gentoo, alias] : [gentoo]) {
          const result = await expectRefused(command.cli, command.argv(root), 'ARGO_TARGET_LOCKED');
          expect(result.code, command.name).toBe(3);
          expect(result.stderr).toContain(`argo chroot (pid ${holder.pid}`);
        }
      }
    } finally {
      await writeFile(join(gentoo, 'tmp/release'), '');
    }
    expect(await holder.done).toBe(0);
    await expect(readFile(await lockFileOf(gentoo), 'utf8')).resolves.toBe('');
  });

  it('takes over the lock of a run killed with SIGKILL, and logs whose it was', async () => {
    const holder = await holdLock(gentoo);
    process.kill(holder.pid, 'SIGKILL');
    expect(await holder.done).toBeNull();
    await writeFile(join(gentoo, 'tmp/release'), ''); // the command it ran inside ends on its own
    await unmountUnder(gentoo);
    const logFile = join(scratch, 'takeover.log');
    const next = await runBuiltCli('argo', ['chroot', '--root', gentoo, '--log-file', logFile, '--', 'true']);
    expect(next.code, next.stderr).toBe(0);
    const events = (await readFile(logFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.find((event) => event['event'] === 'lock.taken-over')).toMatchObject({ pid: holder.pid, command: 'argo chroot' });
    await rm(logFile);
  });
});

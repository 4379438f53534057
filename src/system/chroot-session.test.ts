import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArgoError } from '../core/errors.ts';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { makeTinyRoot } from '../../test/support/tiny-root.ts';
import { createChrootSession } from './chroot-session.ts';
import { createHostRunner } from './run-command.ts';
import { mountSnapshot } from '../../test/support/mount-table.ts';

let root: string;
let before: string[];
beforeEach(async () => {
  root = await makeTinyRoot();
  before = await mountSnapshot(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function session(dryRun = false) {
  const log = createMemoryLogger();
  const host = createHostRunner({ logger: log.logger, dryRun });
  return { log, host, chroot: createChrootSession({ root, host, logger: log.logger }) };
}

/** Every file's path, mode and content hash: equal before and after means nothing in the tree changed. */
async function treeDigest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (current: string): Promise<void> => {
    for (const entry of (await readdir(current, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(current, entry.name);
      hash.update(`${full}\0${entry.isDirectory() ? 'd' : entry.isSymbolicLink() ? 'l' : 'f'}\0`);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) hash.update(await readFile(full));
    }
  };
  await walk(dir);
  return hash.digest('hex');
}

/** Processes whose command line is exactly `command` (the host's whole process table). */
async function processesMatching(command: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').filter(Boolean).join(' ') === command) found.push(Number(pid));
  }
  return found;
}

async function waitUntil(condition: () => Promise<boolean>, what: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('createChrootSession', () => {
  it("runs inside the root with the Handbook's mounts, which never reach the host's mount table", async () => {
    const { chroot, log } = session();
    const targetResolv = await readFile(join(root, 'etc/resolv.conf'), 'utf8');
    const result = await chroot.run('sh', ['-c', 'cat /etc/passwd; ls /proc/self >/dev/null && echo proc-ok; ls /dev/null; cat /etc/resolv.conf; cat /proc/self/mountinfo']);
    expect(result.stdout).toContain('root:x:0:0');
    expect(result.stdout).toContain('proc-ok');
    expect(result.stdout).toContain('/dev/null');
    expect(result.stdout).toContain(await readFile('/etc/resolv.conf', 'utf8')); // the host's, bound read-only
    const inside = result.stdout.split('\n').filter((line) => / - /.test(line)).map((line) => line.split(' ')[4]);
    expect(inside).toEqual(expect.arrayContaining(['/proc', '/sys', '/dev', '/run', '/etc/resolv.conf']));
    // The recursive binds are slaves in the namespace: nothing propagates back to the host.
    for (const line of result.stdout.split('\n').filter((entry) => ['/sys', '/dev', '/run'].includes(entry.split(' ')[4] ?? ''))) {
      expect(line).not.toMatch(/ shared:\d+/);
    }
    expect(await mountSnapshot(root)).toEqual(before);
    await chroot.close();
    expect(await readFile(join(root, 'etc/resolv.conf'), 'utf8')).toBe(targetResolv);
    expect(log.events('chroot.opened')[0]).toMatchObject({ root, mounts: [join(root, 'proc'), join(root, 'sys'), join(root, 'dev'), join(root, 'run'), join(root, 'etc/resolv.conf')] });
    expect(log.events('chroot.closed')).toHaveLength(1);
  });

  it('resolves the mount points inside the root: an absolute /run symlink in the target cannot aim a mount at the host', async () => {
    const victim = await mkdtemp(join(tmpdir(), 'argo-host-victim-'));
    try {
      await rm(join(root, 'run'), { recursive: true });
      await mkdir(join(root, victim), { recursive: true });
      await symlink(victim, join(root, 'run'));
      const { chroot, log } = session();
      const result = await chroot.run('cat', ['/proc/self/mountinfo']);
      expect(result.stdout.split('\n').map((line) => line.split(' ')[4])).toContain(victim); // inside the root: <root><victim>
      expect(log.events('chroot.opened')[0]?.['mounts']).toContain(join(root, victim));
      expect(await mountSnapshot(root)).toEqual(before);
      expect(await readdir(victim)).toEqual([]);
      await chroot.close();
    } finally {
      await rm(victim, { recursive: true, force: true });
    }
  });

  it('ends every process a command started, even one that left its process group and holds stdout open', async () => {
    const { chroot } = session();
    const tag = `1${Date.now() % 100000}`;
    // setsid escapes the process group (as a daemon or gpg-agent does) and keeps the output pipe open.
    const result = await chroot.run('sh', ['-c', `setsid sleep ${tag} & echo started`], { budgetMs: 30_000 });
    expect(result.stdout).toBe('started\n');
    await waitUntil(async () => (await processesMatching(`sleep ${tag}`)).length === 0, 'the escaped sleep to die');
    await chroot.close();
  });

  it('leaves no process and no mount behind when argo itself is killed with SIGKILL', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'argo-sigkill-'));
    const tag = `2${Date.now() % 100000}`;
    const script = join(scratch, 'run-session.ts');
    await writeFile(script, [
      `import { createChrootSession } from ${JSON.stringify(new URL('./chroot-session.ts', import.meta.url).href)};`,
      `import { createHostRunner } from ${JSON.stringify(new URL('./run-command.ts', import.meta.url).href)};`,
      `import { createMemoryLogger } from ${JSON.stringify(new URL('../../test/support/memory-logger.ts', import.meta.url).href)};`,
      'const { logger } = createMemoryLogger();',
      `const chroot = createChrootSession({ root: ${JSON.stringify(root)}, host: createHostRunner({ logger }), logger });`,
      `await chroot.run('sh', ['-c', 'setsid sleep ${tag} & echo ready; sleep ${tag}'], { onLine: (line) => process.stdout.write(line + '\\n') });`,
    ].join('\n'));
    try {
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`the session script exited early (${code})`)));
      });
      // "ready" comes before both sleeps have started (the shell forks them around the echo): wait for them.
      await waitUntil(async () => (await processesMatching(`sleep ${tag}`)).length === 2, 'both sleeps to run');
      child.kill('SIGKILL');
      await waitUntil(async () => (await processesMatching(`sleep ${tag}`)).length === 0, 'the namespace to die with argo');
      expect(await mountSnapshot(root)).toEqual(before);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('kills the command on an interrupt, with SIGTERM first', async () => {
    const { chroot } = session();
    const controller = new AbortController();
    const running = chroot.run('sh', ['-c', 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 1; done'], {
      signal: controller.signal,
      graceMs: 10_000,
      onLine: (line) => line === 'ready' && controller.abort(new ArgoError('ARGO_INTERRUPTED', 'Interrupted by SIGTERM')),
    });
    const error = await running.then(() => undefined, (caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ARGO_INTERRUPTED' });
    expect((error as { result: { tail: string[] } }).result.tail).toContain('got-term');
    await chroot.close();
    expect(await mountSnapshot(root)).toEqual(before);
  });

  it('feeds input to the command', async () => {
    const { chroot } = session();
    const result = await chroot.run('md5sum', [], { input: 'correct horse' });
    expect(result.stdout).toBe(`${createHash('md5').update('correct horse').digest('hex')}  -\n`);
    await chroot.close();
  });

  it('a dry run changes nothing in the target, and still runs read-only commands', async () => {
    const digest = await treeDigest(root);
    const { chroot, host } = session(true);
    const read = await chroot.run('cat', ['/etc/passwd'], { mutates: false });
    expect(read.stdout).toContain('root:x:0:0');
    const write = await chroot.run('sh', ['-c', 'echo changed > /etc/passwd']);
    expect(write.ran).toBe(false);
    await chroot.close();
    expect(chroot.history.map((record) => [record.argv[0], record.ran])).toEqual([['cat', true], ['sh', false]]);
    expect(host.history).toHaveLength(2);
    expect(await treeDigest(root)).toBe(digest);
    expect(await mountSnapshot(root)).toEqual(before);
  });

  it('reports mounts under the target that it did not make, and leaves them', async () => {
    const host = createHostRunner({ logger: createMemoryLogger().logger });
    await host.run('mount', ['--types', 'proc', '/proc', join(root, 'proc')]);
    try {
      const { chroot, log } = session();
      await chroot.run('true', []);
      await chroot.close();
      expect(log.events('chroot.foreign-mounts')).toEqual([expect.objectContaining({ mounts: [join(root, 'proc')] })]);
      expect((await mountSnapshot(root)).filter((line) => line.split(' ')[4] === join(root, 'proc'))).toHaveLength(1);
    } finally {
      await host.run('umount', [join(root, 'proc')]);
    }
  });

  it('names a missing program inside the target', async () => {
    const { chroot } = session();
    await expect(chroot.run('emerge', ['--version'])).rejects.toMatchObject({ code: 'ARGO_COMMAND_NOT_FOUND', message: expect.stringContaining(`emerge --version (inside ${root})`) });
    await chroot.close();
  });

  it('refuses a folder that is not a Linux root', async () => {
    await rm(join(root, 'sys'), { recursive: true });
    const { chroot } = session();
    await expect(chroot.open()).rejects.toMatchObject({ code: 'ARGO_NOT_A_LINUX_ROOT', message: expect.stringContaining('/sys') });
    await chroot.close();
  });

  it('keeps a target resolv.conf symlink as it is', async () => {
    await rm(join(root, 'etc/resolv.conf'));
    await mkdir(join(root, 'run/systemd/resolve'), { recursive: true });
    await symlink('/run/systemd/resolve/resolv.conf', join(root, 'etc/resolv.conf'));
    const { chroot, log } = session();
    await chroot.run('true', []);
    await chroot.close();
    expect(log.events('chroot.opened')[0]?.['mounts']).not.toContain(join(root, 'etc/resolv.conf'));
    expect(await readFile(join(root, 'etc/resolv.conf'), 'utf8').catch((error: NodeJS.ErrnoException) => error.code)).toBe('ENOENT');
  });

  it('binds an overlay read-only over a target file for one command only: the file on disk and the host mount table stay as they were', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'argo-overlay-'));
    try {
      await writeFile(join(root, 'etc/secret'), 'on disk\n');
      await writeFile(join(scratch, 'copy'), 'the private copy\n');
      const { chroot } = session();
      const overlays = [{ hostFile: join(scratch, 'copy'), targetPath: '/etc/secret' }];
      const seen = await chroot.run('sh', ['-c', 'cat /etc/secret; echo changed > /etc/secret || echo read-only'], { overlays });
      expect(seen.stdout).toBe('the private copy\nread-only\n');
      expect((await chroot.run('cat', ['/etc/secret'])).stdout).toBe('on disk\n');
      // The command sees its own, not the overlay shell's words.
      expect(chroot.history.map((record) => record.argv[0])).toEqual(['sh', 'cat']);
      await chroot.close();
      expect(await readFile(join(root, 'etc/secret'), 'utf8')).toBe('on disk\n');
      expect(await readFile(join(scratch, 'copy'), 'utf8')).toBe('the private copy\n');
      expect(await mountSnapshot(root)).toEqual(before);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it.each([
    ['a symlink in the target', async (dir: string) => symlink('/etc/passwd', join(dir, 'etc/secret')), 'it is a symbolic link'],
    ['a folder', async (dir: string) => mkdir(join(dir, 'etc/secret')), 'it is not a regular file'],
    ['nothing', async () => undefined, 'it does not exist'],
  ])('refuses to bind over %s, before running anything', async (_name, plant, reason) => {
    const scratch = await mkdtemp(join(tmpdir(), 'argo-overlay-'));
    try {
      await plant(root);
      await writeFile(join(scratch, 'copy'), 'copy\n');
      const { chroot, host } = session();
      const run = chroot.run('cat', ['/etc/secret'], { overlays: [{ hostFile: join(scratch, 'copy'), targetPath: '/etc/secret' }] });
      await expect(run).rejects.toMatchObject({ code: 'ARGO_MOUNT_FAILED', message: expect.stringContaining(reason) });
      expect(host.history).toEqual([]);
      await chroot.close();
      expect(await mountSnapshot(root)).toEqual(before);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('names the overlay whose bind failed, with the mount-failed error', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'argo-overlay-'));
    try {
      // A file under the target's /proc folder on disk is hidden by the namespace's own /proc: its bind fails there.
      await writeFile(join(root, 'proc/hidden'), 'on disk\n');
      await writeFile(join(scratch, 'copy'), 'copy\n');
      const { chroot } = session();
      const run = chroot.run('cat', ['/proc/hidden'], { overlays: [{ hostFile: join(scratch, 'copy'), targetPath: '/proc/hidden' }] });
      await expect(run).rejects.toMatchObject({ code: 'ARGO_MOUNT_FAILED', message: `Could not set up the mounts to run cat inside ${root}: could not mount /proc/hidden` });
      await chroot.close();
      expect(await mountSnapshot(root)).toEqual(before);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('close() is safe to call twice and before open(), and refuses runs afterwards', async () => {
    const { chroot } = session();
    await chroot.close();
    await chroot.close();
    await expect(chroot.run('true', [])).rejects.toThrow('closed');
  });
});

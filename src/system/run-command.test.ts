import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArgoError } from '../core/errors.ts';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { mountSnapshot } from '../../test/support/mount-table.ts';
import { CommandError, createHostRunner } from './run-command.ts';

let scratch: string;
beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'argo-run-'));
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** True while a process exists and is not a zombie waiting to be reaped. */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Processes (not zombies) whose process group is `pgid`, read from /proc. */
async function liveMembersOfGroup(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) members.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return members;
}

async function waitUntilGone(pids: number[], ms = 2000): Promise<number[]> {
  const deadline = Date.now() + ms;
  let alive = pids;
  while (Date.now() < deadline) {
    const states = await Promise.all(pids.map(isRunning));
    alive = pids.filter((_, index) => states[index]);
    if (alive.length === 0) return [];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return alive;
}

async function rejection(promise: Promise<unknown>): Promise<CommandError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CommandError);
    return error as CommandError;
  }
  throw new Error('expected the command to fail');
}

describe('createHostRunner', () => {
  it('runs a program with an argument array and keeps its output', async () => {
    const { logger, events } = createMemoryLogger();
    const runner = createHostRunner({ logger });
    const result = await runner.run('printf', ['%s\\n%s\\r\\n%s', 'one', 'two; rm -rf /', 'three']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('one\ntwo; rm -rf /\r\nthree');
    expect(result.tail).toEqual(['one', 'two; rm -rf /', 'three']);
    expect(events('command.output').map((record) => record['line'])).toEqual(['one', 'two; rm -rf /', 'three']);
    expect(events('command.exited')[0]).toMatchObject({ exitCode: 0 });
    expect(runner.history).toEqual([{ argv: ['printf', '%s\\n%s\\r\\n%s', 'one', 'two; rm -rf /', 'three'], ran: true, exitCode: 0 }]);
  });

  it('splits progress output on bare carriage returns', async () => {
    const { logger } = createMemoryLogger();
    const result = await createHostRunner({ logger }).run('printf', ['10%%\\r50%%\\r100%%\\n']);
    expect(result.tail).toEqual(['10%', '50%', '100%']);
  });

  it('reports a non-zero exit with the tail of the output', async () => {
    const { logger } = createMemoryLogger();
    const error = await rejection(createHostRunner({ logger }).run('sh', ['-c', 'echo building; echo "it broke" >&2; exit 3']));
    expect(error.code).toBe('ARGO_COMMAND_FAILED');
    expect(error.message).toContain('exited with status 3');
    expect(error.result.tail).toEqual(['building', 'it broke']);
    expect(error.exitCode).toBe(1);
  });

  it('accepts exit codes the caller declares as fine', async () => {
    const { logger } = createMemoryLogger();
    const result = await createHostRunner({ logger }).run('sh', ['-c', 'exit 1'], { okExitCodes: [0, 1] });
    expect(result.exitCode).toBe(1);
  });

  it('names a program that does not exist', async () => {
    const { logger } = createMemoryLogger();
    const error = await rejection(createHostRunner({ logger }).run('argo-no-such-program', []));
    expect(error.code).toBe('ARGO_COMMAND_NOT_FOUND');
    expect(error.message).toContain('argo-no-such-program');
  });

  it('kills a command that ignores SIGTERM, and its forked grandchild, at its budget', async () => {
    const { logger, events } = createMemoryLogger();
    const pids = join(scratch, 'pids');
    // The child ignores SIGTERM, forks a grandchild that ignores it too, and both record their PIDs.
    const script = `trap "" TERM; sh -c 'trap "" TERM; echo $$ >> ${pids}; exec sleep 1000' & echo $$ >> ${pids}; wait; sleep 1000`;
    const started = Date.now();
    const error = await rejection(
      createHostRunner({ logger }).run('sh', ['-c', script], { budgetMs: 700, graceMs: 300 }),
    );
    expect(error.code).toBe('ARGO_COMMAND_TIMED_OUT');
    expect(error.exitCode).toBe(124);
    expect(Date.now() - started).toBeLessThan(5000);
    const recorded = (await readFile(pids, 'utf8')).trim().split('\n').map(Number);
    expect(recorded).toHaveLength(2);
    expect(await waitUntilGone(recorded)).toEqual([]);
    expect(await liveMembersOfGroup(error.result.pid as number)).toEqual([]);
    expect(events('command.killed')).toHaveLength(1);
  });

  it('also kills a grandchild that ignores SIGTERM after its parent has already died of it', async () => {
    const { logger } = createMemoryLogger();
    const pids = join(scratch, 'pids');
    // The grandchild closes its output, so nothing keeps the run waiting once the child has exited.
    const script = `sh -c 'trap "" TERM; echo $$ >> ${pids}; exec sleep 1000' >/dev/null 2>&1 & sleep 1000`;
    const error = await rejection(createHostRunner({ logger }).run('sh', ['-c', script], { budgetMs: 500, graceMs: 300 }));
    expect(error.code).toBe('ARGO_COMMAND_TIMED_OUT');
    const [grandchild] = (await readFile(pids, 'utf8')).trim().split('\n').map(Number);
    expect(await waitUntilGone([grandchild as number])).toEqual([]);
    expect(await liveMembersOfGroup(error.result.pid as number)).toEqual([]);
  });

  it('kills a command that goes silent with the inactivity watchdog', async () => {
    const { logger } = createMemoryLogger();
    const started = Date.now();
    const error = await rejection(
      createHostRunner({ logger }).run('sh', ['-c', 'echo compiling; sleep 30'], { inactivityMs: 400, budgetMs: 20_000, graceMs: 200 }),
    );
    expect(error.code).toBe('ARGO_COMMAND_INACTIVE');
    expect(error.result.tail).toEqual(['compiling']);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('does not trip the watchdog while output keeps coming', async () => {
    const { logger } = createMemoryLogger();
    const result = await createHostRunner({ logger }).run(
      'sh',
      ['-c', 'for i in 1 2 3 4 5 6; do echo $i; sleep 0.15; done'],
      { inactivityMs: 500 },
    );
    expect(result.tail).toHaveLength(6);
  });

  it('stops at once when the caller aborts, as an interruption', async () => {
    const { logger } = createMemoryLogger();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new ArgoError('ARGO_INTERRUPTED', 'Interrupted by SIGINT')), 200);
    const error = await rejection(
      createHostRunner({ logger }).run('sleep', ['30'], { signal: controller.signal, graceMs: 200 }),
    );
    expect(error.code).toBe('ARGO_INTERRUPTED');
    expect(error.exitCode).toBe(130);
  });

  it('never waits on stdin: a program reading it sees end of file', async () => {
    const { logger } = createMemoryLogger();
    const result = await createHostRunner({ logger }).run('cat', [], { budgetMs: 5000 });
    expect(result.stdout).toBe('');
  });

  it('feeds stdin only when given input', async () => {
    const { logger } = createMemoryLogger();
    const result = await createHostRunner({ logger }).run('cat', [], { input: 'secret words' });
    expect(result.stdout).toBe('secret words');
  });

  it('records but does not run commands that change the system in a dry run', async () => {
    const { logger, events } = createMemoryLogger();
    const runner = createHostRunner({ logger, dryRun: true });
    const marker = join(scratch, 'created');
    const skipped = await runner.run('touch', [marker]);
    const read = await runner.run('echo', ['looked'], { mutates: false });
    expect(skipped.ran).toBe(false);
    expect(read.stdout).toBe('looked\n');
    await expect(readFile(marker)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(runner.history.map((record) => record.ran)).toEqual([false, true]);
    expect(events('command.not-run')[0]).toMatchObject({ argv: ['touch', marker], reason: 'dry run' });
  });

  it('binds an overlay over a host file for the one command, in a mount namespace of its own', async () => {
    const before = await mountSnapshot(scratch);
    await writeFile(join(scratch, 'real'), 'on disk\n');
    await writeFile(join(scratch, 'copy'), 'the private copy\n');
    const runner = createHostRunner({ logger: createMemoryLogger().logger });
    const overlays = [{ hostFile: join(scratch, 'copy'), targetPath: join(scratch, 'real') }];
    const seen = await runner.run('sh', ['-c', 'cat "$1"; echo changed > "$1" || echo read-only', 'sh', join(scratch, 'real')], { overlays });
    expect(seen.stdout).toBe('the private copy\nread-only\n');
    expect((await runner.run('cat', [join(scratch, 'real')])).stdout).toBe('on disk\n');
    expect(runner.history.map((record) => record.argv[0])).toEqual(['sh', 'cat']);
    expect(await readFile(join(scratch, 'real'), 'utf8')).toBe('on disk\n');
    expect(await mountSnapshot(scratch)).toEqual(before);
  });

  it('refuses to bind over a symlink, and names a missing program behind an overlay', async () => {
    await writeFile(join(scratch, 'real'), 'on disk\n');
    await writeFile(join(scratch, 'copy'), 'copy\n');
    await symlink(join(scratch, 'real'), join(scratch, 'link'));
    const runner = createHostRunner({ logger: createMemoryLogger().logger });
    await expect(runner.run('cat', [join(scratch, 'link')], { overlays: [{ hostFile: join(scratch, 'copy'), targetPath: join(scratch, 'link') }] })).rejects.toMatchObject({
      code: 'ARGO_MOUNT_FAILED',
      message: expect.stringContaining('symbolic link'),
    });
    const missing = await rejection(runner.run('no-such-program-argo', [], { overlays: [{ hostFile: join(scratch, 'copy'), targetPath: join(scratch, 'real') }] }));
    expect(missing).toMatchObject({ code: 'ARGO_COMMAND_NOT_FOUND', message: 'no-such-program-argo: program not found' });
  });

  it('keeps password hashes out of the log', async () => {
    const { logger, text } = createMemoryLogger();
    const hash = '$6$saltsalt$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ';
    await createHostRunner({ logger }).run('echo', [`alice:${hash}:19000:0:99999:7:::`]);
    expect(text()).not.toContain('abcdefghijklmnop');
    expect(text()).toContain('alice:[redacted]:19000');
  });
});

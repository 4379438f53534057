import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, tmpdir } from 'node:os';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountSnapshot } from '../support/mount-table.ts';
import { PROJECT, runBuiltCli } from '../support/run-cli.ts';
import { makeTinyRoot } from '../support/tiny-root.ts';

describe('the executables', () => {
  it.each([
    ['argo', ['recover', 'preflight', 'snapshot', 'chroot']],
    ['apkg', ['update', 'rollback', 'preflight', 'canary']],
    ['build-swarm', ['simulate', 'orchestrator', 'drone', 'fresh', 'status', 'monitor', 'verify', 'finalize', 'rollback', 'releases', 'fix-blocked', 'sync', 'reset', 'cancel', 'logs', 'up', 'gateway', 'completion']],
  ] as const)('%s --help exits 0 and lists its commands', async (name, commands) => {
    const run = await runBuiltCli(name, ['--help']);
    expect(run.code).toBe(0);
    for (const command of commands) expect(run.stdout).toMatch(new RegExp(`^  ${name} ${command}\\b`, 'm'));
    expect(run.stdout).toContain('--root');
    expect(run.stdout).toContain('--json');
  });

  it('prints the package version', async () => {
    const manifest = JSON.parse(await readFile(join(PROJECT, 'package.json'), 'utf8')) as { version: string };
    const run = await runBuiltCli('argo', ['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(manifest.version);
  });

  it('exits 2 with a hint on a usage error', async () => {
    const run = await runBuiltCli('argo', ['recovr']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('[ARGO_USAGE]');
    expect(run.stderr).toContain('hint:');
  });

  it('argo recover without --user is a usage error, not an internal one', async () => {
    const run = await runBuiltCli('argo', ['recover', '--root', '/mnt/nowhere']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Missing required argument: user [ARGO_USAGE]');
    expect(run.stderr).not.toContain('internal error');
  });

  it.each([['--ask'], ['-p'], ['--dry-run']])('refuses --resume with %s: a preview keeps no state, there is nothing to continue', async (flag) => {
    const run = await runBuiltCli('argo', ['recover', '--root', '/mnt/nowhere', '--user', 'alice', '--generate-password', '--resume', flag]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--resume cannot be previewed (--ask, -p) [ARGO_USAGE]');
  });

  it('answers when started in a folder that was deleted (a lazy unmount under a shell)', async () => {
    const gone = await mkdtemp(join(tmpdir(), 'argo-gone-cwd-'));
    const child = spawn('sh', ['-c', `cd ${gone} && rmdir ${gone} && exec "$0" "$@"`, process.execPath, `${PROJECT}dist/cli/argo.js`, '--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('says which gateway to give when an operator command has none, in JSON too', async () => {
    const run = await runBuiltCli('build-swarm', ['fix-blocked', '--json'], { env: { ARGO_SWARM_GATEWAY: '' } });
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'ARGO_USAGE', message: 'No gateway to ask', hint: expect.stringContaining('--gateway') } });
  });
});

describe('argo chroot', () => {
  let root: string;
  let before: string[];
  beforeAll(async () => {
    root = await makeTinyRoot();
    before = await mountSnapshot(root);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('runs a command inside the target and leaves the mount table as it was', async () => {
    const run = await runBuiltCli('argo', ['chroot', '--root', root, '--', 'sh', '-c', 'echo inside; test -e /proc/self/status && echo proc-mounted']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('inside\nproc-mounted\n');
    expect(await mountSnapshot(root)).toEqual(before);
  });

  it('reports a failing command with exit 1 and its output tail in JSON', async () => {
    const run = await runBuiltCli('argo', ['chroot', '--root', root, '--json', '--', 'sh', '-c', 'echo partial; exit 4']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'ARGO_COMMAND_FAILED', details: { exitCode: 4, tail: ['partial'] } } });
    expect(await mountSnapshot(root)).toEqual(before);
  });

  it('on SIGTERM kills the command, unmounts everything and exits 130', async () => {
    const logFile = join(root, '..', `${root.split('/').pop()}-chroot.log`);
    let mountedDuring = 0;
    const run = await runBuiltCli('argo', ['chroot', '--root', root, '--log-file', logFile, '--', 'sleep', '60'], {
      during: (pid) => {
        // Once the log says the command inside started, its mounts are in place: look at the host's table, then stop it.
        const poll = setInterval(() => {
          void readFile(logFile, 'utf8').catch(() => '').then(async (log) => {
            if (!log.includes('"chroot.opened"') || !log.includes('"sleep","60"')) return;
            clearInterval(poll);
            mountedDuring = (await mountSnapshot(root)).length - before.length;
            process.kill(pid, 'SIGTERM');
          });
        }, 50);
      },
    });
    // The mounts live in the command's own mount namespace: the host's table never changes.
    expect(mountedDuring).toBe(0);
    expect(run.code).toBe(130);
    expect(run.stderr).toContain('[ARGO_INTERRUPTED]');
    // argo chroot has no --resume: the hint must not send anyone looking for it.
    expect(run.stderr).not.toContain('--resume');
    expect(await mountSnapshot(root)).toEqual(before);
    const events = (await readFile(logFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { event?: string });
    expect(events.find((event) => event.event === 'chroot.closed')).toBeDefined();
    await rm(logFile, { force: true });
  });

  it.each(['ignore', 'silent-pipe'] as const)('never blocks on stdin (%s): a program reading it sees end of file', async (stdin) => {
    const run = await runBuiltCli('argo', ['chroot', '--root', root, '--budget', '20', '--', 'sh', '-c', 'cat; echo done'], { stdin });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('done\n');
  });

  it('feeds --input to the command and never logs its content', async () => {
    const input = join(root, '..', `${root.split('/').pop()}-input`);
    const logFile = `${input}.log`;
    await writeFile(input, 'correct horse', { mode: 0o600 });
    const run = await runBuiltCli('argo', ['chroot', '--root', root, '--input', input, '--log-file', logFile, '--', 'md5sum']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${createHash('md5').update('correct horse').digest('hex')}  -\n`);
    expect(await readFile(logFile, 'utf8')).not.toContain('correct horse');
    await rm(input);
    await rm(logFile);
  });

  it('keeps going when its terminal hangs up while the command runs', async () => {
    // The command says when it runs (a file) and waits for the test to let it finish: no guessed delays.
    const script = 'touch /tmp/hangup-ready; while [ ! -e /tmp/hangup-release ]; do sleep 0.05; done; echo finished';
    const run = await runBuiltCli('argo', ['chroot', '--root', root, '--', 'sh', '-c', script], {
      during: (pid) => {
        void (async () => {
          await waitForFile(join(root, 'tmp/hangup-ready'));
          process.kill(pid, 'SIGHUP');
          await waitUntilDelivered(pid, 'SIGHUP');
          await writeFile(join(root, 'tmp/hangup-release'), '');
        })();
      },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('finished\n');
    await rm(join(root, 'tmp/hangup-ready'));
    await rm(join(root, 'tmp/hangup-release'));
  });

  it('says on a second Ctrl-C that it is cleaning up, and stops at once on a third', async () => {
    const ready = join(root, 'tmp/stubborn-ready');
    // A command that ignores SIGTERM and SIGINT: after the first Ctrl-C argo waits out its kill grace.
    const script = 'trap "" TERM INT; touch /tmp/stubborn-ready; while :; do sleep 0.05; done';
    const before = await mountSnapshot(root);
    const child = spawn(process.execPath, [`${PROJECT}dist/cli/argo.js`, 'chroot', '--root', root, '--', 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const lines: ((text: string) => void)[] = [];
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      for (const check of lines) check(stderr);
    });
    const printed = (text: string): Promise<void> =>
      new Promise((resolve) => {
        const check = (all: string): void => {
          if (all.includes(text)) resolve();
        };
        lines.push(check);
        check(stderr);
      });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitForFile(ready);
    child.kill('SIGINT');
    // Signals of one kind do not queue: send the next only once the kernel has delivered this one.
    await waitUntilDelivered(child.pid as number, 'SIGINT');
    child.kill('SIGINT');
    await printed('still cleaning up');
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('argo: still cleaning up (unmounting, saving state); this takes seconds; interrupt once more to stop at once');
    // argo chroot cannot be resumed: the last line does not send anyone looking for --resume.
    expect(stderr).toContain('argo: stopping now, without finishing the clean-up\n');
    expect(await mountSnapshot(root)).toEqual(before);
    await rm(ready);
  });

  it('refuses a folder that is not a Linux root', async () => {
    const run = await runBuiltCli('argo', ['chroot', '--root', join(PROJECT, 'docs'), '--', 'true']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('[ARGO_NOT_A_LINUX_ROOT]');
  });
});

describe('a hangup while the program is still loading', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'argo-hangup-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['argo', 'apkg', 'build-swarm'] as const)('does not stop %s (Node.js takes half a second to load it on a slow machine)', async (name) => {
    // A module hook holds the import of start-cli.js (where the old SIGHUP handler lived) until the test has
    // sent SIGHUP and seen it delivered: the hangup lands exactly in the loading window, on any machine.
    const loading = join(dir, `${name}-loading`);
    const release = join(dir, `${name}-release`);
    const hooks = join(dir, `${name}-hooks.mjs`);
    await writeFile(
      hooks,
      `import { existsSync, writeFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  if (specifier === './start-cli.js') {
    writeFileSync(${JSON.stringify(loading)}, '');
    while (!existsSync(${JSON.stringify(release)})) await new Promise((done) => setTimeout(done, 10));
  }
  return next(specifier, context);
}
`,
    );
    const register = join(dir, `${name}-register.mjs`);
    await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const run = await runBuiltCli(name, ['--version'], {
      env: { NODE_OPTIONS: `--import=${register}` },
      during: (pid) => {
        void (async () => {
          await waitForFile(loading);
          process.kill(pid, 'SIGHUP');
          await waitUntilDelivered(pid, 'SIGHUP');
          await writeFile(release, '');
        })();
      },
    });
    expect(run.signal).toBeNull();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

async function waitForFile(file: string): Promise<void> {
  while (!(await stat(file).then(() => true, () => false))) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Until the kernel has delivered `signal` to `pid` (it is no longer pending), or the process is gone. */
async function waitUntilDelivered(pid: number, signal: 'SIGHUP' | 'SIGINT'): Promise<void> {
  const bit = 1n << BigInt(constants.signals[signal] - 1);
  for (;;) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
    if (status === undefined) return;
    const pending = [...status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)].reduce((mask, match) => mask | BigInt(`0x${match[1]}`), 0n);
    if ((pending & bit) === 0n) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The conventions Gentoo users expect, on the built CLIs: man pages (checked by man itself), bash and zsh
 * completion, -p/--pretend and -a/--ask on the commands that change the system (on a real terminal: script(1)
 * gives the command a pty), -v/-q, colour (--color, NO_COLOR, TERM=dumb, make.conf's NOCOLOR), and progress of
 * a long restore on a real btrfs filesystem.
 */

import { execFile, spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/core/errors.ts';
import { useBtrfsDisk } from '../support/btrfs-target.ts';
import { copyTarget, installFakeEmerge, type TargetCopy } from '../support/debian-target.ts';
import { PROJECT, runBuiltCli } from '../support/run-cli.ts';
import { makeTinyRoot } from '../support/tiny-root.ts';

const run = promisify(execFile);
const CLIS = ['argo', 'apkg', 'build-swarm'] as const;
type Cli = (typeof CLIS)[number];
const bin = (name: Cli): string => join(PROJECT, 'dist/cli', `${name}.js`);
/** As a user's terminal would have it: colour allowed (runBuiltCli sets NO_COLOR for the rest of the suite). */
const COLOUR_ENV = { NO_COLOR: '', NOCOLOR: '', TERM: 'xterm' };

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'argo-conventions-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Runs a built CLI on a real terminal (script(1) gives it a pty); `input` is typed into that terminal. */
async function onTerminal(name: Cli, args: readonly string[], input: string, env: Record<string, string> = {}, pathFirst: readonly string[] = []) {
  const command = ['node', bin(name), ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const result = await execa('script', ['-qec', command, '/dev/null'], {
    input,
    reject: false,
    env: { ...process.env, LANG: 'C', NO_COLOR: '1', ...env, PATH: [...pathFirst, join(PROJECT, 'node_modules/.bin'), process.env['PATH'] ?? ''].join(':') },
  });
  return { code: result.exitCode, output: result.stdout };
}

/** What --help lists: the commands, and per command its positionals and option names (yargs' own rendering). */
async function helpOf(name: Cli): Promise<Map<string, { positionals: string[]; options: string[] }>> {
  const top = await runBuiltCli(name, ['--help']);
  expect(top.code).toBe(0);
  const commands = [...top.stdout.matchAll(new RegExp(`^  ${name} ([\\w-]+)`, 'gm'))].map((match) => match[1] as string);
  const result = new Map<string, { positionals: string[]; options: string[] }>();
  result.set('', { positionals: [], options: optionsInHelp(top.stdout) });
  for (const command of commands) {
    const help = await runBuiltCli(name, [command, '--help']);
    expect(help.code, `${name} ${command} --help`).toBe(0);
    const positionals = (help.stdout.split(/^Positionals:$/m)[1]?.split(/^\S/m)[0] ?? '')
      .split('\n')
      .map((line) => /^ {2}([\w-]+) /.exec(line)?.[1])
      .filter((word): word is string => word !== undefined);
    result.set(command, { positionals, options: optionsInHelp(help.stdout) });
  }
  return result;
}

function optionsInHelp(help: string): string[] {
  const section = help.split(/^Options:$/m)[1] ?? '';
  return section
    .split('\n')
    // An option's line: `  -p, --pretend, --dry-run  …` or `      --root  …`; deeper lines continue a description.
    .filter((line) => /^ {2}-\w, --|^ {6}--\w/.test(line))
    .flatMap((line) => (line.trim().split(/\s{2,}/)[0] ?? '').split(', '))
    .filter((word) => word.startsWith('-'));
}

/** The page as man renders it for a wide terminal (no wrapping inside a tag line). */
function renderedPage(name: Cli): string {
  const rendered = spawnSync('man', ['-l', join(PROJECT, 'dist/man/man1', `${name}.1`)], { env: { ...process.env, MANWIDTH: '200', LANG: 'C.UTF-8' }, encoding: 'utf8' });
  expect(rendered.status, rendered.stderr).toBe(0);
  return rendered.stdout;
}

/** A command's section of the rendered page: from its `   argo snapshot …` heading to the next heading. */
function sectionOf(page: string, name: Cli, command: string): string {
  const lines = page.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`   ${name} ${command}`) && !line.startsWith(`   ${name} ${command}-`));
  expect(start, `${name} ${command} has a section`).toBeGreaterThan(0);
  const end = lines.findIndex((line, index) => index > start && (/^ {3}\S/.test(line) || /^\S/.test(line)));
  return lines.slice(start, end).join('\n');
}

const mentions = (text: string, word: string): boolean => new RegExp(`(^|[\\s,])${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([\\s,]|$)`, 'm').test(text);

describe('man pages (dist/man/man1, made from the command definitions at build time)', () => {
  it.each(CLIS)('%s.1 renders without a single warning from man', (name) => {
    const check = spawnSync('man', ['--warnings', '-l', join(PROJECT, 'dist/man/man1', `${name}.1`)], { env: { ...process.env, MANWIDTH: '80' }, encoding: 'utf8' });
    expect(check.status).toBe(0);
    expect(check.stderr).toBe('');
    expect(check.stdout.length).toBeGreaterThan(2000);
  });

  it.each(CLIS)('%s.1 has the sections an admin expects, and every exit status', (name) => {
    const page = renderedPage(name);
    for (const heading of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'OPTIONS', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'SEE ALSO']) expect(page).toMatch(new RegExp(`^${heading}$`, 'm'));
    const exitStatus = page.split(/^EXIT STATUS$/m)[1]?.split(/^ENVIRONMENT$/m)[0] ?? '';
    for (const status of Object.values(EXIT)) expect(exitStatus).toMatch(new RegExp(`^ {7}${status}\\s`, 'm'));
    expect(page).toContain('ARGO_NOT_CONFIRMED');
    expect(page).toMatch(/^ {7}NO_COLOR$/m);
  });

  it.each(CLIS)('%s.1 lists every command, positional and option that --help lists, in the right section', async (name) => {
    const page = renderedPage(name);
    const help = await helpOf(name);
    const globalOptions = page.split(/^OPTIONS$/m)[1]?.split(/^EXIT STATUS$/m)[0] ?? '';
    for (const option of help.get('')?.options ?? []) expect(mentions(globalOptions, option), `${name} ${option} in OPTIONS`).toBe(true);
    const synopsis = page.split(/^SYNOPSIS$/m)[1]?.split(/^DESCRIPTION$/m)[0] ?? '';
    expect(help.size).toBeGreaterThan(4);
    for (const [command, { positionals, options }] of help) {
      if (command === '') continue;
      expect(mentions(synopsis, command), `${name} ${command} in SYNOPSIS`).toBe(true);
      const section = sectionOf(page, name, command);
      for (const positional of positionals) expect(mentions(section, positional), `${name} ${command} ${positional}`).toBe(true);
      // Options every command has are in OPTIONS; the command's own are in its section.
      for (const option of options.filter((candidate) => !help.get('')?.options.includes(candidate))) {
        expect(mentions(section, option), `${name} ${command} ${option} in its section`).toBe(true);
      }
    }
  });

  it('argo.1 documents -p/--pretend with its old name, -a/--ask, the examples and the colour rules', () => {
    const page = renderedPage('argo');
    expect(sectionOf(page, 'argo', 'recover')).toMatch(/-p, --pretend, --dry-run/);
    expect(sectionOf(page, 'argo', 'recover')).toMatch(/-a, --ask/);
    expect(sectionOf(page, 'argo', 'snapshot')).toContain('argo snapshot restore 12 --pretend');
    expect(page).toMatch(/--color y\|n/);
    expect(page).toContain('ROOT/etc/portage/make.conf');
  });
});

describe('shell completion', () => {
  /** COMPREPLY of the generated bash completion for the words typed (the last one is being completed). */
  async function bashComplete(name: Cli, words: readonly string[]): Promise<string[]> {
    const script = join(scratch, `${name}.bash`);
    const generated = await runBuiltCli(name, ['completion', 'bash']);
    expect(generated.code, generated.stderr).toBe(0);
    await writeFile(script, generated.stdout);
    const fn = `_${name.replace(/-/g, '_')}`;
    const driver = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const { stdout } = await run('bash', ['--norc', '--noprofile', '-c', driver, 'complete', script, ...words]);
    return stdout.split('\n').filter(Boolean);
  }

  it.each([
    ['argo', ['argo', 'sn'], ['snapshot']],
    ['argo', ['argo', 'snapshot', ''], ['create', 'list', 'diff', 'restore', 'delete']],
    ['argo', ['argo', '--root', '/mnt/gentoo', 'snapshot', 'restore', '12', '--pr'], ['--pre-number', '--pretend']],
    ['argo', ['argo', 'recover', '--a'], ['--ask']],
    ['argo', ['argo', '--color', ''], ['y', 'n']],
    ['argo', ['argo', 're'], ['recover', 'rescue']],
    ['apkg', ['apkg', 'up'], ['update']],
    ['apkg', ['apkg', 'update', '--as'], ['--ask']],
    ['apkg', ['apkg', 'rollback', '-'], expect.arrayContaining(['-p', '--pretend', '-a', '--ask', '--yes', '-q', '--quiet'])],
    ['build-swarm', ['build-swarm', 'roll'], ['rollback']],
    ['build-swarm', ['build-swarm', 'fresh', '--pol'], ['--policy']],
    ['build-swarm', ['build-swarm', 'fresh', '--policy', ''], expect.arrayContaining(['critical-path'])],
  ] as const)('%s: completing %j gives %j', async (name, words, expected) => {
    expect(await bashComplete(name, words)).toEqual(expected);
  });

  it.each(CLIS)('%s: bash completes every command --help lists (a new command is picked up by itself)', async (name) => {
    const commands = [...(await helpOf(name)).keys()].filter(Boolean);
    expect((await bashComplete(name, [name, ''])).sort()).toEqual(commands.sort());
  });

  it('leaves the value of --root to the shell (file names: complete -o default)', async () => {
    expect(await bashComplete('argo', ['argo', '--root', ''])).toEqual([]);
    expect((await runBuiltCli('argo', ['completion', 'bash'])).stdout).toContain('complete -o default -F _argo argo');
  });

  it.each(CLIS)('%s: the zsh script is valid zsh and registers its completion function', async (name) => {
    const generated = await runBuiltCli(name, ['completion', 'zsh']);
    expect(generated.code, generated.stderr).toBe(0);
    const script = join(scratch, `_${name}`);
    await writeFile(script, generated.stdout);
    await run('zsh', ['-n', script]);
    const dump = join(scratch, `zcompdump-${name}`);
    const { stdout } = await run('zsh', ['-fc', `autoload -Uz compinit; compinit -u -d ${dump}; source ${script}; print -r -- $_comps[${name}]`]);
    expect(stdout.trim()).toBe(`_${name.replace(/-/g, '_')}`);
    expect(generated.stdout).toMatch(/^#compdef /);
  });
});

describe('-a/--ask and -p/--pretend', () => {
  let root: string;
  beforeAll(async () => {
    root = await makeTinyRoot(scratch);
  });

  it.each([
    ['apkg', ['update']],
    ['apkg', ['rollback']],
    ['argo', ['snapshot', 'restore', '1', '--paths', '/etc/passwd']],
    ['argo', ['recover', '--user', 'alice', '--generate-password']],
    ['build-swarm', ['rollback', '--profile', 'desktop', '--gateway', 'http://127.0.0.1:9']],
  ] as const)('%s %j --ask in a script refuses at once, exit 2, and changes nothing', async (name, args) => {
    const before = await run('find', [root, '-printf', '%p %s %T@\\n']);
    const refused = await runBuiltCli(name, [...args, '--root', root, '--ask'], { stdin: 'silent-pipe' });
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toMatch(/--ask needs a terminal to ask on; nothing was changed \[ARGO_USAGE\]/);
    expect(refused.stderr).toContain('--pretend');
    expect((await run('find', [root, '-printf', '%p %s %T@\\n'])).stdout).toBe(before.stdout);
  });

  it('refuses --ask with --yes', async () => {
    const run = await runBuiltCli('apkg', ['rollback', '--root', root, '--ask', '--yes']);
    expect(run.code).toBe(EXIT.usage);
    expect(run.stderr).toContain('--ask and --yes contradict each other');
  });

  it('takes -p for --pretend and keeps --dry-run as its other name', async () => {
    const help = await runBuiltCli('argo', ['recover', '--help']);
    expect(help.stdout).toMatch(/-p, --pretend, --dry-run/);
    const updateHelp = await runBuiltCli('apkg', ['update', '--help']);
    expect(updateHelp.stdout).toMatch(/-p, --pretend, --dry-run/);
    expect(updateHelp.stdout).toMatch(/-a, --ask/);
  });
});

describe('-v, -q and colour', () => {
  let root: string;
  beforeAll(async () => {
    root = await makeTinyRoot(scratch);
  });
  /** A command that fails in the target: its error line is drawn by the console renderer (red ✗ when in colour). */
  const failing = (target: string, extra: readonly string[] = []): string[] => ['snapshot', 'list', '--root', target, ...extra];
  const coloured = (text: string): boolean => text.includes('\u001b[31m');

  it('colours a terminal, and not when NO_COLOR, NOCOLOR or TERM=dumb say so, unless --color y', async () => {
    expect(coloured((await onTerminal('argo', failing(root), '', COLOUR_ENV)).output)).toBe(true);
    expect(coloured((await onTerminal('argo', failing(root), '', { ...COLOUR_ENV, NO_COLOR: '1' })).output)).toBe(false);
    expect(coloured((await onTerminal('argo', failing(root), '', { ...COLOUR_ENV, NOCOLOR: 'true' })).output)).toBe(false);
    expect(coloured((await onTerminal('argo', failing(root), '', { ...COLOUR_ENV, TERM: 'dumb' })).output)).toBe(false);
    expect(coloured((await onTerminal('argo', failing(root, ['--color', 'n']), '', COLOUR_ENV)).output)).toBe(false);
    expect(coloured((await onTerminal('argo', failing(root, ['--color', 'y']), '', { ...COLOUR_ENV, NO_COLOR: '1', TERM: 'dumb' })).output)).toBe(true);
  });

  it('takes NOCOLOR from the target make.conf, below the environment and --color', async () => {
    const nocolor = await makeTinyRoot(scratch);
    await mkdir(join(nocolor, 'etc/portage'), { recursive: true });
    await writeFile(join(nocolor, 'etc/portage/make.conf'), '# Portage\nNOCOLOR="true"\n');
    expect(coloured((await onTerminal('argo', failing(nocolor), '', COLOUR_ENV)).output)).toBe(false);
    expect(coloured((await onTerminal('argo', failing(nocolor, ['--color', 'y']), '', COLOUR_ENV)).output)).toBe(true);
    expect(coloured((await onTerminal('argo', failing(root), '', COLOUR_ENV)).output)).toBe(true);
  });

  it('--color y colours a pipe too; a pipe has none by default', async () => {
    expect(coloured((await runBuiltCli('argo', failing(root, ['--color', 'y']), { env: COLOUR_ENV })).stderr)).toBe(true);
    expect(coloured((await runBuiltCli('argo', failing(root), { env: COLOUR_ENV })).stderr)).toBe(false);
    expect((await runBuiltCli('argo', failing(root, ['--color', 'maybe']))).code).toBe(EXIT.usage);
  });

  it('-q keeps errors on the console and the --json result on stdout; -v and -q exclude each other', async () => {
    const quiet = await runBuiltCli('argo', failing(root, ['-q', '--json']));
    expect(quiet.code).not.toBe(0);
    expect(JSON.parse(quiet.stdout)).toMatchObject({ error: { code: expect.stringMatching(/^ARGO_/) } });
    expect(quiet.stderr).toContain('[ARGO_');
    const both = await runBuiltCli('argo', failing(root, ['-v', '-q']));
    expect(both.code).toBe(EXIT.usage);
    expect(both.stderr).toContain('--verbose and --quiet exclude each other');
  });

  it('-v shows the commands run inside the target (their output once: argo chroot prints it itself)', async () => {
    const plain = await runBuiltCli('argo', ['chroot', '--root', root, '--', 'sh', '-c', 'echo from-inside >&2']);
    expect(plain.stderr).toBe('from-inside\n');
    const verbose = await runBuiltCli('argo', ['chroot', '--root', root, '-v', '--', 'sh', '-c', 'echo from-inside >&2']);
    expect(verbose.code, verbose.stderr).toBe(0);
    expect(verbose.stderr).toContain(`  $ sh -c echo from-inside >&2 (inside ${root})`);
    expect(verbose.stderr.match(/from-inside$/gm)).toHaveLength(1);
  });
});

describe('snapshot restore on btrfs: --pretend, --ask on a terminal, progress', () => {
  let disk: string;
  let mountPoint: string;
  let loop: string | undefined;
  let root: string;
  let slowCp: string;

  beforeAll(async () => {
    disk = await mkdtemp('/var/tmp/argo-conventions-btrfs-');
    mountPoint = join(disk, 'mnt');
    await mkdir(mountPoint);
    // Sparse: the snapshot's free-space check wants 1 GiB free (--min-free lowers it for this small root).
    await run('truncate', ['-s', '2G', join(disk, 'disk.img')]);
    loop = (await run('losetup', ['--find', '--show', join(disk, 'disk.img')])).stdout.trim();
    await run('mkfs.btrfs', ['-q', loop]);
    await run('mount', [loop, mountPoint]);
    root = join(mountPoint, 'root');
    await run('btrfs', ['subvolume', 'create', root]);
    await mkdir(join(root, 'etc'));
    await mkdir(join(root, 'srv/data'), { recursive: true });
    await writeFile(join(root, 'etc/motd'), 'as in the snapshot\n');
    await run('sh', ['-c', 'for i in $(seq 1 60); do echo "$i" > "$1/f$i"; done', 'make', join(root, 'srv/data')]);
    // A cp that takes 50 ms a file (then the real one): restoring the 60 files takes 3 s at least on any machine,
    // long enough for progress to be shown.
    slowCp = join(disk, 'slow-bin');
    await mkdir(slowCp);
    await writeFile(join(slowCp, 'cp'), '#!/bin/sh\nsleep 0.05\nexec /bin/cp "$@"\n', { mode: 0o755 });
    const created = await runBuiltCli('argo', ['snapshot', 'create', '--root', root, '--description', 'conventions', '--min-free', '0']);
    expect(created.code, created.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await run('umount', [mountPoint]).catch(() => run('umount', ['--lazy', mountPoint]));
    if (loop !== undefined) await run('losetup', ['-d', loop]);
    await rm(disk, { recursive: true, force: true });
  });

  it('--ask on a terminal: shows the list, asks, and "n" restores nothing (exit 3)', async () => {
    await writeFile(join(root, 'etc/motd'), 'changed since\n');
    const refused = await onTerminal('argo', ['snapshot', 'restore', '1', '--root', root, '--paths', '/etc/motd', '--ask'], 'n\n');
    expect(refused.output).toContain('c /etc/motd');
    expect(refused.output).toContain('Would you like to restore these 1 path(s) from snapshot 1? [Yes/No]');
    expect(refused.output).toContain('[ARGO_NOT_CONFIRMED]');
    expect(refused.code).toBe(EXIT.refused);
    expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('changed since\n');
    // Enter alone is No as well: a stray key press changes nothing.
    expect((await onTerminal('argo', ['snapshot', 'restore', '1', '--root', root, '--paths', '/etc/motd', '-a'], '\n')).code).toBe(EXIT.refused);
    expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('changed since\n');
  });

  it('-p lists and changes nothing; --ask answered yes restores exactly what it showed', async () => {
    const pretend = await runBuiltCli('argo', ['snapshot', 'restore', '1', '--root', root, '--paths', '/etc/motd', '-p']);
    expect(pretend.code, pretend.stderr).toBe(0);
    expect(pretend.stdout).toBe('c /etc/motd\n');
    expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('changed since\n');
    const agreed = await onTerminal('argo', ['snapshot', 'restore', '1', '--root', root, '--paths', '/etc/motd', '--ask'], 'yes\n');
    expect(agreed.code, agreed.output).toBe(EXIT.ok);
    expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('as in the snapshot\n');
  });

  it('shows the progress of a long restore: off a terminal a line every 5 s at most, on a terminal one live line, never on stdout', async () => {
    const change = (): Promise<unknown> => run('sh', ['-c', 'for f in "$1"/f*; do echo changed >> "$f"; done', 'change', join(root, 'srv/data')]);
    const restore = ['snapshot', 'restore', '1', '--root', root, '--paths', '/srv/data'];
    const slowPath = `${slowCp}:${process.env['PATH'] ?? ''}`;
    await change();
    const started = Date.now();
    const restored = await runBuiltCli('argo', [...restore, '--json'], { env: { TERM: 'dumb', PATH: slowPath } });
    const seconds = (Date.now() - started) / 1000;
    expect(restored.code, restored.stderr).toBe(0);
    expect((JSON.parse(restored.stdout) as { restored: unknown[] }).restored).toHaveLength(60);
    const lines = restored.stderr.split('\n').filter((line) => line.startsWith('snapshot restore: '));
    expect(lines.length, restored.stderr).toBeGreaterThanOrEqual(2);
    expect(lines.length, restored.stderr).toBeLessThanOrEqual(Math.ceil(seconds / 5) + 1);
    expect(lines[0]).toMatch(/^snapshot restore: \d+ of 60 paths \(\d+%\), \d+ s elapsed(, about \d+ (s|min \d+ s) left)?: \/srv\/data\/f\d+$/);
    expect(lines.at(-1)).toMatch(/^snapshot restore: 60 of 60 paths \(100%\), done in \d+ (s|min)/);
    expect(restored.stderr).not.toContain('\r');
    expect(await readFile(join(root, 'srv/data/f7'), 'utf8')).toBe('7\n');

    await change();
    const live = await onTerminal('argo', restore, '', { TERM: 'xterm' }, [slowCp]);
    expect(live.code, live.output).toBe(EXIT.ok);
    expect(live.output).toMatch(/\r\u001b\[Ksnapshot restore: \d+ of 60 paths/);
    expect(live.output).toMatch(/\r\u001b\[Ksnapshot restore: 60 of 60 paths \(100%\), done in \d+/);

    await change();
    const quiet = await runBuiltCli('argo', [...restore, '-q'], { env: { PATH: slowPath } });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toContain('c /srv/data/f60');
  }, 300_000);
});

describe('apkg update -p and --ask on a Debian root with the faithful fake emerge, on btrfs', () => {
  const btrfs = useBtrfsDisk();
  const PLAN = join(PROJECT, 'test/fixtures/preflight/update-world.plan');
  const INDEX = [
    ['app-editors/nano-8.2', 'amd64 ncurses nls spell unicode'],
    ['app-misc/tmux-3.5a', 'amd64'],
    ['sys-libs/libxcrypt-4.4.36', 'abi_x86_64 amd64 compat elibc_glibc kernel_linux system'],
  ] as const;

  /** As update.test.ts: the fake emerge, its plan, a local binhost with a binary for each package, the canary. */
  async function updatableRoot(name: string): Promise<string> {
    const root = await btrfs().makeRoot(name);
    await installFakeEmerge(root, { BINARY: 'ok' });
    await copyFile(PLAN, join(root, 'etc/argo-fake-emerge.plan'));
    await mkdir(join(root, 'var/cache/argo-test-binhost'), { recursive: true });
    const header = 'ARCH: amd64\nCHOST: x86_64-pc-linux-gnu\nPACKAGES: 3\nTIMESTAMP: 1733000000\nVERSION: 0\n\n';
    await writeFile(join(root, 'var/cache/argo-test-binhost/Packages'), header + INDEX.map(([cpv, use]) => `BUILD_ID: 1\nCPV: ${cpv}\nPATH: ${cpv}-1.gpkg.tar\nSIZE: 1024\nUSE: ${use}\nMTIME: 1733000000\nREPO: gentoo\n\n`).join(''));
    await mkdir(join(root, 'etc/portage/package.use'), { recursive: true });
    await writeFile(join(root, 'etc/portage/package.use/libxcrypt'), 'sys-libs/libxcrypt compat system\n');
    const canary = await runBuiltCli('apkg', ['canary', 'setup', '--root', root]);
    expect(canary.code, canary.stderr).toBe(0);
    return root;
  }

  const merges = async (root: string): Promise<string[]> => ((await readFile(join(root, 'var/log/emerge.log'), 'utf8').catch(() => '')).match(/>>> emerge \(\d+ of \d+\) \S+/g) ?? []).map((line) => line.replace(/^.* /, ''));
  const snapshots = async (root: string): Promise<unknown[]> => (JSON.parse((await runBuiltCli('argo', ['snapshot', 'list', '--root', root, '--json'])).stdout) as { snapshots: unknown[] }).snapshots;
  const update = ['update', '--binhost', '/var/cache/argo-test-binhost'];

  it('-p shows the plan step by step and changes nothing', async () => {
    const root = await updatableRoot('pretend');
    const pretend = await runBuiltCli('apkg', [...update, '--root', root, '-p']);
    expect(pretend.code, pretend.stderr).toBe(0);
    expect(pretend.stdout).toContain(`PRETEND: nothing was changed. apkg update on ${root} would:`);
    expect(pretend.stdout).toMatch(/merge the login path's packages first, alone, and prove a login:\n\s+\[binary\] sys-libs\/libxcrypt-4\.4\.36\n/);
    expect(pretend.stdout).toMatch(/merge the rest, 2 package\(s\):\n\s+\[binary\] app-editors\/nano-8\.2\n\s+\[binary\] app-misc\/tmux-3\.5a\n/);
    expect(await merges(root)).toEqual([]);
    expect(await snapshots(root)).toEqual([]);
  }, 300_000);

  it('--ask on a terminal: "n" merges nothing and takes no snapshot (exit 3); "y" merges exactly the plan shown', async () => {
    const root = await updatableRoot('ask');
    const refused = await onTerminal('apkg', [...update, '--root', root, '--ask'], 'n\n');
    expect(refused.output).toContain('[binary] sys-libs/libxcrypt-4.4.36');
    expect(refused.output).toContain('Would you like to merge these 3 package(s)? [Yes/No]');
    expect(refused.output).toContain('[ARGO_NOT_CONFIRMED]');
    expect(refused.code).toBe(EXIT.refused);
    expect(await merges(root)).toEqual([]);
    expect(await snapshots(root)).toEqual([]);

    const agreed = await onTerminal('apkg', [...update, '--root', root, '--ask'], 'y\n');
    expect(agreed.code, agreed.output).toBe(EXIT.ok);
    expect(agreed.output).toMatch(/UPDATED: 3 of 3 packages merged/);
    expect(await merges(root)).toEqual(['sys-libs/libxcrypt-4.4.36', 'app-editors/nano-8.2', 'app-misc/tmux-3.5a']);
    expect(await snapshots(root)).toHaveLength(2);
  }, 600_000);
});

describe('argo recover --ask on the broken Debian root (logins fail: libcrypt lost SHA-512)', () => {
  let target: TargetCopy | undefined;
  afterAll(async () => {
    await target?.remove();
  });

  /** A real PAM login inside the target, as the incident's user would try it. */
  const pamLogin = (root: string, password: string): Promise<number | null> => {
    const child = spawn('chroot', [root, 'pamtester', 'login', 'alice', 'authenticate'], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end(`${password}\n`);
    return new Promise((resolve) => child.once('exit', resolve));
  };

  it('shows what --pretend shows, asks; "n" changes nothing (exit 3), "y" repairs and the login works', async () => {
    target = await copyTarget('broken');
    await installFakeEmerge(target.root, { BINARY: 'ok' });
    const passwordFile = join(target.dir, 'password');
    await writeFile(passwordFile, 'correct horse\n', { mode: 0o600 });
    const shadow = await readFile(join(target.root, 'etc/shadow'), 'utf8');
    const args = ['recover', '--root', target.root, '--user', 'alice', '--password-file', passwordFile, '--ask'];

    const refused = await onTerminal('argo', args, 'n\n');
    expect(refused.output).toContain('DRY RUN: nothing was changed');
    expect(refused.output).toContain(`Would you like to repair ${target.root} as shown? [Yes/No]`);
    expect(refused.output).toContain('[ARGO_NOT_CONFIRMED]');
    expect(refused.code).toBe(EXIT.refused);
    expect(await readFile(join(target.root, 'etc/shadow'), 'utf8')).toBe(shadow);
    expect(await pamLogin(target.root, 'correct horse')).not.toBe(0);

    const agreed = await onTerminal('argo', args, 'y\n');
    expect(agreed.code, agreed.output).toBe(EXIT.ok);
    expect(await pamLogin(target.root, 'correct horse')).toBe(0);
  }, 600_000);
});

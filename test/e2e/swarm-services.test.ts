/**
 * The swarm's service files (init/openrc, init/systemd), checked by the init systems' own tools: systemd units by
 * `systemd-analyze verify` and `security`; OpenRC scripts inside a Debian root with the openrc package, by
 * `sh -n`, `openrc-run … describe`, `rc-depend`, and a real start, respawn and stop under supervise-daemon of a
 * stand-in build-swarm that records how it was run. Every check is also shown to fail on a broken copy.
 */

import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWARM_CONFIG_DEFAULTS } from '../../src/core/swarm/swarm-config.ts';
import { copyOpenrcRoot, type OpenrcRootCopy } from '../support/openrc-root.ts';
import { PROJECT, runBuiltCli } from '../support/run-cli.ts';

const ROLES = ['gateway', 'orchestrator', 'drone'] as const;
type Role = (typeof ROLES)[number];
const OPENRC_DIR = join(PROJECT, 'init/openrc');
const SYSTEMD_DIR = join(PROJECT, 'init/systemd');
const DRAIN_SECONDS = SWARM_CONFIG_DEFAULTS.drone.drainMs / 1000;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; its exit code is the result, never a throw. */
function exec(command: string, args: readonly string[], options: { readonly env?: Record<string, string>; readonly timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { env: options.env ?? { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' }, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** NAME="value" settings of a conf.d file (the format both `sh` and systemd's EnvironmentFile= read alike). */
function confSettings(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)="([^"$`\\]*)"$/.exec(line);
    if (match !== null) settings.set(match[1] as string, match[2] as string);
  }
  return settings;
}

const confText = (role: Role): Promise<string> => readFile(join(OPENRC_DIR, 'conf.d', `build-swarm-${role}`), 'utf8');
const scriptText = (role: Role): Promise<string> => readFile(join(OPENRC_DIR, `build-swarm-${role}`), 'utf8');
const unitText = (role: Role): Promise<string> => readFile(join(SYSTEMD_DIR, `build-swarm-${role}.service`), 'utf8');

/** The example options a conf.d file's comments give for its *_OPTS variable (lines `#   --…`). */
function exampleOptions(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => /^#\s{3}--/.test(line))
    .flatMap((line) => line.slice(1).trim().split(/\s+/));
}

describe('conf.d files', () => {
  it.each(ROLES)('build-swarm-%s: every line is a comment, blank or NAME="value" that sh and systemd read alike', async (role) => {
    const lines = (await confText(role)).split('\n');
    const bad = lines.filter((line) => line !== '' && !line.startsWith('#') && !/^[A-Z_][A-Z0-9_]*="[^"$`\\]*"$/.test(line));
    expect(bad).toEqual([]);
  });

  it.each(ROLES)('build-swarm-%s: every variable the script reads has a default in conf.d, and every setting is read', async (role) => {
    const script = await scriptText(role);
    const settings = confSettings(await confText(role));
    const assigned = new Set([...script.matchAll(/^\s*(?:local\s+)?([a-z_][a-z0-9_]*)=/gm)].map((match) => match[1] as string));
    const read = new Set([...script.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1] as string));
    const exported = new Set([...script.matchAll(/^export ([A-Z_ ]+)$/gm)].flatMap((match) => (match[1] as string).split(' ')));
    const fromOpenrc = new Set(['RC_SVCNAME']);
    const undefinedReads = [...read, ...exported].filter((name) => !assigned.has(name) && !fromOpenrc.has(name) && !settings.has(name));
    expect(undefinedReads).toEqual([]);
    expect([...settings.keys()].filter((name) => !read.has(name) && !exported.has(name))).toEqual([]);
  });

  // The same check by running it: sh with `set -u` aborts on the first variable without a value.
  const runScript = async (role: Role, conf: string): Promise<Run> => {
    const dir = await mkdtemp('/var/tmp/argo-confd-');
    try {
      await writeFile(join(dir, 'conf'), conf);
      const program = [
        'set -eu',
        `RC_SVCNAME=build-swarm-${role}`,
        'checkpath() { echo "checkpath $*"; }',
        'mkdir() { echo "mkdir $*"; }',
        'need() { echo "need $*"; }; use() { echo "use $*"; }; after() { echo "after $*"; }',
        `. "${dir}/conf"`,
        `. "${join(OPENRC_DIR, `build-swarm-${role}`)}"`,
        'depend; start_pre',
        'echo "command_args $command_args"; echo "retry $retry"',
      ].join('\n');
      return await exec('/bin/sh', ['-c', program]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it.each(ROLES)('build-swarm-%s: the script runs under set -u with its conf.d, and fails without one of its settings', async (role) => {
    const conf = await confText(role);
    const good = await runScript(role, conf);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('need net');
    const withoutOne = conf
      .split('\n')
      .filter((line) => !line.startsWith(`${role.toUpperCase()}_STOP_TIMEOUT=`))
      .join('\n');
    const bad = await runScript(role, withoutOne);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`${role.toUpperCase()}_STOP_TIMEOUT`);
  });

  it('the defaults agree with the swarm configuration: the drone root, the gateway folder, the drain', async () => {
    const drone = confSettings(await confText('drone'));
    const gateway = confSettings(await confText('gateway'));
    expect(drone.get('DRONE_ROOT')).toBe(SWARM_CONFIG_DEFAULTS.drone.root);
    // A drone on the gateway's machine finds it by the default file:// URL.
    expect(gateway.get('GATEWAY_DATA')).toBe(fileURLToPath(SWARM_CONFIG_DEFAULTS.drone.gateway));
    expect(Number(drone.get('DRONE_STOP_TIMEOUT'))).toBeGreaterThan(DRAIN_SECONDS);
  });

  it.each(ROLES)('build-swarm %s accepts the arguments the services pass, with the example options of conf.d', async (role) => {
    const settings = confSettings(await confText(role));
    const args: Record<Role, string[]> = {
      gateway: ['gateway', '--data', settings.get('GATEWAY_DATA') as string, '--listen', settings.get('GATEWAY_LISTEN') as string, '--tokens', settings.get('GATEWAY_TOKENS') as string],
      orchestrator: ['orchestrator'],
      drone: ['drone', '--root', settings.get('DRONE_ROOT') as string],
    };
    // A configuration that does not exist is the first thing each role reads, after yargs (strict) accepted
    // every option: ARGO_FILE_NOT_FOUND, never ARGO_USAGE.
    const missing = '/nonexistent/argo-services-test/swarm.toml';
    const result = await runBuiltCli('build-swarm', [...args[role], ...exampleOptions(await confText(role))], { env: { ARGO_SWARM_CONFIG: missing } });
    expect(result.stderr).toContain('ARGO_FILE_NOT_FOUND');
    expect(result.stderr).toContain(missing);
    expect(result.stderr).not.toContain('ARGO_USAGE');
    const bogus = await runBuiltCli('build-swarm', [...args[role], '--no-such-option'], { env: { ARGO_SWARM_CONFIG: missing } });
    expect(bogus.stderr).toContain('ARGO_USAGE');
  });
});

describe('systemd units', () => {
  let root: string;

  beforeAll(async () => {
    // systemd-analyze --root looks up the unit, the units it names (sysinit.target…) and ExecStart's program
    // inside the root: the host's unit folder, the units and a stand-in /usr/bin/build-swarm.
    root = await mkdtemp('/var/tmp/argo-units-');
    await cp('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    await mkdir(join(root, 'usr/bin'), { recursive: true });
    await writeFile(join(root, 'usr/bin/build-swarm'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
    for (const role of ROLES) await writeFile(join(root, `etc/systemd/system/build-swarm-${role}.service`), await unitText(role));
  });

  afterAll(async () => {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const verify = (unit: string): Promise<Run> => exec('systemd-analyze', ['verify', '--man=no', '--generators=no', `--root=${root}`, unit]);

  it.each(ROLES)('build-swarm-%s.service passes systemd-analyze verify without a diagnostic', async (role) => {
    const result = await verify(`build-swarm-${role}.service`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  // systemd ignores a bad setting with a warning and exit code 0: a clean unit is exit 0 AND nothing on stderr.
  it.each([
    ['a misspelt key', (text: string) => text.replace('\nType=simple', '\nTpye=simple'), 'Unknown key'],
    ['a value systemd does not know', (text: string) => text.replace('Restart=on-failure', 'Restart=sometimes'), 'restart specifier'],
    ['a signal that does not exist', (text: string) => text.replace('KillSignal=SIGTERM', 'KillSignal=SIGTREM'), 'signal'],
    ['a relative ReadWritePaths', (text: string) => text.replace('ReadWritePaths=/var/lib/argo/gateway', 'ReadWritePaths=var/lib/argo/gateway'), 'not absolute'],
    ['a program that does not exist', (text: string) => text.replace('ExecStart=/usr/bin/build-swarm ', 'ExecStart=/usr/bin/build-swarmm '), 'not executable'],
  ])('a broken copy with %s fails the same check', async (_what, breakIt, diagnostic) => {
    const text = await unitText('gateway');
    const broken = breakIt(text);
    expect(broken).not.toBe(text);
    await writeFile(join(root, 'etc/systemd/system/build-swarm-broken.service'), broken);
    try {
      const result = await verify('build-swarm-broken.service');
      expect(result.code !== 0 || result.stderr !== '').toBe(true);
      expect(result.stderr).toContain(diagnostic);
    } finally {
      await rm(join(root, 'etc/systemd/system/build-swarm-broken.service'));
    }
  });

  it.each([
    ['gateway', 2.5],
    ['orchestrator', 2.5],
    ['drone', 8],
  ] as const)('build-swarm-%s.service: systemd-analyze security rates its exposure at most %d', async (role, most) => {
    const result = await exec('systemd-analyze', ['security', '--offline=true', `--root=${root}`, '--no-pager', `build-swarm-${role}.service`]);
    expect(result.code).toBe(0);
    const match = /Overall exposure level for build-swarm-\S+: ([\d.]+)/.exec(result.stdout);
    expect(match).not.toBeNull();
    expect(Number(match?.[1])).toBeLessThanOrEqual(most);
  });

  it.each(ROLES)('build-swarm-%s.service takes its arguments from the conf.d file, with the same defaults', async (role) => {
    const unit = await unitText(role);
    const settings = confSettings(await confText(role));
    expect(unit).toContain(`EnvironmentFile=-/etc/conf.d/build-swarm-${role}\n`);
    const defaults = new Map([...unit.matchAll(/^Environment=([A-Z_][A-Z0-9_]*)=(.*)$/gm)].map((match) => [match[1] as string, match[2] as string]));
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    const used = [...execStart.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g)].map((match) => match[1] as string);
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(defaults.has(name), `${name} has an Environment= default`).toBe(true);
    for (const [name, value] of defaults) expect(settings.get(name), `${name} in conf.d`).toBe(value);
  });

  it('the drone drains: only it gets SIGTERM, and the stop timeout outlasts the drain', async () => {
    const unit = await unitText('drone');
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^KillMode=mixed$/m);
    const timeout = /^TimeoutStopSec=(\d+)min$/m.exec(unit);
    expect(Number(timeout?.[1]) * 60).toBeGreaterThan(DRAIN_SECONDS);
  });

  it('no unit sets MemoryDenyWriteExecute: Node aborts under a write-xor-execute policy', async () => {
    for (const role of ROLES) expect(await unitText(role)).not.toMatch(/^MemoryDenyWriteExecute=/m);
    // PR_SET_MDWE (65), the kernel's own form of the policy systemd enforces with seccomp: V8 cannot make its
    // code space executable and Node dies before running a line.
    const program = 'import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\nif libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(99)\nos.execv(sys.argv[1], [sys.argv[1], "-e", "console.log(\'ran\')"])';
    const result = await exec('python3', ['-c', program, process.execPath]);
    expect(result.code).not.toBe(99);
    expect(result.code).not.toBe(0);
    expect(result.stdout).not.toContain('ran');
    const control = await exec(process.execPath, ['-e', "console.log('ran')"]);
    expect(control.stdout).toBe('ran\n');
  });
});

describe('OpenRC scripts in a Debian root with openrc', () => {
  let copy: OpenrcRootCopy;
  let root: string;

  const inRoot = (args: readonly string[], timeoutMs?: number): Promise<Run> => exec('chroot', [root, ...args], timeoutMs === undefined ? {} : { timeoutMs });

  beforeAll(async () => {
    copy = await copyOpenrcRoot();
    root = copy.root;
    await mkdir(join(root, 'etc/conf.d'), { recursive: true });
    for (const role of ROLES) {
      await cp(join(OPENRC_DIR, `build-swarm-${role}`), join(root, `etc/init.d/build-swarm-${role}`));
      await cp(join(OPENRC_DIR, 'conf.d', `build-swarm-${role}`), join(root, `etc/conf.d/build-swarm-${role}`));
    }
    // What a Gentoo machine has and Debian's minbase lacks: a service providing net (netifrc's net.eth0) and the
    // argo user (docs/operations.md).
    await writeFile(join(root, 'etc/init.d/net.stub'), '#!/sbin/openrc-run\ndescription="stands in for net.eth0"\ndepend() { provide net; }\nstart() { return 0; }\n', { mode: 0o755 });
    const useradd = await inRoot(['useradd', '--system', '--user-group', '--home-dir', '/var/lib/argo', '--shell', '/usr/sbin/nologin', 'argo']);
    expect(useradd.stderr).toBe('');
    // The stand-in build-swarm records its arguments, user and environment, writes to stdout and stderr, and
    // leaves on SIGTERM saying so.
    await writeFile(
      join(root, 'usr/bin/build-swarm'),
      [
        '#!/bin/sh',
        'role=$1 out=/run/argo-fake',
        '{ echo "argv $*"; echo "user $(id -un):$(id -gn)"; env | grep -E "^(ARGO_|NODE_EXTRA_CA_CERTS=)" | sort; } > "$out/$role.run.$$"',
        'mv "$out/$role.run.$$" "$out/$role.run"',
        'echo "$$" >> "$out/$role.starts"',
        'echo "stdout of $role"; echo "stderr of $role" >&2',
        'trap \'echo "$$" >> "$out/$role.term"; exit 0\' TERM',
        'while :; do sleep 1 & wait $!; done',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
  }, 30 * 60_000);

  afterAll(async () => {
    if (copy !== undefined) await copy.remove();
  });

  it.each(ROLES)('build-swarm-%s passes sh -n and openrc-run describe without a diagnostic', async (role) => {
    const syntax = await inRoot(['/bin/sh', '-n', `/etc/init.d/build-swarm-${role}`]);
    expect(syntax.stderr).toBe('');
    expect(syntax.code).toBe(0);
    const described = await inRoot(['/sbin/openrc-run', `/etc/init.d/build-swarm-${role}`, 'describe']);
    // OpenRC's supervise-daemon.sh adds the healthcheck and unhealthy commands to every supervised service and
    // never describes them: those two lines are OpenRC's own, anything else is ours.
    const noise = /^ \* (healthcheck|unhealthy): no description$/;
    expect(described.stderr.split('\n').filter((line) => line !== '' && !noise.test(line))).toEqual([]);
    expect(described.code).toBe(0);
    expect(described.stdout).toContain(`Argo build swarm ${role}`);
  });

  it('rc-depend reads every depend(): each needs net, and every needed service exists', async () => {
    const result = await inRoot(['/lib/rc/bin/rc-depend', '-u']);
    expect(result.code).toBe(0);
    expect(result.stderr.split('\n').filter((line) => line.includes('build-swarm'))).toEqual([]);
    const deptree = await readFile(join(root, 'run/openrc/deptree'), 'utf8');
    const entry = (service: string): string[] => {
      const index = /^depinfo_(\d+)_service='(.*)'$/gm;
      const found = [...deptree.matchAll(index)].find((match) => match[2] === service);
      expect(found, `${service} in the deptree`).toBeDefined();
      const prefix = `depinfo_${found?.[1] as string}_`;
      return deptree
        .split('\n')
        .filter((line) => line.startsWith(prefix))
        .map((line) => line.slice(prefix.length).replace(/_\d+=/, '='))
        .sort();
    };
    expect(entry('build-swarm-gateway')).toEqual(expect.arrayContaining(["ineed='net'", "iafter='redis'", "iuse='dns'"]));
    expect(entry('build-swarm-orchestrator')).toEqual(expect.arrayContaining(["ineed='net'", "iafter='redis'", "iafter='build-swarm-gateway'"]));
    expect(entry('build-swarm-drone')).toEqual(expect.arrayContaining(["ineed='net'", "iafter='build-swarm-gateway'", "iafter='build-swarm-orchestrator'"]));
  });

  it('a broken copy fails the same checks: a syntax error, and a need of a service that does not exist', async () => {
    const good = await scriptText('gateway');
    const broken = join(root, 'etc/init.d/build-swarm-broken');
    try {
      await writeFile(broken, good.replace(/\n}\n\nstart_pre\(\)/, '\n\nstart_pre()'), { mode: 0o755 });
      const syntax = await inRoot(['/bin/sh', '-n', '/etc/init.d/build-swarm-broken']);
      expect(syntax.code).not.toBe(0);
      const described = await inRoot(['/sbin/openrc-run', '/etc/init.d/build-swarm-broken', 'describe']);
      // openrc-run exits 0 on a script it cannot parse: its stderr is the check.
      expect(described.stderr).toContain('Syntax error');

      await writeFile(broken, good.replace('\tneed net\n', '\tneed nett\n'), { mode: 0o755 });
      const depend = await inRoot(['/lib/rc/bin/rc-depend', '-u']);
      expect(depend.stderr).toContain("Service `build-swarm-broken' needs non existent service `nett'");
    } finally {
      await rm(broken, { force: true });
      await inRoot(['/lib/rc/bin/rc-depend', '-u']);
    }
  });

  it('start, respawn and stop under supervise-daemon: users, arguments, environment, logs, folders, SIGTERM', async () => {
    // One private PID and mount namespace: its first process runs the whole life, and when it ends the kernel
    // ends every process left in it (supervisors included), whatever happened.
    const life = [
      'set -u',
      'mount -t proc proc /proc',
      'mkdir -p -m 1777 /run/argo-fake',
      // OpenRC did not boot this root: this file says to run services anyway.
      'touch /run/openrc/softlevel',
      'wait_for() { i=0; while ! eval "$1"; do i=$((i+1)); [ $i -gt 300 ] && { echo "timed out: $1"; return 1; }; sleep 0.1; done; }',
      'for s in gateway orchestrator drone; do /etc/init.d/build-swarm-$s start >/dev/null 2>&1; echo "start $s $?"; done',
      'for s in gateway orchestrator drone; do wait_for "[ -s /run/argo-fake/$s.run ]"; done',
      'for s in gateway orchestrator drone; do /etc/init.d/build-swarm-$s status >/dev/null 2>&1; echo "status $s $?"; done',
      'for p in /proc/[0-9]*; do c=$(tr "\\0" " " < $p/cmdline 2>/dev/null); case $c in supervise-daemon*) echo "supervisor $c";; esac; done',
      // A crash: supervise-daemon starts the gateway again after its respawn delay.
      'kill -KILL "$(head -n 1 /run/argo-fake/gateway.starts)"',
      'wait_for "[ \\$(wc -l < /run/argo-fake/gateway.starts) -ge 2 ]" && echo "respawned gateway"',
      'for s in drone orchestrator gateway; do /etc/init.d/build-swarm-$s stop >/dev/null 2>&1; echo "stop $s $?"; done',
      'for s in gateway orchestrator drone; do /etc/init.d/build-swarm-$s status >/dev/null 2>&1; echo "stopped-status $s $?"; done',
      '',
    ].join('\n');
    await writeFile(join(root, 'run/argo-services-life.sh'), life);
    // The respawn delay of the product (5 s) would do, only slower.
    const conf = join(root, 'etc/conf.d/build-swarm-gateway');
    await writeFile(conf, (await readFile(conf, 'utf8')).replace('GATEWAY_RESPAWN_DELAY="5"', 'GATEWAY_RESPAWN_DELAY="1"'));
    const result = await exec('unshare', ['--mount', '--pid', '--fork', '--propagation', 'private', 'chroot', root, '/bin/sh', '/run/argo-services-life.sh'], { timeoutMs: 120_000 });
    const lines = result.stdout.split('\n');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    for (const role of ROLES) {
      expect(lines).toContain(`start ${role} 0`);
      expect(lines).toContain(`status ${role} 0`);
      expect(lines).toContain(`stop ${role} 0`);
      expect(lines).not.toContain(`stopped-status ${role} 0`);
    }
    expect(lines).toContain('respawned gateway');

    const supervisor = (role: Role): string => lines.find((line) => line.startsWith(`supervisor supervise-daemon build-swarm-${role} `)) ?? '';
    expect(supervisor('gateway')).toContain('--retry TERM/30/KILL/5');
    expect(supervisor('gateway')).toContain('--user argo argo');
    expect(supervisor('orchestrator')).toContain('--user argo argo');
    expect(supervisor('drone')).toContain(`--retry TERM/660/KILL/5`);
    expect(supervisor('drone')).not.toContain('--user');

    const record = async (role: Role): Promise<string[]> => (await readFile(join(root, `run/argo-fake/${role}.run`), 'utf8')).trim().split('\n');
    expect(await record('gateway')).toEqual([
      'argv gateway --data /var/lib/argo/gateway --listen 0.0.0.0:8470 --tokens /etc/argo/gateway-tokens',
      'user argo:argo',
      'ARGO_SWARM_CONFIG=/etc/argo/swarm.toml',
      'ARGO_SWARM_REDIS_PASSWORD_FILE=',
    ]);
    expect(await record('orchestrator')).toEqual(['argv orchestrator', 'user argo:argo', 'ARGO_SWARM_CONFIG=/etc/argo/swarm.toml', 'ARGO_SWARM_REDIS_PASSWORD_FILE=']);
    expect(await record('drone')).toEqual([
      'argv drone --root /var/lib/argo/drone',
      'user root:root',
      'ARGO_SWARM_CONFIG=/etc/argo/swarm.toml',
      'ARGO_SWARM_REDIS_PASSWORD_FILE=',
      'ARGO_SWARM_TOKEN_FILE=/etc/argo/drone-token',
      'NODE_EXTRA_CA_CERTS=',
    ]);
    // Each stop sent SIGTERM to the program, which left by itself.
    for (const role of ROLES) {
      const starts = (await readFile(join(root, `run/argo-fake/${role}.starts`), 'utf8')).trim().split('\n');
      const terms = (await readFile(join(root, `run/argo-fake/${role}.term`), 'utf8')).trim().split('\n');
      expect(terms).toEqual([starts.at(-1)]);
      const log = await readFile(join(root, `var/log/argo/build-swarm-${role}.log`), 'utf8');
      expect(log).toContain(`stdout of ${role}\nstderr of ${role}\n`);
    }

    const argo = (await readFile(join(root, 'etc/passwd'), 'utf8')).split('\n').find((line) => line.startsWith('argo:'))?.split(':');
    const [uid, gid] = [Number(argo?.[2]), Number(argo?.[3])];
    const owner = async (path: string): Promise<[number, number, string]> => {
      const info = await stat(join(root, path));
      return [info.uid, info.gid, (info.mode & 0o7777).toString(8)];
    };
    expect(await owner('var/log/argo')).toEqual([0, 0, '755']);
    expect(await owner('var/log/argo/build-swarm-gateway.log')).toEqual([uid, gid, '640']);
    expect(await owner('var/log/argo/build-swarm-orchestrator.log')).toEqual([uid, gid, '640']);
    expect(await owner('var/log/argo/build-swarm-drone.log')).toEqual([0, 0, '640']);
    // The gateway's data folder as the gateway demands it: its own, not writable by group or others.
    expect(await owner('var/lib/argo/gateway')).toEqual([uid, gid, '755']);
    expect(await owner('var/lib/argo/drone')).toEqual([0, 0, '755']);
  }, 180_000);
});


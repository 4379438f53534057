/**
 * `build-swarm verify` against a real redis-server holding real cycles and a gateway data folder whose staging
 * index is the real clusterhq prefix (every installed package as a binary package). The command runs through the
 * CLI shell (runCli: yargs, rendering, exit codes) in this process, with the options it is registered with.
 */

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swarmVerifyOptions, runSwarmVerifyCommand, type SwarmVerifyArgs } from '../../src/cli/commands/swarm-verify.ts';
import { runCli, type CliDefinition } from '../../src/cli/run-cli.ts';
import { formatPackagesIndex } from '../../src/core/gentoo/format-packages-index.ts';
import type { IndexFields } from '../../src/core/gentoo/packages-index.ts';
import { parseCpv } from '../../src/core/gentoo/parse-cpv.ts';
import type { CycleDefinition, PackageRecord, PackageState } from '../../src/core/swarm/cycle-model.ts';
import type { VerifyReport } from '../../src/core/swarm/verify-score.ts';
import { createCycle } from '../../src/swarm/cycle-store.ts';
import { swarmKeys } from '../../src/swarm/swarm-keys.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { PROJECT } from '../support/run-cli.ts';
import { CLUSTERHQ } from '../support/swarm-plan.ts';

const KEYS = swarmKeys('argo');
const WORLD = join(CLUSTERHQ, 'var/lib/portage/world');
const LIBXCRYPT = join(PROJECT, 'test/fixtures/verify/libxcrypt-4.4.33.stanza');

let redis: RedisServer;
let client: Redis;
let dir: string;
let configFile: string;
let data: string;
let clusterhq: IndexFields[];

/** The shell's view of `build-swarm verify`: the swarm configuration's options and the command's own. */
const verifyCli: CliDefinition = {
  name: 'build-swarm',
  description: 'build-swarm verify under test',
  commands: (cli, bind) =>
    cli.command(
      'verify',
      'Verify the staging binhost before promotion',
      (command) => swarmVerifyOptions(command.option('config', { type: 'string' }).option('redis', { type: 'string' }).option('id', { type: 'string' })),
      bind<SwarmVerifyArgs>(runSwarmVerifyCommand),
    ),
};

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function verify(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(verifyCli, {
    argv: ['verify', '--config', configFile, '--data', data, ...args],
    env: { NO_COLOR: '1' },
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdinIsTTY: false,
    signal: new AbortController().signal,
    version: '0.0.0-test',
  });
  return { code, stdout, stderr };
}

const reportOf = (run: Run): VerifyReport => JSON.parse(run.stdout) as VerifyReport;
const errorOf = (run: Run): { code: string; message: string } => (JSON.parse(run.stdout) as { error: { code: string; message: string } }).error;
const componentOf = (report: VerifyReport, id: string) => report.components.find((entry) => entry.id === id);

/** Every installed package of the clusterhq prefix as Packages fields (the VDB keeps them USE-reduced, as Packages does). */
async function clusterhqStanzas(): Promise<IndexFields[]> {
  const vdb = join(CLUSTERHQ, 'var/db/pkg');
  const stanzas: IndexFields[] = [];
  for (const category of (await readdir(vdb)).sort()) {
    for (const pf of (await readdir(join(vdb, category))).sort()) {
      if (pf.startsWith('-MERGING-')) continue;
      const fields: IndexFields = { CPV: `${category}/${pf}` };
      for (const [key, file] of [['EAPI', 'EAPI'], ['IUSE', 'IUSE'], ['PDEPEND', 'PDEPEND'], ['RDEPEND', 'RDEPEND'], ['SLOT', 'SLOT'], ['USE', 'USE'], ['REPO', 'repository']] as const) {
        const value = (await readFile(join(vdb, category, pf, file), 'utf8').catch(() => '')).trim().replace(/\s+/g, ' ');
        if (value !== '') fields[key] = value;
      }
      stanzas.push(fields);
    }
  }
  return stanzas;
}

async function writeStaging(binhost: string, stanzas: readonly IndexFields[]): Promise<string> {
  const folder = join(data, 'staging', binhost);
  await mkdir(folder, { recursive: true });
  const file = join(folder, 'Packages');
  // As the staging store writes them: each stanza names its file, with its size and SHA-256 (verify judges the
  // release finalize would make from them, and finalize refuses an entry without them).
  const located = stanzas.map((fields) => {
    const [category, pf] = (fields.CPV ?? '').split('/') as [string, string];
    return { PATH: `${category}/${pf.replace(/-\d.*$/, '')}/${pf}.gpkg.tar`, SIZE: '10240', SHA256: 'f'.repeat(64), ...fields };
  });
  await writeFile(file, formatPackagesIndex({ header: { VERSION: '0' }, packages: located.map((fields) => ({ fields, droppedFields: {} })) }));
  return file;
}

/** A cycle of `profile` over these CPVs, every package in `state` unless `states` says otherwise. */
async function writeCycle(profile: string, cpvs: readonly string[], states: Readonly<Record<string, PackageState>> = {}): Promise<string> {
  const definition: CycleDefinition = {
    id: `${profile}-test`,
    profile,
    createdAt: Date.now(),
    source: 'test',
    policy: 'critical-path',
    referenceSpeed: 8,
    nodes: cpvs.map((cpv) => ({ cpv, cp: parseCpv(cpv).cp, duration: 1, heavy: false })),
    edges: [],
    cyclesBroken: [],
  };
  await createCycle(client, KEYS, definition);
  const records = cpvs.map((cpv): PackageRecord => ({ cpv, state: states[cpv] ?? 'built', since: Date.now(), attempt: 1, failures: [] }));
  await client.hset(KEYS.packages(definition.id), Object.fromEntries(records.map((record) => [record.cpv, JSON.stringify(record)])));
  return definition.id;
}

async function libxcryptWithUse(use: string): Promise<IndexFields> {
  const fields: IndexFields = {};
  for (const line of (await readFile(LIBXCRYPT, 'utf8')).split('\n')) {
    const colon = line.indexOf(': ');
    if (colon !== -1) fields[line.slice(0, colon)] = line.slice(colon + 2);
  }
  return { ...fields, USE: use };
}

beforeAll(async () => {
  redis = await startRedis();
  client = redis.client();
  dir = await mkdtemp(join(tmpdir(), 'swarm-verify-'));
  data = join(dir, 'data');
  configFile = join(dir, 'swarm.json');
  await writeFile(configFile, `${JSON.stringify({ redis: { url: redis.url, password_file: redis.passwordFile, prefix: 'argo' } })}\n`, { mode: 0o600 });
  clusterhq = await clusterhqStanzas();
});
afterAll(async () => {
  await redis?.destroy();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('build-swarm verify', { timeout: 60_000 }, () => {
  it('passes the real clusterhq prefix built in full: one dependency the prefix gets from its host, all of world covered', async () => {
    await writeStaging('server', clusterhq);
    const cycle = await writeCycle('server', clusterhq.map((fields) => fields['CPV'] as string));
    const run = await verify('--profile', 'server', '--world', WORLD, '--json');
    expect(run.code, run.stderr).toBe(0);
    const report = reportOf(run);
    expect(report).toMatchObject({ score: 5, safe: true, threshold: 15, profile: 'server', cycle });
    // virtual/linux-sources: the prefix lists the kernel sources in package.provided, not as a package.
    expect(componentOf(report, 'unsatisfied-deps')?.packages).toEqual([expect.stringMatching(/^virtual\/linux-sources-1 needs \|\| \( sys-kernel\/gentoo-sources sys-kernel\/vanilla-sources /)]);
    expect(componentOf(report, 'coverage')?.detail).toBe('100.0 %, 12 of 12 world atoms have a binary package in staging (no production release yet)');

    const text = await verify('--profile', 'server', '--world', WORLD);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('score 5 of 100, threshold 15: safe to finalize');
    expect(text.stdout).toMatch(/unsatisfied-deps\s+5 {2}1 dependency of staged packages not satisfied by staging/);
  });

  it('refuses the libxcrypt incident (built -compat -system) on its own, and names it; a pin that asks for that passes it', async () => {
    await writeStaging('desktop', [...clusterhq, await libxcryptWithUse('abi_x86_32 abi_x86_64 amd64 elibc_glibc kernel_linux')]);
    await writeCycle('desktop', clusterhq.map((fields) => fields['CPV'] as string));
    const run = await verify('--profile', 'desktop', '--json');
    expect(run.code).toBe(3);
    const report = reportOf(run);
    expect(report.safe).toBe(false);
    expect(componentOf(report, 'critical-use')).toMatchObject({ points: 25, packages: ['sys-libs/libxcrypt-4.4.33 built with USE -compat -system, pinned compat system'] });

    const text = await verify('--profile', 'desktop');
    expect(text.code).toBe(3);
    expect(text.stdout).toContain('NOT safe to finalize');
    expect(text.stdout).toContain('sys-libs/libxcrypt-4.4.33 built with USE -compat -system, pinned compat system');

    const pinned = reportOf(await verify('--profile', 'desktop', '--pin', 'sys-libs/libxcrypt -compat -system', '--json'));
    expect(componentOf(pinned, 'critical-use')?.points).toBe(0);
  });

  it('refuses a cycle whose glibc failed, blocking what needs it, and shows the first packages of each component', async () => {
    const cpvs = clusterhq.map((fields) => fields['CPV'] as string);
    const blocked = Object.fromEntries(cpvs.filter((cpv) => cpv.startsWith('app-')).map((cpv) => [cpv, 'blocked' as const]));
    await writeStaging('container', clusterhq.filter((fields) => fields['CPV'] !== 'sys-libs/glibc-2.19-r1' && blocked[fields['CPV'] as string] === undefined));
    await writeCycle('container', cpvs, { ...blocked, 'sys-libs/glibc-2.19-r1': 'failed' });
    const run = await verify('--profile', 'container', '--json');
    expect(run.code).toBe(3);
    const report = reportOf(run);
    const failed = componentOf(report, 'failed');
    expect(failed?.packages[0]).toBe('sys-libs/glibc-2.19-r1 failed');
    expect(failed?.points).toBe(25 + 3 * Object.keys(blocked).length);
    // Without glibc in staging or production, nearly every staged package has a dependency nothing satisfies.
    expect(componentOf(report, 'unsatisfied-deps')?.points).toBe(50);
    expect(report.score).toBe(100);
    const text = await verify('--profile', 'container');
    expect(text.stdout).toMatch(/\n {27}…and \d+ more\n/);
  });

  describe('bad input', () => {
    it('names an unknown profile', async () => {
      const run = await verify('--profile', 'nosuch', '--json');
      expect(run.code).toBe(2);
      expect(errorOf(run)).toMatchObject({ code: 'ARGO_USAGE', message: 'No profile named nosuch' });
    });

    it('names a profile without a cycle', async () => {
      const run = await verify('--profile', 'dev', '--json');
      expect(run.code).toBe(2);
      expect(errorOf(run)).toMatchObject({ code: 'ARGO_USAGE', message: 'Profile dev has no cycle to verify' });
    });

    it('names the missing staging index, and the file and line of a malformed one', async () => {
      await writeCycle('dev', ['app-misc/tmux-1.9a']);
      const missing = await verify('--profile', 'dev', '--json');
      expect(missing.code).toBe(1);
      expect(errorOf(missing)).toMatchObject({ code: 'ARGO_FILE_NOT_FOUND', message: expect.stringContaining(join(data, 'staging/dev/Packages')) });

      const file = await writeStaging('dev', clusterhq.slice(0, 3));
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.splice(5, 0, 'this line has no colon');
      await writeFile(file, lines.join('\n'));
      const malformed = await verify('--profile', 'dev', '--json');
      expect(malformed.code).toBe(1);
      expect(errorOf(malformed)).toMatchObject({ code: 'ARGO_INDEX_INVALID', message: `${file}:6: line without a colon; Portage ignores it` });
    });

    it('refuses a threshold outside 1-100 and a pin that is not a package.use line', async () => {
      expect(errorOf(await verify('--profile', 'server', '--threshold', '0', '--json')).code).toBe('ARGO_USAGE');
      const pin = await verify('--profile', 'server', '--pin', 'libxcrypt compat', '--json');
      expect(pin.code).toBe(2);
      expect(errorOf(pin).message).toContain('"libxcrypt compat"');
    });
  });
});

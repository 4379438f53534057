import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { appendFile, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import tmp from 'tmp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import type { ReaderMessage } from '../../test/fixtures/releases/read-production.ts';
import { isArgoError } from '../core/errors.ts';
import { formatPackagesIndex } from '../core/gentoo/format-packages-index.ts';
import { gunzipPackagesIndex, gzipPackagesIndex } from '../core/gentoo/packages-index-gzip.ts';
import { parsePackagesIndex } from '../core/gentoo/parse-packages-index.ts';
import type { ParsedPackagesIndex } from '../core/gentoo/packages-index.ts';
import {
  FINALIZE_STEPS,
  finalizeRelease,
  listReleases,
  resolveReleaseFile,
  rollbackRelease,
  type FinalizeOptions,
  type FinalizeStep,
} from './binhost-releases.ts';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/releases/', import.meta.url));
const BINHOST = 'desktop';

let root: tmp.DirResult;
let data: string;
let uploads = 0;
const children: ChildProcess[] = [];
let log: ReturnType<typeof createMemoryLogger>;

beforeEach(() => {
  root = tmp.dirSync({ prefix: 'argo-releases-', unsafeCleanup: true });
  data = join(root.name, 'data');
  log = createMemoryLogger();
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  root.removeCallback();
});

interface Staged {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/**
 * Stages a fake package as the gateway lays staging out (docs/SWARM.md): `<category>/<pn>/<pf>[-N].gpkg.tar`
 * under a name staging has not used (a second build of a CPV gets the next `-N`), its `.stanza.json`, and
 * `Packages` + `Packages.gz` rebuilt from every stanza. The store checks sizes and hashes, not GPKG validity.
 */
async function stage(cpv: string, slot = '0', binhost = BINHOST, options: { readonly ignoreReleases?: boolean } = {}): Promise<Staged> {
  uploads += 1;
  const [category, pf] = cpv.split('/') as [string, string];
  const pn = pf.replace(/-\d.*$/, '');
  const staging = join(data, 'staging', binhost);
  const folder = join(staging, category, pn);
  await mkdir(folder, { recursive: true });
  // As the staging store names them: never a name staging or a kept release already uses.
  const releases = options.ignoreReleases === true ? [] : await readdir(join(data, 'releases', binhost)).catch(() => [] as string[]);
  const released = (await Promise.all(releases.map((release) => readdir(join(data, 'releases', binhost, release, category, pn)).catch(() => [] as string[])))).flat();
  const taken = new Set([...(await readdir(folder)), ...released]);
  let buildId = 0;
  while (taken.has(buildId === 0 ? `${pf}.gpkg.tar` : `${pf}-${buildId}.gpkg.tar`)) buildId += 1;
  const path = `${category}/${pn}/${buildId === 0 ? `${pf}.gpkg.tar` : `${pf}-${buildId}.gpkg.tar`}`;
  const bytes = `fake gpkg of ${cpv}, upload ${uploads}\n`.repeat(uploads);
  await writeFile(join(staging, path), bytes);
  const staged = { path, size: Buffer.byteLength(bytes), sha256: sha256(bytes) };
  const fields = { CPV: cpv, EAPI: '8', SLOT: slot, PATH: path, SIZE: String(staged.size), SHA256: staged.sha256, ...(buildId === 0 ? {} : { BUILD_ID: String(buildId) }) };
  await writeFile(join(staging, `${path}.stanza.json`), JSON.stringify(fields));
  await rebuildStagingIndex(staging);
  return staged;
}

async function rebuildStagingIndex(staging: string): Promise<void> {
  const stanzas = (await filesUnder(staging)).filter((file) => file.endsWith('.stanza.json'));
  const packages = await Promise.all(stanzas.map(async (file) => ({ fields: JSON.parse(await readFile(join(staging, file), 'utf8')) as Record<string, string>, droppedFields: {} })));
  const text = formatPackagesIndex({ header: { VERSION: '0' }, packages }, { refreshHeaderAt: new Date() });
  await writeFile(join(staging, 'Packages.gz'), gzipPackagesIndex(text));
  await writeFile(join(staging, 'Packages'), text);
}

async function clearStaging(binhost = BINHOST): Promise<void> {
  await rm(join(data, 'staging', binhost), { recursive: true, force: true });
}

function finalize(options: Partial<FinalizeOptions> = {}) {
  return finalizeRelease({ data, binhost: BINHOST, logger: log.logger, ...options });
}

function rollback(to?: string) {
  return rollbackRelease({ data, binhost: BINHOST, logger: log.logger, ...(to === undefined ? {} : { to }) });
}

async function currentRelease(binhost = BINHOST): Promise<string | undefined> {
  try {
    return (await readlink(join(data, 'production', binhost))).split('/').at(-1);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const sha256 = (bytes: string | Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Every file under `folder`, as paths relative to it. */
async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => relative(folder, join(entry.parentPath, entry.name))).sort();
}

/**
 * Production's index, after checking what a client relies on: it lists exactly the package files of the release
 * (nothing missing, nothing extra), each with its SIZE and SHA256, and Packages.gz says the same.
 */
async function expectCompleteProduction(binhost = BINHOST): Promise<ParsedPackagesIndex> {
  const folder = join(data, 'production', binhost);
  const text = await readFile(join(folder, 'Packages'), 'utf8');
  expect(gunzipPackagesIndex(await readFile(join(folder, 'Packages.gz')))).toBe(text);
  const index = parsePackagesIndex(text);
  const listed = index.packages.map((entry) => entry.fields['PATH'] as string).sort();
  expect(await filesUnder(folder)).toEqual([...listed, 'Packages', 'Packages.gz', 'release.json'].sort());
  for (const { fields, droppedFields } of index.packages) {
    const bytes = await readFile(join(folder, fields['PATH'] as string));
    expect(String(bytes.length)).toBe(fields['SIZE']);
    expect(sha256(bytes)).toBe(droppedFields['SHA256']);
  }
  expect(index.header['PACKAGES']).toBe(String(index.packages.length));
  return index;
}

async function leftovers(): Promise<string[]> {
  return (await readdir(join(data, 'releases', BINHOST))).filter((name) => name.includes('.tmp-'));
}

const cpvsOf = (index: ParsedPackagesIndex): string[] => index.packages.map((entry) => `${entry.fields['CPV']} ${entry.fields['SLOT']}`);

describe('finalizeRelease', () => {
  it('makes the first release and points production at it with a relative symlink', async () => {
    await stage('app-misc/foo-1.0');
    await stage('dev-libs/bar-2.1', '2');
    const stagedInode = (await lstat(join(data, 'staging', BINHOST, 'app-misc/foo/foo-1.0.gpkg.tar'))).ino;
    const now = new Date('2026-11-29T22:15:00.456Z');
    const result = await finalize({ now: () => now, meta: { cycle: 'c1', score: 4 } });

    expect(result).toEqual({ release: expect.stringMatching(/^20261129T221500Z-[0-9a-f]{6}$/), previous: undefined, packages: 2, pruned: [] });
    expect(await readlink(join(data, 'production', BINHOST))).toBe(`../releases/${BINHOST}/${result.release}`);
    const index = await expectCompleteProduction();
    expect(cpvsOf(index)).toEqual(['app-misc/foo-1.0 0', 'dev-libs/bar-2.1 2']);
    expect(index.header['TIMESTAMP']).toBe(String(Math.floor(now.getTime() / 1000)));
    expect(JSON.parse(await readFile(join(data, 'production', BINHOST, 'release.json'), 'utf8'))).toEqual({
      id: result.release,
      sequence: 1,
      createdAt: now.toISOString(),
      binhost: BINHOST,
      staging: `staging/${BINHOST}`,
      cycle: 'c1',
      score: 4,
      packages: 2,
    });
    // Hard links: the release holds the very file staging had; once published, it leaves staging.
    expect((await lstat(join(data, 'production', BINHOST, 'app-misc/foo/foo-1.0.gpkg.tar'))).ino).toBe(stagedInode);
    expect((await filesUnder(join(data, 'staging', BINHOST))).sort()).toEqual(['Packages', 'Packages.gz']);
  });

  it('supersedes a released package by a staged build in the same slot and keeps the other slots', async () => {
    await stage('app-misc/foo-1.0');
    await stage('dev-lang/python-3.11.9', '3.11/3.11');
    await stage('dev-lang/python-3.12.4', '3.12/3.12');
    await stage('sys-libs/zlib-1.3', '0/1');
    const first = await finalize();
    await clearStaging();
    await stage('app-misc/foo-1.1');
    await stage('dev-lang/python-3.12.5', '3.12/3.12');
    await stage('sys-libs/zlib-1.3.1', '0/1.1');

    const second = await finalize({ meta: { cycle: 'c2', forced: 'hotfix for zlib' } });

    expect(second).toMatchObject({ previous: first.release, packages: 4, pruned: [] });
    expect(cpvsOf(await expectCompleteProduction())).toEqual(['app-misc/foo-1.1 0', 'dev-lang/python-3.11.9 3.11/3.11', 'dev-lang/python-3.12.5 3.12/3.12', 'sys-libs/zlib-1.3.1 0/1.1']);
    expect((await listReleases({ data, binhost: BINHOST })).map((release) => [release.id, release.current, release.record.forced])).toEqual([
      [second.release, true, 'hotfix for zlib'],
      [first.release, false, undefined],
    ]);
  });

  it('lists a second build of the same CPV under its new name, with its own SIZE and SHA256', async () => {
    await stage('app-misc/foo-1.0');
    await finalize();
    const rebuilt = await stage('app-misc/foo-1.0');
    expect(rebuilt.path).toBe('app-misc/foo/foo-1.0-1.gpkg.tar');
    await stage('dev-libs/bar-1.0');
    await finalize();
    const index = await expectCompleteProduction();
    expect(index.packages.map((entry) => [entry.fields['PATH'], entry.fields['SIZE'], entry.droppedFields['SHA256']])).toEqual([
      [rebuilt.path, String(rebuilt.size), rebuilt.sha256],
      ['dev-libs/bar/bar-1.0.gpkg.tar', expect.any(String), expect.any(String)],
    ]);
  });

  it('refuses a new build staged under a name a kept release uses for another file', async () => {
    await stage('app-misc/foo-1.0');
    const first = await finalize();
    await clearStaging();
    // A stager that looked at staging alone (the staging store also skips the releases' names) reuses the name.
    expect((await stage('app-misc/foo-1.0', '0', BINHOST, { ignoreReleases: true })).path).toBe('app-misc/foo/foo-1.0.gpkg.tar');
    await expect(finalize()).rejects.toMatchObject({ code: 'ARGO_INDEX_INVALID', message: expect.stringContaining(`release ${first.release} uses`) });
    expect(await currentRelease()).toBe(first.release);
    expect(await leftovers()).toEqual([]);
  });

  it('makes the production symlink of a nested binhost relative to its own folder', async () => {
    await stage('app-misc/foo-1.0', '0', 'amd64/desktop');
    const result = await finalizeRelease({ data, binhost: 'amd64/desktop', logger: log.logger });
    expect(await readlink(join(data, 'production', 'amd64/desktop'))).toBe(`../../releases/amd64/desktop/${result.release}`);
    await expectCompleteProduction('amd64/desktop');
  });

  it('keeps the current release and the newest others up to keep, and prunes the rest', async () => {
    const made: string[] = [];
    for (let round = 0; round < 5; round += 1) {
      await stage(`app-misc/foo-1.${round}`);
      const result = await finalize({ keep: 3 });
      made.push(result.release);
      expect(result.pruned).toEqual(round < 3 ? [] : [made[round - 3]]);
    }
    expect((await listReleases({ data, binhost: BINHOST })).map((release) => release.id)).toEqual(made.slice(2).reverse());
    expect(await leftovers()).toEqual([]);
  });

  it('always keeps the release it switched away from, even an old one production was rolled back to', async () => {
    const made: string[] = [];
    for (let round = 0; round < 3; round += 1) {
      await stage(`app-misc/foo-1.${round}`);
      made.push((await finalize()).release);
    }
    await rollback(made[0]);
    await stage('app-misc/foo-2.0');
    const result = await finalize({ keep: 2 });
    expect(result.previous).toBe(made[0]);
    expect([...result.pruned].sort()).toEqual([made[1], made[2]].sort());
    expect((await listReleases({ data, binhost: BINHOST })).map((release) => release.id)).toEqual([result.release, made[0]]);
  });

  it('refuses keep below 2', async () => {
    await stage('app-misc/foo-1.0');
    await expect(finalize({ keep: 1 })).rejects.toMatchObject({ code: 'ARGO_INVALID_INPUT', hint: expect.stringContaining('at least 2') });
  });

  it('refuses when nothing is staged', async () => {
    await expect(finalize()).rejects.toMatchObject({ code: 'ARGO_FILE_NOT_FOUND', hint: expect.stringContaining('Nothing is staged') });
    expect(await currentRelease()).toBeUndefined();
  });

  describe('refuses an index that does not match its files, with production unchanged', () => {
    const tamperings: [string, string, (staged: Staged) => Promise<void>][] = [
      ['a listed file is missing', 'ARGO_FILE_NOT_FOUND', (staged) => rm(join(data, 'staging', BINHOST, staged.path))],
      ['a file is longer than SIZE', 'ARGO_INDEX_INVALID', (staged) => appendFile(join(data, 'staging', BINHOST, staged.path), 'x')],
      ['a file has the right size but another SHA256', 'ARGO_INDEX_INVALID', (staged) => writeFile(join(data, 'staging', BINHOST, staged.path), 'y'.repeat(staged.size))],
      ['a listed file is a symlink', 'ARGO_FILE_NOT_FOUND', async (staged) => {
        const file = join(data, 'staging', BINHOST, staged.path);
        await rm(file);
        await symlink('/etc/hostname', file);
      }],
    ];

    it.each(tamperings)('%s', async (_name, code, tamper) => {
      await stage('app-misc/foo-1.0');
      const first = await finalize();
      await clearStaging();
      await tamper(await stage('dev-libs/bar-2.0'));

      await expect(finalize()).rejects.toMatchObject({ code, message: expect.stringContaining('bar-2.0.gpkg.tar') });
      expect(await currentRelease()).toBe(first.release);
      expect(cpvsOf(await expectCompleteProduction())).toEqual(['app-misc/foo-1.0 0']);
      expect(await leftovers()).toEqual([]);
      expect((await listReleases({ data, binhost: BINHOST })).map((release) => release.id)).toEqual([first.release]);
    });

    it('a file of the current release that is missing', async () => {
      const foo = await stage('app-misc/foo-1.0');
      const first = await finalize();
      await clearStaging();
      await stage('dev-libs/bar-2.0');
      await rm(join(data, 'releases', BINHOST, first.release, foo.path));
      await expect(finalize()).rejects.toMatchObject({ code: 'ARGO_FILE_NOT_FOUND', message: expect.stringContaining(`${first.release}/${foo.path}`) });
      expect(await currentRelease()).toBe(first.release);
    });
  });

  describe('a crash between steps leaves production on a complete release', () => {
    it.each(FINALIZE_STEPS.map((step, position) => [step, position] as const))('thrown after %s', async (crashAt, position) => {
      await stage('app-misc/foo-1.0');
      const first = await finalize();
      await stage('dev-libs/bar-2.0');
      const crash = new Error(`crash after ${crashAt}`);

      await expect(finalize({ afterStep: (step) => { if (step === crashAt) throw crash; } })).rejects.toBe(crash);

      const switched = position >= FINALIZE_STEPS.indexOf('switched');
      const index = await expectCompleteProduction();
      expect(cpvsOf(index)).toEqual(switched ? ['app-misc/foo-1.0 0', 'dev-libs/bar-2.0 0'] : ['app-misc/foo-1.0 0']);
      expect((await currentRelease()) === first.release).toBe(!switched);
      expect(await leftovers()).toEqual([]);
      expect((await listReleases({ data, binhost: BINHOST })).length).toBe(switched ? 2 : 1);
      await finalize();
      expect(cpvsOf(await expectCompleteProduction())).toEqual(['app-misc/foo-1.0 0', 'dev-libs/bar-2.0 0']);
    });

    it.each(['linked', 'indexed'] as const)('killed with SIGKILL after %s: the next finalize removes what it left', async (crashAt: FinalizeStep) => {
      await stage('app-misc/foo-1.0');
      const first = await finalize();
      await stage('dev-libs/bar-2.0');
      const child = fork(join(FIXTURES, 'finalize-until.ts'), [data, BINHOST, crashAt], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      const [reached] = (await once(child, 'message')) as [{ step: string }];
      expect(reached.step).toBe(crashAt);
      child.kill('SIGKILL');
      await once(child, 'exit');
      // A production symlink made but not yet renamed when the power went.
      await symlink('../releases/desktop/nowhere', join(data, 'production', `.${BINHOST}.argo-0123456789ab`));

      expect(await currentRelease()).toBe(first.release);
      await expectCompleteProduction();
      expect(await leftovers()).toHaveLength(1);

      await finalize();
      expect(await leftovers()).toEqual([]);
      expect(await readdir(join(data, 'production'))).toEqual([BINHOST]);
      expect(cpvsOf(await expectCompleteProduction())).toEqual(['app-misc/foo-1.0 0', 'dev-libs/bar-2.0 0']);
      // The killed run's lock was dropped by the kernel: taken over at once, its holder named.
      expect(log.events('lock.taken-over')).toHaveLength(1);
    });
  });

  it('serializes two finalize runs on one binhost', async () => {
    await stage('app-misc/foo-1.0');
    const steps: string[] = [];
    const record = (run: string) => (step: FinalizeStep) => {
      steps.push(`${run}:${step}`);
    };
    const [a, b] = await Promise.all([finalize({ afterStep: record('a') }), finalize({ afterStep: record('b') })]);

    // The second waited for the first: it found staging published and production on the first's release,
    // and did nothing (a finalize with nothing new staged is a no-op).
    const firstRun = steps[0]?.startsWith('a') ? 'a' : 'b';
    expect(steps).toEqual(FINALIZE_STEPS.map((step) => `${firstRun}:${step}`));
    const [earlier, later] = firstRun === 'a' ? [a, b] : [b, a];
    expect(later).toEqual({ release: earlier.release, previous: earlier.release, packages: earlier.packages, pruned: [] });
    expect(await currentRelease()).toBe(earlier.release);
  });
});

describe('rollbackRelease', () => {
  async function threeReleases(): Promise<[string, string, string]> {
    const made: string[] = [];
    for (let round = 0; round < 3; round += 1) {
      await stage(`app-misc/foo-1.${round}`);
      made.push((await finalize()).release);
    }
    return made as [string, string, string];
  }

  it('steps back one release at a time, by creation order', async () => {
    const [r1, r2, r3] = await threeReleases();
    expect(await rollback()).toEqual({ release: r2, previous: r3 });
    expect(await currentRelease()).toBe(r2);
    await expectCompleteProduction();
    expect(await rollback()).toEqual({ release: r1, previous: r2 });
    expect(cpvsOf(await expectCompleteProduction())).toEqual(['app-misc/foo-1.0 0']);
  });

  it('switches to the release named with --to', async () => {
    const [r1, , r3] = await threeReleases();
    await rollback(r1);
    expect(await rollback(r3)).toEqual({ release: r3, previous: r1 });
    expect(await currentRelease()).toBe(r3);
    expect((await listReleases({ data, binhost: BINHOST })).filter((release) => release.current).map((release) => release.id)).toEqual([r3]);
  });

  it('refuses when there is nothing older, naming the releases there are', async () => {
    const [r1] = await threeReleases();
    await rollback(r1);
    const refusal = await rollback().catch((error: unknown) => error);
    expect(isArgoError(refusal, 'ARGO_INVALID_INPUT')).toBe(true);
    expect((refusal as Error).message).toContain(`${r1} (current)`);
    expect(await currentRelease()).toBe(r1);
  });

  it.each([['an unknown id', '20990101T000000Z-abcdef'], ['a path', '../../etc'], ['a release folder without an index', 'INCOMPLETE']])('refuses --to %s', async (_name, to) => {
    const [, , r3] = await threeReleases();
    const incomplete = '20990101T000000Z-000000';
    await mkdir(join(data, 'releases', BINHOST, incomplete));
    await expect(rollback(to === 'INCOMPLETE' ? incomplete : to)).rejects.toMatchObject({ code: 'ARGO_INVALID_INPUT', message: expect.stringContaining(r3) });
    expect(await currentRelease()).toBe(r3);
  });

  it('refuses when production does not exist yet', async () => {
    await expect(rollback()).rejects.toMatchObject({ code: 'ARGO_INVALID_INPUT', hint: 'Finalize a release first.' });
  });
});

describe('resolveReleaseFile', () => {
  const resolveFile = (path: string) => resolveReleaseFile({ data, binhost: BINHOST, path });

  it('finds a file in the current release first, then in the other kept releases', async () => {
    const foo = await stage('app-misc/foo-1.0');
    const first = await finalize();
    await clearStaging();
    const bar = await stage('dev-libs/bar-2.0');
    const newer = await stage('app-misc/foo-1.1');
    const second = await finalize();
    const releases = join(data, 'releases', BINHOST);

    expect(await resolveFile(newer.path)).toBe(join(releases, second.release, newer.path));
    expect(await resolveFile(bar.path)).toBe(join(releases, second.release, bar.path));
    // Superseded in the current release; a client holding the previous index still gets it.
    expect(await resolveFile(foo.path)).toBe(join(releases, first.release, foo.path));
    expect(await resolveFile('app-misc/foo/foo-9.gpkg.tar')).toBeUndefined();
    expect(await resolveFile('app-misc')).toBeUndefined();
  });

  it('finds nothing before the first release', async () => {
    expect(await resolveFile('Packages')).toBeUndefined();
  });

  it.each(['../staging/desktop/Packages', 'app-misc/../../x', 'app-misc/foo/../../../../etc/passwd', '/etc/passwd', 'app-misc/foo\0.gpkg.tar', 'app-misc\\foo', '', './Packages', 'app-misc//foo'])(
    'refuses the path %j',
    async (path) => {
      await stage('app-misc/foo-1.0');
      await finalize();
      await expect(resolveFile(path)).rejects.toMatchObject({ code: 'ARGO_INVALID_INPUT' });
    },
  );

  it('refuses a binhost path that climbs out', async () => {
    await expect(resolveReleaseFile({ data, binhost: '../staging', path: 'Packages' })).rejects.toMatchObject({ code: 'ARGO_INVALID_INPUT' });
  });

  it('does not follow a symlink planted in a release out of it', async () => {
    await stage('app-misc/foo-1.0');
    const release = join(data, 'releases', BINHOST, (await finalize()).release);
    const secret = join(root.name, 'secret');
    await writeFile(secret, 'not for clients\n');
    await symlink(secret, join(release, 'app-misc/foo/evil.gpkg.tar'));
    await symlink(root.name, join(release, 'app-misc/outside'));
    await symlink(root.name, join(data, 'releases', BINHOST, '20990101T000000Z-abcdef'));

    expect(await resolveFile('app-misc/foo/evil.gpkg.tar')).toBeUndefined();
    expect(await resolveFile('app-misc/outside/secret')).toBeUndefined();
    expect(await resolveFile('secret')).toBeUndefined();
    expect(await resolveFile('app-misc/foo/foo-1.0.gpkg.tar')).toBe(join(release, 'app-misc/foo/foo-1.0.gpkg.tar'));
  });
});

/** A client process reading production in a tight loop; each pass is one index read and every file it lists checked. */
class ProductionReader {
  readonly passes: Extract<ReaderMessage, { kind: 'pass' }>[] = [];
  private readonly child: ChildProcess;

  constructor() {
    this.child = fork(join(FIXTURES, 'read-production.ts'), [data, BINHOST], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(this.child);
    this.child.on('message', (message: ReaderMessage) => {
      if (message.kind === 'pass') this.passes.push(message);
    });
  }

  /** Resolves at the next pass that read the index whose text hashes to `index`, that is, after the reader saw it. */
  nextPassOf(index: string): Promise<void> {
    return this.waitFor((message) => message.kind === 'pass' && message.index === index);
  }

  async stop(): Promise<number> {
    const done = this.waitFor((message) => message.kind === 'done');
    this.child.send('stop');
    await done;
    await once(this.child, 'exit');
    return this.passes.length;
  }

  private waitFor(matches: (message: ReaderMessage) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: ReaderMessage): void => {
        if (!matches(message)) return;
        this.child.off('exit', onExit);
        this.child.off('message', onMessage);
        resolve();
      };
      const onExit = (code: number | null, signal: string | null): void => {
        this.child.off('message', onMessage);
        reject(new Error(`the reader exited (${code ?? signal}) before it saw what the test waits for`));
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }
}

describe('readers during finalize and rollback', () => {
  it('never see an index listing a file they cannot download with its SIZE and SHA256', async () => {
    for (const cpv of ['app-misc/foo-1.0', 'dev-libs/bar-1.0', 'sys-libs/zlib-1.3']) await stage(cpv);
    await finalize();
    const reader = new ProductionReader();
    const indexOf = async (release: string): Promise<string> => sha256(await readFile(join(data, 'releases', BINHOST, release, 'Packages')));
    const served = new Map<string, string>();
    const serve = async (release: string): Promise<void> => {
      const index = await indexOf(release);
      served.set(index, release);
      await reader.nextPassOf(index);
    };
    await serve((await currentRelease()) as string);

    for (let round = 0; round < 10; round += 1) {
      if (round % 4 === 2) {
        await serve((await rollback()).release);
      } else if (round % 4 === 3) {
        const newest = (await listReleases({ data, binhost: BINHOST }))[0]?.id as string;
        await serve((await rollback(newest)).release);
      } else {
        await stage(`app-misc/foo-1.${round + 1}`);
        await stage(`dev-libs/bar-1.${round + 1}`, String(round % 2));
        await serve((await finalize()).release);
      }
    }
    const passes = await reader.stop();

    expect(reader.passes.flatMap((pass) => pass.problems)).toEqual([]);
    const readPerRelease = new Map<string, number>();
    for (const pass of reader.passes) {
      const release = served.get(pass.index);
      expect(release, 'every index read is one a release served').toBeDefined();
      readPerRelease.set(release as string, (readPerRelease.get(release as string) ?? 0) + 1);
    }
    expect([...readPerRelease.keys()].sort()).toEqual([...new Set(served.values())].sort());
    expect(passes).toBeGreaterThanOrEqual(served.size);
  });
});

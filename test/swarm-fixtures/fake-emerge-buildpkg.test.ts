import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readGpkg } from '../../src/core/gentoo/read-gpkg.ts';
import { parsePackagesIndex } from '../../src/core/gentoo/parse-packages-index.ts';
import { gunzipPackagesIndex } from '../../src/core/gentoo/packages-index-gzip.ts';
import { parseEmergeLog } from '../../src/core/gentoo/parse-emerge-log.ts';
import { parseVdbEntry } from '../../src/core/gentoo/parse-vdb-entry.ts';
import { parseEmergeProgressLine } from '../../src/core/gentoo/parse-emerge-progress.ts';
import { insertOptionalArgs, parseEmergeArgs, settleOptions } from './fake-emerge/parse-emerge-args.ts';
import { parseFakeConfig } from './fake-emerge/parse-fake-config.ts';
import { buildSecondsLookup, medianBuildSeconds } from './fake-emerge/build-durations.ts';
import { enabledUse } from './fake-emerge/package-metadata.ts';
import { parseRemoteUrl, splitChallenges } from './fake-emerge/http-request.ts';
import { verifyBinpkg } from './fake-emerge/fetch-binpkg.ts';
import { digestSuccessLine, hideUrlPassword, notGzippedMessage } from './fake-emerge/portage-messages.ts';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const FAKE_BIN = join(PROJECT, 'test/swarm-fixtures/bin');
const NODE_BIN = join(PROJECT, 'node_modules/.bin');
const CLUSTERHQ = join(PROJECT, 'test/fixtures/gentoo/clusterhq-prefix');
const MD5_CACHE = join(CLUSTERHQ, 'md5-cache-installed');
const REAL_EMERGE_LOG = join(CLUSTERHQ, 'var/log/emerge.log');

const SED = 'sys-apps/sed-4.2.1-r1';
const LIBINTL = 'virtual/libintl-0-r1';
const GETTEXT = 'sys-devel/gettext-0.18.3.2';
const PERL = 'dev-lang/perl-5.18.2-r1';
const FILE_TEMP = 'perl-core/File-Temp-0.230.400';
const WHICH = 'sys-apps/which-2.20-r1';
const XZ = 'app-arch/xz-utils-5.0.6';
const EMERGE = ['--oneshot', '--buildpkg', '--usepkg', '--getbinpkg'];
/** bintree.py, when --getbinpkg is given and no binhost is configured (the roots below mostly have none). */
const NO_BINHOST_WARNING = '!!! binrepos.conf is missing (or PORTAGE_BINHOST is unset), but use is requested.\n';

const scratch: string[] = [];

afterEach(async () => {
  await Promise.all(scratch.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

interface RootOptions {
  readonly packages: readonly string[];
  readonly makeConf?: string;
  /** argo-fake-emerge.conf lines. */
  readonly fake?: readonly string[];
}

/** A fresh config root (= ROOT) with real md5-cache entries copied from the clusterhq fixture. */
async function makeRoot(options: RootOptions): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'argo-fake-emerge-'));
  scratch.push(root);
  for (const cpv of options.packages) {
    const target = join(root, 'var/db/repos/gentoo/metadata/md5-cache', cpv);
    await mkdir(join(target, '..'), { recursive: true });
    await cp(join(MD5_CACHE, cpv), target);
  }
  await mkdir(join(root, 'etc/portage'), { recursive: true });
  await writeFile(join(root, 'etc/portage/make.conf'), options.makeConf ?? 'USE="nls"\nCHOST="x86_64-pc-linux-gnu"\nCFLAGS="-O2 -pipe"\nCXXFLAGS="${CFLAGS}"\n');
  await writeFile(join(root, 'etc/argo-fake-emerge.conf'), [`DURATIONS_LOG=${REAL_EMERGE_LOG}`, ...(options.fake ?? [])].join('\n') + '\n');
  return root;
}

interface FakeResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface FakeRun {
  readonly child: ChildProcess;
  readonly done: Promise<FakeResult>;
  /** Resolves once stdout has printed a line matching `pattern`. */
  readonly printed: (pattern: RegExp) => Promise<void>;
  readonly output: () => string;
}

/** Starts the fake exactly as a drone does: `env PORTAGE_CONFIGROOT=<root> ROOT=<root> emerge ...`, found on PATH. */
function startFake(root: string, args: readonly string[], env: Record<string, string | undefined> = {}): FakeRun {
  const merged = { PATH: `${FAKE_BIN}:${NODE_BIN}:/usr/bin:/bin`, PORTAGE_CONFIGROOT: root, ROOT: root, ...env };
  const child = spawn('emerge', [...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined)),
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(stdout)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<FakeResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const printed = (pattern: RegExp): Promise<void> =>
    pattern.test(stdout)
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          waiters.push({ pattern, resolve });
          void done.then(() => reject(new Error(`the fake ended before printing ${pattern}:\n${stdout}\n${stderr}`)));
        });
  return { child, done, printed, output: () => stdout };
}

const runFake = (root: string, args: readonly string[], env?: Record<string, string | undefined>): Promise<FakeResult> => startFake(root, args, env).done;

/** Every file under `dir`, relative, sorted. */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const relative = join(prefix, entry.name);
    if (entry.isDirectory()) out.push(`${relative}/`, ...(await listFiles(dir, relative)));
    else out.push(relative);
  }
  return out.sort();
}

async function readJsonl(root: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(root, 'var/log/argo-fake-emerge.jsonl'), 'utf8');
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function readIndex(pkgdir: string) {
  const parsed = parsePackagesIndex(await readFile(join(pkgdir, 'Packages'), 'utf8'));
  expect(parsed.diagnostics).toEqual([]);
  return parsed;
}

async function readVdb(root: string, cpv: string) {
  const [category, pf] = cpv.split('/') as [string, string];
  const dir = join(root, 'var/db/pkg', category, pf);
  const files: Record<string, string> = {};
  for (const name of await readdir(dir)) files[name] = await readFile(join(dir, name), 'utf8');
  const entry = parseVdbEntry(category, pf, files);
  expect(entry.diagnostics).toEqual([]);
  return entry.package;
}

const gpkgFiles = async (root: string): Promise<string[]> =>
  (await listFiles(join(root, 'var/cache/binpkgs')).catch(() => [])).filter((name) => name.endsWith('.gpkg.tar'));

const leftovers = async (root: string): Promise<string[]> =>
  (await listFiles(root)).filter((name) => /argo-tmp|\.partial$|\.lock$|\.break$|-MERGING-|var\/tmp\/portage\/[^/]+\/[^/]/.test(name));

/** Every file (not folder) in ROOT's PKGDIR. */
const pkgdirFiles = async (root: string): Promise<string[]> =>
  (await listFiles(join(root, 'var/cache/binpkgs')).catch(() => [])).filter((name) => !name.endsWith('/'));

/** binrepos.conf's implicit name of a PORTAGE_BINHOST entry: the MD5 of the URI without trailing slashes. */
const binrepoName = (uri: string): string => createHash('md5').update(uri.replace(/\/+$/, '')).digest('hex');

describe('fake emerge --buildpkg: a source build', () => {
  it('writes a GPKG that reads back, lists it in Packages and Packages.gz, installs it and logs a source build', async () => {
    const root = await makeRoot({ packages: [SED], makeConf: 'USE="acl nls -static"\nCHOST="x86_64-pc-linux-gnu"\nCFLAGS="-O2 -pipe"\n' });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.stderr).toBe(NO_BINHOST_WARNING);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Calculating dependencies ... done!');
    expect(result.stdout).toContain('\n>>> Verifying ebuild manifests\n');
    expect(result.stdout).toContain(`\n>>> Emerging (1 of 1) ${SED}::gentoo for ${root}/\n`);
    expect(result.stdout).toContain(`>>> Compiling source in /var/tmp/portage/${SED}/work/sed-4.2.1-r1 ...\n`);
    expect(result.stdout).toContain(`>>> Completed installing ${SED} into /var/tmp/portage/${SED}/image\n`);
    expect(result.stdout).toContain(`\n>>> Installing (1 of 1) ${SED}::gentoo to ${root}/\n`);
    expect(result.stdout).toContain(`\n>>> Completed (1 of 1) ${SED}::gentoo to ${root}/\n`);

    const pkgdir = join(root, 'var/cache/binpkgs');
    const path = 'sys-apps/sed/sed-4.2.1-r1-1.gpkg.tar';
    expect(await gpkgFiles(root)).toEqual([path]);
    const bytes = await readFile(join(pkgdir, path));
    const gpkg = await readGpkg(bytes, { imageData: true, strict: true });
    expect(gpkg.name).toBe('sed-4.2.1-r1-1');
    expect(gpkg.verification.ok).toBe(true);
    expect(gpkg.metadataCompression).toBe('zst');
    const metadata = Object.fromEntries(gpkg.metadata);
    expect(metadata).toMatchObject({
      CATEGORY: 'sys-apps\n',
      PF: 'sed-4.2.1-r1\n',
      BUILD_ID: '1',
      USE: 'acl nls\n',
      IUSE: 'acl nls selinux static\n',
      SLOT: '0\n',
      EAPI: '0\n',
      LICENSE: 'GPL-3\n',
      DESCRIPTION: 'Super-useful stream editor\n',
      CHOST: 'x86_64-pc-linux-gnu\n',
      CFLAGS: '-O2 -pipe\n',
      DEPEND: 'virtual/acl virtual/libintl sys-devel/gettext\n',
      RDEPEND: 'virtual/acl virtual/libintl\n',
      repository: 'gentoo\n',
      INHERITED: 'eutils flag-o-matic multilib prefix toolchain-funcs\n',
    });
    expect(metadata.FEATURES).toMatch(/(^| )buildpkg( |$)/);
    expect(metadata).not.toHaveProperty('BINPKGMD5');
    const note = gpkg.image.find((entry) => entry.path === '/usr/share/doc/sed-4.2.1-r1/argo-fake-build.txt');
    const noteText = new TextDecoder().decode(note?.data);
    expect(noteText).toContain(SED);
    expect(noteText).toContain(`BUILD_TIME ${metadata.BUILD_TIME?.toString().trim()}`);

    const index = await readIndex(pkgdir);
    expect(index.header).toMatchObject({ VERSION: '0', PACKAGES: '1', CHOST: 'x86_64-pc-linux-gnu', USE: 'acl nls' });
    expect(index.packages.map((entry) => entry.fields)).toEqual([
      expect.objectContaining({
        CPV: SED,
        BUILD_ID: '1',
        PATH: path,
        SIZE: String(bytes.byteLength),
        USE: 'acl nls',
        SLOT: '0',
        REPO: 'gentoo',
        BUILD_TIME: metadata.BUILD_TIME?.toString().trim(),
        MTIME: String(Math.floor((await stat(join(pkgdir, path))).mtimeMs / 1000)),
      }),
    ]);
    const md5 = createHash('md5').update(bytes).digest('hex');
    expect(index.packages[0]?.fields.MD5).toBe(md5);
    expect(gunzipPackagesIndex(await readFile(join(pkgdir, 'Packages.gz')))).toBe(await readFile(join(pkgdir, 'Packages'), 'utf8'));

    const installed = await readVdb(root, SED);
    expect(installed).toMatchObject({ cpv: SED, buildId: 1, binpkgMd5: md5, use: ['acl', 'nls'], slot: '0', repo: 'gentoo' });
    expect(installed?.contents.map((entry) => entry.path)).toContain('/usr/share/doc/sed-4.2.1-r1/argo-fake-build.txt');
    expect(await readFile(join(root, 'usr/share/doc/sed-4.2.1-r1/argo-fake-build.txt'), 'utf8')).toBe(noteText);

    const log = parseEmergeLog(await readFile(join(root, 'var/log/emerge.log'), 'utf8'));
    expect(log.diagnostics).toEqual([]);
    expect(log.builds).toEqual([expect.objectContaining({ cpv: SED, root: `${root}/`, binary: false, index: 1, total: 1 })]);
    const logText = await readFile(join(root, 'var/log/emerge.log'), 'utf8');
    expect(logText).toContain(` *** emerge --oneshot --buildpkg --getbinpkg --usepkg =${SED}\n`);
    expect(logText).toContain(` === (1 of 1) Compiling/Packaging (${SED}::${root}/var/db/repos/gentoo/sys-apps/sed/sed-4.2.1-r1.ebuild)\n`);
    expect(logText).toMatch(/ \*\*\* exiting successfully\.\n\d+:  \*\*\* terminating\.\n$/);

    const [record] = await readJsonl(root);
    expect(record).toMatchObject({ cpv: SED, kind: 'source', buildId: 1, pid: expect.any(Number) });
    expect(record?.end as number).toBeGreaterThanOrEqual(record?.start as number);
    expect(await leftovers(root)).toEqual([]);
  });

  it('gives the next build of the same CPV BUILD_ID 2, keeps both in Packages and replaces the installed instance', async () => {
    const root = await makeRoot({ packages: [WHICH] });
    expect((await runFake(root, [...EMERGE, `=${WHICH}`])).code).toBe(0);
    const second = await runFake(root, [...EMERGE, `=${WHICH}`]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('>>> Safely unmerging already-installed instance...');
    expect(await gpkgFiles(root)).toEqual(['sys-apps/which/which-2.20-r1-1.gpkg.tar', 'sys-apps/which/which-2.20-r1-2.gpkg.tar']);
    const index = await readIndex(join(root, 'var/cache/binpkgs'));
    expect(index.packages.map((entry) => [entry.fields.CPV, entry.fields.BUILD_ID])).toEqual([
      [WHICH, '1'],
      [WHICH, '2'],
    ]);
    expect((await readVdb(root, WHICH))?.buildId).toBe(2);
    expect(await readFile(join(root, 'var/log/emerge.log'), 'utf8')).toContain(` === Unmerging... (${WHICH})\n`);
  });

  it('binds := slot operators to the installed slot, building the missing dependency from source first', async () => {
    const root = await makeRoot({ packages: [FILE_TEMP, PERL] });
    const result = await runFake(root, [...EMERGE, `=${FILE_TEMP}`]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`>>> Emerging (1 of 2) ${PERL}::gentoo`);
    expect(result.stdout).toContain(`>>> Emerging (2 of 2) ${FILE_TEMP}::gentoo`);
    expect((await readJsonl(root)).map((record) => [record.cpv, record.kind])).toEqual([
      [PERL, 'source'],
      [FILE_TEMP, 'source'],
    ]);
    const gpkg = await readGpkg(await readFile(join(root, 'var/cache/binpkgs/perl-core/File-Temp/File-Temp-0.230.400-1.gpkg.tar')));
    expect(gpkg.metadata.get('DEPEND')).toBe('dev-lang/perl:0/5.18=[-build(-)]\n');
  });
});

describe('fake emerge --buildpkg: the installed-package database', () => {
  /** A file no one can read: a symlink to itself, whose every open fails with ELOOP. */
  const unreadable = (path: string): Promise<void> => rm(path, { force: true }).then(() => symlink(path, path));

  it('reads only what Portage reads: the entries of the CATEGORY/PNs it resolves (no CONTENTS) and every COUNTER', async () => {
    const root = await makeRoot({ packages: [FILE_TEMP, PERL] });
    expect((await runFake(root, [...EMERGE, `=${PERL}`])).code).toBe(0);
    const vdb = join(root, 'var/db/pkg');
    // Portage resolves the installed perl from its SLOT, USE, ... and opens CONTENTS only to unmerge it.
    await unreadable(join(vdb, PERL, 'CONTENTS'));
    // A package nothing depends on: only its COUNTER is read (get_counter_tick_core), nothing else of it.
    const other = join(vdb, 'app-misc/unrelated-1');
    await mkdir(other, { recursive: true });
    for (const name of ['CONTENTS', 'SLOT', 'USE', 'IUSE', 'EAPI', 'BUILD_ID', 'repository', 'environment.bz2']) await unreadable(join(other, name));
    await writeFile(join(other, 'COUNTER'), '900');

    const result = await runFake(root, [...EMERGE, `=${FILE_TEMP}`]);
    expect(result.stderr).toBe(NO_BINHOST_WARNING);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`>>> Emerging (1 of 1) ${FILE_TEMP}::gentoo`);
    const installed = await readVdb(root, FILE_TEMP);
    expect(installed?.depend).toBe('dev-lang/perl:0/5.18=[-build(-)]');
    expect(installed?.counter).toBe(901);
    expect(await readFile(join(root, 'var/cache/edb/counter'), 'utf8')).toBe('901');
  });
});

describe('fake emerge --buildpkg: roots', () => {
  it('takes PKGDIR from the environment as a host path, as Portage does (build drones pass their own)', async () => {
    const root = await makeRoot({ packages: [WHICH] });
    const pkgdir = await mkdtemp(join(tmpdir(), 'argo-fake-emerge-pkgdir-'));
    scratch.push(pkgdir);
    const result = await runFake(root, ['--oneshot', '--buildpkg', '--usepkg', '--getbinpkg', '--usepkg-exclude', 'sys-apps/which', `=${WHICH}`], { PKGDIR: pkgdir });
    expect(result.code, result.stderr).toBe(0);
    expect((await listFiles(pkgdir)).filter((name) => name.endsWith('.gpkg.tar'))).toEqual(['sys-apps/which/which-2.20-r1-1.gpkg.tar']);
    expect(await gpkgFiles(root)).toEqual([]);
  });

  it('takes ROOT from PORTAGE_CONFIGROOT when unset; a separate ROOT gets the VDB and logs, the config root PKGDIR', async () => {
    const configRoot = await makeRoot({ packages: [WHICH], makeConf: 'PKGDIR="/srv/binpkgs"\n' });
    expect((await runFake(configRoot, ['-1bkg', `=${WHICH}`], { ROOT: undefined })).code).toBe(0);
    expect(await readVdb(configRoot, WHICH)).toMatchObject({ buildId: 1 });
    expect(await gpkgFiles(configRoot)).toEqual([]);
    expect((await listFiles(join(configRoot, 'srv/binpkgs'))).filter((name) => name.endsWith('.gpkg.tar'))).toEqual(['sys-apps/which/which-2.20-r1-1.gpkg.tar']);

    const root = await mkdtemp(join(tmpdir(), 'argo-fake-emerge-root-'));
    scratch.push(root);
    const result = await runFake(configRoot, ['-1bkg', `=${WHICH}`], { ROOT: root });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`>>> Emerging (1 of 1) ${WHICH}::gentoo for ${root}/`);
    expect(await readVdb(root, WHICH)).toMatchObject({ buildId: 2 });
    expect(parseEmergeLog(await readFile(join(root, 'var/log/emerge.log'), 'utf8')).builds).toEqual([expect.objectContaining({ cpv: WHICH, root: `${root}/` })]);
    expect(await listFiles(root)).not.toContain('srv/');
  });
});

/** Debian's own node, when it is older than the Node 24 the fake needs. */
const OLD_NODE = (() => {
  const version = spawnSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  const major = Number(/^v(\d+)\./.exec(version)?.[1] ?? Number.NaN);
  return major < 24 ? '/usr/bin/node' : undefined;
})();

describe('fake emerge --buildpkg: launcher', () => {
  it('runs under an older node first on PATH by running itself again with Node 24', async () => {
    // Debian 12's own nodejs (18) is that older node; scripts/setup.sh installs it with npm.
    expect(OLD_NODE, '/usr/bin/node older than 24 (Debian nodejs)').toBeDefined();
    const root = await makeRoot({ packages: [WHICH] });
    const run = startFake(root, ['-1bkg', `=${WHICH}`], { PATH: `${FAKE_BIN}:/usr/bin:/bin` });
    const result = await run.done;
    expect(result.code).toBe(0);
    expect(await gpkgFiles(root)).toEqual(['sys-apps/which/which-2.20-r1-1.gpkg.tar']);

    const slow = await makeRoot({ packages: [WHICH], fake: ['DEFAULT_SECONDS=600', 'TIME_SCALE=0.5'] });
    const interrupted = startFake(slow, ['-1bkg', `=${WHICH}`], { PATH: `${FAKE_BIN}:/usr/bin:/bin` });
    await interrupted.printed(/>>> Compiling source in /);
    interrupted.child.kill('SIGTERM');
    expect((await interrupted.done).code).toBe(143);
    expect(await leftovers(slow)).toEqual([]);
  });
});

describe('fake emerge --buildpkg: dependencies', () => {
  it('merges a dependency the binhost has as a binary, builds one it lacks from source first, and later merges neither again', async () => {
    const drone = await makeRoot({ packages: [LIBINTL] });
    expect((await runFake(drone, [...EMERGE, `=${LIBINTL}`])).code).toBe(0);
    const binhost = join(drone, 'var/cache/binpkgs');
    const published = (await readIndex(binhost)).packages[0]?.fields;

    const root = await makeRoot({
      packages: [SED, LIBINTL, GETTEXT],
      makeConf: `USE="nls"\nCHOST="x86_64-pc-linux-gnu"\nPORTAGE_BINHOST="file://${binhost}"\n`,
    });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`>>> Emerging binary (1 of 3) ${LIBINTL}::gentoo for ${root}/`);
    expect(result.stdout).toContain(`>>> Emerging (2 of 3) ${GETTEXT}::gentoo for ${root}/`);
    expect(result.stdout).toContain(`>>> Emerging (3 of 3) ${SED}::gentoo for ${root}/`);

    const records = await readJsonl(root);
    expect(records.map((record) => [record.cpv, record.kind])).toEqual([
      [LIBINTL, 'binary'],
      [GETTEXT, 'source'],
      [SED, 'source'],
    ]);
    expect(records[0]).toMatchObject({ buildId: 1, binhostBuildTime: Number(published?.BUILD_TIME) });

    const log = parseEmergeLog(await readFile(join(root, 'var/log/emerge.log'), 'utf8'));
    expect(log.builds.map((build) => [build.cpv, build.binary])).toEqual([
      [LIBINTL, true],
      [GETTEXT, false],
      [SED, false],
    ]);
    // The fetched binary is kept in PKGDIR and listed there, as BinpkgFetcher and bintree.inject do.
    const local = await readIndex(join(root, 'var/cache/binpkgs'));
    expect(local.packages.map((entry) => [entry.fields.CPV, entry.fields.BUILD_ID, entry.fields.MD5])).toEqual([
      [SED, '1', expect.any(String)],
      [GETTEXT, '1', expect.any(String)],
      [LIBINTL, '1', published?.MD5],
    ]);
    expect(await readVdb(root, LIBINTL)).toMatchObject({ buildId: 1, buildTime: Number(published?.BUILD_TIME) });

    const again = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`>>> Emerging (1 of 1) ${SED}::gentoo`);
    expect(again.stdout).not.toContain('Emerging binary');
  });

  it('passes over a binary built with other USE flags (--binpkg-respect-use) and builds it from source', async () => {
    const drone = await makeRoot({ packages: [GETTEXT], makeConf: 'USE="-cxx"\n' });
    expect((await runFake(drone, [...EMERGE, `=${GETTEXT}`])).code).toBe(0);
    const root = await makeRoot({
      packages: [SED, GETTEXT],
      makeConf: `USE="nls"\nPORTAGE_BINHOST="${join(drone, 'var/cache/binpkgs')}"\n`,
    });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(0);
    expect((await readJsonl(root)).map((record) => [record.cpv, record.kind])).toEqual([
      [GETTEXT, 'source'],
      [SED, 'source'],
    ]);
  });

  it('refuses a binary whose size does not match the index, as BinpkgVerifier does', async () => {
    const drone = await makeRoot({ packages: [LIBINTL] });
    expect((await runFake(drone, [...EMERGE, `=${LIBINTL}`])).code).toBe(0);
    const binhost = join(drone, 'var/cache/binpkgs');
    await writeFile(join(binhost, 'virtual/libintl/libintl-0-r1-1.gpkg.tar'), 'truncated');
    await rm(join(binhost, 'Packages.gz'));
    const root = await makeRoot({ packages: [SED, LIBINTL], makeConf: `USE="nls"\nPORTAGE_BINHOST="file://${binhost}"\n` });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(1);
    // BinpkgVerifier checks the copy fetched into PKGDIR under its .partial name, and says so on stdout.
    const partial = join(root, 'var/cache/binpkgs/virtual/libintl/libintl-0-r1-1.gpkg.tar.partial');
    expect(result.stdout).toContain(`\n!!! Digest verification failed:\n!!! ${partial}\n!!! Reason: Failed on size verification\n!!! Got: 9\n`);
    expect(result.stdout).toContain(`>>> Failed to emerge ${LIBINTL} for ${root}/`);
    expect(result.stderr).toBe('');
    expect(await pkgdirFiles(root)).toEqual([]);
    expect(await leftovers(root)).toEqual([]);
  });

  it('carries on when PORTAGE_BINHOST names a folder that does not exist yet', async () => {
    const missing = join(tmpdir(), 'argo-no-such-binhost');
    const root = await makeRoot({ packages: [WHICH], makeConf: `PORTAGE_BINHOST="file://${missing}/"\n` });
    const result = await runFake(root, [...EMERGE, `=${WHICH}`]);
    expect(result.code).toBe(0);
    // The binrepo's name is the MD5 of the URI without its trailing slash (binrepos.conf's implicit name).
    const name = binrepoName(`file://${missing}`);
    expect(result.stderr).toBe(
      `\n\n!!! [${name}] Error fetching binhost package info from 'file://${missing}'\n!!! [${name}] [Errno 2] No such file or directory: '${missing}/Packages'\n\n`,
    );
  });
});

/** A request the test binhost server answered. */
interface ServedRequest {
  readonly path: string;
  readonly status: number;
  readonly authorization?: string;
  readonly userAgent?: string;
}

interface BinhostServer {
  /** `127.0.0.1:PORT`. */
  readonly hostPort: string;
  readonly requests: ServedRequest[];
}

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(async (server) => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
});

const basicAuth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/**
 * A real HTTP server, as the swarm gateway serves a profile's staging binhost: the files of `dir` under
 * `/staging/desktop/`. With `auth`, every request needs its Basic credentials and is otherwise answered 401 with
 * `challenge` (a Basic one with a realm unless told).
 */
async function serveBinhost(
  dir: string,
  auth?: { readonly user: string; readonly password: string; readonly challenge?: string | readonly string[] },
  /** A file whose answer stops halfway and never ends. */
  stall?: string,
): Promise<BinhostServer> {
  const requests: ServedRequest[] = [];
  const server = createServer((request, response) => {
    const reply = (status: number, headers: Record<string, string>, body: Uint8Array | string): void => {
      requests.push({
        path: request.url ?? '',
        status,
        ...(request.headers.authorization === undefined ? {} : { authorization: request.headers.authorization }),
        ...(request.headers['user-agent'] === undefined ? {} : { userAgent: request.headers['user-agent'] }),
      });
      response.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) }).end(body);
    };
    if (auth !== undefined && request.headers.authorization !== basicAuth(auth.user, auth.password)) {
      const body = '{"error":{"code":"ARGO_SWARM_UNAUTHORIZED"}}';
      requests.push({ path: request.url ?? '', status: 401, ...(request.headers.authorization === undefined ? {} : { authorization: request.headers.authorization }) });
      const challenge = auth.challenge ?? 'Basic realm="argo"';
      response.writeHead(401, { 'www-authenticate': typeof challenge === 'string' ? challenge : [...challenge], 'content-type': 'application/json', 'content-length': String(body.length) }).end(body);
      return;
    }
    const prefix = '/staging/desktop/';
    const path = new URL(request.url ?? '/', 'http://binhost').pathname;
    const relative = path.startsWith(prefix) ? decodeURIComponent(path.slice(prefix.length)) : '';
    if (relative === '' || relative.split('/').some((part) => part === '..' || part === '')) {
      reply(404, {}, 'not here');
      return;
    }
    if (relative === stall) {
      void readFile(join(dir, relative)).then((body) => {
        requests.push({ path, status: 200 });
        response.writeHead(200, { 'content-length': String(body.byteLength) });
        response.write(body.subarray(0, body.byteLength >> 1));
      });
      return;
    }
    readFile(join(dir, relative)).then(
      (body) => reply(200, { 'content-type': 'application/octet-stream' }, body),
      () => reply(404, {}, 'not here'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { hostPort: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** A port nothing listens on: one a server just gave back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A drone's PKGDIR after it built virtual/libintl: a binhost written by the fake itself. */
async function publishLibintl(): Promise<{ dir: string; fields: Readonly<Record<string, string>>; bytes: Buffer }> {
  const drone = await makeRoot({ packages: [LIBINTL] });
  expect((await runFake(drone, [...EMERGE, `=${LIBINTL}`])).code).toBe(0);
  const dir = join(drone, 'var/cache/binpkgs');
  const fields = (await readIndex(dir)).packages[0]?.fields as Readonly<Record<string, string>>;
  return { dir, fields, bytes: await readFile(join(dir, fields.PATH as string)) };
}

const LIBINTL_PATH = 'virtual/libintl/libintl-0-r1-1.gpkg.tar';
const TOKEN = 's3cret-TOKEN-4f9a';

/** The token must appear nowhere but in make.conf: not in stdout, stderr, nor any file the run wrote under ROOT. */
async function expectNoToken(result: FakeResult, root: string): Promise<void> {
  expect(result.stdout).not.toContain(TOKEN);
  expect(result.stderr).not.toContain(TOKEN);
  for (const name of await listFiles(root)) {
    if (name.endsWith('/') || name === 'etc/portage/make.conf') continue;
    expect(await readFile(join(root, name), 'latin1'), name).not.toContain(TOKEN);
  }
}

describe('fake emerge --buildpkg: http(s) binhosts', () => {
  it('merges a dependency from an http binhost as a binary: Packages.gz, then the package with wget into PKGDIR', async () => {
    const published = await publishLibintl();
    const server = await serveBinhost(published.dir);
    const binhost = `http://${server.hostPort}/staging/desktop/`;
    const root = await makeRoot({ packages: [SED, LIBINTL], makeConf: `USE="nls"\nCHOST="x86_64-pc-linux-gnu"\nPORTAGE_BINHOST="${binhost}"\n` });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`>>> Emerging binary (1 of 2) ${LIBINTL}::gentoo for ${root}/`);

    // bintree reads Packages.gz through urllib, BinpkgFetcher runs wget for the package.
    expect(server.requests).toEqual([
      { path: '/staging/desktop/Packages.gz', status: 200, userAgent: 'Gentoo Portage' },
      { path: `/staging/desktop/${LIBINTL_PATH}`, status: 200, userAgent: 'Portage (Gentoo, https://www.gentoo.org) distfile-fetch' },
    ]);
    const pkgdir = join(root, 'var/cache/binpkgs');
    const partial = join(pkgdir, `${LIBINTL_PATH}.partial`);
    expect(result.stdout).toMatch(
      new RegExp(
        [
          `--\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d--  http://${server.hostPort}/staging/desktop/${LIBINTL_PATH}`,
          `Connecting to ${server.hostPort}\\.\\.\\. connected\\.`,
          'HTTP request sent, awaiting response\\.\\.\\. 200 OK',
          `Length: ${published.bytes.byteLength} \\(\\d+K\\) \\[application/octet-stream\\]`,
          `Saving to: '${partial}'`,
          '',
          `\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\([\\d.]+ [KMG]?B/s\\) - '${partial}' saved \\[${published.bytes.byteLength}/${published.bytes.byteLength}\\]`,
        ].join('\n'),
      ),
    );
    // BinpkgVerifier's success line: EOutput's ebegin/eend at 80 columns, `[ ok ]` ending in column 79.
    expect(result.stdout).toContain(`\n * libintl-0-r1-1.gpkg.tar MD5 SHA1 size ;-) ...${' '.repeat(25)}[ ok ]\n`);

    // Downloaded into PKGDIR under its PATH, with the index's MTIME, and listed in PKGDIR's Packages.
    const local = await readFile(join(pkgdir, LIBINTL_PATH));
    expect(local.equals(published.bytes)).toBe(true);
    expect(Math.floor((await stat(join(pkgdir, LIBINTL_PATH))).mtimeMs / 1000)).toBe(Number(published.fields.MTIME));
    const index = await readIndex(pkgdir);
    expect(index.packages.find((entry) => entry.fields.CPV === LIBINTL)?.fields).toMatchObject({
      PATH: LIBINTL_PATH,
      BUILD_ID: '1',
      SIZE: published.fields.SIZE,
      MD5: published.fields.MD5,
      SHA1: published.fields.SHA1,
      MTIME: published.fields.MTIME,
    });
    expect(await readVdb(root, LIBINTL)).toMatchObject({ buildId: 1, binpkgMd5: published.fields.MD5, buildTime: Number(published.fields.BUILD_TIME) });
    expect((await readJsonl(root)).map((record) => [record.cpv, record.kind])).toEqual([
      [LIBINTL, 'binary'],
      [SED, 'source'],
    ]);
    const logText = await readFile(join(root, 'var/log/emerge.log'), 'utf8');
    expect(logText).toContain(` --- (1 of 2) Fetching Binary (${LIBINTL}::${partial})\n`);
    expect(logText).toContain(` === (1 of 2) Merging Binary (${LIBINTL}::${join(pkgdir, LIBINTL_PATH)})\n`);
    expect(await leftovers(root)).toEqual([]);
  });

  it('sends the URL\'s credentials as Basic auth once the server asks, and never shows the password', async () => {
    const published = await publishLibintl();
    // No Packages.gz: urllib's 404 on it sends bintree on to Packages.
    await rm(join(published.dir, 'Packages.gz'));
    const server = await serveBinhost(published.dir, { user: 'drone', password: TOKEN });
    const root = await makeRoot({
      packages: [SED, LIBINTL],
      makeConf: `USE="nls"\nPORTAGE_BINHOST="http://drone:${TOKEN}@${server.hostPort}/staging/desktop"\n`,
    });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect((await readJsonl(root)).map((record) => [record.cpv, record.kind])).toEqual([
      [LIBINTL, 'binary'],
      [SED, 'source'],
    ]);
    expect((await readFile(join(root, 'var/cache/binpkgs', LIBINTL_PATH))).equals(published.bytes)).toBe(true);

    // Both clients ask without credentials first and answer the Basic challenge (urllib needs its realm).
    const auth = basicAuth('drone', TOKEN);
    expect(server.requests.map((request) => [request.path, request.status, request.authorization])).toEqual([
      ['/staging/desktop/Packages.gz', 401, undefined],
      ['/staging/desktop/Packages.gz', 404, auth],
      ['/staging/desktop/Packages', 401, undefined],
      ['/staging/desktop/Packages', 200, auth],
      [`/staging/desktop/${LIBINTL_PATH}`, 401, undefined],
      [`/staging/desktop/${LIBINTL_PATH}`, 200, auth],
    ]);
    // wget shows the URL with the password hidden, as Portage's _hide_url_passwd does.
    expect(result.stdout).toContain(`--  http://drone:*password*@${server.hostPort}/staging/desktop/${LIBINTL_PATH}\n`);
    expect(result.stdout).toContain(
      'HTTP request sent, awaiting response... 401 Unauthorized\nAuthentication selected: Basic realm="argo"\n' +
        `Reusing existing connection to ${server.hostPort}.\nHTTP request sent, awaiting response... 200 OK\n`,
    );
    await expectNoToken(result, root);
  });

  it('reports a binhost that refuses the credentials (401) and builds the dependency from source', async () => {
    const published = await publishLibintl();
    const server = await serveBinhost(published.dir, { user: 'drone', password: 'another-token' });
    const binhost = `http://drone:${TOKEN}@${server.hostPort}/staging/desktop/`;
    const root = await makeRoot({ packages: [SED, LIBINTL], makeConf: `USE="nls"\nPORTAGE_BINHOST="${binhost}"\n` });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(0);
    const name = binrepoName(binhost);
    expect(result.stderr).toBe(
      `\n\n!!! [${name}] Error fetching binhost package info from 'http://drone:*password*@${server.hostPort}/staging/desktop'\n` +
        `!!! [${name}] HTTP Error 401: Unauthorized\n\n`,
    );
    // The same credentials are not offered twice; a 401 on Packages.gz is not a 404, so Packages is not tried.
    expect(server.requests.map((request) => [request.path, request.status])).toEqual([
      ['/staging/desktop/Packages.gz', 401],
      ['/staging/desktop/Packages.gz', 401],
    ]);
    expect((await readJsonl(root)).map((record) => [record.cpv, record.kind])).toEqual([
      [LIBINTL, 'source'],
      [SED, 'source'],
    ]);
    expect(await gpkgFiles(root)).toEqual(['sys-apps/sed/sed-4.2.1-r1-1.gpkg.tar', LIBINTL_PATH]);
    await expectNoToken(result, root);
  });

  it('reports an unreachable binhost and builds the dependency from source', async () => {
    const port = await closedPort();
    const binhost = `http://drone:${TOKEN}@127.0.0.1:${port}/staging/desktop`;
    const root = await makeRoot({ packages: [SED, LIBINTL], makeConf: `USE="nls"\nPORTAGE_BINHOST="${binhost}"\n` });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(0);
    const name = binrepoName(binhost);
    expect(result.stderr).toBe(
      `\n\n!!! [${name}] Error fetching binhost package info from 'http://drone:*password*@127.0.0.1:${port}/staging/desktop'\n` +
        `!!! [${name}] <urlopen error [Errno 111] Connection refused>\n\n`,
    );
    expect((await readJsonl(root)).map((record) => [record.cpv, record.kind])).toEqual([
      [LIBINTL, 'source'],
      [SED, 'source'],
    ]);
    await expectNoToken(result, root);
  });

  it.each([
    ['a Bearer and a Basic challenge', 'binary', ['Bearer realm="argo"', 'Basic realm="argo"']],
    ['a Basic challenge without a realm, which urllib does not answer', 'source', 'Basic'],
  ] as const)('with %s, the dependency is a %s merge', async (_what, kind, challenge) => {
    const published = await publishLibintl();
    const server = await serveBinhost(published.dir, { user: 'drone', password: TOKEN, challenge });
    const binhost = `http://drone:${TOKEN}@${server.hostPort}/staging/desktop`;
    const root = await makeRoot({ packages: [SED, LIBINTL], makeConf: `USE="nls"\nPORTAGE_BINHOST="${binhost}"\n` });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(0);
    expect(result.stderr).toEqual(kind === 'binary' ? '' : expect.stringContaining(`!!! [${binrepoName(binhost)}] HTTP Error 401: Unauthorized\n`));
    expect((await readJsonl(root)).map((record) => [record.cpv, record.kind])).toEqual([
      [LIBINTL, kind],
      [SED, 'source'],
    ]);
    await expectNoToken(result, root);
  });

  it('stops as Portage does when the 401 offers only a Bearer challenge (urllib\'s ValueError)', async () => {
    const published = await publishLibintl();
    const server = await serveBinhost(published.dir, { user: 'drone', password: TOKEN, challenge: 'Bearer realm="argo"' });
    const root = await makeRoot({
      packages: [SED, LIBINTL],
      makeConf: `USE="nls"\nPORTAGE_BINHOST="http://drone:${TOKEN}@${server.hostPort}/staging/desktop"\n`,
    });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `\n\n!!!Invalid Portage BINHOST value 'http://drone:*password*@${server.hostPort}/staging/desktop/Packages.gz'.\nSee make.conf(5) for more info.\n`,
    );
    expect(server.requests.map((request) => [request.path, request.status, request.authorization])).toEqual([['/staging/desktop/Packages.gz', 401, undefined]]);
    // run_action gives up before it logs `Started emerge on`.
    expect(await listFiles(root)).not.toContain('var/log/');
    await expectNoToken(result, root);
  });

  it.each([
    ['size', (bytes: Buffer): Buffer => bytes.subarray(0, 1000)],
    ['MD5', (bytes: Buffer): Buffer => Buffer.from(bytes.map((byte, offset) => (offset === bytes.byteLength - 1 ? byte ^ 0xff : byte)))],
  ] as const)('refuses a download whose %s differs from the index with BinpkgVerifier\'s message, leaving nothing in PKGDIR', async (digest, corrupt) => {
    const published = await publishLibintl();
    const corrupted = corrupt(published.bytes);
    await writeFile(join(published.dir, LIBINTL_PATH), corrupted);
    const server = await serveBinhost(published.dir, { user: 'drone', password: TOKEN });
    const root = await makeRoot({
      packages: [SED, LIBINTL],
      makeConf: `USE="nls"\nPORTAGE_BINHOST="http://drone:${TOKEN}@${server.hostPort}/staging/desktop"\n`,
    });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(1);
    const partial = join(root, 'var/cache/binpkgs', `${LIBINTL_PATH}.partial`);
    const [got, expected] =
      digest === 'size' ? [String(corrupted.byteLength), published.fields.SIZE] : [createHash('md5').update(corrupted).digest('hex'), published.fields.MD5];
    expect(result.stdout).toContain(
      `\n\n!!! Digest verification failed:\n!!! ${partial}\n!!! Reason: Failed on ${digest} verification\n!!! Got: ${got}\n!!! Expected: ${expected}\n`,
    );
    expect(result.stdout).toContain(`>>> Failed to emerge ${LIBINTL} for ${root}/`);
    expect(result.stdout).not.toContain(`Emerging (2 of 2) ${SED}`);
    expect(result.stderr).toBe('');
    expect(await pkgdirFiles(root)).toEqual([]);
    expect(await readdir(join(root, 'var/db/pkg')).catch(() => [])).toEqual([]);
    expect(await readFile(join(root, 'var/log/emerge.log'), 'utf8')).toContain(" *** exiting unsuccessfully with status '1'.\n");
    expect(await leftovers(root)).toEqual([]);
    await expectNoToken(result, root);
  });

  it('SIGTERM mid-download removes the .partial file and the fetch lock', async () => {
    const published = await publishLibintl();
    const server = await serveBinhost(published.dir, undefined, LIBINTL_PATH);
    const root = await makeRoot({ packages: [SED, LIBINTL], makeConf: `USE="nls"\nPORTAGE_BINHOST="http://${server.hostPort}/staging/desktop"\n` });
    const run = startFake(root, [...EMERGE, `=${SED}`]);
    await run.printed(/Saving to: '[^']+\.partial'\n/);
    expect(await listFiles(join(root, 'var/cache/binpkgs/virtual/libintl'))).toEqual(['.libintl-0-r1-1.gpkg.tar.partial.argo-fake-emerge.lock', 'libintl-0-r1-1.gpkg.tar.partial']);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(143);
    expect(await pkgdirFiles(root)).toEqual([]);
    expect(await leftovers(root)).toEqual([]);
  });

  it('fails the merge with wget\'s error when the index lists a package the binhost does not have', async () => {
    const published = await publishLibintl();
    await rm(join(published.dir, LIBINTL_PATH));
    const server = await serveBinhost(published.dir);
    const root = await makeRoot({ packages: [SED, LIBINTL], makeConf: `USE="nls"\nPORTAGE_BINHOST="http://${server.hostPort}/staging/desktop"\n` });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/HTTP request sent, awaiting response\.\.\. 404 Not Found\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR 404: Not Found\.\n/);
    expect(result.stdout).toContain(`>>> Failed to emerge ${LIBINTL} for ${root}/`);
    expect(await pkgdirFiles(root)).toEqual([]);
    expect(await leftovers(root)).toEqual([]);
  });
});

describe('fake emerge --buildpkg: failures and knobs', () => {
  it('FAIL_CPVS: prints the compile lines and the die block, writes no GPKG and exits 1', async () => {
    const root = await makeRoot({ packages: [SED], fake: [`FAIL_CPVS=${SED}`] });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('x86_64-pc-linux-gnu-gcc -O2 -pipe -c -o sed-part1.o sed-part1.c');
    expect(result.stderr).toContain(` * ERROR: ${SED}::gentoo failed (compile phase):\n *   emake failed\n`);
    expect(result.stderr).toContain(` * The complete build log is located at '/var/tmp/portage/${SED}/temp/build.log'.\n`);
    expect(result.stdout).toContain(`>>> Failed to emerge ${SED} for ${root}/, Log file:`);
    expect(parseEmergeProgressLine(result.stderr.split('\n').find((line) => line.includes('ERROR:')) ?? '')).toEqual({
      kind: 'phase-failed',
      cpv: SED,
      repo: 'gentoo',
      phase: 'compile',
    });
    expect(await gpkgFiles(root)).toEqual([]);
    const logText = await readFile(join(root, 'var/log/emerge.log'), 'utf8');
    expect(logText).toContain(" *** exiting unsuccessfully with status '1'.\n");
    expect(parseEmergeLog(logText).unfinished.map((attempt) => attempt.cpv)).toEqual([SED]);
    // Portage keeps the failed build's log for the user; the fake keeps it under the config root.
    expect(await readFile(join(root, `var/tmp/portage/${SED}/temp/build.log`), 'utf8')).toContain('emake failed');
  });

  it('FAIL=always fails the first source build, a dependency included', async () => {
    const root = await makeRoot({ packages: [SED, GETTEXT], fake: ['FAIL=always'] });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(` * ERROR: ${GETTEXT}::gentoo failed (compile phase):`);
    expect(result.stdout).not.toContain(`Emerging (2 of 2)`);
  });

  it('NO_BINARY_CPVS: the build succeeds and installs, but no GPKG and no Packages entry appear', async () => {
    const root = await makeRoot({ packages: [SED], fake: [`NO_BINARY_CPVS=${SED}`] });
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('>>> Creating binpkg');
    expect(await gpkgFiles(root)).toEqual([]);
    const installed = await readVdb(root, SED);
    expect(installed?.buildId).toBeUndefined();
    expect(await readFile(join(root, 'var/log/emerge.log'), 'utf8')).toContain(`Compiling/Merging (${SED}::`);
  });

  it('sleeps TIME_SCALE x the median real duration and prints a line at least every 0.5 s', async () => {
    const seconds = medianBuildSeconds(await readFile(REAL_EMERGE_LOG, 'utf8')).get('dev-lang/perl') as number;
    expect(seconds).toBeGreaterThan(100);
    const root = await makeRoot({ packages: [PERL], fake: [`TIME_SCALE=${(1.5 / seconds).toFixed(6)}`] });
    const run = startFake(root, [...EMERGE, `=${PERL}`]);
    const arrivals: number[] = [];
    run.child.stdout?.on('data', () => arrivals.push(performance.now()));
    await run.printed(/Compiling source in/);
    const compileStart = performance.now();
    await run.printed(/Source compiled\./);
    const compileEnd = performance.now();
    expect((await run.done).code).toBe(0);
    expect(compileEnd - compileStart).toBeGreaterThan(1_300);
    const during = arrivals.filter((time) => time >= compileStart && time <= compileEnd);
    const gaps = during.slice(1).map((time, index) => time - (during[index] as number));
    expect(Math.max(...gaps)).toBeLessThan(500);
  });

  it('HANG_CPVS: prints a compile line and then nothing until SIGTERM, which ends it promptly', async () => {
    const root = await makeRoot({ packages: [SED], fake: [`HANG_CPVS=${SED}`] });
    const run = startFake(root, [...EMERGE, `=${SED}`]);
    await run.printed(/-c -o sed-part1\.o sed-part1\.c\n/);
    const printedSoFar = run.output();
    // Silence is what is being tested, so this one waits a fixed time on purpose.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(run.output()).toBe(printedSoFar);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(143);
    expect(result.stderr).toContain('Exiting on signal 15');
    expect(await leftovers(root)).toEqual([]);
  });

  it('refuses a bad knob value with a message naming it, before touching anything', async () => {
    const root = await makeRoot({ packages: [SED], fake: ['TIME_SCALE=fast'] });
    const before = await listFiles(root);
    const result = await runFake(root, [...EMERGE, `=${SED}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('argo-fake-emerge.conf, line 2: TIME_SCALE must be a non-negative number, got "fast"');
    expect(await listFiles(root)).toEqual(before);
  });
});

describe('fake emerge --buildpkg: command line and atoms', () => {
  it('exits 2 with argparse usage and error on an unknown option', async () => {
    const root = await makeRoot({ packages: [SED] });
    const result = await runFake(root, ['--oneshot', '--foo', `=${SED}`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^usage: emerge /);
    expect(result.stderr).toMatch(/\nemerge: error: unrecognized arguments: --foo\n$/);
    expect(await listFiles(join(root, 'var'))).not.toContain('log/');
  });

  it.each([
    [['--color', 'x', '=a/b-1'], "argument --color: invalid choice: 'x' (choose from 'y', 'n')"],
    [['--oneshot=y', '=a/b-1'], "argument --oneshot/-1: ignored explicit argument 'y'"],
    [['--oneshot'], 'this fake emerge takes exactly one =CATEGORY/PF atom, got 0'],
    [['-1', '=a/b-1', '=a/c-1'], 'this fake emerge takes exactly one =CATEGORY/PF atom, got 2'],
    [['--pretend', '=a/b-1'], 'unrecognized arguments: --pretend'],
  ])('argparse error for %j: %s', (argv, message) => {
    expect(parseEmergeArgs(argv)).toEqual({ ok: false, message });
  });

  it.each([
    [['-1bkg', '=a/b-1'], ['-b', 'True', '-g', 'True', '-k', 'True', '-1', '=a/b-1']],
    [['--buildpkg', 'y', '--usepkg', '=a/b-1'], ['--buildpkg', 'y', '--usepkg', 'True', '=a/b-1']],
    [['-v', 'n', '--quiet-build'], ['-v', 'n', '--quiet-build', 'True']],
  ])('insert_optional_args(%j) is %j', (argv, expected) => {
    expect(insertOptionalArgs(argv)).toEqual(expected);
  });

  it('reads the drone command line, clustered short options and --opt=value forms alike', () => {
    for (const argv of [
      ['--oneshot', '--buildpkg', '--usepkg', '--getbinpkg', '=a/b-1'],
      ['-1bkg', '=a/b-1'],
      ['--ones', '--buildpkg=y', '-k', '-g', '--nospinner', '--color', 'n', '--quiet-build', '-v', '=a/b-1'],
    ]) {
      const parsed = parseEmergeArgs(argv);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) continue;
      const settled = settleOptions(parsed.args, new Set());
      expect(settled).toMatchObject({ buildpkg: true, usepkg: true, getbinpkg: true });
      expect(parsed.args).toMatchObject({ atom: '=a/b-1', oneshot: true });
    }
    const usepkgOff = parseEmergeArgs(['--usepkg', 'n', '--buildpkg', 'n', '=a/b-1']);
    expect(usepkgOff.ok && settleOptions(usepkgOff.args, new Set(['buildpkg']))).toEqual({
      buildpkg: false,
      usepkg: false,
      getbinpkg: false,
      logWords: ['--buildpkg=n', '--usepkg=False'],
    });
  });

  it('refuses a hostile atom as Portage does and touches nothing', async () => {
    const root = await makeRoot({ packages: [SED] });
    const sentinel = join(root, 'pwned');
    const before = await listFiles(root);
    for (const atom of [`=dev-libs/foo-1;touch ${sentinel}`, `=dev-libs/foo-1;rm -rf /`, '$(touch /pwned)', `=${SED}\ntouch ${sentinel}`]) {
      const result = await runFake(root, [...EMERGE, atom]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`!!! '${atom}' is not a valid package atom.`);
    }
    expect(await listFiles(root)).toEqual(before);
  });

  it.each([['=dev-libs/foo-1'], [`${SED.replace(/-4.*/, '')}`], [`>=${SED}`], [`=${SED}:0`]])(
    'prints "there are no ebuilds to satisfy" for %s, exits 1 and touches nothing',
    async (atom) => {
      const root = await makeRoot({ packages: [SED] });
      const before = await listFiles(root);
      const result = await runFake(root, [...EMERGE, atom]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`\nemerge: there are no ebuilds to satisfy "${atom}".\n`);
      expect(await listFiles(root)).toEqual(before);
    },
  );
});

describe('fake emerge --buildpkg: concurrency and signals', () => {
  const slowBuild = ['DEFAULT_SECONDS=1', 'TIME_SCALE=1', 'DURATIONS_LOG=/dev/null'];

  it('two runs at once for different packages overlap, get their own files and both land in Packages', async () => {
    const root = await makeRoot({ packages: [WHICH, XZ], fake: slowBuild });
    const [a, b] = await Promise.all([runFake(root, [...EMERGE, `=${WHICH}`]), runFake(root, [...EMERGE, `=${XZ}`])]);
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, NO_BINHOST_WARNING, NO_BINHOST_WARNING]);
    expect(await gpkgFiles(root)).toEqual(['app-arch/xz-utils/xz-utils-5.0.6-1.gpkg.tar', 'sys-apps/which/which-2.20-r1-1.gpkg.tar']);
    const index = await readIndex(join(root, 'var/cache/binpkgs'));
    expect(index.header.PACKAGES).toBe('2');
    expect(index.packages.map((entry) => entry.fields.PATH)).toEqual(['app-arch/xz-utils/xz-utils-5.0.6-1.gpkg.tar', 'sys-apps/which/which-2.20-r1-1.gpkg.tar']);
    const [first, second] = await readJsonl(root);
    expect(Math.max(first?.start as number, second?.start as number)).toBeLessThan(Math.min(first?.end as number, second?.end as number));
    expect(parseEmergeLog(await readFile(join(root, 'var/log/emerge.log'), 'utf8')).builds).toHaveLength(2);
    expect((await readVdb(root, WHICH))?.counter).not.toBe((await readVdb(root, XZ))?.counter);
    expect(await leftovers(root)).toEqual([]);
  });

  it('two runs at once for the same package get distinct BUILD_IDs', async () => {
    const root = await makeRoot({ packages: [WHICH], fake: slowBuild });
    const results = await Promise.all([runFake(root, [...EMERGE, `=${WHICH}`]), runFake(root, [...EMERGE, `=${WHICH}`])]);
    expect(results.map((result) => result.code)).toEqual([0, 0]);
    const index = await readIndex(join(root, 'var/cache/binpkgs'));
    expect(index.packages.map((entry) => entry.fields.BUILD_ID)).toEqual(['1', '2']);
    expect(await gpkgFiles(root)).toEqual(['sys-apps/which/which-2.20-r1-1.gpkg.tar', 'sys-apps/which/which-2.20-r1-2.gpkg.tar']);
  });

  it.each([
    ['SIGTERM', 143, 15],
    ['SIGINT', 130, 2],
  ] as const)('%s mid-build exits %i promptly and leaves no temp file, lock or package', async (signal, code, number) => {
    const root = await makeRoot({ packages: [WHICH], fake: ['DEFAULT_SECONDS=600', 'TIME_SCALE=0.5', 'DURATIONS_LOG=/dev/null'] });
    const run = startFake(root, [...EMERGE, `=${WHICH}`]);
    await run.printed(/>>> Compiling source in /);
    const sent = performance.now();
    run.child.kill(signal);
    const result = await run.done;
    expect(performance.now() - sent).toBeLessThan(2_000);
    expect(result.code).toBe(code);
    expect(result.stderr).toContain(`Exiting on signal ${number}`);
    expect(await gpkgFiles(root)).toEqual([]);
    expect(await leftovers(root)).toEqual([]);
    expect(await readFile(join(root, 'var/log/emerge.log'), 'utf8')).toMatch(/ \*\*\* terminating\.\n$/);
  });

  it('breaks a lock left by a killed run instead of waiting for it', async () => {
    const root = await makeRoot({ packages: [WHICH] });
    const pkgdir = join(root, 'var/cache/binpkgs');
    await mkdir(pkgdir, { recursive: true });
    // A pid that cannot be running: above the kernel's pid_max.
    await writeFile(join(pkgdir, '.Packages.argo-fake-emerge.lock'), '4194304999\n');
    const result = await runFake(root, [...EMERGE, `=${WHICH}`]);
    expect(result.code).toBe(0);
    expect(await gpkgFiles(root)).toEqual(['sys-apps/which/which-2.20-r1-1.gpkg.tar']);
    expect(await leftovers(root)).toEqual([]);
  });
});

describe('fake emerge --buildpkg: pure parts', () => {
  it.each([
    ['http://drone:TOKEN@host:8080/staging/desktop', 'http://drone:*password*@host:8080/staging/desktop'],
    ['https://a:b@x/1 and ftp://c:d@y/2', 'https://a:*password*@x/1 and ftp://c:*password*@y/2'],
    ['http://drone@host/staging', 'http://drone@host/staging'],
    ['file:///var/cache/binpkgs', 'file:///var/cache/binpkgs'],
  ])('_hide_url_passwd(%s) is %s', (url, hidden) => {
    expect(hideUrlPassword(url)).toBe(hidden);
  });

  it.each([
    ['http://drone:TOK@127.0.0.1:8080/staging/desktop/Packages', { url: 'http://127.0.0.1:8080/staging/desktop/Packages', host: '127.0.0.1', port: 8080, user: 'drone', password: 'TOK' }],
    // urlsplit: userinfo ends at the last @, the password at nothing, and neither is percent-decoded.
    ['https://u:p@ss%40@gw/binhost/x', { url: 'https://gw/binhost/x', host: 'gw', port: 443, user: 'u', password: 'p@ss%40' }],
    ['http://drone@gw/x', { url: 'http://gw/x', host: 'gw', port: 80, user: 'drone' }],
    ['HTTP://gw:81/x', { url: 'http://gw:81/x', host: 'gw', port: 81 }],
    ['ftp://gw/x', undefined],
  ])('parseRemoteUrl(%s)', (uri, expected) => {
    expect(parseRemoteUrl(uri)).toEqual(expected);
  });

  it.each([
    ['Basic realm="argo"', ['Basic realm="argo"']],
    ['Bearer realm="argo", Basic realm="argo", charset="UTF-8"', ['Bearer realm="argo"', 'Basic realm="argo", charset="UTF-8"']],
    ['Basic', ['Basic']],
  ])('splits the WWW-Authenticate value %s into challenges', (value, challenges) => {
    expect(splitChallenges(value)).toEqual(challenges);
  });

  it.each([
    [[0x54, 0x49, 0x4d], "Not a gzipped file (b'TI')"],
    [[0x27, 0x78], 'Not a gzipped file (b"\'x")'],
    [[0x00, 0x01], "Not a gzipped file (b'\\x00\\x01')"],
    [[0x5c, 0x6e], "Not a gzipped file (b'\\\\n')"],
  ])('CPython gzip refuses %j as %s', (bytes, message) => {
    expect(notGzippedMessage(Uint8Array.from(bytes))).toBe(message);
  });

  it('verifies SIZE first, then MD5 and SHA1, and nothing without a SIZE', () => {
    const bytes = new TextEncoder().encode('a binary package');
    const md5 = createHash('md5').update(bytes).digest('hex');
    const sha1 = createHash('sha1').update(bytes).digest('hex');
    expect(verifyBinpkg({ SIZE: '16', MD5: md5, SHA1: sha1 }, bytes)).toEqual({ kind: 'verified', digests: ['size', 'MD5', 'SHA1'] });
    expect(verifyBinpkg({ SIZE: '17', MD5: 'x' }, bytes)).toEqual({ kind: 'failed', digest: 'size', got: '16', expected: '17' });
    expect(verifyBinpkg({ SIZE: '16', MD5: md5, SHA1: 'x' }, bytes)).toEqual({ kind: 'failed', digest: 'SHA1', got: sha1, expected: 'x' });
    expect(verifyBinpkg({ MD5: 'x' }, bytes)).toEqual({ kind: 'unchecked', malformedSize: false });
    expect(verifyBinpkg({ SIZE: 'big', MD5: 'x' }, bytes)).toEqual({ kind: 'unchecked', malformedSize: true });
    // Past 80 columns Python's "%*s" gets a negative width, which pads as much: |80 - (91 + 3) - 7| = 21 spaces.
    expect(digestSuccessLine('a-very-long-package-name-with-a-long-version-1.2.3_rc4-r5-12.gpkg.tar', ['size', 'SHA1', 'MD5'])).toBe(
      ` * a-very-long-package-name-with-a-long-version-1.2.3_rc4-r5-12.gpkg.tar MD5 SHA1 size ;-) ...${' '.repeat(21)}[ ok ]`,
    );
  });

  it.each([
    [['acl', 'nls', 'selinux', 'static'], ['nls'], ['nls']],
    [['+cxx', 'nls', 'java'], ['nls'], ['cxx', 'nls']],
    [['+cxx', 'nls'], ['-cxx', 'nls'], ['nls']],
    [['+cxx', 'nls'], ['-*', 'nls'], ['nls']],
    [['a', 'b'], ['c', 'a'], ['a']],
  ])('IUSE %j with USE %j enables %j', (iuse, use, expected) => {
    expect(enabledUse(iuse, use)).toEqual(expected);
  });

  it('takes durations from the real clusterhq emerge.log (median of completed source builds)', async () => {
    const medians = medianBuildSeconds(await readFile(REAL_EMERGE_LOG, 'utf8'));
    expect(medians.get('sys-devel/gcc')).toBeGreaterThanOrEqual(808);
    expect(medians.get('sys-devel/gcc')).toBeLessThanOrEqual(853);
    expect(medians.size).toBeGreaterThan(100);
  });

  it('looks a duration up from the lines naming the package alone, with the same result as the whole log', async () => {
    const text = await readFile(REAL_EMERGE_LOG, 'utf8');
    const lookup = buildSecondsLookup(text);
    const medians = medianBuildSeconds(text);
    for (const [cp, seconds] of medians) expect(lookup(cp), cp).toBe(seconds);
    expect(lookup('dev-libs/never-built')).toBeUndefined();
    // Prefixes of other names (sys-devel/gcc and sys-devel/gcc-config) stay apart.
    expect(lookup('sys-devel/gcc-config')).toBe(medians.get('sys-devel/gcc-config'));
  });

  it('validates every knob', () => {
    expect(parseFakeConfig('# comment\n\nFAIL="always"\nFAIL_CPVS=a/b-1, c/d-2-r1\nMIN_SECONDS=0\n')).toMatchObject({
      ok: true,
      config: { fail: 'always', failCpvs: new Set(['a/b-1', 'c/d-2-r1']), minSeconds: 0 },
    });
    expect(parseFakeConfig('FAIL=sometimes\n')).toEqual({ ok: false, line: 1, message: 'FAIL must be never or always, got "sometimes"' });
    expect(parseFakeConfig('HANG_CPVS=foo\n')).toMatchObject({ ok: false, line: 1 });
    expect(parseFakeConfig('TIMESCALE=1\n')).toMatchObject({ ok: false, message: expect.stringContaining('unknown key TIMESCALE') });
    expect(parseFakeConfig('DURATIONS_LOG=relative/emerge.log\n')).toMatchObject({ ok: false });
  });
});

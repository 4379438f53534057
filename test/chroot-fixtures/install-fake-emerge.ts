/**
 * install-fake-emerge.ts - put the fake Portage emerge into a COPY of a fixture root made by
 * build-debian-target.ts. Run as root with the project's Node.js:
 *
 *   node test/chroot-fixtures/install-fake-emerge.ts <root> [KEY=VALUE ...]
 *   node test/chroot-fixtures/install-fake-emerge.ts --prepare-cache
 *
 * The fake itself (fake-emerge/emerge) is bash and runs inside the root; this only installs it. The builder
 * imports prepareFakeEmergeCache() from here. USAGE below lists the settings and what the root gets.
 */
import { createHash } from 'node:crypto';
import {
  appendFileSync, chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync,
  realpathSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, lutimesSync, writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { openLock } from '../../scripts/lib/file-lock.ts';

const USAGE = `Usage: install-fake-emerge.ts <root> [KEY=VALUE ...]
       install-fake-emerge.ts --prepare-cache
       install-fake-emerge.ts --help

<root> must be a per-test copy (cp -a or an overlay of debian-broken or debian-base); the cached roots
themselves are refused. The KEY=VALUE pairs become /etc/argo-fake-emerge.conf in the root (see README.md):
  BINARY=ok|missing|fail  SOURCE=ok|fail|hang  SOURCE_SECONDS=N
  FAIL_PHASE=configure|compile|install  BINHOST_ONLY=0|1  HONOR_PACKAGE_ENV=0|1
  RESOLVE_SECONDS=N  LOG_TERMINATING=0|1  STRICT_DEV=0|1  PORTAGE_VERSION=..
  PYTHON_VERSION=..
  PROFILE=..  TRACE_LOG=/path
  WORLD_SECONDS_PER_PACKAGE=N  WORLD_LIBXCRYPT=good|broken  WORLD_FAIL_AT=N
  WORLD_BINHOST_HAS=all|cat/pkg,...   WORLD_PULLS=cat/pkg-ver   (world updates driven by /etc/argo-fake-emerge.plan)
The root gets:
  /usr/bin/emerge                       the fake (fake-emerge/emerge)
  /usr/lib/argo-fake-emerge/            usage.txt, image/ (what "make install" installs),
                                        libcrypt.so.1.1.0 (good), libcrypt-nosha512.so.1.1.0
  \${PKGDIR}/sys-libs/libxcrypt/libxcrypt-4.4.36-1.gpkg.tar and \${PKGDIR}/Packages
                                        BINARY=ok: a valid GPKG; fail: one whose image.tar.gz fails its
                                        Manifest hashes; missing: none (and an empty index)
  /var/cache/edb/counter, /var/log/emerge.log   when missing
  PKGDIR/DISTDIR in /etc/portage/make.conf      when missing

The GPKG is built once on the host with tar, gzip and bzip2 and cached in
\${ARGO_FIXTURE_CACHE:-/var/cache/argo-fixtures}/fake-emerge/, keyed by this script, the good/broken libraries
and the base root's libxcrypt vdb entry. --prepare-cache only (re)builds that cache (the builder does it).
`;

const PROG = 'install-fake-emerge';
const HERE = import.meta.dirname;
const PROJECT = resolve(HERE, '../..');
const FE_SRC = join(HERE, 'fake-emerge');
const PF = 'libxcrypt-4.4.36';
const BUILD_ID = '1';
const CPV = `sys-libs/${PF}`;
const BINPKG_REL = `sys-libs/libxcrypt/${PF}-${BUILD_ID}.gpkg.tar`;
/** This installer's own files: part of the cache key. */
const INSTALLER_FILES = [join(HERE, 'install-fake-emerge.ts'), join(PROJECT, 'scripts/lib/shell.ts'), join(PROJECT, 'scripts/lib/file-lock.ts')];

class InstallError extends Error {}
const die = (message: string): never => {
  throw new InstallError(message);
};

interface CachePaths {
  readonly cache: string;
  readonly base: string;
  readonly broken: string;
  readonly libGood: string;
  readonly libBroken: string;
  readonly feCache: string;
}
function cachePaths(cache = resolve(process.env['ARGO_FIXTURE_CACHE'] ?? '/var/cache/argo-fixtures')): CachePaths {
  return {
    cache,
    base: join(cache, 'debian-base'),
    broken: join(cache, 'debian-broken'),
    libGood: join(cache, 'libcrypt-good/libcrypt.so.1.1.0'),
    libBroken: join(cache, 'libcrypt-broken/libcrypt.so.1.1.0'),
    feCache: join(cache, 'fake-emerge'),
  };
}

// ------------------------------------------------------------- settings
const SETTINGS: Record<string, [RegExp, string]> = {
  BINARY: [/^(ok|missing|fail)$/, 'BINARY must be ok, missing or fail'],
  SOURCE: [/^(ok|fail|hang)$/, 'SOURCE must be ok, fail or hang'],
  FAIL_PHASE: [/^(configure|compile|install)$/, 'FAIL_PHASE must be configure, compile or install'],
  SOURCE_SECONDS: [/^[0-9]+(\.[0-9]+)?$/, 'SOURCE_SECONDS must be a number of seconds'],
  RESOLVE_SECONDS: [/^[0-9]+(\.[0-9]+)?$/, 'RESOLVE_SECONDS must be a number of seconds'],
  BINHOST_ONLY: [/^[01]$/, 'BINHOST_ONLY must be 0 or 1'],
  HONOR_PACKAGE_ENV: [/^[01]$/, 'HONOR_PACKAGE_ENV must be 0 or 1'],
  LOG_TERMINATING: [/^[01]$/, 'LOG_TERMINATING must be 0 or 1'],
  STRICT_DEV: [/^[01]$/, 'STRICT_DEV must be 0 or 1'],
  PORTAGE_VERSION: [/^[0-9][0-9.a-z_-]*$/, 'bad PORTAGE_VERSION'],
  PYTHON_VERSION: [/^[0-9][0-9.a-z_-]*$/, 'bad PYTHON_VERSION'],
  PROFILE: [/^[A-Za-z0-9_./+-]*$/, 'bad PROFILE'],
  TRACE_LOG: [/^[A-Za-z0-9_./+-]*$/, 'bad TRACE_LOG'],
  WORLD_SECONDS_PER_PACKAGE: [/^[0-9]+(\.[0-9]+)?$/, 'WORLD_SECONDS_PER_PACKAGE must be a number of seconds'],
  WORLD_LIBXCRYPT: [/^(good|broken)$/, 'WORLD_LIBXCRYPT must be good or broken'],
  WORLD_FAIL_AT: [/^[0-9]+$/, 'WORLD_FAIL_AT must be a package number (0 = none)'],
  WORLD_BINHOST_HAS: [/^(all|[A-Za-z0-9+_.,/-]*)$/, 'WORLD_BINHOST_HAS must be all or cat/pkg[,cat/pkg...]'],
  WORLD_PULLS: [/^([A-Za-z0-9+_.-]+\/[A-Za-z0-9+_.-]+)?$/, 'WORLD_PULLS must be cat/pkg-ver'],
};

/** Checks KEY=VALUE settings; a key given twice keeps its first place and its last value. */
function parseSettings(pairs: readonly string[]): Map<string, string> {
  const settings = new Map<string, string>();
  for (const pair of pairs) {
    const key = pair.slice(0, pair.indexOf('='));
    const value = pair.slice(pair.indexOf('=') + 1);
    const rule = SETTINGS[key];
    if (rule === undefined) die(`unknown key ${key} (see --help)`);
    else if (!rule[0].test(value)) die(rule[1]);
    settings.set(key, value);
  }
  return settings;
}

// ------------------------------------------------------------- the cache
const hash = (algorithm: string, data: string | Buffer): string => createHash(algorithm).update(data).digest('hex');
const sha = (file: string): string => hash('sha256', readFileSync(file));

function cacheKey(paths: CachePaths): string {
  const installer = hash('sha256', INSTALLER_FILES.map((file) => `${sha(file)}  ${relative(PROJECT, file)}\n`).join(''));
  const contents = join(paths.base, 'var/db/pkg/sys-libs', PF, 'CONTENTS');
  return hash('sha256', ['fake-emerge-cache-v2', installer, sha(paths.libGood), sha(paths.libBroken), sha(contents)].map((line) => `${line}\n`).join(''));
}
function cacheOk(paths: CachePaths, key: string): boolean {
  try {
    return readFileSync(join(paths.feCache, '.stamp'), 'utf8').split('\n').includes(`key=${key}`);
  } catch {
    return false;
  }
}

function manifestLine(dir: string, name: string): string {
  const data = readFileSync(join(dir, name));
  return `DATA ${name} ${data.length} BLAKE2B ${hash('blake2b512', data)} SHA512 ${hash('sha512', data)}\n`;
}

const readVdb = (vdb: string, file: string): string => readFileSync(join(vdb, file), 'utf8').replace(/\n+$/, '');
const mtimeOf = (path: string): number => Math.floor(lstatSync(path).mtimeMs / 1000);

/** Packages index (guide section 1.1): sorted keys, DESC/MTIME/REPO translated. */
function writePackages(out: string, pkg: string | undefined, vdb: string, buildTime: number): void {
  let text = 'ACCEPT_KEYWORDS: amd64\nACCEPT_LICENSE: @FREE\nARCH: amd64\nCBUILD: x86_64-pc-linux-gnu\n'
    + `CHOST: x86_64-pc-linux-gnu\nELIBC: glibc\nKERNEL: linux\nPACKAGES: ${pkg === undefined ? 0 : 1}\n`
    + `PROFILE: default/linux/amd64/23.0\nTIMESTAMP: ${buildTime}\n`
    + 'USE: abi_x86_64 amd64 elibc_glibc kernel_linux pam\nVERSION: 0\n\n';
  if (pkg !== undefined) {
    const data = readFileSync(pkg);
    text += `BDEPEND: ${readVdb(vdb, 'BDEPEND')}\n`
      + `BUILD_ID: ${BUILD_ID}\nBUILD_TIME: ${buildTime}\nCPV: ${CPV}\n`
      + `DEFINED_PHASES: ${readVdb(vdb, 'DEFINED_PHASES')}\n`
      + 'DEPEND: sys-libs/glibc[-crypt(-)] !sys-libs/glibc[crypt(-)]\n'
      + `DESC: ${readVdb(vdb, 'DESCRIPTION')}\nEAPI: ${readVdb(vdb, 'EAPI')}\n`
      + `IUSE: ${readVdb(vdb, 'IUSE')}\nKEYWORDS: ${readVdb(vdb, 'KEYWORDS')}\n`
      + `LICENSE: ${readVdb(vdb, 'LICENSE')}\nMD5: ${hash('md5', data)}\n`
      + `PATH: ${BINPKG_REL}\nPROVIDES: ${readVdb(vdb, 'PROVIDES')}\n`
      + 'RDEPEND: sys-libs/glibc[-crypt(-)] !sys-libs/glibc[crypt(-)]\n'
      + (existsSync(join(vdb, 'REQUIRES')) ? `REQUIRES: ${readVdb(vdb, 'REQUIRES')}\n` : '')
      + `SHA1: ${hash('sha1', data)}\nSIZE: ${data.length}\n`
      + `SLOT: ${readVdb(vdb, 'SLOT')}\nUSE: ${readVdb(vdb, 'USE')}\n`
      + `MTIME: ${mtimeOf(pkg)}\nREPO: gentoo\n\n`;
  }
  writeFileSync(out, text);
}

/** Every path below `dir` (not `dir` itself), parents before children. */
function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map((name) => join(dir, String(name))).sort();
}

const EBUILD = [
  '# argo fixture: stand-in for the ebuild saved in a sys-libs/libxcrypt-4.4.36',
  '# binary package. It is never run: the fake emerge only reads the metadata',
  '# files next to it. Upstream\'s configure default is --enable-hashes=all.',
  'EAPI=8',
  'DESCRIPTION="Extended crypt library for descrypt, md5crypt, bcrypt, and others"',
  'HOMEPAGE="https://github.com/besser82/libxcrypt"',
  'SRC_URI="https://github.com/besser82/libxcrypt/releases/download/v${PV}/${P}.tar.xz"',
  'LICENSE="LGPL-2.1+ public-domain BSD BSD-2"',
  'SLOT="0/1"',
  'KEYWORDS="~alpha amd64 arm arm64 hppa ~loong ~m68k ~mips ppc ppc64 ~riscv ~s390 sparc x86"',
  'IUSE="+compat static-libs +system test headers-only"',
  '',
].join('\n');

async function buildCache(paths: CachePaths, key: string): Promise<void> {
  // zx only here: a copy-in (every test) does without loading it.
  const { $, input } = await import('../../scripts/lib/shell.ts');
  const vdb = join(paths.base, 'var/db/pkg/sys-libs', PF);
  const tmp = mkdtempSync(join(paths.cache, '.fake-emerge.tmp.'));
  try {
    const t = mtimeOf(paths.libGood); // the "build time" of the binary package
    const st = join(tmp, 'stage');
    mkdirSync(join(st, 'image'), { recursive: true });
    mkdirSync(join(st, 'metadata'), { recursive: true });

    // image/: every file of the installed libxcrypt entry, with the good library.
    for (const line of readFileSync(join(vdb, 'CONTENTS'), 'utf8').split('\n')) {
      const type = line.slice(0, line.indexOf(' '));
      const rest = line.slice(line.indexOf(' ') + 1);
      if (type === 'dir') mkdirSync(join(st, 'image', rest), { recursive: true });
      else if (type === 'obj') {
        const path = rest.replace(/ \S+ \S+$/, '');
        mkdirSync(join(st, 'image', dirname(path)), { recursive: true });
        copyFileSync(path.endsWith('/libcrypt.so.1.1.0') ? paths.libGood : paths.base + path, join(st, 'image', path));
        chmodSync(join(st, 'image', path), 0o644);
      } else if (type === 'sym') {
        const path = rest.slice(0, rest.indexOf(' -> '));
        const target = rest.slice(rest.indexOf(' -> ') + 4).replace(/ \S+$/, '');
        mkdirSync(join(st, 'image', dirname(path)), { recursive: true });
        symlinkSync(target, join(st, 'image', path));
      }
    }
    if (!existsSync(join(st, 'image/lib/x86_64-linux-gnu/libcrypt.so.1.1.0'))) die(`no libcrypt.so.1.1.0 in ${vdb}/CONTENTS`);
    const imageEntries = [join(st, 'image'), ...walk(join(st, 'image'))];
    for (const path of imageEntries) {
      const stat = lstatSync(path);
      if (stat.isDirectory()) chmodSync(path, 0o755);
      lutimesSync(path, t, t);
    }

    // metadata/: the vdb entry as the binhost built it (no CONTENTS/COUNTER, no EXTRA_ECONF: it was built
    // with upstream's default, all hashes).
    for (const name of readdirSync(vdb)) {
      if (['CONTENTS', 'COUNTER', 'SIZE', 'BUILD_TIME', 'EXTRA_ECONF'].includes(name)) continue;
      copyFileSync(join(vdb, name), join(st, 'metadata', name));
    }
    const size = imageEntries.filter((path) => lstatSync(path).isFile()).reduce((sum, path) => sum + statSync(path).size, 0);
    writeFileSync(join(st, 'metadata/BUILD_TIME'), `${t}\n`);
    writeFileSync(join(st, 'metadata/BUILD_ID'), `${BUILD_ID}\n`);
    writeFileSync(join(st, 'metadata/SIZE'), `${size}\n`);
    const environment = `declare -x CATEGORY="sys-libs"\ndeclare -x PF="${PF}"\ndeclare -x SLOT="0/1"\ndeclare -x EAPI="8"\ndeclare -- IUSE="+compat static-libs +system test headers-only"\ndeclare -x USE="abi_x86_64 amd64 compat elibc_glibc kernel_linux system"\n`;
    // Straight into the file: zx keeps a command's output as text, which would mangle the compressed bytes.
    await input(environment)`bzip2 -9 > ${join(st, 'metadata/environment.bz2')}`;
    writeFileSync(join(st, 'metadata', `${PF}.ebuild`), EBUILD);
    for (const path of walk(join(st, 'metadata'))) {
      chmodSync(path, 0o644);
      utimesSync(path, t, t);
    }
    utimesSync(join(st, 'metadata'), t, t);
    utimesSync(join(st, 'image'), t, t);

    // The members, the Manifest, the outer uncompressed ustar (GLEP 78).
    const base = `${PF}-${BUILD_ID}`;
    const outer = join(tmp, 'outer');
    const members = [`${base}/gpkg-1`, `${base}/metadata.tar.gz`, `${base}/image.tar.gz`, `${base}/Manifest`];
    const tarFlags = ['--format=ustar', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${t}`];
    mkdirSync(join(outer, base), { recursive: true });
    writeFileSync(join(outer, base, 'gpkg-1'), '');
    for (const part of ['metadata', 'image']) {
      await $`tar ${tarFlags} --sort=name -C ${st} -cf - ${part} | gzip -9n > ${join(outer, base, `${part}.tar.gz`)}`;
    }
    writeFileSync(join(outer, base, 'Manifest'), ['gpkg-1', 'metadata.tar.gz', 'image.tar.gz'].map((name) => manifestLine(join(outer, base), name)).join(''));
    for (const name of readdirSync(join(outer, base))) {
      chmodSync(join(outer, base, name), 0o644);
      utimesSync(join(outer, base, name), t, t);
    }
    const packGpkg = async (from: string, destination: string): Promise<void> => {
      mkdirSync(dirname(destination), { recursive: true });
      await $`tar ${tarFlags} --no-recursion -C ${from} -cf ${destination} ${members}`;
      utimesSync(destination, t, t);
    };
    await packGpkg(outer, join(tmp, 'cache/good', BINPKG_REL));
    // corrupt: one byte of image.tar.gz flipped after the Manifest was written (same size, so Portage's check
    // fails on the hash, not on the size).
    const corrupt = join(tmp, 'outer-corrupt');
    cpSync(outer, corrupt, { recursive: true, preserveTimestamps: true });
    const image = join(corrupt, base, 'image.tar.gz');
    const bytes = readFileSync(image);
    const offset = Math.floor(bytes.length / 2);
    bytes[offset] = (bytes[offset] as number) ^ 0xff;
    writeFileSync(image, bytes);
    utimesSync(image, t, t);
    await packGpkg(corrupt, join(tmp, 'cache/corrupt', BINPKG_REL));
    writePackages(join(tmp, 'cache/good/Packages'), join(tmp, 'cache/good', BINPKG_REL), vdb, t);
    writePackages(join(tmp, 'cache/corrupt/Packages'), join(tmp, 'cache/corrupt', BINPKG_REL), vdb, t);
    mkdirSync(join(tmp, 'cache/empty'), { recursive: true });
    writePackages(join(tmp, 'cache/empty/Packages'), undefined, vdb, t);

    // The stash the source path installs from.
    const stash = join(tmp, 'cache/stash');
    mkdirSync(stash, { recursive: true });
    await $`cp -a ${join(st, 'image')} ${join(stash, 'image')}`;
    copyFileSync(paths.libGood, join(stash, 'libcrypt.so.1.1.0'));
    copyFileSync(paths.libBroken, join(stash, 'libcrypt-nosha512.so.1.1.0'));
    for (const name of ['libcrypt.so.1.1.0', 'libcrypt-nosha512.so.1.1.0']) chmodSync(join(stash, name), 0o644);

    // Check what we made before publishing it.
    const listed = (await $`tar -tf ${join(tmp, 'cache/good', BINPKG_REL)}`).stdout;
    if (listed !== `${members.join('\n')}\n`) die(`unexpected member list in the GPKG:\n${listed}`);
    const binpkgMd5 = hash('md5', readFileSync(join(tmp, 'cache/good', BINPKG_REL)));
    writeFileSync(join(tmp, 'cache/.stamp'), `key=${key}\nbuilt_at=${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}\nbinpkg_md5=${binpkgMd5}\n`);
    let old: string | undefined;
    if (existsSync(paths.feCache)) {
      old = mkdtempSync(join(paths.cache, '.fake-emerge.old.'));
      rmSync(old, { recursive: true });
      renameSync(paths.feCache, old);
    }
    renameSync(join(tmp, 'cache'), paths.feCache);
    if (old !== undefined) rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface PrepareOptions {
  /** The fixture cache (default: $ARGO_FIXTURE_CACHE or /var/cache/argo-fixtures). */
  readonly cache?: string;
  /** The caller holds the cache's .lock (the builder): do not take it again. */
  readonly cacheLockHeld?: boolean;
}

/**
 * Makes sure the GPKG and stash are in place and current; returns with a shared lock on .fake-emerge.lock held
 * (released by the returned function), so that nobody rebuilds the cache while the caller copies from it.
 * Lock order, as everywhere: .lock (the roots) before .fake-emerge.lock. A rebuild holds .lock shared (the
 * builder, which holds it exclusive while it changes the roots, says so with cacheLockHeld), and nobody waits
 * for .lock while holding .fake-emerge.lock: the builder, holding .lock, only ever waits for copy-ins.
 */
async function ensureCache(paths: CachePaths, cacheLockHeld: boolean): Promise<() => void> {
  if (!existsSync(paths.libGood) || !existsSync(paths.libBroken) || !existsSync(join(paths.base, 'var/db/pkg/sys-libs', PF, 'CONTENTS'))) {
    die(`fixture cache incomplete under ${paths.cache}; run build-debian-target.ts first`);
  }
  const feLock = openLock(join(paths.cache, '.fake-emerge.lock'));
  const rootsLock = cacheLockHeld ? undefined : openLock(join(paths.cache, '.lock'));
  try {
    if (!(await feLock.take('shared', 600))) die(`timed out waiting for ${feLock.path}`);
    if (cacheOk(paths, cacheKey(paths))) return () => feLock.close();
    feLock.unlock();
    if (rootsLock !== undefined && !(await rootsLock.take('shared', 1800))) die(`timed out waiting for ${rootsLock.path} (fixture build running?)`);
    if (!(await feLock.take('exclusive', 600))) die(`timed out waiting for ${feLock.path}`);
    const key = cacheKey(paths);
    if (!cacheOk(paths, key)) await buildCache(paths, key);
    feLock.unlock();
    if (!(await feLock.take('shared', 600))) die(`timed out waiting for ${feLock.path}`);
    return () => feLock.close();
  } catch (error) {
    feLock.close();
    throw error;
  } finally {
    rootsLock?.close();
  }
}

/** (Re)builds the fake emerge's cache when its key changed; a no-op otherwise. */
export async function prepareFakeEmergeCache(options: PrepareOptions = {}): Promise<void> {
  const release = await ensureCache(cachePaths(options.cache), options.cacheLockHeld ?? false);
  release();
}

// ------------------------------------------------------------- copy-in
/** realpath when the path exists, else the path as given (readlink -m). */
function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function makeConfValue(text: string, key: string): string | undefined {
  const pattern = new RegExp(`^[ \\t]*(export[ \\t]+)?${key}=(.*)$`);
  let value: string | undefined;
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    if (match) value = match[2] as string;
  }
  return value?.replace(/^"/, '').replace(/"$/, '').replace(/^'/, '').replace(/'$/, '');
}

export interface InstallResult {
  readonly root: string;
  readonly binary: string;
  /** PKGDIR/sys-libs/libxcrypt/...gpkg.tar inside the root, or undefined with BINARY=missing. */
  readonly binpkg: string | undefined;
}

/** Installs the fake emerge into a copy of a fixture root, configured with KEY=VALUE settings. */
export async function installFakeEmerge(root: string, pairs: readonly string[], options: { readonly cache?: string } = {}): Promise<InstallResult> {
  const settings = parseSettings(pairs);
  const binary = settings.get('BINARY') ?? 'ok';
  const paths = cachePaths(options.cache);
  const release = await ensureCache(paths, false);
  try {
    let r: string;
    try {
      r = realpathSync(root);
    } catch {
      return die(`no such root: ${root}`);
    }
    if (!statSync(r).isDirectory()) die(`no such root: ${root}`);
    for (const cached of [paths.base, paths.broken].map(canonical)) {
      if (`${r}/`.startsWith(`${cached}/`)) die(`refusing to modify the cached root ${cached} (copy it first: cp -a ${cached} <scratch>)`);
      if (`${cached}/`.startsWith(`${r}/`)) die(`refusing: ${r} contains the cached root ${cached}`);
    }
    if (r === '/') die('refusing to install into /');
    if (!existsSync(join(r, 'var/db/pkg/sys-libs')) || !existsSync(join(r, 'bin/bash'))) die(`${r} does not look like a fixture root`);

    const makeConf = join(r, 'etc/portage/make.conf');
    mkdirSync(dirname(makeConf), { recursive: true });
    if (!existsSync(makeConf)) writeFileSync(makeConf, '');
    let conf = readFileSync(makeConf, 'utf8');
    const has = (key: string): boolean => new RegExp(`^[ \\t]*(export[ \\t]+)?${key}=`, 'm').test(conf);
    if (!has('PKGDIR') || !has('DISTDIR')) {
      appendFileSync(makeConf, '\n# Added by install-fake-emerge.ts (Portage defaults).\n'
        + (has('PKGDIR') ? '' : 'PKGDIR="/var/cache/binpkgs"\n')
        + (has('DISTDIR') ? '' : 'DISTDIR="/var/cache/distfiles"\n'));
      conf = readFileSync(makeConf, 'utf8');
    }
    const pkgdir = makeConfValue(conf, 'PKGDIR') || '/var/cache/binpkgs';
    const distdir = makeConfValue(conf, 'DISTDIR') || '/var/cache/distfiles';
    mkdirSync(join(r, pkgdir, 'sys-libs/libxcrypt'), { recursive: true });
    mkdirSync(join(r, distdir), { recursive: true });

    const emerge = join(r, 'usr/bin/emerge');
    mkdirSync(dirname(emerge), { recursive: true });
    copyFileSync(join(FE_SRC, 'emerge'), `${emerge}.argo-new`);
    chmodSync(`${emerge}.argo-new`, 0o755);
    renameSync(`${emerge}.argo-new`, emerge);
    const lib = join(r, 'usr/lib/argo-fake-emerge');
    rmSync(lib, { recursive: true, force: true });
    mkdirSync(lib, { recursive: true });
    execFileSync('cp', ['-a', `${paths.feCache}/stash/.`, `${lib}/`], { stdio: ['ignore', 'ignore', 'inherit'] });
    copyFileSync(join(FE_SRC, 'usage.txt'), join(lib, 'usage.txt'));
    chmodSync(join(lib, 'usage.txt'), 0o644);

    const pkg = join(r, pkgdir, BINPKG_REL);
    rmSync(pkg, { force: true });
    for (const name of readdirSync(dirname(pkg))) {
      if (name.startsWith(`${PF}-${BUILD_ID}.gpkg.tar._checksum_failure_.`)) rmSync(join(dirname(pkg), name), { force: true });
    }
    const from = { ok: 'good', fail: 'corrupt', missing: 'empty' }[binary] as string;
    if (binary !== 'missing') cpSync(join(paths.feCache, from, BINPKG_REL), pkg, { preserveTimestamps: true });
    cpSync(join(paths.feCache, from, 'Packages'), join(r, pkgdir, 'Packages'), { preserveTimestamps: true });

    const counterFile = join(r, 'var/cache/edb/counter');
    if (!existsSync(counterFile)) {
      let highest = 0;
      const pkgdb = join(r, 'var/db/pkg');
      for (const category of readdirSync(pkgdb).filter((name) => !name.startsWith('.'))) {
        let entries: string[];
        try {
          entries = readdirSync(join(pkgdb, category));
        } catch {
          continue;
        }
        for (const entry of entries.filter((name) => !name.startsWith('.'))) {
          let first: string;
          try {
            first = readFileSync(join(pkgdb, category, entry, 'COUNTER'), 'utf8').split('\n')[0] ?? '';
          } catch {
            continue;
          }
          if (/^[0-9]+$/.test(first) && Number(first) > highest) highest = Number(first);
        }
      }
      mkdirSync(dirname(counterFile), { recursive: true });
      writeFileSync(counterFile, String(highest));
    }
    const emergeLog = join(r, 'var/log/emerge.log');
    if (!existsSync(emergeLog)) {
      mkdirSync(dirname(emergeLog), { recursive: true });
      writeFileSync(emergeLog, '');
      chmodSync(emergeLog, 0o660);
    }

    const confFile = join(r, 'etc/argo-fake-emerge.conf');
    writeFileSync(`${confFile}.argo-new`, '# Written by test/chroot-fixtures/install-fake-emerge.ts; read by /usr/bin/emerge.\n'
      + '# Unset keys take their defaults (see test/chroot-fixtures/README.md).\n'
      + [...settings].map(([key, value]) => `${key}=${value}\n`).join(''));
    renameSync(`${confFile}.argo-new`, confFile);
    return { root: r, binary, binpkg: existsSync(pkg) ? join(pkgdir, BINPKG_REL) : undefined };
  } finally {
    release();
  }
}

// ------------------------------------------------------------- command line
async function main(argv: readonly string[]): Promise<number> {
  let prepareOnly = false;
  let root: string | undefined;
  const pairs: string[] = [];
  for (const arg of argv) {
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      return 0;
    } else if (arg === '--prepare-cache') prepareOnly = true;
    else if (arg.startsWith('-')) die(`unknown option ${arg} (try --help)`);
    else if (arg.includes('=')) pairs.push(arg);
    else if (root !== undefined) die('only one root may be given');
    else root = arg;
  }
  if (!prepareOnly && root === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (process.getuid?.() !== 0) die('must run as root');
  if (prepareOnly) {
    parseSettings(pairs);
    await prepareFakeEmergeCache({ cacheLockHeld: process.env['ARGO_FIXTURE_LOCK_HELD'] === '1' });
    process.stderr.write(`${PROG}: cache ready in ${cachePaths().feCache}\n`);
    return 0;
  }
  const result = await installFakeEmerge(root as string, pairs);
  process.stdout.write(`ARGO_FAKE_EMERGE root=${result.root} binary=${result.binary} binpkg=${result.binpkg ?? 'none'} conf=/etc/argo-fake-emerge.conf\n`);
  return 0;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${PROG}: ERROR: ${error instanceof InstallError ? error.message : String((error as Error).stack ?? error)}\n`);
    process.exitCode = 1;
  }
}

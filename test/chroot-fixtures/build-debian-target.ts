/**
 * build-debian-target.ts - build real Debian chroots shaped like a Gentoo system whose logins broke because
 * libxcrypt lost SHA512-crypt, for the end-to-end tests of `argo recover`. Run as root with the project's
 * Node.js: `node test/chroot-fixtures/build-debian-target.ts` (scripts/setup.sh --fixtures does).
 *
 * What runs inside the roots stays shell (they have no Node.js): in-root/scan-packages.sh, and the files of
 * root-files/ that are copied in. See README.md for the cache layout, timings and robustness notes.
 */
import { createHash } from 'node:crypto';
import {
  appendFileSync, chmodSync, closeSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync,
  readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { openLock, type FileLock } from '../../scripts/lib/file-lock.ts';
import { mountsBelow, removeTree, unmountBelow } from '../../scripts/lib/mounts.ts';
import { $, input, secondsSince } from '../../scripts/lib/shell.ts';
import { prepareFakeEmergeCache } from './install-fake-emerge.ts';

const USAGE = `Usage: node test/chroot-fixtures/build-debian-target.ts [--force] [--help]

Builds, under \${ARGO_FIXTURE_CACHE:-/var/cache/argo-fixtures} (outside the clone):
  debian-base/          bookworm minbase + PAM/login/openrc + toolchain (gcc, make, libc6-dev, xz-utils)
                        + Gentoo shape, the libxcrypt distfile and a stand-in /usr/bin/xdm
  debian-broken/        copy of debian-base with a libcrypt built WITHOUT sha512crypt installed over the real
                        one, and the display-manager service out of the default runlevel
  libcrypt-broken/      that library (libcrypt.so.1.1.0) + BUILD-INFO
  libcrypt-good/        the same Debian source built with all hashes
  distfiles/            libxcrypt-<ver>.tar.xz, a release-style tarball (autoreconf + make dist-xz)
  fake-emerge/          GPKG + stash for install-fake-emerge.ts (warmed here)
  credentials.txt       test passwords (mode 0600)
  argo-fixture.env      machine-readable summary (paths, versions)
  logs/ src/ debs/ apt-src/ .stamps/   build logs, download caches, stamps

Idempotent: each part has a stamp whose key includes the sha256 of this builder (its own files), so a second
run is a no-op and a changed builder rebuilds. --force rebuilds everything.
Interrupt-safe: each part is built in a temp dir next to the final one and renamed into place; the only mounts
(debootstrap's /proc, /sys) live in a private mount namespace (unshare -m) that the kernel tears down with the
process, and the exit path unmounts anything left below the cache anyway.

Env:  ARGO_FIXTURE_CACHE      cache dir (default /var/cache/argo-fixtures)
      ARGO_FIXTURE_MIRROR     Debian mirror (default http://deb.debian.org/debian)
      ARGO_FIXTURE_PYTHON     1 (default) to include python3-minimal and ctypes, 0 to omit
      ARGO_FIXTURE_TOOLCHAIN  1 (default) to include gcc, make, libc6-dev and xz-utils (the manual-build
                              pivot needs them), 0 to omit
Last line of output:
  ARGO_FIXTURE base=<path> broken=<path> good_lib=<path> broken_lib=<path>
`;

const PROG = 'build-debian-target';
const HERE = import.meta.dirname;
const PROJECT = resolve(HERE, '../..');
const CACHE = resolve(process.env['ARGO_FIXTURE_CACHE'] ?? '/var/cache/argo-fixtures');
const MIRROR = process.env['ARGO_FIXTURE_MIRROR'] ?? 'http://deb.debian.org/debian';
const WITH_PYTHON = process.env['ARGO_FIXTURE_PYTHON'] ?? '1';
const WITH_TOOLCHAIN = process.env['ARGO_FIXTURE_TOOLCHAIN'] ?? '1';
const SUITE = 'bookworm';
const MULTIARCH = 'x86_64-linux-gnu';
// Gentoo-side names of what the Debian root really contains.
const GENTOO_LIBXCRYPT_PF = 'libxcrypt-4.4.36'; // Debian bookworm ships 4.4.33; see README
const GENTOO_PAM_PF = 'pam-1.5.2';
const GENTOO_GLIBC_PF = 'glibc-2.36';
const ALICE_PASSWORD = 'correct horse';
const ROOT_PASSWORD = 'argo fixture root';
const SHA512_EXPECTED = '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1';
const CRYPT_PROBE = 'print crypt("Hello world!", q($6$saltstring))';

const BASE = join(CACHE, 'debian-base');
const BROKEN = join(CACHE, 'debian-broken');
const LIB_GOOD = join(CACHE, 'libcrypt-good');
const LIB_BROKEN = join(CACHE, 'libcrypt-broken');
const CREDS = join(CACHE, 'credentials.txt');
const ENVFILE = join(CACHE, 'argo-fixture.env');
const STAMPS = join(CACHE, '.stamps');
const LOGS = join(CACHE, 'logs');
const DISTFILES = join(CACHE, 'distfiles');
const ROOT_FILES = join(HERE, 'root-files');

/** This builder's own files: their sha256 is part of every stamp key (a change rebuilds). */
const BUILDER_FILES = [
  join(HERE, 'build-debian-target.ts'),
  join(HERE, 'in-root/scan-packages.sh'),
  ...filesBelow(ROOT_FILES),
  join(PROJECT, 'scripts/lib/shell.ts'),
  join(PROJECT, 'scripts/lib/mounts.ts'),
  join(PROJECT, 'scripts/lib/file-lock.ts'),
  join(PROJECT, 'node_modules/zx/package.json'),
];

Object.assign(process.env, { LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive', DEBCONF_NONINTERACTIVE_SEEN: 'true', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' });
process.umask(0o022);

// ---------------------------------------------------------------- plumbing
class StepError extends Error {}

let step = 'startup';
let stepStarted = performance.now();
const runStarted = performance.now();
const tmpDirs: string[] = [];
const timings: string[] = [];
let lock: FileLock | undefined;
let force = false;
let debootstrapSeconds = '';
/** Set by SIGINT/SIGTERM: the handler stops the children, cleans up and exits. */
let interrupted = false;

const log = (message: string): void => void process.stderr.write(`${PROG}: ${message}\n`);
const die = (message: string): never => {
  throw new StepError(message);
};
function beginStep(name: string, what = ''): void {
  step = name;
  stepStarted = performance.now();
  log(`==> [${step}] ${what}`);
}
function endStep(): void {
  const seconds = secondsSince(stepStarted);
  timings.push(`${step}=${seconds}s`);
  log(`<== [${step}] done in ${seconds}s`);
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/**
 * Every command gets the cache lock's descriptor as its fd 3: if this process is SIGKILLed, a running child
 * (debootstrap, make) keeps the lock until it ends, so the next run cannot delete the tree it still writes.
 */
function stdio(stdin: 'ignore' | 'pipe' = 'ignore', out: 'pipe' | number = 'pipe'): ['ignore' | 'pipe', 'pipe' | number, 'pipe' | number, ...number[]] {
  return lock === undefined ? [stdin, out, out] : [stdin, out, out, lock.fd];
}
const sh = (options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => $({ ...options, stdio: stdio() });

/** Runs a command with its output appended to logs/<name>.log; on failure shows the log's tail. */
async function runLogged(name: string, argv: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<boolean> {
  const file = join(LOGS, `${name}.log`);
  appendFileSync(file, `+ ${argv.join(' ')}\n`);
  const fd = openSync(file, 'a');
  let code: number | null;
  try {
    code = (await $({ ...options, stdio: stdio('ignore', fd), nothrow: true })`${argv}`).exitCode;
  } finally {
    closeSync(fd);
  }
  if (code === 0) return true;
  if (interrupted) return false; // we stopped it: not a failure to show
  log(`command failed (exit ${code}): ${argv.join(' ')}`);
  log(`---- last lines of ${file} ----`);
  process.stderr.write(`${readFileSync(file, 'utf8').trimEnd().split('\n').slice(-40).join('\n')}\n`);
  log(`---- end of ${file} ----`);
  return false;
}

const IN_ROOT_ENV = ['env', '-i', 'HOME=/root', 'LC_ALL=C', 'TERM=dumb', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'];
/** A command inside a root with a clean environment; needs no mounts. Resolves to its stdout. */
async function inRoot(root: string, argv: readonly string[], stdin?: string): Promise<string> {
  const shell = stdin === undefined ? sh() : input(stdin, { stdio: stdio('pipe') });
  return (await shell`${IN_ROOT_ENV} chroot ${root} ${argv}`).stdout;
}
const succeeds = async (promise: Promise<unknown>): Promise<boolean> => promise.then(() => true, () => false);

let aptUpdated = false;
async function ensureHostPackages(...packages: string[]): Promise<void> {
  const missing: string[] = [];
  for (const name of packages) {
    const status = await sh()`dpkg-query -W -f=${'${db:Status-Abbrev}'} ${name}`.nothrow();
    if (status.stdout !== 'ii ') missing.push(name);
  }
  if (missing.length === 0) return;
  log(`installing on the host: ${missing.join(' ')}`);
  if (!aptUpdated) {
    if (!(await runLogged('host-apt', ['apt-get', 'update', '-q']))) die('apt-get update failed');
    aptUpdated = true;
  }
  if (!(await runLogged('host-apt', ['apt-get', 'install', '-y', '-q', '-o', 'Dpkg::Use-Pty=0', '--no-install-recommends', ...missing]))) {
    die(`apt-get install ${missing.join(' ')} failed`);
  }
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const md5 = (data: string | Buffer): string => createHash('md5').update(data).digest('hex');
const mtimeOf = (path: string): number => Math.floor(lstatSync(path).mtimeMs / 1000);
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const isoNow = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** KEY=VALUE readable both by `source` and by a naive parser: bare when shell-safe, else single-quoted. */
function kv(key: string, value: string): string {
  return /^[A-Za-z0-9_./:,+=@%-]*$/.test(value) ? `${key}=${value}\n` : `${key}='${value.replaceAll("'", "'\\''")}'\n`;
}
const readKv = (file: string, key: string): string =>
  readFileSync(file, 'utf8').split('\n').find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1) ?? '';

const SCRIPT_SHA = sha256(BUILDER_FILES.map((file) => `${sha256(readFileSync(file))}  ${relative(PROJECT, file)}\n`).join(''));
const keyOf = (...lines: string[]): string => sha256(lines.map((line) => `${line}\n`).join(''));
const keyBase = (): string => keyOf('base', SCRIPT_SHA, SUITE, WITH_PYTHON, MIRROR, WITH_TOOLCHAIN);
const keyLibs = (): string => keyOf('libs', SCRIPT_SHA, keyBase());
const keyBroken = (): string => keyOf('broken', SCRIPT_SHA, keyBase(), keyLibs());

function stampOk(name: string, key: string, ...paths: string[]): boolean {
  if (force) return false;
  let text: string;
  try {
    text = readFileSync(join(STAMPS, name), 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').includes(`key=${key}`) && paths.every((path) => existsSync(path));
}
function stampWrite(name: string, key: string): void {
  const temp = join(STAMPS, `.${name}.${process.pid}`);
  writeFileSync(temp, `key=${key}\nbuilder_sha256=${SCRIPT_SHA}\nbuilt_at=${isoNow()}\n`);
  renameSync(temp, join(STAMPS, name));
}
const stampClear = (name: string): void => rmSync(join(STAMPS, name), { force: true });

/** A temp dir next to the final one (same filesystem, so the final rename is atomic); removed at exit. */
function makeTmp(name: string): string {
  const dir = mkdtempSync(join(CACHE, `.${name}.tmp.`));
  tmpDirs.push(dir);
  return dir;
}
/** Replaces dst by src with two renames; the old tree is removed at exit. */
function installDir(src: string, dst: string): void {
  if (existsSync(dst)) {
    const old = `${mkdtempSync(join(CACHE, `.${basename(dst)}.old.`))}`;
    rmSync(old, { recursive: true });
    renameSync(dst, old);
    tmpDirs.push(old);
  }
  renameSync(src, dst);
}

let cleanedUp = false;
/** Synchronous, idempotent: removes the temp dirs and unmounts anything left below the cache. */
function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const dir of tmpDirs) {
    try {
      removeTree(dir, log);
    } catch (error) {
      log(`leaving ${dir}: ${(error as Error).message}`);
    }
  }
  unmountBelow(CACHE, log);
  lock?.close();
}

async function onSignal(signal: 'SIGINT' | 'SIGTERM'): Promise<void> {
  if (interrupted) return;
  interrupted = true;
  log(signal === 'SIGINT' ? 'interrupted' : 'terminated');
  // Our children first (debootstrap, make, cp): they must not write into trees we are about to remove.
  const children = descendants(process.pid);
  for (const pid of children) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  for (let tries = 0; tries < 100; tries += 1) {
    if (!children.some(isAlive)) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  cleanup();
  log(`FAILED in step "${step}" (${signal}) after ${secondsSince(runStarted)}s; logs in ${LOGS}/`);
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
/** The processes below `pid`, from /proc/PID/stat's parent field. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(parent, [...(parents.get(parent) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift() as number) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------- vdb helpers
/** One vdb file, with a trailing newline like Portage. */
const put = (dir: string, file: string, value: string | number): void => writeFileSync(join(dir, file), `${value}\n`);

/**
 * soname;rpath;needed,needed of each ELF file ('' when it has no dynamic section), from one readelf run: libc6
 * alone has some 300 ELF files, and a process per file was most of the Gentoo shape's time.
 */
async function elfDynamics(files: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(files)];
  const dynamics = new Map<string, string>();
  if (unique.length === 0) return dynamics;
  const text = (await sh()`readelf -d --wide -- ${unique}`.nothrow()).stdout;
  // With several files, readelf starts each one's part with "File: NAME".
  const parts = unique.length === 1 ? [[unique[0] as string, text] as const] : text.split(/^File: /m).slice(1).map((part) => [part.slice(0, part.indexOf('\n')), part] as const);
  const value = (line: string): string => line.slice(line.indexOf('[') + 1, line.lastIndexOf(']'));
  for (const [file, part] of parts) {
    if (part.includes('There is no dynamic section')) {
      dynamics.set(file, '');
      continue;
    }
    const needed: string[] = [];
    let soname = '';
    let rpath = '';
    for (const line of part.split('\n')) {
      if (line.includes('(NEEDED)')) needed.push(value(line));
      if (line.includes('(SONAME)')) soname = value(line);
      if (/\((RPATH|RUNPATH)\)/.test(line)) rpath = value(line);
    }
    dynamics.set(file, `${soname};${rpath};${needed.join(',')}`);
  }
  return dynamics;
}

const SCAN_PACKAGES = readFileSync(join(HERE, 'in-root/scan-packages.sh'), 'utf8');
/**
 * Writes CONTENTS, SIZE, NEEDED, NEEDED.ELF.2, PROVIDES, REQUIRES and COUNTER computed from the real files of
 * the Debian packages (listed inside the root by in-root/scan-packages.sh).
 */
async function writeVdbFiles(root: string, dir: string, counter: number, providesGiven: string, ...packages: string[]): Promise<void> {
  let scan: string;
  try {
    scan = await inRoot(root, ['/bin/bash', '-s', '--', ...packages], SCAN_PACKAGES);
  } catch {
    return die(`listing files of ${packages.join(' ')} in ${root} failed`);
  }
  const lines = scan.split('\n');
  const contents = lines.filter((line) => line.startsWith('C ')).map((line) => `${line.slice(2)}\n`);
  writeFileSync(join(dir, 'CONTENTS'), contents.join(''));
  const size = lines.filter((line) => line.startsWith('S ')).reduce((sum, line) => sum + Number(line.slice(2)), 0);
  const neededLines: string[] = [];
  const elf2Lines: string[] = [];
  const sonames: string[] = [];
  const requires: string[] = [];
  const libraryPath = new RegExp(`^/(usr/)?lib(64)?/(${MULTIARCH}/)?[^/]+$`);
  const elves = lines.filter((entry) => entry.startsWith('E ')).map((line) => line.slice(2).split('\t') as [string, string]);
  const dynamics = await elfDynamics(elves.map(([, real]) => root + real));
  for (const [path, real] of elves) {
    const dynamic = dynamics.get(root + real) ?? ';;';
    if (dynamic === '') continue;
    const [soname = '', rpath = '', needed = ''] = dynamic.split(';');
    elf2Lines.push(`X86_64;${path};${soname};${rpath};${needed};x86_64`);
    if (needed !== '') neededLines.push(`${path} ${needed}`);
    if (soname !== '' && libraryPath.test(path)) sonames.push(soname);
    if (needed !== '') requires.push(...needed.split(','));
  }
  put(dir, 'SIZE', size);
  // As printf '%s\n' "${list[@]}" wrote them: an empty list is one empty line.
  writeFileSync(join(dir, 'NEEDED'), `${neededLines.join('\n')}\n`);
  writeFileSync(join(dir, 'NEEDED.ELF.2'), `${elf2Lines.join('\n')}\n`);
  let provides = providesGiven;
  if (provides === '' && sonames.length > 0) provides = `x86_64: ${[...new Set(sonames)].sort().join(' ')}`;
  if (provides !== '') put(dir, 'PROVIDES', provides);
  const provided = new Set(provides.replace(/^x86_64: /, '').split(' '));
  const unresolved = [...new Set(requires)].sort().filter((name) => !provided.has(name));
  if (unresolved.length > 0) put(dir, 'REQUIRES', `x86_64: ${unresolved.join(' ')}`);
  writeFileSync(join(dir, 'COUNTER'), String(counter)); // Portage writes COUNTER without newline
}

function commonVdb(dir: string, category: string, pf: string, slot: string): void {
  mkdirSync(dir, { recursive: true });
  put(dir, 'CATEGORY', category);
  put(dir, 'PF', pf);
  put(dir, 'SLOT', slot);
  put(dir, 'EAPI', 8);
  put(dir, 'repository', 'gentoo');
  put(dir, 'CBUILD', 'x86_64-pc-linux-gnu');
  put(dir, 'CHOST', 'x86_64-pc-linux-gnu');
  put(dir, 'CFLAGS', '-O2 -pipe');
  put(dir, 'CXXFLAGS', '-O2 -pipe');
  put(dir, 'LDFLAGS', '-Wl,-O1 -Wl,--as-needed');
  put(dir, 'BUILD_TIME', nowSeconds());
  put(dir, 'FEATURES', 'assume-digests binpkg-docompress binpkg-dostrip binpkg-logs config-protect-if-modified distlocks ebuild-locks fixlafiles ipc merge-sync multilib-strict network-sandbox news parallel-fetch pid-sandbox preserve-libs protect-owned qa-unresolved-soname-deps sandbox sfperms strict unknown-features-warn unmerge-logs unmerge-orphans userfetch userpriv usersandbox usersync xattr');
  put(dir, 'KEYWORDS', '~alpha amd64 arm arm64 hppa ~loong ~m68k ~mips ppc ppc64 ~riscv ~s390 sparc x86');
}

/** Copies one file of root-files/ into the root with the given mode. */
function placeRootFile(root: string, path: string, mode: number): void {
  mkdirSync(dirname(root + path), { recursive: true });
  copyFileSync(join(ROOT_FILES, path), root + path);
  chmodSync(root + path, mode);
}

async function gentooShape(root: string): Promise<void> {
  const pkgdb = join(root, 'var/db/pkg');

  // sys-libs/libxcrypt: the package whose bad merge the repair undoes.
  let d = join(pkgdb, 'sys-libs', GENTOO_LIBXCRYPT_PF);
  commonVdb(d, 'sys-libs', GENTOO_LIBXCRYPT_PF, '0/1');
  put(d, 'USE', 'abi_x86_64 amd64 compat elibc_glibc kernel_linux system');
  put(d, 'IUSE', '+compat static-libs +system test headers-only');
  put(d, 'IUSE_EFFECTIVE', 'abi_x86_32 abi_x86_64 abi_x86_x32 alpha amd64 arm arm64 compat elibc_glibc elibc_musl headers-only hppa kernel_linux loong m68k mips ppc ppc64 riscv s390 sparc static-libs system test x86');
  put(d, 'DESCRIPTION', 'Extended crypt library for descrypt, md5crypt, bcrypt, and others');
  put(d, 'HOMEPAGE', 'https://github.com/besser82/libxcrypt');
  put(d, 'LICENSE', 'LGPL-2.1+ public-domain BSD BSD-2');
  put(d, 'INHERITED', 'toolchain-funcs crossdev multibuild multilib python-utils-r1 python-any-r1 flag-o-matic out-of-source-utils multilib-build multilib-minimal');
  put(d, 'DEFINED_PHASES', 'compile configure install preinst prepare pretend setup test');
  put(d, 'DEPEND', 'system? ( elibc_glibc? ( sys-libs/glibc[-crypt(-)] !sys-libs/glibc[crypt(-)] ) )');
  put(d, 'RDEPEND', 'system? ( elibc_glibc? ( sys-libs/glibc[-crypt(-)] !sys-libs/glibc[crypt(-)] ) )');
  put(d, 'BDEPEND', 'dev-lang/perl');
  await writeVdbFiles(root, d, 1102, 'x86_64: libcrypt.so.1 libcrypt.so.2', 'libcrypt1');

  // virtual/libcrypt: what every consumer (pam, shadow, perl) depends on.
  d = join(pkgdb, 'virtual/libcrypt-2-r1');
  commonVdb(d, 'virtual', 'libcrypt-2-r1', '0/2');
  put(d, 'USE', 'abi_x86_64 amd64 elibc_glibc kernel_linux');
  put(d, 'IUSE', 'abi_x86_32 abi_x86_64 abi_x86_x32 static-libs');
  put(d, 'DESCRIPTION', 'Virtual for libcrypt.so');
  put(d, 'RDEPEND', 'elibc_glibc? ( sys-libs/libxcrypt[system(-),static-libs(-)?,abi_x86_64(-)?] )');
  writeFileSync(join(d, 'CONTENTS'), '');
  put(d, 'SIZE', 0);
  writeFileSync(join(d, 'COUNTER'), '1103');

  d = join(pkgdb, 'sys-libs', GENTOO_PAM_PF);
  commonVdb(d, 'sys-libs', GENTOO_PAM_PF, '0');
  put(d, 'USE', 'abi_x86_64 amd64 elibc_glibc filecaps kernel_linux');
  put(d, 'IUSE', 'audit berkdb debug filecaps nis selinux abi_x86_32 abi_x86_64 abi_x86_x32');
  put(d, 'DESCRIPTION', 'Linux-PAM (Pluggable Authentication Modules)');
  put(d, 'HOMEPAGE', 'https://github.com/linux-pam/linux-pam');
  put(d, 'LICENSE', '|| ( BSD GPL-2 )');
  put(d, 'DEFINED_PHASES', 'compile configure install postinst prepare');
  put(d, 'DEPEND', 'virtual/libcrypt:=[abi_x86_64(-)] >=virtual/libintl-0-r1[abi_x86_64(-)]');
  put(d, 'RDEPEND', 'virtual/libcrypt:=[abi_x86_64(-)] >=virtual/libintl-0-r1[abi_x86_64(-)]');
  put(d, 'PDEPEND', '>=sys-auth/pambase-20200616');
  await writeVdbFiles(root, d, 1145, '', 'libpam0g', 'libpam-modules', 'libpam-modules-bin');

  d = join(pkgdb, 'sys-libs', GENTOO_GLIBC_PF);
  commonVdb(d, 'sys-libs', GENTOO_GLIBC_PF, '2.2');
  put(d, 'USE', 'amd64 elibc_glibc kernel_linux multiarch multilib ssp static-libs');
  put(d, 'IUSE', 'audit caps cet compile-locales +crypt custom-cflags doc gd hash-sysv-compat headers-only +multiarch multilib multilib-bootstrap nscd profile selinux +ssp +static-libs suid systemtap test vanilla');
  put(d, 'DESCRIPTION', 'GNU libc C library');
  put(d, 'HOMEPAGE', 'https://www.gnu.org/software/libc/');
  put(d, 'LICENSE', 'LGPL-2.1+ BSD HPND ISC inner-net rc PCRE');
  put(d, 'DEFINED_PHASES', 'compile configure install postinst preinst prepare pretend setup test unpack');
  await writeVdbFiles(root, d, 1012, '', 'libc6');

  // The other Gentoo-side files the repair looks at.
  for (const path of ['etc/conf.d', 'etc/init.d', 'etc/portage', 'var/lib/portage']) mkdirSync(join(root, path), { recursive: true });
  placeRootFile(root, '/etc/conf.d/display-manager', 0o644);
  placeRootFile(root, '/etc/init.d/display-manager', 0o755);
  placeRootFile(root, '/etc/portage/make.conf', 0o644);
  writeFileSync(join(root, 'var/lib/portage/world'), 'gui-libs/display-manager-init\nsys-auth/pamtester\nx11-apps/xdm\n');
  writeFileSync(join(root, 'etc/gentoo-release'), 'Gentoo Base System release 2.14\n');
  displayManagerShape(root);
}

/**
 * A vdb entry for a display manager package whose CONTENTS lists real files of the root (md5 and mtime), as
 * x11-apps/xdm and gui-libs/display-manager-init have.
 */
function dmVdb(root: string, category: string, pf: string, counter: number, description: string, ...files: string[]): void {
  const dir = join(root, 'var/db/pkg', category, pf);
  commonVdb(dir, category, pf, '0');
  put(dir, 'DESCRIPTION', description);
  put(dir, 'USE', 'amd64 elibc_glibc kernel_linux');
  const contents: string[] = [];
  let size = 0;
  for (const path of files) {
    const parent = `dir ${dirname(path)}`;
    if (!contents.includes(parent)) contents.push(parent);
    contents.push(`obj ${path} ${md5(readFileSync(root + path))} ${mtimeOf(root + path)}`);
    size += statSync(root + path).size;
  }
  writeFileSync(join(dir, 'CONTENTS'), contents.map((line) => `${line}\n`).join(''));
  put(dir, 'SIZE', size);
  writeFileSync(join(dir, 'COUNTER'), String(counter));
}

/**
 * The display manager DISPLAYMANAGER="xdm" names: a stand-in /usr/bin/xdm and xdm's PAM service (modelled on
 * Debian's xdm; the login proof drives it as dm:xdm), plus vdb entries whose CONTENTS list the real files. The
 * service is in debian-base's default runlevel; buildBroken takes it out.
 */
function displayManagerShape(root: string): void {
  placeRootFile(root, '/usr/bin/xdm', 0o755);
  placeRootFile(root, '/etc/pam.d/xdm', 0o644);
  dmVdb(root, 'x11-apps', 'xdm-1.1.14', 1150, 'X.Org xdm application', '/usr/bin/xdm', '/etc/pam.d/xdm');
  dmVdb(root, 'gui-libs', 'display-manager-init-1.1.2-r3', 1151, 'RC init files for starting display and login managers', '/etc/init.d/display-manager', '/etc/conf.d/display-manager');
  const runlevel = join(root, 'etc/runlevels/default');
  mkdirSync(runlevel, { recursive: true });
  rmSync(join(runlevel, 'display-manager'), { force: true });
  symlinkSync('/etc/init.d/display-manager', join(runlevel, 'display-manager'));
}

// ------------------------------------------------------------ libxcrypt source
const upstreamVersion = (version: string): string => version.replace(/^[^:]*:/, '').replace(/-[^-]*$/, '');

/**
 * Debian's libxcrypt source (.dsc), downloaded once into src/ through a private apt config holding only a
 * deb-src entry: the host's sources.list is never touched. Returns the .dsc's path.
 */
async function fetchLibxcryptSource(version: string): Promise<string> {
  const aptDir = join(CACHE, 'apt-src');
  const srcDir = join(CACHE, 'src');
  const dsc = join(srcDir, `libxcrypt_${version.replace(/^[^:]*:/, '')}.dsc`);
  if (existsSync(dsc) && existsSync(join(srcDir, `libxcrypt_${upstreamVersion(version)}.orig.tar.xz`))) return dsc;
  for (const path of ['lists/partial', 'cache/archives/partial', 'sources.list.d']) mkdirSync(join(aptDir, path), { recursive: true });
  mkdirSync(srcDir, { recursive: true });
  writeFileSync(
    join(aptDir, 'sources.list.d/debian-src.sources'),
    `Types: deb-src\nURIs: ${MIRROR}\nSuites: ${SUITE}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
  );
  const apt = ['apt-get', '-o', 'Dir::Etc::SourceList=/dev/null', '-o', `Dir::Etc::SourceParts=${aptDir}/sources.list.d`,
    '-o', `Dir::State::Lists=${aptDir}/lists`, '-o', `Dir::Cache=${aptDir}/cache`, '-o', 'APT::Sandbox::User=root'];
  if (!(await runLogged('libcrypt-source', [...apt, 'update', '-q']))) die('apt-get update (deb-src) failed');
  if (!(await runLogged('libcrypt-source', [...apt, 'source', '--download-only', '-q', `libxcrypt=${version}`], { cwd: srcDir }))) {
    die(`apt-get source libxcrypt=${version} failed`);
  }
  if (!existsSync(dsc)) die(`missing ${dsc}`);
  return dsc;
}

/**
 * A release-style libxcrypt-<ver>.tar.xz from upstream's pristine source (the Debian orig tarball is a git
 * snapshot without configure): autoreconf -fi (it needs ltdl.m4 from libltdl-dev), configure, make dist-xz.
 * The result builds with plain ./configure && make && make install. Returns its path.
 */
async function makeDistfile(version: string): Promise<string> {
  const up = upstreamVersion(version);
  const orig = join(CACHE, 'src', `libxcrypt_${up}.orig.tar.xz`);
  if (!existsSync(orig)) die(`missing ${orig}`);
  const distfile = join(DISTFILES, `libxcrypt-${up}.tar.xz`);
  const key = keyOf('distfile', SCRIPT_SHA, sha256(readFileSync(orig)));
  if (stampOk('distfile', key, distfile)) {
    log(`distfile ${distfile} is up to date`);
    return distfile;
  }
  stampClear('distfile');
  await ensureHostPackages('build-essential', 'autoconf', 'automake', 'libtool', 'libltdl-dev', 'pkg-config', 'perl', 'xz-utils');
  const tmp = makeTmp('distfile');
  if (!(await succeeds(sh()`tar -xf ${orig} -C ${tmp}`))) die(`cannot unpack ${orig}`);
  const source = join(tmp, `libxcrypt-${up}`);
  if (!existsSync(source)) die(`${orig} does not unpack to libxcrypt-${up}/`);
  if (!(await runLogged('distfile', ['autoreconf', '-fi'], { cwd: source }))) die(`autoreconf failed (see ${LOGS}/distfile.log)`);
  const build = join(tmp, 'build');
  mkdirSync(build);
  if (!(await runLogged('distfile', [`../libxcrypt-${up}/configure`, '--disable-werror'], { cwd: build }))) die('configure for make dist failed');
  if (!(await runLogged('distfile', ['make', 'dist-xz'], { cwd: build }))) die(`make dist-xz failed (see ${LOGS}/distfile.log)`);
  const out = join(build, `libxcrypt-${up}.tar.xz`);
  if (!existsSync(out)) die(`make dist-xz produced no ${out}`);
  if (!(await succeeds(sh()`tar -tJf ${out} ${`libxcrypt-${up}/configure`} ${`libxcrypt-${up}/Makefile.in`}`))) die(`${out} lacks configure or Makefile.in`);
  mkdirSync(DISTFILES, { recursive: true });
  chmodSync(out, 0o644);
  renameSync(out, distfile);
  stampWrite('distfile', key);
  return distfile;
}

// ------------------------------------------------------------ components
async function buildBase(): Promise<void> {
  beginStep('debian-base', `debootstrap ${SUITE} minbase into ${BASE}`);
  await ensureHostPackages('debootstrap', 'debian-archive-keyring', 'util-linux', 'binutils');
  stampClear('debian-base');
  let packages = 'perl,libpam-modules,libpam-modules-bin,libpam-runtime,pamtester,login,passwd,openssl,openrc,procps';
  // libpython3.11-stdlib: ctypes, which every Gentoo python has (dev-lang/python always builds _ctypes) and
  // which argo's PAM driver loads the target's libpam.so.0 with.
  if (WITH_PYTHON === '1') packages += ',python3-minimal,libpython3.11-stdlib';
  // What a Gentoo system always has for building (the manual-build pivot).
  if (WITH_TOOLCHAIN === '1') packages += ',gcc,make,libc6-dev,xz-utils';
  const tmp = makeTmp('debian-base');
  mkdirSync(join(CACHE, 'debs'), { recursive: true });
  const started = performance.now();
  // debootstrap mounts /proc and /sys in the target; a private mount namespace makes sure they can never
  // outlive it.
  const debootstrap = ['unshare', '--mount', '--propagation', 'private', '--', 'debootstrap', '--variant=minbase', `--include=${packages}`,
    `--cache-dir=${join(CACHE, 'debs')}`, SUITE, join(tmp, 'root'), MIRROR];
  if (!(await runLogged('debian-base', debootstrap))) die(`debootstrap failed (see ${LOGS}/debian-base.log)`);
  debootstrapSeconds = secondsSince(started);
  log(`debootstrap took ${debootstrapSeconds}s`);
  if (mountsBelow(tmp).length > 0) die(`debootstrap left mounts below ${tmp}`);
  const r = join(tmp, 'root');
  if (!(await succeeds(inRoot(r, ['dpkg-query', '-W', 'openrc'])))) die('openrc not installed');
  if (WITH_TOOLCHAIN === '1') {
    const runs = await Promise.all([['gcc', '--version'], ['make', '--version'], ['xz', '--version']].map((argv) => succeeds(inRoot(r, argv))));
    if (runs.includes(false)) die('the toolchain (gcc, make, xz) does not run in the root');
  }
  // Downloaded .debs and the Packages lists are ~95 MB the tests don't need.
  await inRoot(r, ['apt-get', 'clean']);
  const lists = join(r, 'var/lib/apt/lists');
  for (const name of readdirSync(lists)) {
    if (name.endsWith('_Packages') || name.endsWith('_InRelease')) rmSync(join(lists, name), { recursive: true, force: true });
  }
  writeFileSync(join(r, 'etc/hostname'), 'argo-fixture\n');
  endStep();

  beginStep('users', 'create alice, set SHA-512 passwords');
  if (!(await succeeds(inRoot(r, ['useradd', '--create-home', '--uid', '1000', '--user-group', '--shell', '/bin/bash', '--comment', 'Alice Fixture', 'alice'])))) {
    die('useradd alice failed');
  }
  if (!(await succeeds(inRoot(r, ['chpasswd', '-c', 'SHA512'], `root:${ROOT_PASSWORD}\nalice:${ALICE_PASSWORD}\n`)))) die('chpasswd failed');
  const shadow = readFileSync(join(r, 'etc/shadow'), 'utf8').split('\n').map((line) => line.split(':'));
  for (const user of ['root', 'alice']) {
    const hash = shadow.find((fields) => fields[0] === user)?.[1] ?? '';
    if (!hash.startsWith('$6$')) die(`password of ${user} is not a $6$ hash: ${hash.slice(0, 4)}...`);
  }
  const login = readFileSync(join(r, 'etc/pam.d/login'), 'utf8');
  const commonAuth = readFileSync(join(r, 'etc/pam.d/common-auth'), 'utf8');
  if (!/^@include common-auth/m.test(login) || !commonAuth.includes('pam_unix.so')) die('/etc/pam.d/login does not authenticate through pam_unix');
  endStep();

  beginStep('gentoo-shape', 'write /var/db/pkg, conf.d, init.d, make.conf, world');
  await gentooShape(r);
  const got = await inRoot(r, ['perl', '-e', CRYPT_PROBE]);
  if (got !== SHA512_EXPECTED) die(`base root: SHA-512 crypt gives '${got}'`);
  endStep();

  beginStep('distfile', 'release-style libxcrypt distfile into /var/cache/distfiles');
  const sourceVersion = await sh()`dpkg-query --admindir=${join(r, 'var/lib/dpkg')} -W -f=${'${source:Version}'} libcrypt1`.then(
    (output) => output.stdout,
    () => die("cannot read libcrypt1's version in the new root"),
  );
  await fetchLibxcryptSource(sourceVersion);
  const distfile = await makeDistfile(sourceVersion);
  const inside = `/var/cache/distfiles/${basename(distfile)}`;
  mkdirSync(dirname(r + inside), { recursive: true });
  copyFileSync(distfile, r + inside);
  chmodSync(r + inside, 0o644);
  if (WITH_TOOLCHAIN === '1' && !(await succeeds(inRoot(r, ['tar', '-tJf', inside])))) die('the distfile cannot be listed inside the root');
  endStep();

  beginStep('debian-base-install', 'install into place');
  const credentials = join(CACHE, `.credentials.${process.pid}`);
  rmSync(credentials, { force: true });
  writeFileSync(credentials, `# argo fixture test credentials (test-only, plain text). user:password\nroot:${ROOT_PASSWORD}\nalice:${ALICE_PASSWORD}\n`, { mode: 0o600 });
  installDir(r, BASE);
  renameSync(credentials, CREDS);
  writeFileSync(join(STAMPS, 'debootstrap-seconds'), `${debootstrapSeconds}\n`);
  stampWrite('debian-base', keyBase());
  endStep();
}

async function buildLibs(): Promise<void> {
  beginStep('libcrypt-source', "fetch Debian's libxcrypt source");
  await ensureHostPackages('dpkg-dev', 'xz-utils', 'build-essential', 'autoconf', 'automake', 'libtool', 'pkg-config', 'perl', 'binutils');
  stampClear('libcrypt');
  const version = await sh()`dpkg-query --admindir=${join(BASE, 'var/lib/dpkg')} -W -f=${'${source:Version}'} libcrypt1`.then(
    (output) => output.stdout,
    () => die(`cannot read libcrypt1's version in ${BASE}`),
  );
  const dsc = await fetchLibxcryptSource(version);
  endStep();

  beginStep('libcrypt-build', `build libxcrypt ${version} twice (all hashes / without sha512crypt)`);
  const tmp = makeTmp('libcrypt');
  const s = join(tmp, 'src');
  if (!(await runLogged('libcrypt-build', ['dpkg-source', '--no-check', '-x', dsc, s]))) die('dpkg-source -x failed');
  // Every method lib/hashes.conf knows, minus sha512crypt.
  const hashes = readFileSync(join(s, 'lib/hashes.conf'), 'utf8').split('\n')
    .filter((line) => !line.startsWith('#'))
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '' && name !== 'sha512crypt')
    .join(',');
  if (hashes === '') die('could not read hash names from lib/hashes.conf');
  if (!(await runLogged('libcrypt-build', ['autoreconf', '-fi'], { cwd: s }))) die('autoreconf failed');
  // Debian's own configure flags (debian/rules, CONFFLAGS_deb1).
  const conf = ['--disable-werror', '--prefix=/usr', '--disable-xcrypt-compat-files', '--enable-obsolete-api=glibc', `--libdir=/usr/lib/${MULTIARCH}`];
  const buildFlags: Record<string, string> = {};
  for (const flag of ['CFLAGS', 'CPPFLAGS', 'LDFLAGS']) {
    buildFlags[flag] = (await sh({ cwd: s, env: { ...process.env, DEB_BUILD_MAINT_OPTIONS: 'hardening=+bindnow' } })`dpkg-buildflags --get ${flag}`).stdout.trim();
  }
  const jobs = (await sh()`nproc`).stdout.trim();
  for (const variant of ['broken', 'good']) {
    const enable = variant === 'broken' ? hashes : 'all';
    const started = performance.now();
    const build = join(tmp, `build-${variant}`);
    mkdirSync(build, { recursive: true });
    const env = { ...process.env, ...buildFlags };
    if (!(await runLogged('libcrypt-build', [join(s, 'configure'), ...conf, `--enable-hashes=${enable}`], { cwd: build, env }))) die(`configure (${variant}) failed`);
    if (!(await runLogged('libcrypt-build', ['make', `-j${jobs}`], { cwd: build }))) die(`make (${variant}) failed`);
    const out = join(tmp, `libcrypt-${variant}`);
    const image = join(out, 'image/lib', MULTIARCH);
    mkdirSync(image, { recursive: true });
    const lib = join(build, '.libs/libcrypt.so.1.1.0');
    if (!existsSync(lib)) die(`build (${variant}) produced no libcrypt.so.1.1.0`);
    await sh()`strip --strip-unneeded -o ${join(out, 'libcrypt.so.1.1.0')} ${lib}`;
    chmodSync(join(out, 'libcrypt.so.1.1.0'), 0o644);
    symlinkSync('libcrypt.so.1.1.0', join(out, 'libcrypt.so.1'));
    cpSync(join(out, 'libcrypt.so.1.1.0'), join(image, 'libcrypt.so.1.1.0'), { preserveTimestamps: true });
    symlinkSync('libcrypt.so.1.1.0', join(image, 'libcrypt.so.1'));
    const library = readFileSync(join(out, 'libcrypt.so.1.1.0'));
    writeFileSync(join(out, 'BUILD-INFO'), [
      kv('SOURCE_PACKAGE', 'libxcrypt'),
      kv('SOURCE_VERSION', version),
      kv('VARIANT', variant),
      kv('ENABLE_HASHES', enable),
      kv('CONFIGURE_ARGS', `${conf.join(' ')} --enable-hashes=${enable}`),
      kv('MD5', md5(library)),
      kv('SHA256', sha256(library)),
      kv('BUILD_SECONDS', secondsSince(started)),
    ].join(''));
    log(`built ${variant} libcrypt in ${secondsSince(started)}s (--enable-hashes=${enable})`);
  }
  // Check both with the host's perl before trusting them.
  const cryptWith = async (dir: string): Promise<string> => (await sh({ env: { ...process.env, LD_LIBRARY_PATH: dir } })`perl -e ${CRYPT_PROBE}`).stdout;
  let got = await cryptWith(join(tmp, 'libcrypt-good'));
  if (got !== SHA512_EXPECTED) die(`good libcrypt does not do SHA-512: '${got}'`);
  got = await cryptWith(join(tmp, 'libcrypt-broken'));
  if (got !== '*0') die(`broken libcrypt still does SHA-512: '${got}'`);
  installDir(join(tmp, 'libcrypt-broken'), LIB_BROKEN);
  installDir(join(tmp, 'libcrypt-good'), LIB_GOOD);
  stampWrite('libcrypt', keyLibs());
  endStep();
}

async function buildBroken(): Promise<void> {
  beginStep('debian-broken', 'copy base, install libcrypt without sha512crypt');
  stampClear('debian-broken');
  const tmp = makeTmp('debian-broken');
  const r = join(tmp, 'root');
  await sh()`cp -a --reflink=auto -- ${BASE} ${r}`;
  const libpath = `/lib/${MULTIARCH}/libcrypt.so.1.1.0`;
  const real = (await inRoot(r, ['readlink', '-f', '--', `/lib/${MULTIARCH}/libcrypt.so.1`]).catch(() => die(`no libcrypt.so.1 in ${r}`))).trim();
  if (!existsSync(r + real) || !statSync(r + real).isFile()) die(`libcrypt.so.1 resolves to ${real}, which is not a file`);
  // Replace it the way a merge does: write next to it, then rename over it.
  copyFileSync(join(LIB_BROKEN, 'libcrypt.so.1.1.0'), `${r}${real}.argo-new`);
  chmodSync(`${r}${real}.argo-new`, 0o644);
  renameSync(`${r}${real}.argo-new`, r + real);
  const libraryMd5 = md5(readFileSync(r + real));
  const mtime = mtimeOf(r + real);
  const sysLibs = join(r, 'var/db/pkg/sys-libs');
  const vdbs = readdirSync(sysLibs).filter((name) => name.startsWith('libxcrypt-'));
  if (vdbs.length !== 1) die(`expected one sys-libs/libxcrypt-* entry, found ${vdbs.length}`);
  const vdb = join(sysLibs, vdbs[0] as string);
  const contents = readFileSync(join(vdb, 'CONTENTS'), 'utf8').split('\n');
  if (!contents.some((line) => line.startsWith(`obj ${libpath} `))) die(`${vdb}/CONTENTS has no obj ${libpath}`);
  const rewritten = contents.map((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[0] === 'obj' && fields[1] === libpath ? [fields[0], fields[1], libraryMd5, mtime, ...fields.slice(4)].join(' ') : line;
  });
  writeFileSync(join(vdb, 'CONTENTS.new'), rewritten.join('\n'));
  renameSync(join(vdb, 'CONTENTS.new'), join(vdb, 'CONTENTS'));
  let size = 0;
  for (const line of rewritten) {
    const fields = line.split(/\s+/);
    if (fields[0] === 'obj') size += statSync(r + fields[1]).size;
  }
  put(vdb, 'SIZE', size);
  put(vdb, 'BUILD_TIME', mtime);
  writeFileSync(join(vdb, 'COUNTER'), '1877'); // a later merge than everything else
  const hashes = readKv(join(LIB_BROKEN, 'BUILD-INFO'), 'ENABLE_HASHES');
  put(vdb, 'EXTRA_ECONF', `--enable-hashes=${hashes}`);
  // Where such an EXTRA_ECONF comes from on a real system.
  mkdirSync(join(r, 'etc/portage/env'), { recursive: true });
  writeFileSync(join(r, 'etc/portage/env/libxcrypt-no-sha512.conf'), `EXTRA_ECONF="--enable-hashes=${hashes}"\n`);
  writeFileSync(join(r, 'etc/portage/package.env'), 'sys-libs/libxcrypt libxcrypt-no-sha512.conf\n');
  // As if the crash left the display manager disabled.
  rmSync(join(r, 'etc/runlevels/default/display-manager'), { force: true });
  const got = await inRoot(r, ['perl', '-e', CRYPT_PROBE]);
  if (got !== '*0') die(`broken root still does SHA-512: '${got}'`);
  installDir(r, BROKEN);
  stampWrite('debian-broken', keyBroken());
  endStep();
}

const SUMMARY_PACKAGES = ['libcrypt1', 'libc6', 'libpam0g', 'libpam-modules', 'pamtester', 'login', 'passwd', 'openrc', 'perl', 'openssl', 'procps',
  'python3-minimal', 'libpython3.11-stdlib', 'gcc', 'gcc-12', 'make', 'libc6-dev', 'xz-utils'];

async function writeSummary(): Promise<void> {
  const admindir = join(BASE, 'var/lib/dpkg');
  const distfiles = readdirSync(join(BASE, 'var/cache/distfiles')).filter((name) => /^libxcrypt-.*\.tar\.xz$/.test(name)).sort();
  let debootstrap = 'unknown';
  try {
    debootstrap = readFileSync(join(STAMPS, 'debootstrap-seconds'), 'utf8').trim();
  } catch {
    // Kept as unknown: a cache built before the stamp existed.
  }
  const lines = [
    '# Written by test/chroot-fixtures/build-debian-target.ts; source it or parse KEY=VALUE lines.\n',
    kv('ARGO_FIXTURE_CACHE', CACHE),
    kv('ARGO_FIXTURE_BASE', BASE),
    kv('ARGO_FIXTURE_BROKEN', BROKEN),
    kv('ARGO_FIXTURE_GOOD_LIB', join(LIB_GOOD, 'libcrypt.so.1.1.0')),
    kv('ARGO_FIXTURE_BROKEN_LIB', join(LIB_BROKEN, 'libcrypt.so.1.1.0')),
    kv('ARGO_FIXTURE_CREDENTIALS', CREDS),
    kv('ARGO_FIXTURE_BUILDER_SHA256', SCRIPT_SHA),
    kv('ARGO_FIXTURE_DEBIAN_SUITE', SUITE),
    kv('ARGO_FIXTURE_DEBIAN_RELEASE', readFileSync(join(BASE, 'etc/debian_version'), 'utf8').trim()),
    kv('ARGO_FIXTURE_LIBXCRYPT_SOURCE_VERSION', readKv(join(LIB_GOOD, 'BUILD-INFO'), 'SOURCE_VERSION')),
    kv('ARGO_FIXTURE_BROKEN_ENABLE_HASHES', readKv(join(LIB_BROKEN, 'BUILD-INFO'), 'ENABLE_HASHES')),
    kv('ARGO_FIXTURE_DEBOOTSTRAP_SECONDS', debootstrap),
    kv('ARGO_FIXTURE_DISTFILE', distfiles[0] === undefined ? '' : `/var/cache/distfiles/${distfiles[0]}`),
    kv('ARGO_FIXTURE_TOOLCHAIN', WITH_TOOLCHAIN),
    kv('ARGO_FIXTURE_FAKE_EMERGE_INSTALLER', join(HERE, 'install-fake-emerge.ts')),
    kv('ARGO_FIXTURE_BINPKG', join(CACHE, 'fake-emerge/good/sys-libs/libxcrypt/libxcrypt-4.4.36-1.gpkg.tar')),
  ];
  // One dpkg-query for all: a package it does not know is reported on stderr and left out of stdout.
  const known = new Map<string, string>();
  const listed = await sh()`dpkg-query --admindir=${admindir} -W -f=${'${Package}\t${Version}\n'} ${SUMMARY_PACKAGES}`.nothrow();
  for (const line of listed.stdout.split('\n')) {
    const [name = '', version = ''] = line.split('\t');
    if (name !== '') known.set(name, version);
  }
  for (const name of SUMMARY_PACKAGES) {
    lines.push(kv(`ARGO_FIXTURE_DEB_${name.toUpperCase().replace(/[.+-]/g, '_')}`, known.get(name) ?? 'absent'));
  }
  writeFileSync(`${ENVFILE}.new`, lines.join(''));
  renameSync(`${ENVFILE}.new`, ENVFILE);
}

async function printSummary(): Promise<void> {
  log(`cache: ${CACHE}`);
  const present = [BASE, BROKEN, LIB_GOOD, LIB_BROKEN, DISTFILES, join(CACHE, 'fake-emerge')].filter((dir) => existsSync(dir));
  const sizes = (await sh()`du -sh -- ${present}`).stdout.trim().split('\n');
  for (const line of sizes) log(`  ${line.replace('\t', '  ')}`);
  log(`  libxcrypt source ${readKv(join(LIB_GOOD, 'BUILD-INFO'), 'SOURCE_VERSION')}; broken lib built with --enable-hashes=${readKv(join(LIB_BROKEN, 'BUILD-INFO'), 'ENABLE_HASHES')}`);
  if (timings.length > 0) log(`  step timings: ${timings.join(' ')}`);
  log(`total: ${secondsSince(runStarted)}s`);
  process.stdout.write(`ARGO_FIXTURE base=${BASE} broken=${BROKEN} good_lib=${join(LIB_GOOD, 'libcrypt.so.1.1.0')} broken_lib=${join(LIB_BROKEN, 'libcrypt.so.1.1.0')}\n`);
}

/**
 * The GPKG and stash of install-fake-emerge.ts: keyed by that script and by the libraries and vdb it packs
 * (its own stamp, fake-emerge/.stamp), so this is a no-op when nothing changed. We hold the cache lock.
 */
async function prepareFakeEmerge(): Promise<void> {
  try {
    await prepareFakeEmergeCache({ cache: CACHE, cacheLockHeld: true });
  } catch (error) {
    die(`install-fake-emerge's cache failed: ${(error as Error).message}`);
  }
}

// ------------------------------------------------------------------ main
async function main(argv: readonly string[]): Promise<void> {
  for (const arg of argv) {
    if (arg === '--force') force = true;
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      return;
    } else {
      log(`unknown argument: ${arg} (try --help)`);
      process.exitCode = 2;
      return;
    }
  }
  beginStep('preflight', `cache ${CACHE}`);
  if (process.getuid?.() !== 0) die('must run as root (debootstrap, chroot)');
  if ((await sh()`dpkg --print-architecture`).stdout.trim() !== 'amd64') die('only amd64 hosts are supported');
  if (!(await succeeds(sh()`command -v unshare flock`))) die('util-linux (unshare, flock) is required');
  for (const dir of [CACHE, STAMPS, LOGS]) mkdirSync(dir, { recursive: true });
  lock = openLock(join(CACHE, '.lock'));
  if (!(await lock.take('exclusive', 0))) {
    log(`another build holds ${CACHE}/.lock; waiting (up to 30 min)`);
    if (!(await lock.take('exclusive', 1800))) die(`timed out waiting for ${CACHE}/.lock`);
  }
  // Leftovers of an interrupted run (we hold the lock, so nobody is using them).
  for (const name of readdirSync(CACHE)) {
    if (!/^\..+\.(tmp|old)\./.test(name)) continue;
    log(`removing leftover ${join(CACHE, name)}`);
    try {
      removeTree(join(CACHE, name), log);
    } catch (error) {
      die((error as Error).message);
    }
  }

  const baseOk = (): boolean => stampOk('debian-base', keyBase(), BASE, CREDS);
  const libsOk = (): boolean => stampOk('libcrypt', keyLibs(), join(LIB_GOOD, 'libcrypt.so.1.1.0'), join(LIB_BROKEN, 'libcrypt.so.1.1.0'));
  const brokenOk = (): boolean => stampOk('debian-broken', keyBroken(), BROKEN);
  if (baseOk() && libsOk() && brokenOk()) {
    log(`all fixtures up to date (builder sha256 ${SCRIPT_SHA.slice(0, 12)}); nothing to do`);
    // A summary another version of the builder wrote (or none, after a run that failed in its last step).
    if (!existsSync(ENVFILE) || readKv(ENVFILE, 'ARGO_FIXTURE_BUILDER_SHA256') !== SCRIPT_SHA) await writeSummary();
    await prepareFakeEmerge();
    await printSummary();
    return;
  }
  timings.push(`preflight=${secondsSince(stepStarted)}s`);
  for (const name of readdirSync(LOGS)) if (name.endsWith('.log')) rmSync(join(LOGS, name)); // logs describe the latest build only

  if (!baseOk()) await buildBase();
  if (!libsOk()) await buildLibs();
  if (!brokenOk()) await buildBroken();

  beginStep('finish', 'summary');
  if (mountsBelow(CACHE).length > 0) die(`something is still mounted below ${CACHE}`);
  await writeSummary();
  await prepareFakeEmerge();
  await printSummary();
}

if (import.meta.main) {
  process.on('SIGINT', () => void onSignal('SIGINT'));
  process.on('SIGTERM', () => void onSignal('SIGTERM'));
  try {
    await main(process.argv.slice(2));
  } catch (error) {
    if (interrupted) await new Promise(() => undefined); // onSignal cleans up and exits
    if (error instanceof StepError) log(`ERROR in step "${step}": ${error.message}`);
    else {
      const failed = error as { exitCode?: number | null; message?: string; stderr?: string };
      const detail = failed.exitCode === undefined ? String(failed.message ?? error) : `command failed (exit ${failed.exitCode}): ${(failed.stderr ?? '').trim().split('\n').slice(-5).join(' | ')}`;
      log(`ERROR in step "${step}": ${detail}`);
    }
    process.exitCode = 1;
    log(`FAILED in step "${step}" after ${secondsSince(runStarted)}s; logs in ${LOGS}/`);
  } finally {
    if (!interrupted) cleanup();
  }
}

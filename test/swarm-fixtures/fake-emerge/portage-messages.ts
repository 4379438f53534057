/**
 * The text Portage prints and logs, taken from its source (github.com/gentoo/portage at a20ef27a, 3.0.82+):
 * status lines from lib/_emerge/{MergeListItem,PackageMerge,Scheduler,Binpkg}.py, phase lines from
 * bin/phase-functions.sh and bin/misc-functions.sh, the die banner from bin/isolated-functions.sh, emerge.log
 * records from lib/_emerge/{EbuildBuild,EbuildMerge,Binpkg,MergeListItem,post_emerge,actions,main}.py; binhost
 * messages from lib/portage/dbapi/bintree.py, lib/_emerge/{BinpkgFetcher,BinpkgVerifier}.py and
 * lib/portage/package/ebuild/fetch.py. A binhost run also prints what Portage's helpers say: Python's urllib
 * (`str(err)` of what `portage.util._urlopen.urlopen` raised, checked against CPython 3.11) and the FETCHCOMMAND of
 * cnf/make.globals, wget (lines checked against GNU Wget 1.21.3 in the C locale).
 */

/** `pkg.root`: ROOT with a trailing slash. */
export function portageRoot(root: string): string {
  return root.endsWith('/') ? root : `${root}/`;
}

/** Scheduler `_status_msg` on a non-tty: a blank line, then `>>> msg`. */
export function statusLines(message: string): string[] {
  return ['', `>>> ${message}`];
}

/** MergeListItem: `Emerging (i of n) cpv::repo`, `Emerging binary ...`, plus ` for ROOT` when ROOT is not `/`. */
export function emergingMessage(kind: 'source' | 'binary', index: number, total: number, cpv: string, root: string): string {
  const action = kind === 'binary' ? 'Emerging binary' : 'Emerging';
  return `${action} (${index} of ${total}) ${cpv}::gentoo${root === '/' ? '' : ` for ${portageRoot(root)}`}`;
}

/** PackageMerge: `Installing (i of n) cpv::repo` / `Completed (...)`, plus ` to ROOT` when ROOT is not `/`. */
export function mergeMessage(action: 'Installing' | 'Completed', index: number, total: number, cpv: string, root: string): string {
  return `${action} (${index} of ${total}) ${cpv}::gentoo${root === '/' ? '' : ` to ${portageRoot(root)}`}`;
}

export interface BuildDirs {
  readonly workdir: string;
  readonly s: string;
  readonly d: string;
  readonly temp: string;
  readonly buildLog: string;
}

/** PORTAGE_BUILDDIR layout under PORTAGE_TMPDIR=/var/tmp, as the build would print it. */
export function buildDirs(category: string, pf: string): BuildDirs {
  const base = `/var/tmp/portage/${category}/${pf}`;
  return { workdir: `${base}/work`, s: `${base}/work/${pf}`, d: `${base}/image`, temp: `${base}/temp`, buildLog: `${base}/temp/build.log` };
}

/** Phase output before src_compile runs (`__dyn_unpack`, `__dyn_prepare`, `__dyn_configure`, `__dyn_compile`). */
export function phaseLinesBeforeCompile(dirs: BuildDirs): string[] {
  return [
    '>>> Unpacking source...',
    `>>> Source unpacked in ${dirs.workdir}`,
    `>>> Preparing source in ${dirs.s} ...`,
    '>>> Source prepared.',
    `>>> Configuring source in ${dirs.s} ...`,
    '>>> Source configured.',
    `>>> Compiling source in ${dirs.s} ...`,
  ];
}

/** Phase output after src_compile (`__dyn_test` without FEATURES=test, `__dyn_install`, `__dyn_package`). */
export function phaseLinesAfterCompile(cpv: string, dirs: BuildDirs, buildpkg: boolean): string[] {
  return [
    '>>> Source compiled.',
    `>>> Test phase [not enabled]: ${cpv}`,
    '',
    `>>> Install ${cpv} into ${dirs.d}`,
    `>>> Completed installing ${cpv} into ${dirs.d}`,
    '',
    ...(buildpkg ? ['>>> Creating binpkg', '>>> Done.'] : []),
  ];
}

/** `die` from the compile phase (eerror lines, which go to stderr), as `emake || die` reports it. */
export function dieLines(cpv: string, dirs: BuildDirs): string[] {
  return [
    ` * ERROR: ${cpv}::gentoo failed (compile phase):`,
    ' *   emake failed',
    ' * ',
    ` * If you need support, post the output of \`emerge --info '=${cpv}::gentoo'\`,`,
    ` * the complete build log and the output of \`emerge -pqv '=${cpv}::gentoo'\`.`,
    ` * The complete build log is located at '${dirs.buildLog}'.`,
    ` * The ebuild environment file is located at '${dirs.temp}/environment'.`,
    ` * Working directory: '${dirs.s}'`,
    ` * S: '${dirs.s}'`,
  ];
}

/**
 * Scheduler `_failed_pkg_msg`. (The "following package has failed" summary only appears with several failures
 * or --keep-going, so a drone's one-package run never prints it.)
 */
export function failedPackageLines(cpv: string, root: string, dirs: BuildDirs): string[] {
  return [
    ...statusLines(`Failed to emerge ${cpv}${root === '/' ? '' : ` for ${portageRoot(root)}`}, Log file:`),
    ...statusLines(` '${dirs.buildLog}'`),
  ];
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (value: number): string => String(value).padStart(2, '0');

/** `Started emerge on: Sep 16, 2014 10:31:05` (strftime `%b %d, %Y %H:%M:%S`, local time). */
export function startedEmergeOn(date: Date): string {
  return `Started emerge on: ${MONTHS[date.getMonth()]} ${two(date.getDate())}, ${date.getFullYear()} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/** One emerge.log record: `<epoch>: <message>` (emergelog.py). */
export function emergeLogRecord(epochSeconds: number, message: string): string {
  return `${Math.floor(epochSeconds)}: ${message}\n`;
}

/** `_hide_url_passwd` (lib/portage/package/ebuild/fetch.py): `//user:*password*@`, every occurrence. */
export function hideUrlPassword(url: string): string {
  return url.replace(/\/\/([^:\s]+):[^@\s]+@/g, '//$1:*password*@');
}

/** bintree `populate`, when --getbinpkg finds no binhost configured (stderr). */
export const NO_BINHOST_MESSAGE = '!!! binrepos.conf is missing (or PORTAGE_BINHOST is unset), but use is requested.\n';

/**
 * bintree `_populate_remote_repo`, when the index could not be fetched (an OSError: HTTP error, unreachable host,
 * missing file): two lines on stderr, then Portage carries on without that binhost.
 */
export function binhostFetchErrorMessage(name: string, baseUrl: string, error: string): string {
  return `\n\n!!! [${name}] Error fetching binhost package info from '${hideUrlPassword(baseUrl)}'\n!!! [${name}] ${error}\n\n`;
}

/** bintree `_populate_remote_repo`: an index header without TIMESTAMP; the binhost is skipped (stderr). */
export function binhostNoTimestampMessage(name: string): string {
  return `\n\n!!! [${name}] Binhost package index  has no TIMESTAMP field.\n`;
}

/** bintree `_populate_remote_repo`: VERSION missing or above 0 (`_pkgindex_version_supported`); skipped (stderr). */
export function binhostVersionMessage(name: string, version: string | undefined): string {
  return `\n\n!!! [${name}] Binhost package index version is not supported: '${version ?? 'None'}'\n`;
}

/**
 * urllib raised ValueError (a 401 whose only challenge is not Basic): bintree raises ParseError and
 * `run_action` prints this and makes emerge exit 1 (stderr). Portage prints the URL as it is, password included;
 * the fake hides the password (see README).
 */
export function invalidBinhostMessage(url: string): string {
  return `\n\n!!!Invalid Portage BINHOST value '${hideUrlPassword(url)}'.\nSee make.conf(5) for more info.\n`;
}

/** bintree `_get_digests`: a SIZE that Python's int() refuses; the package is then not verified (stderr). */
export function malformedSizeMessage(cpv: string): string {
  return `!!! Malformed SIZE attribute in remote metadata for '${cpv}'\n`;
}

/** BinpkgFetcher, when a file:// or path binhost lacks the package (stdout). */
export function fileNotFoundLines(path: string): string[] {
  return [`!!! File not found: ${path}`];
}

/**
 * BinpkgVerifier `_digest_exception` (stdout). Portage then renames the file to `<name>._checksum_failure_.<random>`
 * and adds `File renamed to '...'`; the fake removes it instead (see README), so that line is not printed.
 */
export function digestFailureLines(path: string, name: string, got: string, expected: string): string[] {
  return ['', '!!! Digest verification failed:', `!!! ${path}`, `!!! Reason: Failed on ${name} verification`, `!!! Got: ${got}`, `!!! Expected: ${expected}`];
}

/**
 * BinpkgVerifier `_display_success`: EOutput `ebegin` + `eend(0)` into a buffer, so 80 columns and no colour:
 * ` * NAME DIGESTS ;-) ...`, then `"%*s" % (80 - len - 7)` spaces (a negative width pads as much on the left
 * side in Python) and `[ ok ]` (stdout).
 */
export function digestSuccessLine(basename: string, digestNames: readonly string[]): string {
  const message = `${basename} ${[...digestNames].sort().join(' ')} ;-) ...`;
  return ` * ${message}${' '.repeat(Math.abs(80 - (message.length + 3) - 7))}[ ok ]`;
}

/** `Not a gzipped file (b'..')`: CPython gzip's BadGzipFile, with the first two bytes as Python's bytes repr. */
export function notGzippedMessage(bytes: Uint8Array): string {
  const first = [...bytes.subarray(0, 2)];
  const quote = first.includes(0x27) && !first.includes(0x22) ? '"' : "'";
  const shown = first
    .map((byte) => {
      if (byte === 0x5c) return '\\\\';
      if (byte === quote.charCodeAt(0)) return `\\${quote}`;
      if (byte === 0x09) return '\\t';
      if (byte === 0x0a) return '\\n';
      if (byte === 0x0d) return '\\r';
      if (byte >= 0x20 && byte < 0x7f) return String.fromCharCode(byte);
      return `\\x${byte.toString(16).padStart(2, '0')}`;
    })
    .join('');
  return `Not a gzipped file (b${quote}${shown}${quote})`;
}

/*
 * wget, Portage's FETCHCOMMAND (cnf/make.globals: `wget -t 3 -T 60 --passive-ftp -U "..." -O
 * "${DISTDIR}/${FILE}" "${URI}"`), whose output BinpkgFetcher sends to stdout. Lines as GNU Wget 1.21.3 prints
 * them without a terminal in the C locale (progress dots left out); it shows a URL's password as `*password*`.
 */

const pad2 = (value: number): string => String(value).padStart(2, '0');

/** wget's `datetime_str`: `%Y-%m-%d %H:%M:%S`, local time. */
export function wgetTime(date: Date): string {
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

/** wget's `human_readable(n, 10, 1)`: `12K`, `2.9M`. */
function wgetHumanSize(size: number): string {
  if (size < 1024) return String(size);
  const powers = ['K', 'M', 'G', 'T', 'P', 'E'];
  let n = size;
  for (let i = 0; ; i += 1) {
    if (Math.floor(n / 1024) < 1024 || i === powers.length - 1) {
      const value = n / 1024;
      return `${value.toFixed(value < 10 ? 1 : 0)}${powers[i]}`;
    }
    n = Math.floor(n / 1024);
  }
}

/** wget's `retr_rate`: `162 KB/s`, `68.7 MB/s`. */
function wgetRate(bytes: number, seconds: number): string {
  let rate = bytes / Math.max(seconds, 1e-6);
  const units = ['B/s', 'KB/s', 'MB/s', 'GB/s'];
  let unit = 0;
  while (rate >= 1024 && unit < units.length - 1) {
    rate /= 1024;
    unit += 1;
  }
  return `${rate.toFixed(rate >= 99.95 ? 0 : rate >= 9.995 ? 1 : 2)} ${units[unit]}`;
}

export const wgetLines = {
  start: (date: Date, url: string): string => `--${wgetTime(date)}--  ${hideUrlPassword(url)}`,
  resolving: (host: string, addresses: readonly string[]): string => `Resolving ${host} (${host})... ${addresses.join(', ')}`,
  resolveFailed: (host: string, reason: string): string[] => [`Resolving ${host} (${host})... failed: ${reason}.`, `wget: unable to resolve host address '${host}'`],
  /** `target` is `HOST:PORT` for an address, `NAME (NAME)|ADDRESS|:PORT` for a name. */
  connecting: (target: string, outcome: string): string => `Connecting to ${target}... ${outcome}`,
  awaiting: (answer: string): string => `HTTP request sent, awaiting response... ${answer}`,
  authSelected: (challenge: string): string => `Authentication selected: ${challenge}`,
  unknownAuth: 'Unknown authentication scheme.',
  reusing: (hostPort: string): string => `Reusing existing connection to ${hostPort}.`,
  authFailed: ['', 'Username/Password Authentication Failed.'] as readonly string[],
  httpError: (date: Date, status: number, reason: string): string[] => [`${wgetTime(date)} ERROR ${status}: ${reason}.`, ''],
  untrusted: (host: string): string => `ERROR: The certificate of '${host}' is not trusted.`,
  readErrorInHeaders: (reason: string): string[] => [`HTTP request sent, awaiting response... Read error (${reason}) in headers.`, 'Giving up.', ''],
  length: (size: number | undefined, type: string | null): string =>
    `Length: ${size === undefined ? 'unspecified' : `${size}${size >= 1024 ? ` (${wgetHumanSize(size)})` : ''}`}${type === null ? '' : ` [${type}]`}`,
  savingTo: (file: string): string[] => [`Saving to: '${file}'`, ''],
  saved: (date: Date, bytes: number, seconds: number, file: string, total: number | undefined): string[] => [
    `${wgetTime(date)} (${wgetRate(bytes, seconds)}) - '${file}' saved [${bytes}${total === undefined ? '' : `/${total}`}]`,
    '',
  ],
  readError: (date: Date, bytes: number, seconds: number, total: number | undefined, reason: string): string[] => [
    `${wgetTime(date)} (${wgetRate(bytes, seconds)}) - Read error at byte ${bytes}${total === undefined ? '' : `/${total}`} (${reason}). Giving up.`,
    '',
  ],
};

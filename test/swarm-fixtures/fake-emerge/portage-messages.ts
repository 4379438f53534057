/**
 * The text Portage prints and logs, taken from its source (github.com/gentoo/portage at a20ef27a, 3.0.82+):
 * status lines from lib/_emerge/{MergeListItem,PackageMerge,Scheduler,Binpkg}.py, phase lines from
 * bin/phase-functions.sh and bin/misc-functions.sh, the die banner from bin/isolated-functions.sh, emerge.log
 * records from lib/_emerge/{EbuildBuild,EbuildMerge,Binpkg,MergeListItem,post_emerge,actions,main}.py.
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

import * as path from 'node:path/posix';
import { PAM_MODULE_DIRS } from '../core/auth/pam-config.ts';
import { parsePasswd, parseShells } from '../core/auth/passwd.ts';
import { checkLegacyHash, checkNologin, checkSecuretty, checkShadowEntry, checkShell, daysSinceEpoch, parseSecuretty, readShadowAging } from '../core/login-doctor/account-causes.ts';
import { sortCauses, type LoginCause } from '../core/login-doctor/causes.ts';
import { checkPasswdFile, checkRootFilesystem, checkShadowFile, checkUnixChkpwd, type FileFacts, type UnixChkpwdFacts } from '../core/login-doctor/file-causes.ts';
import { BUILTIN_SOURCES, checkNsswitch, LOGIN_DATABASES, parseNsswitch } from '../core/login-doctor/nsswitch-causes.ts';
import { argsOfModule, buildLoginStack, checkPamLines, checkPamModules, checkPamServices, enforcingRules, modulePath, type LoginStack, type ModuleFacts } from '../core/login-doctor/pam-causes.ts';
import { parseLddNotFound } from '../core/login-doctor/parse-ldd.ts';
import { checkFaillock, checkTally2, faillockSettings, judgeFaillock, parseFaillockTally, readTallylogRecord, tally2Settings } from '../core/login-doctor/tally-causes.ts';
import { mountContaining, parseMountinfo } from '../core/system-state/parse-mountinfo.ts';
import { isMissing } from '../system/fs-errors.ts';
import type { System } from '../system/open-system.ts';
import { CommandError } from '../system/run-command.ts';

export interface DiagnoseLoginOptions {
  /** The user whose login is diagnosed (root included). */
  readonly user: string;
  readonly signal?: AbortSignal | undefined;
}

export interface LoginDiagnosis {
  /** Blocking causes first; empty when nothing stands in the way of the login. */
  readonly causes: LoginCause[];
  readonly user: string;
  /** The PAM module folder of the target's libdir, where module names without a path are looked up. */
  readonly moduleDir: string;
  readonly durationMs: number;
}

const UNIX_CHKPWD_PATHS = ['/sbin/unix_chkpwd', '/usr/sbin/unix_chkpwd', '/usr/bin/unix_chkpwd'];
const NOLOGIN_FILES = ['/etc/nologin', '/run/nologin'];
/** Tallies bigger than this (a sparse /var/log/tallylog after a login of a high uid) are read one record at a time. */
const MAX_TALLY_READ = 1024 * 1024;
const COMMAND_BUDGET_MS = 10_000;

type Stat = { isFile: boolean; mode: number; uid: number; gid: number };

/**
 * Every common cause of "nobody can log in", diagnosed read-only inside the target: nothing is written, and the
 * only commands are `ldd` over the PAM modules the stack names and, when unix_chkpwd has no mode bit that
 * privileges it, `getcap` (the target's, else the host's on the target's file).
 */
export async function diagnoseLogin(system: System, options: DiagnoseLoginOptions): Promise<LoginDiagnosis> {
  const { user, signal } = options;
  signal?.throwIfAborted();
  const started = system.clock.monotonicMs();
  const { target } = system;
  const [passwdText, shadowText, groupText, shellsText, nsswitchText, securettyText, faillockConf, pamTexts, moduleDir] = await Promise.all([
    target.readTextIfExists('/etc/passwd'),
    target.readTextIfExists('/etc/shadow'),
    target.readTextIfExists('/etc/group'),
    target.readTextIfExists('/etc/shells'),
    target.readTextIfExists('/etc/nsswitch.conf'),
    target.readTextIfExists('/etc/securetty'),
    target.readTextIfExists('/etc/security/faillock.conf'),
    readPamServices(system),
    findModuleDir(system),
  ]);
  const stack = buildLoginStack((name) => pamTexts.get(name));
  const groups = new Map<number, string>();
  for (const line of (groupText ?? '').split('\n')) {
    const [name = '', , gid = ''] = line.split(':');
    if (name !== '' && gid !== '' && Number.isInteger(Number(gid))) groups.set(Number(gid), name);
  }
  const groupName = (gid: number): string | undefined => groups.get(gid);
  const account = parsePasswd(passwdText ?? '').find((entry) => entry.user === user);
  const now = system.clock.now();

  const causes: LoginCause[] = [];
  const [moduleCauses, nsswitchCauses, fileCauses, tallyCauses, rootCauses] = await Promise.all([
    diagnosePamModules(system, stack, moduleDir, signal),
    diagnoseNsswitch(system, nsswitchText, moduleDir, user, account !== undefined),
    diagnoseFiles(system, groupName, signal),
    account === undefined ? Promise.resolve([]) : diagnoseTallies(system, stack, faillockConf, user, account.uid, now, signal),
    diagnoseRootFilesystem(system),
  ]);

  if (account === undefined) {
    causes.push({
      id: 'user-unknown',
      severity: 'blocks',
      summary: `${user} has no entry in /etc/passwd`,
      evidence: { user },
      repair: `check the user name; create the account (useradd) if it was lost, or restore /etc/passwd from /etc/passwd-`,
    });
  } else {
    const shell = account.shell === '' ? '/bin/sh' : account.shell;
    const nologinFiles = [...NOLOGIN_FILES, ...argsOfModule(stack, 'pam_nologin.so').flatMap((arg) => (arg.startsWith('file=') ? [arg.slice(5)] : []))];
    const hash = shadowText === undefined ? undefined : userHash(shadowText, user);
    const [shellStat, presentNologin, checksalt] = await Promise.all([statIfExists(system, shell), existingDistinct(system, nologinFiles), hash === undefined ? undefined : checkSalt(system, hash, signal)]);
    causes.push(
      ...checkNologin(user, account.uid, { present: presentNologin, pamNologinInStack: enforcingRules(stack, 'pam_nologin.so').length > 0 }),
      ...(shadowText === undefined ? [] : checkShadowEntry(user, readShadowAging(shadowText, user), daysSinceEpoch(now))),
      ...checkShell(account, {
        shell,
        stat: shellStat,
        listed: shellsText === undefined ? undefined : parseShells(shellsText),
        pamShellsInStack: enforcingRules(stack, 'pam_shells.so').length > 0,
      }),
      ...(hash === undefined ? [] : checkLegacyHash(user, hashMethod(hash), checksalt)),
      ...checkSecuretty(account.uid, securettyText === undefined ? undefined : parseSecuretty(securettyText), enforcingRules(stack, 'pam_securetty.so').length > 0),
    );
  }
  causes.push(...checkPamServices(stack), ...checkPamLines(stack), ...moduleCauses, ...nsswitchCauses, ...fileCauses, ...tallyCauses, ...rootCauses);
  return { causes: sortCauses(causes), user, moduleDir, durationMs: Math.round(system.clock.monotonicMs() - started) };
}

/** The user's hash when it is one (not locked, not empty); it never leaves this module but through stdin. */
function userHash(shadow: string, user: string): string | undefined {
  const field = shadow.split('\n').find((line) => line.split(':')[0] === user)?.split(':')[1];
  return field === undefined || field === '' || field.startsWith('!') || field.startsWith('*') ? undefined : field;
}

/** `$1$`, `$6$`, `$y$`, or `descrypt` for a hash without a `$` prefix: never more of the hash than that. */
function hashMethod(hash: string): string {
  return /^\$[^$]+\$/.exec(hash)?.[0] ?? (hash.startsWith('_') ? 'bsdicrypt' : 'descrypt');
}

/** crypt_checksalt(3) of the target's own libcrypt on the hash (read from stdin, never argv); undefined when python3 or ctypes cannot ask. */
const CHECKSALT = [
  'import ctypes, ctypes.util, sys',
  "name = ctypes.util.find_library('crypt') or 'libcrypt.so.1'",
  'lib = ctypes.CDLL(name)',
  'if not hasattr(lib, "crypt_checksalt"): sys.exit(2)',
  'lib.crypt_checksalt.argtypes = [ctypes.c_char_p]',
  'print(lib.crypt_checksalt(sys.stdin.buffer.readline().rstrip(b"\\n")))',
].join('\n');

async function checkSalt(system: System, hash: string, signal: AbortSignal | undefined): Promise<number | undefined> {
  try {
    const result = await system.commands.run('python3', ['-I', '-c', CHECKSALT], { input: `${hash}\n`, signal, budgetMs: COMMAND_BUDGET_MS, mutates: false, outputLevel: 'debug' });
    const value = Number(result.stdout.trim());
    return Number.isInteger(value) ? value : undefined;
  } catch (error) {
    if (error instanceof CommandError) return undefined;
    throw error;
  }
}

async function readPamServices(system: System): Promise<Map<string, string | undefined>> {
  const texts = new Map<string, string | undefined>();
  if (!(await system.target.isDirectory('/etc/pam.d'))) return texts;
  const entries = await system.target.readdir('/etc/pam.d');
  const read = await Promise.all(entries.map(async (entry) => [entry.name, await system.target.readTextIfExists(path.join('/etc/pam.d', entry.name))] as const));
  for (const [name, text] of read) texts.set(name, text);
  return texts;
}

/**
 * The module folder of the target's libdir: the `security` folder beside libpam.so.0 (libpam looks its modules
 * up there), else the first folder holding pam_unix.so, else Gentoo's /lib64/security.
 */
async function findModuleDir(system: System): Promise<string> {
  const candidates = await Promise.all(
    PAM_MODULE_DIRS.map(async (dir) => ({
      dir,
      libpam: await system.target.exists(path.join(path.dirname(dir), 'libpam.so.0')),
      unix: await system.target.exists(path.join(dir, 'pam_unix.so')),
    })),
  );
  return (candidates.find((candidate) => candidate.libpam) ?? candidates.find((candidate) => candidate.unix))?.dir ?? '/lib64/security';
}

async function diagnosePamModules(system: System, stack: LoginStack, moduleDir: string, signal: AbortSignal | undefined): Promise<LoginCause[]> {
  const files = [...new Set(stack.rules.filter((rule) => !rule.optionalModule).map((rule) => modulePath(rule.module, moduleDir)))];
  const present = await Promise.all(files.map(async (file) => [file, await system.target.exists(file)] as const));
  const existing = present.filter(([, exists]) => exists).map(([file]) => file);
  const notFound = await lddNotFound(system, existing, signal);
  const facts = new Map<string, ModuleFacts>(present.map(([file, exists]) => [file, { present: exists, missingLibraries: notFound?.get(file) }]));
  return checkPamModules(stack, moduleDir, facts);
}

/** The dynamic loaders argo's targets use; `ldd` is a script around them. */
const LOADERS = ['/lib64/ld-linux-x86-64.so.2', '/lib/ld-linux-aarch64.so.1', '/lib/ld-linux-armhf.so.3', '/lib/ld-linux.so.2'];

/**
 * Sonames the target's dynamic loader reports as "not found" for each file, by file; undefined when it could not
 * be asked. One command inside the target: GNU find prints each file's heading and runs the loader on it with
 * LD_TRACE_LOADED_OBJECTS=1, which is what ldd runs, without ldd's per-file shell work (about 0.1 s a module).
 * (`ld.so --list` is no substitute: it stops at the first missing library instead of listing it as not found.)
 * Without the loader or GNU find, `ldd` itself.
 */
async function lddNotFound(system: System, files: readonly string[], signal: AbortSignal | undefined): Promise<Map<string, string[]> | undefined> {
  if (files.length === 0) return new Map();
  const options = { signal, budgetMs: COMMAND_BUDGET_MS, mutates: false, okExitCodes: [0, 1] } as const;
  const loader = await firstExisting(system, LOADERS);
  // Every path is absolute, so find cannot take one for an option or an expression.
  if (loader !== undefined && files.every((file) => file.startsWith('/'))) {
    try {
      const result = await system.commands.run('find', [...files, '-maxdepth', '0', '-printf', '%p:\n', '-exec', 'env', 'LD_TRACE_LOADED_OBJECTS=1', loader, '{}', ';'], options);
      if (result.stdout.split('\n').filter((line) => line.endsWith(':') && !line.startsWith('\t')).length === files.length) return parseLddNotFound(result.stdout, files);
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
    }
  }
  try {
    // ldd exits 1 when one of the files is not a dynamic object; the others are still listed.
    const result = await system.commands.run('ldd', ['--', ...files], options);
    return parseLddNotFound(result.stdout, files);
  } catch (error) {
    if (error instanceof CommandError && error.code === 'ARGO_COMMAND_NOT_FOUND') return undefined;
    throw error;
  }
}

async function diagnoseNsswitch(system: System, text: string | undefined, moduleDir: string, user: string, userIsLocal: boolean): Promise<LoginCause[]> {
  if (text === undefined) return [];
  const databases = parseNsswitch(text);
  const libdir = path.dirname(moduleDir);
  // Split-/usr layouts keep libraries in both /lib64 and /usr/lib64: glibc's search finds either.
  const libdirs = [libdir, libdir.startsWith('/usr/') ? libdir.slice(4) : `/usr${libdir}`];
  const names = new Set(LOGIN_DATABASES.flatMap((database) => (databases.get(database) ?? []).map((source) => source.name)).filter((name) => !BUILTIN_SOURCES.has(name)));
  const installed = new Set<string>();
  await Promise.all(
    [...names].map(async (name) => {
      for (const dir of libdirs) {
        if (await system.target.exists(path.join(dir, `libnss_${name}.so.2`))) {
          installed.add(name);
          return;
        }
      }
    }),
  );
  return checkNsswitch(databases, (name) => installed.has(name), user, userIsLocal);
}

async function diagnoseFiles(system: System, groupName: (gid: number) => string | undefined, signal: AbortSignal | undefined): Promise<LoginCause[]> {
  const [passwdStat, shadowStat, chkpwdPath] = await Promise.all([statIfExists(system, '/etc/passwd'), statIfExists(system, '/etc/shadow'), firstExisting(system, UNIX_CHKPWD_PATHS)]);
  const passwd: FileFacts = { path: '/etc/passwd', stat: passwdStat };
  const shadow: FileFacts = { path: '/etc/shadow', stat: shadowStat };
  const chkpwdStat = chkpwdPath === undefined ? undefined : await statIfExists(system, chkpwdPath);
  let chkpwd: UnixChkpwdFacts = { path: chkpwdPath, stat: chkpwdStat, capabilities: '' };
  // getcap only when the mode bits do not already give unix_chkpwd its privilege.
  if (chkpwdPath !== undefined && chkpwdStat !== undefined && checkUnixChkpwd(chkpwd, shadow, groupName).length > 0) {
    chkpwd = { ...chkpwd, capabilities: await readCapabilities(system, chkpwdPath, signal) };
  }
  return [...checkPasswdFile(passwd), ...checkShadowFile(shadow, chkpwd, groupName), ...checkUnixChkpwd(chkpwd, shadow, groupName)];
}

/** File capabilities as getcap prints them: the target's getcap, else the host's on the target's file; undefined when neither exists. */
async function readCapabilities(system: System, file: string, signal: AbortSignal | undefined): Promise<string | undefined> {
  const options = { signal, budgetMs: COMMAND_BUDGET_MS, mutates: false } as const;
  try {
    return capabilitiesOf((await system.commands.run('getcap', ['--', file], options)).stdout);
  } catch (error) {
    if (!(error instanceof CommandError && error.code === 'ARGO_COMMAND_NOT_FOUND')) throw error;
  }
  try {
    return capabilitiesOf((await system.hostCommands.run('getcap', ['--', await system.target.resolve(file)], options)).stdout);
  } catch (error) {
    if (error instanceof CommandError && error.code === 'ARGO_COMMAND_NOT_FOUND') return undefined;
    throw error;
  }
}

/** `getcap FILE` prints `FILE caps` (or nothing when the file has none): keep the capabilities. */
function capabilitiesOf(stdout: string): string {
  const line = stdout.trim();
  const space = line.indexOf(' ');
  return space < 0 ? '' : line.slice(space + 1).trim();
}

async function diagnoseTallies(
  system: System,
  stack: LoginStack,
  faillockConf: string | undefined,
  user: string,
  uid: number,
  now: Date,
  signal: AbortSignal | undefined,
): Promise<LoginCause[]> {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const causes: LoginCause[] = [];
  const settings = faillockSettings(faillockConf, argsOfModule(stack, 'pam_faillock.so'));
  const tallyFile = path.join(settings.dir, user);
  const tally = await system.target.readBytesIfExists(tallyFile);
  if (tally !== undefined) {
    const state = judgeFaillock(parseFaillockTally(tally), settings, nowSeconds, uid === 0);
    causes.push(...checkFaillock(user, tallyFile, state, settings, enforcingRules(stack, 'pam_faillock.so').length > 0));
  }
  const tallylog = await readTallylog(system, uid, signal);
  if (tallylog !== undefined) {
    const record = readTallylogRecord(tallylog.bytes, tallylog.index);
    causes.push(...checkTally2(user, uid, record, tally2Settings(argsOfModule(stack, 'pam_tally2.so')), enforcingRules(stack, 'pam_tally2.so').length > 0, nowSeconds));
  }
  return causes;
}

/** The bytes of /var/log/tallylog holding `uid`'s record: the whole file when small, else that record through `od`. */
async function readTallylog(system: System, uid: number, signal: AbortSignal | undefined): Promise<{ bytes: Uint8Array; index: number } | undefined> {
  const stat = await statIfExists(system, '/var/log/tallylog');
  if (stat === undefined || !stat.isFile) return undefined;
  const size = (await system.target.stat('/var/log/tallylog')).size;
  if (size <= MAX_TALLY_READ) return { bytes: await system.target.readBytes('/var/log/tallylog'), index: uid };
  if ((uid + 1) * 64 > size) return undefined;
  const result = await system.commands.run('od', ['-An', '-v', '-tx1', `-j${uid * 64}`, '-N64', '--', '/var/log/tallylog'], { signal, budgetMs: COMMAND_BUDGET_MS, mutates: false });
  const hex = result.stdout.replace(/\s+/g, '');
  return { bytes: Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16)), index: 0 };
}

async function diagnoseRootFilesystem(system: System): Promise<LoginCause[]> {
  const stats = await system.target.statfs('/');
  const table = parseMountinfo((await system.host.readTextIfExists('/proc/self/mountinfo')) ?? '');
  const mount = mountContaining(table, system.root);
  return checkRootFilesystem({
    availableBytes: stats.bavail * stats.bsize,
    totalBytes: stats.blocks * stats.bsize,
    freeInodes: stats.files === 0 ? undefined : stats.ffree,
    readOnly: mount !== undefined && (mount.options.includes('ro') || mount.superOptions.includes('ro')),
    mountPoint: mount?.mountPoint,
  });
}

async function statIfExists(system: System, file: string): Promise<Stat | undefined> {
  try {
    const stats = await system.target.stat(file);
    return { isFile: stats.isFile(), mode: stats.mode, uid: stats.uid, gid: stats.gid };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}


async function firstExisting(system: System, files: readonly string[]): Promise<string | undefined> {
  for (const file of files) {
    if (await system.target.exists(file)) return file;
  }
  return undefined;
}

/** The files that exist, each named once even when one is a link to another (`/var/run` → `/run`). */
async function existingDistinct(system: System, files: readonly string[]): Promise<string[]> {
  const found = new Map<string, string>();
  for (const file of files) {
    if (!(await system.target.exists(file))) continue;
    const real = await system.target.realpath(file);
    if (!found.has(real)) found.set(real, file);
  }
  return [...found.values()];
}

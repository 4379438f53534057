import * as path from 'node:path/posix';
import {
  judgeTally,
  judgeUnixChkpwd,
  pamRunsChkpwdForRoot,
  pamtesterOutcome,
  pamVersionFromVdb,
  parseDriverOutput,
  parseFaillockConf,
  parseTallyFile,
  serviceOutcome,
  shellProblem,
  type FaillockTally,
  type ProofFailure,
  type ServiceOutcome,
  type UnixChkpwdVerdict,
} from '../core/auth/login-proof.ts';
import { isValidUserName, parsePasswd, parseShells, type PasswdEntry } from '../core/auth/passwd.ts';
import { ArgoError, isArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import type { System } from '../system/open-system.ts';
import { isMissing } from '../system/fs-errors.ts';
import type { FileOverlay } from '../system/overlay-argv.ts';
import { CommandError } from '../system/run-command.ts';
import { PAM_DRIVER } from './pam-driver.ts';

export type ProofMethod = 'python-pam' | 'pamtester';

export interface ProveLoginOptions {
  readonly user: string;
  /** Fed to PAM through a pipe; never in argv, never logged. */
  readonly password: string;
  /**
   * PAM services to prove, in order. Default `['login']`. `login` proves `auth`, `account` and `session`;
   * any other service (a display manager's: `lightdm`, `sddm`, `gdm-password`) proves `dm:<service>`.
   */
  readonly services?: readonly string[];
  readonly signal: AbortSignal;
  /**
   * Prove the PAM services only (auth, account, session), not the login shell, the home folder or `su`: for
   * an account that is no login by design, such as the canary (nologin shell, no home, refused by su).
   */
  readonly pamOnly?: boolean;
  /**
   * Files bound over the target's for the PAM-driving commands alone (RunOptions.overlays): the canary's proof
   * binds a copy of /etc/shadow in which its entry is open, so the real file never holds an open canary.
   */
  readonly overlays?: readonly FileOverlay[];
}

/** What drives one PAM conversation: whose, with what, bounded by what, seeing which files. */
interface PamAttempt {
  readonly user: string;
  readonly password: string;
  readonly signal: AbortSignal;
  readonly overlays: readonly FileOverlay[] | undefined;
}

export interface UnixChkpwdReport extends UnixChkpwdVerdict {
  readonly path: string | undefined;
  readonly mode: string | undefined;
  readonly group: string | undefined;
  /** The pam version from the vdb, which decides whether a missing privilege breaks root's logins too. */
  readonly pamVersion: string | undefined;
}

export interface LoginProofResult {
  /** Each check that passed, in order: `auth`, `account`, `session`, `shell`, `dm:<service>`, `su`. */
  readonly proof: readonly string[];
  /** The first check that failed; the proof stops there. Absent only when every check passed. */
  readonly failed?: ProofFailure;
  /** What does not stop a login but a person should know. */
  readonly warnings: readonly string[];
  readonly method: ProofMethod;
  readonly services: readonly ServiceOutcome[];
  readonly faillock: FaillockTally;
  readonly unixChkpwd: UnixChkpwdReport;
}

const UNIX_CHKPWD_PATHS = ['/sbin/unix_chkpwd', '/usr/sbin/unix_chkpwd', '/usr/bin/unix_chkpwd'];
const PAM_BUDGET_MS = 60_000;
/** The terminal a login names: the console for `login`, the X display for a display manager. */
const ttyFor = (service: string): string => (service === 'login' ? 'tty1' : ':0');

/**
 * Proves that USER can log in, inside the target and through its own PAM, the way a person at the console
 * and at the display manager would: each service's authenticate, account, open and close a session; the
 * login shell; finally `su - USER -c true` from an unprivileged user (with `pamOnly`, the services alone).
 * Stops at the first failure, so a wrong password costs at most one failed attempt; a faillock tally that
 * already blocks the user, or a unix_chkpwd that cannot work on this pam version, stops it before any attempt.
 * Throws ARGO_LOGIN_UNPROVEN when PAM cannot be driven at all: unknown is not success.
 */
export async function proveLogin(system: System, options: ProveLoginOptions): Promise<LoginProofResult> {
  const started = performance.now();
  const { user, password, signal } = options;
  const services = options.services ?? ['login'];
  if (!isValidUserName(user)) throw new ArgoError('ARGO_INVALID_INPUT', `Not a valid user name: ${JSON.stringify(user)}`, { details: { user } });
  for (const service of services) {
    if (!/^[a-z0-9][a-z0-9_.-]*$/i.test(service)) throw new ArgoError('ARGO_INVALID_INPUT', `Not a valid PAM service name: ${JSON.stringify(service)}`, { details: { service } });
  }

  const warnings: string[] = [];
  const proof: string[] = [];
  const outcomes: ServiceOutcome[] = [];
  let method: ProofMethod = 'python-pam';
  const faillock = await readFaillockTally(system, user);
  const unixChkpwd = await inspectUnixChkpwd(system, signal);

  const finish = (failed?: ProofFailure): LoginProofResult => {
    logEvent(system.logger, 'login-proof.finished', {
      user,
      method,
      proof: [...proof],
      failedStep: failed?.step,
      service: failed?.service,
      reason: failed?.reason,
      warnings: [...warnings],
      durationMs: Math.round(performance.now() - started),
    });
    return { proof, ...(failed ? { failed } : {}), warnings, method, services: outcomes, faillock, unixChkpwd };
  };

  const entry = parsePasswd((await system.target.readTextIfExists('/etc/passwd')) ?? '').find((candidate) => candidate.user === user);
  if (entry === undefined) return finish({ step: 'user', reason: `${user} is not in the target's /etc/passwd` });

  if (faillock.locked) {
    return finish({ step: 'faillock', reason: `pam_faillock has ${faillock.recentFailures} recent failures on record for ${user} (deny = ${faillock.deny}): every login is refused until the tally is reset (faillock --user ${user} --reset)` });
  }
  if (faillock.failures > 0) warnings.push(`pam_faillock has ${faillock.failures} failed logins on record for ${user} (${faillock.recentFailures} recent, deny = ${faillock.deny})`);

  if (unixChkpwd.problem !== undefined) {
    if (pamRunsChkpwdForRoot(unixChkpwd.pamVersion)) return finish({ step: 'unix_chkpwd', reason: unixChkpwd.problem });
    warnings.push(`${unixChkpwd.problem}: root's logins work with pam ${unixChkpwd.pamVersion ?? '?'}, but screen lockers and other unprivileged checks fail`);
  }

  const attempt: PamAttempt = { user, password, signal, overlays: options.overlays };
  const pamOnly = options.pamOnly ?? false;
  for (const service of services) {
    const run = await runPamService(system, service, attempt, method);
    method = run.method;
    outcomes.push(run.outcome);
    if (service === 'login') proof.push(...run.outcome.passed);
    if (run.outcome.failed) return finish(run.outcome.failed);
    if (pamOnly) {
      if (service !== 'login') proof.push(`dm:${service}`);
    } else if (service === 'login') {
      const shell = await checkShell(system, entry);
      if (shell !== undefined) return finish({ step: 'shell', reason: shell });
      proof.push('shell');
      warnings.push(...(await checkHome(system, entry)));
    } else {
      proof.push(`dm:${service}`);
    }
  }
  if (pamOnly) return finish();
  if (!services.includes('login')) {
    const shell = await checkShell(system, entry);
    if (shell !== undefined) return finish({ step: 'shell', reason: shell });
    proof.push('shell');
    warnings.push(...(await checkHome(system, entry)));
  }

  const su = await proveSu(system, user, password, signal);
  if (su !== undefined) return finish({ step: 'su', reason: su });
  proof.push('su');
  return finish();
}

/** One service through the PAM driver; pivots to pamtester (for good) when the driver cannot load PAM. */
async function runPamService(system: System, service: string, attempt: PamAttempt, method: ProofMethod): Promise<{ method: ProofMethod; outcome: ServiceOutcome }> {
  if (method === 'python-pam') {
    const driven = await runDriver(system, service, attempt);
    if (driven.outcome) return { method, outcome: driven.outcome };
    logEvent(system.logger, 'login-proof.pivot', { user: attempt.user, from: 'python-pam', to: 'pamtester', reason: driven.unavailable });
    const outcome = await runPamtester(system, service, attempt, driven.unavailable);
    return { method: 'pamtester', outcome };
  }
  return { method, outcome: await runPamtester(system, service, attempt, 'python3 could not drive PAM') };
}

async function runDriver(system: System, service: string, attempt: PamAttempt): Promise<{ outcome?: ServiceOutcome; unavailable: string }> {
  let stdout: string;
  try {
    const result = await system.commands.run('python3', ['-I', '-c', PAM_DRIVER, attempt.user, ttyFor(service), service], {
      input: `${attempt.password}\n`,
      signal: attempt.signal,
      overlays: attempt.overlays,
      budgetMs: PAM_BUDGET_MS,
      mutates: false,
      okExitCodes: [0, 3],
      tailLines: 200,
    });
    stdout = result.stdout;
  } catch (error) {
    if (isArgoError(error, 'ARGO_COMMAND_NOT_FOUND')) return { unavailable: 'python3 is not installed in the target' };
    if (!(error instanceof CommandError) || error.code !== 'ARGO_COMMAND_FAILED') throw error;
    // The driver itself crashed (a segfault in a module, a Python error): what it reported up to then stands,
    // and the step it was in fails with the crash as the reason.
    const lines = parseDriverOutput(error.result.stdout);
    const outcome = serviceOutcome(service, lines);
    const last = error.result.tail.filter((line) => !line.startsWith('{')).at(-1) ?? `exit ${error.result.exitCode ?? error.result.signal ?? '?'}`;
    const failed = outcome.failed ? { ...outcome.failed, reason: `the PAM driver crashed: ${last}` } : undefined;
    return { outcome: { ...outcome, ...(failed ? { failed } : {}) }, unavailable: '' };
  }
  const lines = parseDriverOutput(stdout);
  const unavailable = lines.find((line) => line.kind === 'unavailable');
  if (unavailable) return { unavailable: `${unavailable.what}: ${unavailable.text}` };
  return { outcome: serviceOutcome(service, lines), unavailable: '' };
}

async function runPamtester(system: System, service: string, attempt: PamAttempt, why: string): Promise<ServiceOutcome> {
  const { user, password, signal, overlays } = attempt;
  const args = ['-v', '-I', `tty=${ttyFor(service)}`, service, user, 'authenticate', 'acct_mgmt', 'open_session', 'close_session'];
  try {
    const result = await system.commands.run('pamtester', args, { input: `${password}\n`, signal, overlays, budgetMs: PAM_BUDGET_MS, mutates: false, tailLines: 200 });
    return pamtesterOutcome(service, result.tail, result.exitCode);
  } catch (error) {
    if (isArgoError(error, 'ARGO_COMMAND_NOT_FOUND')) {
      throw new ArgoError('ARGO_LOGIN_UNPROVEN', `Cannot prove ${user}'s login: nothing in the target can drive PAM (${why}; pamtester is not installed either)`, {
        cause: error,
        hint: 'Install a complete python3 (with ctypes) or pamtester in the target, or repair what keeps libpam.so.0 from loading.',
        details: { user, service, python: why },
      });
    }
    if (error instanceof CommandError && error.code === 'ARGO_COMMAND_FAILED') return pamtesterOutcome(service, error.result.tail, error.result.exitCode);
    throw error;
  }
}

async function checkShell(system: System, entry: PasswdEntry): Promise<string | undefined> {
  const shells = parseShells((await system.target.readTextIfExists('/etc/shells')) ?? '');
  let mode: number | undefined;
  let isFile = false;
  if (entry.shell.startsWith('/')) {
    try {
      const stats = await system.target.stat(entry.shell);
      mode = stats.mode;
      isFile = stats.isFile();
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
  return shellProblem({ shell: entry.shell, mode, isFile, listedInShells: shells.includes(entry.shell) });
}

async function checkHome(system: System, entry: PasswdEntry): Promise<string[]> {
  try {
    const stats = await system.target.stat(entry.home);
    if (!stats.isDirectory()) return [`the home folder ${entry.home} of ${entry.user} is not a folder`];
    if (stats.uid !== entry.uid) return [`the home folder ${entry.home} belongs to uid ${stats.uid}, not to ${entry.user} (uid ${entry.uid})`];
    return [];
  } catch (error) {
    if (!isMissing(error)) throw error;
    return [`the home folder ${entry.home} of ${entry.user} does not exist: the login works, but starts in /`];
  }
}

/** su from an unprivileged user (root would not be asked for a password), the password on stdin. */
async function proveSu(system: System, user: string, password: string, signal: AbortSignal): Promise<string | undefined> {
  try {
    await system.commands.run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'su', '-', user, '-c', 'true'], {
      input: `${password}\n`,
      signal,
      budgetMs: PAM_BUDGET_MS,
      mutates: false,
    });
    return undefined;
  } catch (error) {
    if (!(error instanceof CommandError) || (error.code !== 'ARGO_COMMAND_FAILED' && error.code !== 'ARGO_COMMAND_NOT_FOUND')) throw error;
    const said = error.result.tail.map((line) => line.replace(/^Password:\s*/, '').trim()).filter((line) => line !== '');
    return `su - ${user} -c true failed (exit ${error.result.exitCode ?? error.result.signal ?? '?'})${said.length > 0 ? `: ${said.join(' / ')}` : ''}`;
  }
}

async function readFaillockTally(system: System, user: string): Promise<FaillockTally> {
  const settings = parseFaillockConf(await system.target.readTextIfExists('/etc/security/faillock.conf'));
  const file = path.join(settings.dir, user);
  const bytes = await system.target.readBytesIfExists(file);
  const nowSeconds = Math.floor(system.clock.now().getTime() / 1000);
  return judgeTally(bytes === undefined ? undefined : file, bytes === undefined ? [] : parseTallyFile(bytes), settings, nowSeconds);
}

async function inspectUnixChkpwd(system: System, signal: AbortSignal): Promise<UnixChkpwdReport> {
  const target = system.target;
  let found: string | undefined;
  for (const candidate of UNIX_CHKPWD_PATHS) {
    if (await target.exists(candidate)) {
      found = candidate;
      break;
    }
  }
  const stats = found === undefined ? undefined : await target.stat(found);
  const shadow = await target.stat('/etc/shadow').catch((error: unknown) => {
    if (isMissing(error)) return undefined;
    throw error;
  });
  const groups = ((await target.readTextIfExists('/etc/group')) ?? '').split('\n').map((line) => line.split(':'));
  const group = stats === undefined ? undefined : groups.find((fields) => Number(fields[2]) === stats.gid && fields[2] !== '')?.[0];
  const privilegedByMode = stats !== undefined && ((stats.mode & 0o2000) !== 0 || ((stats.mode & 0o4000) !== 0 && stats.uid === 0));
  const hasFileCapability = found === undefined || privilegedByMode ? undefined : await hasCapability(system, found, signal);
  const verdict = judgeUnixChkpwd({
    path: found,
    mode: stats?.mode,
    uid: stats?.uid,
    gid: stats?.gid,
    group,
    hasFileCapability,
    shadowGid: shadow?.gid,
    shadowMode: shadow?.mode,
  });
  const vdb = (await target.isDirectory('/var/db/pkg/sys-libs')) ? (await target.readdir('/var/db/pkg/sys-libs')).map((dirent) => dirent.name) : [];
  return {
    ...verdict,
    path: found,
    mode: stats === undefined ? undefined : (stats.mode & 0o7777).toString(8).padStart(4, '0'),
    group,
    pamVersion: pamVersionFromVdb(vdb),
  };
}

/** Whether the file carries security.capability (Gentoo's USE=filecaps); undefined when it cannot be told. */
async function hasCapability(system: System, file: string, signal: AbortSignal): Promise<boolean | undefined> {
  const probe = "import os, sys\ntry:\n    os.getxattr(sys.argv[1], 'security.capability')\nexcept OSError:\n    sys.exit(1)\n";
  try {
    const result = await system.commands.run('python3', ['-I', '-c', probe, file], { signal, budgetMs: 30_000, mutates: false, okExitCodes: [0, 1] });
    return result.exitCode === 0;
  } catch (error) {
    if (error instanceof CommandError && (error.code === 'ARGO_COMMAND_NOT_FOUND' || error.code === 'ARGO_COMMAND_FAILED')) return undefined;
    throw error;
  }
}

import * as path from 'node:path/posix';
import { parsePasswd } from '../core/auth/passwd.ts';
import type { LoginCause, LoginCauseId } from '../core/login-doctor/causes.ts';
import { appendMissingLines, argoNote, clearAccountExpiry, commentOutRule, dropNsswitchSources, isInsideJump, setLoginShell } from '../core/login-doctor/repair-edits.ts';
import { ArgoError, isArgoError } from '../core/errors.ts';
import { isExecutableBy } from '../core/login-doctor/account-causes.ts';
import { FAILLOCK_RECORD_SIZE } from '../core/login-doctor/tally-causes.ts';
import { isMissing } from '../system/fs-errors.ts';
import type { System } from '../system/open-system.ts';
import type { ChangeJournal, JournalEntry } from './change-journal.ts';
import { builtInPamService, packageCopyOf } from './pam-service-copies.ts';

export type RepairStatus = 'repaired' | 'by-password-reset' | 'not-repaired' | 'left-alone';

export interface RepairOutcome {
  readonly cause: LoginCauseId;
  /** The cause's position in the diagnosis (two causes may share an id: two missing modules). */
  readonly index: number;
  readonly status: RepairStatus;
  /** What was changed, or why nothing was: one line for the summary. */
  readonly note: string;
  readonly changes: readonly JournalEntry[];
}

export interface RepairLoginOptions {
  readonly user: string;
  readonly runId: string;
  readonly journal: ChangeJournal;
  /** The password reset runs after these repairs: it unlocks, renews and re-hashes the user's password. */
  readonly passwordWillBeReset: boolean;
  /** Whether processes of the target run now (it is the live system): then a running emerge's build folders stay. */
  readonly liveSystem: boolean;
  readonly emergeRunning: boolean;
  readonly signal?: AbortSignal | undefined;
}

/**
 * The only modules whose rules a repair may comment out when they are missing or cannot load: none of them
 * checks a credential or denies, so the stack authenticates exactly as before, minus what the module added (a
 * session setting, a keyring, a message; for pam_tally/pam_tally2, which Linux-PAM 1.5 removed, the lock-out
 * after failed logins, which the summary says). Anything else (pam_unix, pam_tcb, pam_sss, a second factor
 * such as pam_u2f or pam_google_authenticator, pam_access, pam_securetty, pam_deny) stays as it is, and the
 * cause is reported with what to reinstall: commenting it out could let a wrong password in.
 */
const REMOVABLE_MODULES: ReadonlySet<string> = new Set([
  'pam_env.so', 'pam_motd.so', 'pam_mail.so', 'pam_lastlog.so', 'pam_lastlog2.so', 'pam_limits.so', 'pam_loginuid.so',
  'pam_systemd.so', 'pam_elogind.so', 'pam_gnome_keyring.so', 'pam_kwallet.so', 'pam_kwallet5.so', 'pam_keyinit.so',
  'pam_umask.so', 'pam_xauth.so', 'pam_mount.so', 'pam_ecryptfs.so', 'pam_faildelay.so', 'pam_group.so', 'pam_issue.so',
  'pam_tally.so', 'pam_tally2.so', 'pam_ck_connector.so', 'pam_systemd_loadkey.so', 'pam_gnupg.so', 'pam_selinux.so',
]);

/** Modules whose removal takes away a protection, not only a convenience: the summary says which. */
const REMOVES_PROTECTION: Readonly<Record<string, string>> = {
  'pam_tally.so': 'the lock-out after failed logins is gone until pam_faillock replaces it',
  'pam_tally2.so': 'the lock-out after failed logins is gone until pam_faillock replaces it',
  'pam_selinux.so': 'logins no longer get their SELinux context',
};

/** Causes the password reset itself repairs: it writes a fresh hash (no `!`) and makes today the last change. */
const REPAIRED_BY_PASSWORD_RESET = new Set<LoginCauseId>(['account-locked', 'password-expired-inactive', 'password-change-forced']);

/**
 * Repairs each blocking cause of the diagnosis with the smallest change that restores the login, every change
 * backed up and recorded in the run's change journal (so `argo recover --undo RUN` puts it back). Causes that
 * only warn are left alone and said so; causes no file change can fix (a missing user, a read-only root, a
 * missing unix_chkpwd) say what to do. Never weakens authentication: a rule naming a credential module or
 * pam_deny is never commented out, and nothing is replaced by a permissive stack.
 */
export async function repairLoginCauses(system: System, causes: readonly LoginCause[], options: RepairLoginOptions): Promise<RepairOutcome[]> {
  // A full root first: every later repair writes a backup. Then the shell: a missing shell is replaced, and the
  // listing check then applies to the new one.
  const rank = (cause: LoginCause): number => (cause.id === 'root-full' ? 0 : cause.id === 'shell-missing' ? 1 : 2);
  const ordered = causes.map((cause, index) => ({ cause, index })).sort((a, b) => rank(a.cause) - rank(b.cause));
  const outcomes: RepairOutcome[] = [];
  for (const { cause, index } of ordered) {
    options.signal?.throwIfAborted();
    try {
      outcomes.push({ ...(await repairOne(system, cause, options)), index });
    } catch (error) {
      // One repair that cannot be made (a folder a user may write to, a disk error) does not stop the others.
      // An interrupt is not a failed repair (an AbortError carries a `code` too): it ends the phase.
      if (options.signal?.aborted || isArgoError(error, 'ARGO_INTERRUPTED')) throw error;
      if (!isArgoError(error) && !(error instanceof Error && 'code' in error)) throw error;
      outcomes.push({ cause: cause.id, index, status: 'not-repaired', note: `the repair failed: ${error.message}. ${cause.repair}`, changes: [] });
    }
  }
  return outcomes.sort((a, b) => a.index - b.index);
}

async function repairOne(system: System, cause: LoginCause, options: RepairLoginOptions): Promise<Omit<RepairOutcome, 'index'>> {
  const done = (changes: readonly (JournalEntry | undefined)[], note: string): Omit<RepairOutcome, 'index'> => {
    const made = changes.filter((change): change is JournalEntry => change !== undefined);
    return { cause: cause.id, status: 'repaired', note: made.length === 0 ? `${note} (already done)` : note, changes: made };
  };
  const notRepaired = (note: string): Omit<RepairOutcome, 'index'> => ({ cause: cause.id, status: 'not-repaired', note, changes: [] });
  if (REPAIRED_BY_PASSWORD_RESET.has(cause.id) && options.passwordWillBeReset) {
    return { cause: cause.id, status: 'by-password-reset', note: `the password reset sets a new ${cause.id === 'account-locked' ? 'unlocked ' : ''}hash with today as its last change`, changes: [] };
  }
  if (cause.severity !== 'blocks' && cause.id !== 'shadow-permissions') {
    return { cause: cause.id, status: 'left-alone', note: `not repaired: it does not stop the console login (${cause.repair})`, changes: [] };
  }
  const { journal, user, runId } = options;
  const evidence = cause.evidence;
  switch (cause.id) {
    case 'nologin': {
      const files = (evidence['files'] as readonly string[] | undefined) ?? [];
      const moved = [];
      for (const file of files) moved.push(await journal.moveAside(cause.id, file, `moved ${file} aside (someone may have written it on purpose)`));
      return done(moved, `moved ${files.join(' and ')} aside to ${files.map((file) => path.basename(file)).join(', ')}.argo-${runId}`);
    }
    case 'account-expired':
      return done([await journal.editPasswordFile(cause.id, '/etc/shadow', (text) => clearAccountExpiry(text, user), `cleared ${user}'s account expiry date (was ${String(evidence['expiredOn'])})`)], `cleared ${user}'s account expiry (chage -E -1 ${user})`);
    case 'account-locked':
    case 'password-expired-inactive':
    case 'password-change-forced':
      return notRepaired(`the password reset did not run, so this stays: ${cause.repair}`);
    case 'shadow-entry-missing':
      return repairMissingShadowEntry(system, cause, options);
    case 'shell-missing':
      return repairMissingShell(system, cause, options);
    case 'shell-not-executable': {
      const shell = String(evidence['shell']);
      if (evidence['isFile'] !== true) return notRepaired(cause.repair);
      const stats = await system.target.stat(shell);
      const mode = (stats.mode & 0o7777) | 0o755;
      return done([await journal.setMeta(cause.id, shell, { mode, uid: stats.uid, gid: stats.gid }, `restored the execute bits of ${shell} (mode ${(stats.mode & 0o7777).toString(8)} -> ${mode.toString(8)})`)], `chmod ${mode.toString(8)} ${shell}`);
    }
    case 'shell-not-listed': {
      const shell = await currentShell(system, user);
      return done([await journal.editText(cause.id, '/etc/shells', (text) => appendMissingLines(text, [shell], argoNote(runId, `${user}'s login shell`)), `listed ${shell} in /etc/shells`)], `added ${shell} to /etc/shells`);
    }
    case 'securetty': {
      const missing = (evidence['missing'] as readonly string[] | undefined) ?? [];
      return done([await journal.editText(cause.id, '/etc/securetty', (text) => appendMissingLines(text, missing, argoNote(runId, "root's console")), `listed ${missing.join(', ')} in /etc/securetty`)], `added ${missing.join(', ')} to /etc/securetty`);
    }
    case 'pam-module-missing':
    case 'pam-module-unloadable':
      return repairPamModule(system, cause, options);
    case 'pam-line-unparsable':
      return repairPamLine(system, cause, options);
    case 'pam-service-missing':
      return repairPamService(system, cause, options);
    case 'nsswitch-source-missing': {
      const database = String(evidence['database']);
      const missing = (evidence['missing'] as readonly string[] | undefined) ?? [];
      const note = argoNote(runId, `${missing.map((name) => `libnss_${name}.so.2`).join(', ')} not installed`);
      return done(
        [await journal.editText(cause.id, '/etc/nsswitch.conf', (text) => dropNsswitchSources(text ?? '', database, missing, note), `removed ${missing.join(', ')} from the ${database} line of /etc/nsswitch.conf`)],
        `removed ${missing.join(', ')} from ${database} in /etc/nsswitch.conf (install the module and put it back to use it)`,
      );
    }
    case 'unix-chkpwd-unprivileged':
      return repairUnixChkpwd(system, cause, options);
    case 'shadow-permissions':
    case 'passwd-permissions':
      return repairPasswordFileMeta(system, cause, options);
    case 'faillock-tally': {
      const file = String(evidence['file']);
      return done([await journal.moveAside(cause.id, file, `reset ${user}'s pam_faillock tally (${String(evidence['failures'])} failures) by moving ${file} aside`)], `reset ${user}'s faillock tally (the old one is ${path.basename(file)}.argo-${runId})`);
    }
    case 'tally2':
      return repairTally2(system, cause, options);
    case 'root-full':
      return freePortageTmp(system, cause, options);
    case 'user-unknown':
    case 'unix-chkpwd-missing':
    case 'root-read-only':
      return notRepaired(cause.repair);
  }
}

async function currentShell(system: System, user: string): Promise<string> {
  const entry = parsePasswd((await system.target.readTextIfExists('/etc/passwd')) ?? '').find((candidate) => candidate.user === user);
  return entry === undefined || entry.shell === '' ? '/bin/sh' : entry.shell;
}

async function repairMissingShadowEntry(system: System, cause: LoginCause, options: RepairLoginOptions): Promise<Omit<RepairOutcome, 'index'>> {
  const { user, journal } = options;
  if (!options.passwordWillBeReset) return { cause: cause.id, status: 'not-repaired', note: cause.repair, changes: [] };
  const day = Math.floor(system.clock.now().getTime() / 86_400_000);
  // A locked entry first (`!`): the password reset then writes the hash into it. Until then nobody can use it.
  const change = await journal.editPasswordFile(cause.id, '/etc/shadow', (text) => (text.split('\n').some((line) => line.split(':')[0] === user) ? text : `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${user}:!:${day}:0:99999:7:::\n`), `added a locked /etc/shadow entry for ${user}`);
  return { cause: cause.id, status: 'repaired', note: `added a shadow entry for ${user}; the password reset sets its password`, changes: change ? [change] : [] };
}

/** A missing login shell: the user gets bash (always in Gentoo's @system), else sh; /etc/shells lists it. */
async function repairMissingShell(system: System, cause: LoginCause, options: RepairLoginOptions): Promise<Omit<RepairOutcome, 'index'>> {
  const { user, journal, runId } = options;
  const account = parsePasswd((await system.target.readTextIfExists('/etc/passwd')) ?? '').find((entry) => entry.user === user);
  if (account === undefined) return { cause: cause.id, status: 'not-repaired', note: cause.repair, changes: [] };
  let replacement: string | undefined;
  for (const candidate of ['/bin/bash', '/bin/sh']) {
    const stats = await system.target.stat(candidate).catch((error: unknown) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    if (stats?.isFile() && isExecutableBy({ mode: stats.mode, uid: stats.uid, gid: stats.gid }, account.uid, account.gid)) {
      replacement = candidate;
      break;
    }
  }
  if (replacement === undefined) return { cause: cause.id, status: 'not-repaired', note: `neither /bin/bash nor /bin/sh is installed: ${cause.repair}`, changes: [] };
  const shell = replacement;
  const old = String(cause.evidence['shell']);
  const changes = [
    await journal.editPasswordFile(cause.id, '/etc/passwd', (text) => setLoginShell(text, user, shell), `changed ${user}'s login shell from ${old} (not installed) to ${shell}`),
    await journal.editText(cause.id, '/etc/shells', (text) => appendMissingLines(text, [shell], argoNote(runId, `${user}'s login shell`)), `listed ${shell} in /etc/shells`),
  ].filter((change): change is JournalEntry => change !== undefined);
  return { cause: cause.id, status: 'repaired', note: `${user}'s shell is now ${shell} (${old} is not installed; reinstall it and run chsh -s ${old} ${user} to go back)`, changes };
}

interface RuleRef {
  readonly service: string;
  readonly line: number;
  readonly type: string;
  readonly control: string;
  readonly fails: boolean;
}

function rulesOf(cause: LoginCause): RuleRef[] {
  const rules = cause.evidence['rules'];
  return Array.isArray(rules) ? (rules as unknown as RuleRef[]) : [];
}

/**
 * A module that is not installed or cannot load: the rules whose failure stops the login are commented out
 * with a note; the others (optional, sufficient, `-` rules) already do not matter and stay as they are.
 */
async function repairPamModule(system: System, cause: LoginCause, options: RepairLoginOptions): Promise<Omit<RepairOutcome, 'index'>> {
  const module = String(cause.evidence['module']);
  const name = path.basename(module);
  if (!REMOVABLE_MODULES.has(name)) {
    return { cause: cause.id, status: 'not-repaired', note: `${module} is not commented out: it may check credentials or guard the login, and taking it out could weaken authentication. ${cause.repair}`, changes: [] };
  }
  const failing = rulesOf(cause).filter((rule) => rule.fails);
  for (const rule of failing) {
    const text = (await system.target.readTextIfExists(`/etc/pam.d/${rule.service}`)) ?? '';
    if (isInsideJump(text, rule.service, rule.line)) {
      return { cause: cause.id, status: 'not-repaired', note: `/etc/pam.d/${rule.service}:${rule.line} lies inside an earlier [success=N] jump: taking it out would move where the jump lands. ${cause.repair}`, changes: [] };
    }
  }
  const why = cause.id === 'pam-module-missing' ? `${module} is not installed` : `${module} cannot be loaded (${((cause.evidence['missingLibraries'] as readonly string[] | undefined) ?? []).join(', ')} not found)`;
  const changes = await commentOutRules(cause.id, failing, module, why, options);
  const protection = REMOVES_PROTECTION[name];
  return {
    cause: cause.id,
    status: 'repaired',
    note: `commented out ${failing.map((rule) => `/etc/pam.d/${rule.service}:${rule.line}`).join(', ')} (${why}${protection ? `; ${protection}` : ''}; reinstall it and remove the "# argo:" prefix to restore them)`,
    changes,
  };
}

/** Comments out rules, each checked to still name `module` on its line (the file may have changed since the diagnosis). */
async function commentOutRules(cause: LoginCauseId, rules: readonly RuleRef[], module: string, why: string, options: RepairLoginOptions): Promise<JournalEntry[]> {
  const changes: JournalEntry[] = [];
  const byService = new Map<string, RuleRef[]>();
  for (const rule of rules) byService.set(rule.service, [...(byService.get(rule.service) ?? []), rule]);
  for (const [service, serviceRules] of byService) {
    const file = `/etc/pam.d/${service}`;
    const lines = [...new Set(serviceRules.map((rule) => rule.line))].sort((a, b) => a - b);
    const names = (rule: string): boolean => rule.split(/\s+/).some((token) => token === module || path.basename(token) === path.basename(module));
    const change = await options.journal.editText(
      cause,
      file,
      (text) =>
        lines.reduce((current, line) => {
          const edited = commentOutRule(current, line, argoNote(options.runId, why), names);
          if (edited === undefined) throw new ArgoError('ARGO_STEP_FAILED', `${file}:${line} no longer names ${module}; it was left as it is`, { details: { path: file, line } });
          return edited;
        }, text ?? ''),
      `commented out line${lines.length > 1 ? 's' : ''} ${lines.join(', ')} of ${file}: ${why}`,
    );
    if (change) changes.push(change);
  }
  return changes;
}

async function repairPamLine(system: System, cause: LoginCause, options: RepairLoginOptions): Promise<Omit<RepairOutcome, 'index'>> {
  const service = String(cause.evidence['service']);
  const line = Number(cause.evidence['line']);
  const file = `/etc/pam.d/${service}`;
  const text = (await system.target.readTextIfExists(file)) ?? '';
  const content = text.split('\n')[line - 1] ?? '';
  // Only a line that names a module argo may take out: a misspelt `auth requird pam_unix.so` stays (it would
  // take the password check with it); the admin fixes the word.
  const named = content.split(/\s+/).map((token) => path.basename(token)).filter((token) => token.endsWith('.so'));
  if (named.length === 0 || !named.every((module) => REMOVABLE_MODULES.has(module) || module === 'pam_permit.so')) {
    return { cause: cause.id, status: 'not-repaired', note: `${file}:${line} is not commented out: it names ${named.length === 0 ? 'no module' : named.join(', ')}, which may guard the login. ${cause.repair}`, changes: [] };
  }
  const why = `PAM cannot parse this line (${String(cause.evidence['message'])})`;
  const change = await options.journal.editText(cause.id, file, (current) => {
    const edited = commentOutRule(current ?? '', line, argoNote(options.runId, why), (rule) => rule === content || rule.startsWith(content));
    if (edited === undefined) throw new ArgoError('ARGO_STEP_FAILED', `${file}:${line} changed since the diagnosis; it was left as it is`, { details: { path: file, line } });
    return edited;
  }, `commented out line ${line} of ${file}: ${why}`);
  return { cause: cause.id, status: 'repaired', note: `commented out ${file}:${line}, which PAM cannot parse`, changes: change ? [change] : [] };
}

/**
 * A missing service file: Portage's pending copy of the package's own file (`._cfg0000_<name>`) when there is
 * one; else the file from the owning package's binary package in PKGDIR, when its md5 is what CONTENTS
 * recorded; for `login`, else, the file as the distribution's package ships it (Gentoo's pambase or Debian's
 * login). Never a permissive stack.
 */
async function repairPamService(system: System, cause: LoginCause, options: RepairLoginOptions): Promise<Omit<RepairOutcome, 'index'>> {
  const service = String(cause.evidence['service']);
  const file = `/etc/pam.d/${service}`;
  const pending = (await system.target.isDirectory('/etc/pam.d'))
    ? (await system.target.readdir('/etc/pam.d')).map((entry) => entry.name).filter((name) => new RegExp(`^\\._cfg[0-9]{4}_${service.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`).test(name)).sort()
    : [];
  const newest = pending.at(-1);
  let source: string;
  let content: string | undefined;
  if (newest !== undefined) {
    content = await system.target.readText(`/etc/pam.d/${newest}`);
    source = `Portage's pending copy /etc/pam.d/${newest}`;
  } else {
    const copy = (await packageCopyOf(system.target, file)) ?? (await builtInPamService(system.target, service));
    content = copy?.text;
    source = copy?.source ?? '';
  }
  if (content === undefined) return { cause: cause.id, status: 'not-repaired', note: `no copy of ${file} was found (no ._cfg file): ${cause.repair}`, changes: [] };
  const text = content;
  const change = await options.journal.editText(cause.id, file, (current) => current ?? text, `restored ${file} from ${source}`);
  return { cause: cause.id, status: 'repaired', note: `restored ${file} from ${source}`, changes: change ? [change] : [] };
}

/**
 * unix_chkpwd gets the privilege sys-libs/pam installs it with: setgid shadow when a shadow group exists (and
 * /etc/shadow is then made readable by that group, group-only, never by others), else setuid root.
 */
async function repairUnixChkpwd(system: System, cause: LoginCause, options: RepairLoginOptions): Promise<Omit<RepairOutcome, 'index'>> {
  const file = String(cause.evidence['path']);
  const stats = await system.target.stat(file);
  const shadowGid = groupId(await system.target.readTextIfExists('/etc/group'), 'shadow');
  const wanted =
    shadowGid !== undefined
      ? { mode: ((stats.mode & 0o777) | 0o2000 | 0o111) & ~0o4022, uid: 0, gid: shadowGid }
      : { mode: ((stats.mode & 0o777) | 0o4000 | 0o111) & ~0o2022, uid: 0, gid: stats.gid };
  const changes = [await options.journal.setMeta(cause.id, file, wanted, `restored ${file}'s privilege: mode ${(stats.mode & 0o7777).toString(8)} -> ${wanted.mode.toString(8)}, group ${stats.gid} -> ${wanted.gid}`)];
  if (shadowGid !== undefined) {
    const shadow = await system.target.stat('/etc/shadow').catch(() => undefined);
    if (shadow?.isFile() && (shadow.gid !== shadowGid || (shadow.mode & 0o7777) !== 0o640)) {
      changes.push(await options.journal.setMeta(cause.id, '/etc/shadow', { mode: 0o640, uid: 0, gid: shadowGid }, 'set /etc/shadow to root:shadow 0640, so that unix_chkpwd (setgid shadow) can read it'));
    }
  }
  const made = changes.filter((change): change is JournalEntry => change !== undefined);
  return { cause: cause.id, status: 'repaired', note: `${file} is ${wanted.mode & 0o2000 ? 'setgid shadow' : 'setuid root'} again (mode ${wanted.mode.toString(8)})`, changes: made };
}

async function repairPasswordFileMeta(system: System, cause: LoginCause, options: RepairLoginOptions): Promise<Omit<RepairOutcome, 'index'>> {
  const file = cause.id === 'shadow-permissions' ? '/etc/shadow' : '/etc/passwd';
  if (cause.evidence['exists'] === false || (await system.target.stat(file).then((stats) => !stats.isFile(), () => true))) {
    return { cause: cause.id, status: 'not-repaired', note: cause.repair, changes: [] };
  }
  let wanted = { mode: 0o644, uid: 0, gid: 0 };
  if (file === '/etc/shadow') {
    // Decided by unix_chkpwd as it is now (after its own repair): setgid to the shadow group needs the group to
    // read the file; otherwise root alone reads it.
    const chkpwd = await unixChkpwdNow(system);
    wanted = chkpwd !== undefined && (chkpwd.mode & 0o2000) !== 0 && chkpwd.gid === groupId(await system.target.readTextIfExists('/etc/group'), 'shadow') ? { mode: 0o640, uid: 0, gid: chkpwd.gid } : { mode: 0o600, uid: 0, gid: 0 };
  }
  const label = `root:${wanted.gid === 0 ? 'root' : 'shadow'} ${wanted.mode.toString(8).padStart(4, '0')}`;
  const change = await options.journal.setMeta(cause.id, file, wanted, `set ${file} to ${label}`);
  return { cause: cause.id, status: 'repaired', note: `${file} is ${label} again`, changes: change ? [change] : [] };
}

async function unixChkpwdNow(system: System): Promise<{ mode: number; gid: number } | undefined> {
  for (const candidate of ['/sbin/unix_chkpwd', '/usr/sbin/unix_chkpwd', '/usr/bin/unix_chkpwd']) {
    const stats = await system.target.stat(candidate).catch(() => undefined);
    if (stats !== undefined) return { mode: stats.mode & 0o7777, gid: stats.gid };
  }
  return undefined;
}

/** pam_tally2's record of the user (uid × 64 bytes into /var/log/tallylog): its failure count goes to 0, as `pam_tally2 --reset` does. */
async function repairTally2(system: System, cause: LoginCause, options: RepairLoginOptions): Promise<Omit<RepairOutcome, 'index'>> {
  const uid = Number(cause.evidence['uid']);
  const file = '/var/log/tallylog';
  const offset = uid * FAILLOCK_RECORD_SIZE + 54;
  const change = await options.journal.editBytes(
    cause.id,
    file,
    (bytes) => {
      if (bytes.byteLength < offset + 2) return bytes;
      const copy = Buffer.from(bytes);
      copy.writeUInt16LE(0, offset);
      return copy;
    },
    `reset ${options.user}'s pam_tally2 count (${String(cause.evidence['failures'])} failures) in ${file}`,
  );
  return { cause: cause.id, status: 'repaired', note: `reset ${options.user}'s pam_tally2 count (pam_tally2 --user ${options.user} --reset)`, changes: change ? [change] : [] };
}

/**
 * A full root: Portage's build folders in /var/tmp/portage go (never user data, never distfiles or binary
 * packages, which someone may want). Not when an emerge runs on the live system: they are its work.
 * Deleting cannot be undone; the summary says so.
 */
async function freePortageTmp(system: System, cause: LoginCause, options: RepairLoginOptions): Promise<Omit<RepairOutcome, 'index'>> {
  const folder = '/var/tmp/portage';
  if (options.liveSystem && options.emergeRunning) {
    return { cause: cause.id, status: 'not-repaired', note: `emerge is running, so its build folders in ${folder} stay: ${cause.repair}`, changes: [] };
  }
  if (!(await system.target.isDirectory(folder))) return { cause: cause.id, status: 'not-repaired', note: `${folder} does not exist: ${cause.repair}`, changes: [] };
  // A tmpfs on /var/tmp/portage (a common Gentoo set-up) holds nothing of the root's space.
  const [rootStats, folderStats] = await Promise.all([system.target.stat('/'), system.target.stat(folder)]);
  if (rootStats.dev !== folderStats.dev) return { cause: cause.id, status: 'not-repaired', note: `${folder} is another filesystem: emptying it frees nothing on the root. ${cause.repair}`, changes: [] };
  const before = await system.target.statfs('/');
  const removed = await options.journal.removeFolderContents(cause.id, folder, 'removed Portage build folders to free space on a full root (cannot be undone; nothing else was touched)', portageUid(await system.target.readTextIfExists('/etc/passwd')));
  const after = await system.target.statfs('/');
  const freed = Math.max(0, Number(after.bavail - before.bavail) * Number(after.bsize));
  return {
    cause: cause.id,
    status: removed === undefined ? 'not-repaired' : 'repaired',
    note: removed === undefined ? `${folder} is empty: ${cause.repair}` : `removed ${folder}/* (${Math.round(freed / 1048576)} MiB freed; Portage build folders only, cannot be undone)`,
    changes: removed ? [removed] : [],
  };
}

/** The uid of Portage's own user, which owns /var/tmp/portage (Portage's prepare_build_dirs). */
function portageUid(passwd: string | undefined): number | undefined {
  return parsePasswd(passwd ?? '').find((entry) => entry.user === 'portage')?.uid;
}

function groupId(groupText: string | undefined, name: string): number | undefined {
  for (const line of (groupText ?? '').split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

import type { LoginCause } from './causes.ts';

/**
 * The aging fields of one /etc/shadow entry, as glibc's getspnam gives them to pam_unix: an empty field is -1.
 * The password field is reduced to its lock mark; the hash itself never leaves the parser.
 */
export interface ShadowAging {
  readonly user: string;
  /** `!…` (usermod -L, passwd -l), `*…`, or none. */
  readonly lockMark: '!' | '*' | undefined;
  /** The password field is only a lock mark (`!`, `!!`, `*`): no password was ever set. */
  readonly noPassword: boolean;
  readonly lastChange: number;
  readonly max: number;
  readonly inactive: number;
  readonly expire: number;
}

function field(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return -1;
  const number = Number(value);
  return Number.isInteger(number) ? number : -1;
}

/** The entry for `user`, or undefined when the file has none. */
export function readShadowAging(text: string, user: string): ShadowAging | undefined {
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] !== user || fields.length < 2) continue;
    const password = fields[1] as string;
    const lockMark = password.startsWith('!') ? '!' : password.startsWith('*') ? '*' : undefined;
    return {
      user,
      lockMark,
      noPassword: lockMark !== undefined && /^[!*]+$/.test(password),
      lastChange: field(fields[2]),
      max: field(fields[4]),
      inactive: field(fields[6]),
      expire: field(fields[7]),
    };
  }
  return undefined;
}

/** Days since 1970-01-01 (UTC), the unit of /etc/shadow and of pam_unix's `curdays`. */
export function daysSinceEpoch(date: Date): number {
  return Math.floor(date.getTime() / 86_400_000);
}

export type AgingVerdict = 'account-expired' | 'password-change-forced-zero' | 'password-expired-inactive' | 'password-change-forced-max' | 'ok';

/** The decision of Linux-PAM's check_shadow_expiry (modules/pam_unix/passverify.c), in its order. */
export function judgeAging(entry: ShadowAging, today: number): AgingVerdict {
  if (entry.expire !== -1 && today >= entry.expire) return 'account-expired';
  if (entry.lastChange === 0) return 'password-change-forced-zero';
  if (today < entry.lastChange) return 'ok';
  const age = today - entry.lastChange;
  if (entry.max !== -1 && entry.inactive !== -1 && age > entry.max && age > entry.inactive && age > entry.max + entry.inactive) return 'password-expired-inactive';
  if (entry.max !== -1 && age > entry.max) return 'password-change-forced-max';
  return 'ok';
}

function isoDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** Causes in the user's shadow entry: lock, account expiry, password aging. */
export function checkShadowEntry(user: string, entry: ShadowAging | undefined, today: number): LoginCause[] {
  if (entry === undefined) {
    return [
      {
        id: 'shadow-entry-missing',
        severity: 'blocks',
        summary: `${user} has no entry in /etc/shadow: pam_unix cannot verify any password`,
        evidence: { user },
        repair: `add a shadow entry for ${user} (pwconv creates the missing ones) and set a password`,
      },
    ];
  }
  const causes: LoginCause[] = [];
  if (entry.lockMark !== undefined) {
    causes.push({
      id: 'account-locked',
      severity: 'blocks',
      summary: entry.noPassword ? `${user} has no password (its shadow field is only "${entry.lockMark}")` : `${user}'s password is locked (its hash starts with "${entry.lockMark}")`,
      evidence: { user, lockMark: entry.lockMark, noPassword: entry.noPassword },
      repair: entry.noPassword ? `set a password for ${user}` : `remove the leading "${entry.lockMark}" from ${user}'s hash (usermod -U ${user}); the hash itself is kept`,
    });
  }
  const verdict = judgeAging(entry, today);
  const aging = { user, today: isoDay(today), lastChange: entry.lastChange, max: entry.max, inactive: entry.inactive, expire: entry.expire };
  if (verdict === 'account-expired') {
    causes.push({
      id: 'account-expired',
      severity: 'blocks',
      summary: `${user}'s account expired on ${isoDay(entry.expire)} (shadow field 8)`,
      evidence: { ...aging, expiredOn: isoDay(entry.expire) },
      repair: `clear the account's expiry date (chage -E -1 ${user})`,
    });
  } else if (verdict === 'password-expired-inactive') {
    causes.push({
      id: 'password-expired-inactive',
      severity: 'blocks',
      summary: `${user}'s password expired on ${isoDay(entry.lastChange + entry.max)} and the ${entry.inactive}-day inactive period after it has passed`,
      evidence: { ...aging, inactiveSince: isoDay(entry.lastChange + entry.max + entry.inactive) },
      repair: `set a new password for ${user} (its last-change day becomes today), or lift the inactive limit (chage -I -1 ${user})`,
    });
  } else if (verdict === 'password-change-forced-zero' || verdict === 'password-change-forced-max') {
    causes.push({
      id: 'password-change-forced',
      severity: 'warns',
      summary:
        verdict === 'password-change-forced-zero'
          ? `${user} must change the password at the next login (last change set to 0): a console login asks, a display manager may not complete it`
          : `${user}'s password expired on ${isoDay(entry.lastChange + entry.max)}: the next login must change it, which a display manager may not complete`,
      evidence: { ...aging, reason: verdict === 'password-change-forced-zero' ? 'last-change-zero' : 'max-age-exceeded' },
      repair: `set a new password for ${user} (its last-change day becomes today)`,
    });
  }
  return causes;
}

export interface ShellFacts {
  /** The passwd field, `/bin/sh` when it is empty (login(1)'s default). */
  readonly shell: string;
  /** Undefined when the path does not resolve to anything inside the target (a dangling link counts as missing). */
  readonly stat: { readonly isFile: boolean; readonly mode: number; readonly uid: number; readonly gid: number } | undefined;
  /** /etc/shells' entries, or undefined when the file does not exist. */
  readonly listed: readonly string[] | undefined;
  /** pam_shells is on an auth/account line of the login stack: an unlisted shell then refuses the login. */
  readonly pamShellsInStack: boolean;
}

/** Whether a user (uid, primary gid) may execute a file, by its owner/group/other bits (supplementary groups not counted). */
export function isExecutableBy(file: { mode: number; uid: number; gid: number }, uid: number, gid: number): boolean {
  if (uid === 0) return (file.mode & 0o111) !== 0;
  if (file.uid === uid) return (file.mode & 0o100) !== 0;
  if (file.gid === gid) return (file.mode & 0o010) !== 0;
  return (file.mode & 0o001) !== 0;
}

export function checkShell(account: { user: string; uid: number; gid: number }, facts: ShellFacts): LoginCause[] {
  const { user } = account;
  const { shell } = facts;
  const causes: LoginCause[] = [];
  if (facts.stat === undefined) {
    causes.push({
      id: 'shell-missing',
      severity: 'blocks',
      summary: `${user}'s login shell ${shell} is not installed`,
      evidence: { user, shell },
      repair: `reinstall the package that provides ${shell}, or point ${user}'s shell at an installed one listed in /etc/shells (usermod -s /bin/bash ${user})`,
    });
  } else if (!facts.stat.isFile || !isExecutableBy(facts.stat, account.uid, account.gid)) {
    causes.push({
      id: 'shell-not-executable',
      severity: 'blocks',
      summary: `${user}'s login shell ${shell} is not an executable file for ${user}`,
      evidence: { user, shell, isFile: facts.stat.isFile, mode: modeString(facts.stat.mode), uid: facts.stat.uid, gid: facts.stat.gid },
      repair: facts.stat.isFile ? `restore the execute bits of ${shell} (chmod 0755 ${shell})` : `reinstall the package that provides ${shell}`,
    });
  }
  if (facts.listed === undefined || !facts.listed.includes(shell)) {
    causes.push({
      id: 'shell-not-listed',
      severity: facts.pamShellsInStack ? 'blocks' : 'warns',
      summary:
        facts.listed === undefined
          ? `/etc/shells does not exist, so ${user}'s shell ${shell} is not a valid login shell`
          : `${user}'s login shell ${shell} is not listed in /etc/shells`,
      evidence: { user, shell, shellsFile: facts.listed !== undefined, pamShells: facts.pamShellsInStack },
      repair: `add the line ${shell} to /etc/shells`,
    });
  }
  return causes;
}

/** The permission bits as four octal digits (`2755`). */
export function modeString(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

export interface NologinFacts {
  /** The nologin files that exist (`/etc/nologin`, `/run/nologin`, or pam_nologin's `file=`). */
  readonly present: readonly string[];
  /** pam_nologin is on an auth/account line of the login stack. */
  readonly pamNologinInStack: boolean;
}

/** pam_nologin refuses every user but root while a nologin file exists. */
export function checkNologin(user: string, uid: number | undefined, facts: NologinFacts): LoginCause[] {
  if (facts.present.length === 0) return [];
  const blocks = facts.pamNologinInStack && uid !== 0;
  return [
    {
      id: 'nologin',
      severity: blocks ? 'blocks' : 'warns',
      summary: `${facts.present.join(' and ')} ${facts.present.length === 1 ? 'exists' : 'exist'}: pam_nologin refuses every login but root's`,
      evidence: { user, files: facts.present, pamNologin: facts.pamNologinInStack, appliesToUser: uid !== 0 },
      repair: `remove ${facts.present.join(' and ')} (someone may have written it on purpose: it is kept as a backup)`,
    },
  ];
}

/** The console terminals root needs in /etc/securetty: the kernel console and the first virtual terminal. */
export const CONSOLE_TTYS: readonly string[] = ['console', 'tty1'];

export function parseSecuretty(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** pam_securetty keeps root off terminals /etc/securetty does not list; it applies to root only. */
export function checkSecuretty(uid: number | undefined, securetty: readonly string[] | undefined, pamSecurettyInStack: boolean): LoginCause[] {
  if (uid !== 0 || securetty === undefined) return [];
  const missing = CONSOLE_TTYS.filter((tty) => !securetty.includes(tty));
  if (missing.length === 0) return [];
  return [
    {
      id: 'securetty',
      severity: pamSecurettyInStack ? 'blocks' : 'warns',
      summary: `/etc/securetty does not list ${missing.join(', ')}: pam_securetty keeps root off the console there`,
      evidence: { missing, listed: securetty.length, pamSecuretty: pamSecurettyInStack },
      repair: `add the lines ${missing.join(', ')} to /etc/securetty`,
    },
  ];
}

/** crypt_checksalt(3)'s answer for CRYPT_SALT_METHOD_LEGACY (libxcrypt's crypt.h). */
export const CRYPT_SALT_METHOD_LEGACY = 3;

/**
 * The user's hash uses a method the target's libxcrypt marks legacy (crypt_checksalt: md5crypt, descrypt,
 * bigcrypt, … on a build whose strong set leaves them out). pam_unix still verifies it; policies that act on
 * crypt_checksalt (account-utils' pam_unix, a `password` stack re-hashing on login) then want a new password,
 * which a display manager's greeter may not offer. A warning, repaired by the password reset (a new $6$ hash).
 */
export function checkLegacyHash(user: string, prefix: string, checksalt: number | undefined): LoginCause[] {
  if (checksalt !== CRYPT_SALT_METHOD_LEGACY) return [];
  return [
    {
      id: 'password-change-forced',
      severity: 'warns',
      summary: `${user}'s password hash (${prefix}) uses a method the target's libxcrypt marks legacy: a PAM that honours crypt_checksalt asks for a new password at login, which a display manager may not complete`,
      evidence: { user, reason: 'legacy-hash', method: prefix, checksalt },
      repair: `set a new password for ${user} (it is hashed with SHA-512-crypt)`,
    },
  ];
}

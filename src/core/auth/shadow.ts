import { ArgoError } from '../errors.ts';
import { hashPrefixOf } from './crypt-vectors.ts';

/**
 * /etc/shadow (shadow(5)): `name:password:lastchg:min:max:warn:inactive:expire:reserved`. Only the *shape*
 * of the password field ever leaves this module: its state and method prefix, never the hash.
 */
export type PasswordState =
  /** A crypt(3) hash that can verify a password. */
  | 'hashed'
  /** `!` or `*` in front of a hash (usermod -L, passwd -l): the hash is kept but cannot match. */
  | 'locked'
  /** `*`, `!`, `!!` alone: no password can ever match (service accounts). */
  | 'no-login'
  /** Empty: logs in without a password where PAM allows `nullok`. */
  | 'empty';

export interface ShadowShape {
  readonly user: string;
  readonly state: PasswordState;
  /** Method prefix of the hash (`$6$`, `$y$`, …), also for a locked hash; undefined when there is none or unknown. */
  readonly prefix: string | undefined;
  /** Days since 1970-01-01 of the last change; 0 forces a change at next login; undefined when empty. */
  readonly lastChange: number | undefined;
  /** The account expiry day has passed (`expire` field, compared with `today`). */
  readonly accountExpired: boolean;
  /** The password is older than its maximum age. */
  readonly passwordExpired: boolean;
  /** 1-based line number in the file. */
  readonly line: number;
}

interface ShadowLine {
  readonly fields: string[];
  readonly line: number;
}

function parseLines(text: string): ShadowLine[] {
  const lines: ShadowLine[] = [];
  text.split('\n').forEach((raw, index) => {
    if (raw === '' || raw.startsWith('#')) return;
    lines.push({ fields: raw.split(':'), line: index + 1 });
  });
  return lines;
}

function toNumber(field: string | undefined): number | undefined {
  if (field === undefined || field === '') return undefined;
  const value = Number(field);
  return Number.isInteger(value) ? value : undefined;
}

function stateOf(password: string): PasswordState {
  if (password === '') return 'empty';
  if (password === '*' || password === '!' || password === '!!' || password === '*LK*') return 'no-login';
  if (password.startsWith('!') || password.startsWith('*')) return 'locked';
  return 'hashed';
}

/** The shape of every entry; `today` is days since the epoch (for expiry). */
export function describeShadow(text: string, today: number): ShadowShape[] {
  return parseLines(text).map(({ fields, line }) => {
    const [user = '', password = '', lastchg, , max, , , expire] = fields;
    const state = stateOf(password);
    const lastChange = toNumber(lastchg);
    const maxDays = toNumber(max);
    const expireDay = toNumber(expire);
    return {
      user,
      state,
      prefix: hashPrefixOf(password.replace(/^[!*]+/, '')),
      lastChange,
      accountExpired: expireDay !== undefined && expireDay <= today,
      passwordExpired: lastChange !== undefined && maxDays !== undefined && maxDays < 99999 && lastChange + maxDays < today,
      line,
    };
  });
}

/** Method prefixes of every hash in the file (locked ones included: unlocking them must work too). */
export function hashPrefixesInUse(text: string): string[] {
  const prefixes = new Set<string>();
  for (const shape of describeShadow(text, 0)) {
    if ((shape.state === 'hashed' || shape.state === 'locked') && shape.prefix !== undefined) prefixes.add(shape.prefix);
  }
  return [...prefixes].sort();
}

/**
 * The file with `user`'s password field set to `hash` and its last-change day set to `day`; every other byte
 * is identical (other lines, field order, trailing newline or its absence).
 */
export function replaceShadowPassword(text: string, user: string, hash: string, day: number): string {
  assertFieldValue(hash, user);
  return editShadowEntry(text, user, (fields) => {
    fields[1] = hash;
    fields[2] = String(day);
  });
}

/** A hash or field value that would split or end a shadow line. */
export function assertFieldValue(value: string, user: string): void {
  if (value.includes(':') || value.includes('\n')) {
    throw new ArgoError('ARGO_INVALID_INPUT', 'A password hash cannot contain ":" or a newline', { details: { user } });
  }
}

/**
 * The file with exactly one line changed: `user`'s, its nine fields handed to `edit` to change in place.
 * Every other byte stays identical. No entry, or more than one, is an error: which one would PAM read?
 */
export function editShadowEntry(text: string, user: string, edit: (fields: string[]) => void): string {
  const lines = text.split('\n');
  const matches = lines.flatMap((line, index) => (line.startsWith(`${user}:`) ? [index] : []));
  if (matches.length !== 1) {
    throw new ArgoError('ARGO_INVALID_INPUT', matches.length === 0 ? `There is no entry for ${user} in the shadow file` : `The shadow file has ${matches.length} entries for ${user}`, {
      hint: matches.length === 0 ? 'Check the user name (getent passwd); create the account with useradd first.' : 'Remove the duplicate lines (vipw -s) and run again.',
      details: { user },
    });
  }
  const index = matches[0] as number;
  const fields = (lines[index] as string).split(':');
  while (fields.length < 9) fields.push('');
  edit(fields);
  lines[index] = fields.join(':');
  return lines.join('\n');
}

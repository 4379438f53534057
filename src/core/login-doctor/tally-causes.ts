import type { LoginCause } from './causes.ts';

/**
 * One record of a pam_faillock tally file (Linux-PAM modules/pam_faillock/faillock.h, `struct tally`):
 * `char source[52]; uint16_t reserved; uint16_t status; uint64_t time;` — 64 bytes, native byte order
 * (little-endian on the targets argo supports).
 */
export interface FaillockRecord {
  readonly source: string;
  readonly status: number;
  /** Seconds since the epoch. */
  readonly time: number;
}

const LATIN1 = new TextDecoder('latin1');

export const FAILLOCK_RECORD_SIZE = 64;
export const TALLY_STATUS_VALID = 0x1;

export function parseFaillockTally(bytes: Uint8Array): FaillockRecord[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: FaillockRecord[] = [];
  // pam_faillock reads whole records only; a trailing partial record is ignored as it does.
  for (let offset = 0; offset + FAILLOCK_RECORD_SIZE <= bytes.byteLength; offset += FAILLOCK_RECORD_SIZE) {
    const raw = bytes.subarray(offset, offset + 52);
    const end = raw.indexOf(0);
    records.push({
      source: LATIN1.decode(end < 0 ? raw : raw.subarray(0, end)),
      status: view.getUint16(offset + 54, true),
      time: Number(view.getBigUint64(offset + 56, true)),
    });
  }
  return records;
}

/** pam_faillock's options (faillock.conf(5)); later sources override earlier ones: defaults, the file, the PAM line. */
export interface FaillockSettings {
  readonly dir: string;
  readonly deny: number;
  readonly failInterval: number;
  /** 0: never unlocked by time. */
  readonly unlockTime: number;
  readonly evenDenyRoot: boolean;
  readonly rootUnlockTime: number;
}

export const FAILLOCK_DEFAULTS: FaillockSettings = { dir: '/var/run/faillock', deny: 3, failInterval: 900, unlockTime: 600, evenDenyRoot: false, rootUnlockTime: 600 };

function seconds(value: string): number | undefined {
  if (value === 'never') return 0;
  const number = Number(value);
  return Number.isInteger(number) && number >= 0 ? number : undefined;
}

/** Settings from /etc/security/faillock.conf's text (may be undefined) and the pam_faillock arguments of the stack. */
export function faillockSettings(confText: string | undefined, args: readonly string[]): FaillockSettings {
  const pairs: [string, string][] = [];
  for (const raw of (confText ?? '').split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    pairs.push(eq < 0 ? [line, ''] : [line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  for (const arg of args) {
    const eq = arg.indexOf('=');
    pairs.push(eq < 0 ? [arg, ''] : [arg.slice(0, eq), arg.slice(eq + 1)]);
  }
  let settings: FaillockSettings = FAILLOCK_DEFAULTS;
  let rootUnlockSet = false;
  for (const [key, value] of pairs) {
    const number = seconds(value);
    if (key === 'dir' && value.startsWith('/')) settings = { ...settings, dir: value };
    else if (key === 'deny' && number !== undefined) settings = { ...settings, deny: number };
    else if (key === 'fail_interval' && number !== undefined && number > 0) settings = { ...settings, failInterval: number };
    else if (key === 'unlock_time' && number !== undefined) settings = { ...settings, unlockTime: number };
    else if (key === 'root_unlock_time' && number !== undefined) {
      settings = { ...settings, rootUnlockTime: number };
      rootUnlockSet = true;
    } else if (key === 'even_deny_root') settings = { ...settings, evenDenyRoot: true };
  }
  // pam_faillock: root_unlock_time defaults to unlock_time.
  return rootUnlockSet ? settings : { ...settings, rootUnlockTime: settings.unlockTime };
}

export interface FaillockState {
  /** Valid failures within fail_interval of the latest one. */
  readonly failures: number;
  readonly latest: number | undefined;
  readonly locked: boolean;
  /** Seconds since the epoch when the lock ends by itself; undefined when it never does or there is no lock. */
  readonly unlocksAt: number | undefined;
}

/** pam_faillock's check_tally: counted failures, and whether they lock the user out at `now` (seconds). */
export function judgeFaillock(records: readonly FaillockRecord[], settings: FaillockSettings, now: number, isRoot: boolean): FaillockState {
  const valid = records.filter((record) => (record.status & TALLY_STATUS_VALID) !== 0);
  if (valid.length === 0) return { failures: 0, latest: undefined, locked: false, unlocksAt: undefined };
  const latest = Math.max(...valid.map((record) => record.time));
  const failures = valid.filter((record) => latest - record.time < settings.failInterval).length;
  if (settings.deny === 0 || failures < settings.deny || (isRoot && !settings.evenDenyRoot)) return { failures, latest, locked: false, unlocksAt: undefined };
  const unlockTime = isRoot ? settings.rootUnlockTime : settings.unlockTime;
  if (unlockTime !== 0 && now - latest > unlockTime) return { failures, latest, locked: false, unlocksAt: undefined };
  return { failures, latest, locked: true, unlocksAt: unlockTime === 0 ? undefined : latest + unlockTime };
}

export function checkFaillock(
  user: string,
  file: string,
  state: FaillockState,
  settings: FaillockSettings,
  pamFaillockInStack: boolean,
): LoginCause[] {
  if (state.failures === 0 || state.latest === undefined) return [];
  // A tally that pam_faillock would not act on (too few failures, lock expired, module not in the stack) is worth a line, not a repair.
  const blocks = state.locked && pamFaillockInStack;
  if (!state.locked && state.failures < settings.deny) return [];
  return [
    {
      id: 'faillock-tally',
      severity: blocks ? 'blocks' : 'warns',
      summary: state.locked
        ? `pam_faillock has locked ${user} out after ${state.failures} failed logins (deny=${settings.deny})${state.unlocksAt === undefined ? ', with no unlock time' : ''}`
        : `${file} records ${state.failures} failed logins of ${user}; the lock has expired`,
      evidence: {
        user,
        file,
        failures: state.failures,
        deny: settings.deny,
        latestFailure: new Date(state.latest * 1000).toISOString(),
        unlocksAt: state.unlocksAt === undefined ? null : new Date(state.unlocksAt * 1000).toISOString(),
        locked: state.locked,
        pamFaillock: pamFaillockInStack,
      },
      repair: `reset ${user}'s tally (faillock --user ${user} --reset)`,
    },
  ];
}

/**
 * /var/log/tallylog of pam_tally2 (Linux-PAM < 1.5): one record per uid at offset uid × 64,
 * `char fail_line[52]; uint16_t reserved; uint16_t fail_cnt; uint64_t fail_time;`.
 */
export interface TallylogRecord {
  readonly failCount: number;
  readonly failTime: number;
  readonly line: string;
}

export function readTallylogRecord(bytes: Uint8Array, uid: number): TallylogRecord | undefined {
  const offset = uid * FAILLOCK_RECORD_SIZE;
  if (offset + FAILLOCK_RECORD_SIZE > bytes.byteLength) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const raw = bytes.subarray(offset, offset + 52);
  const end = raw.indexOf(0);
  return {
    line: LATIN1.decode(end < 0 ? raw : raw.subarray(0, end)),
    failCount: view.getUint16(offset + 54, true),
    failTime: Number(view.getBigUint64(offset + 56, true)),
  };
}

/** pam_tally2's deny= and unlock_time= from its arguments (deny defaults to 0: no lock-out). */
export function tally2Settings(args: readonly string[]): { deny: number; unlockTime: number; evenDenyRoot: boolean } {
  let deny = 0;
  let unlockTime = 0;
  let evenDenyRoot = false;
  for (const arg of args) {
    const [key, value = ''] = arg.split('=', 2) as [string, string?];
    const number = Number(value);
    if (key === 'deny' && Number.isInteger(number) && number >= 0) deny = number;
    else if (key === 'unlock_time' && Number.isInteger(number) && number >= 0) unlockTime = number;
    else if (key === 'even_deny_root') evenDenyRoot = true;
  }
  return { deny, unlockTime, evenDenyRoot };
}

/** The brief's default for a tally without a pam_tally2 line to read deny= from. */
const TALLY2_FALLBACK_DENY = 3;

export function checkTally2(
  user: string,
  uid: number,
  record: TallylogRecord | undefined,
  settings: { deny: number; unlockTime: number; evenDenyRoot: boolean },
  pamTally2InStack: boolean,
  now: number,
): LoginCause[] {
  if (record === undefined || record.failCount === 0) return [];
  const deny = settings.deny > 0 ? settings.deny : TALLY2_FALLBACK_DENY;
  if (record.failCount < deny) return [];
  const expired = settings.unlockTime > 0 && now - record.failTime > settings.unlockTime;
  const enforced = pamTally2InStack && settings.deny > 0 && !expired && (uid !== 0 || settings.evenDenyRoot);
  return [
    {
      id: 'tally2',
      severity: enforced ? 'blocks' : 'warns',
      summary: `/var/log/tallylog records ${record.failCount} failed logins of ${user}${enforced ? `: pam_tally2 refuses the login (deny=${settings.deny})` : ''}`,
      evidence: { user, uid, failures: record.failCount, deny, latestFailure: new Date(record.failTime * 1000).toISOString(), pamTally2: pamTally2InStack },
      repair: `reset ${user}'s record in /var/log/tallylog (pam_tally2 --user ${user} --reset, or zero its 64-byte record)`,
    },
  ];
}

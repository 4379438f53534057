/**
 * The pure half of the login proof: reading what the PAM driver and pamtester printed, and the judgements on
 * a login shell, on unix_chkpwd's privilege and on a pam_faillock tally. No I/O here.
 */

/** A PAM step of one service, as the proof names it. */
export type PamStep = 'start' | 'tty' | 'auth' | 'account' | 'session';

/** Where a proof stopped: the step (a PAM step, or `shell`, `su`, `faillock`, `unix_chkpwd`, `pam`), and why. */
export interface ProofFailure {
  readonly step: string;
  readonly service?: string;
  readonly reason: string;
}

/** One service's result: `passed` lists the PAM steps that returned PAM_SUCCESS, in order. */
export interface ServiceOutcome {
  readonly service: string;
  readonly passed: readonly PamStep[];
  /** Absent when every step passed (authenticate, account, open and close a session). */
  readonly failed?: ProofFailure;
  /** Every text PAM showed (motd, "Your account has expired", nologin's message), prompts excluded. */
  readonly messages: readonly string[];
}

export type DriverLine =
  | { readonly kind: 'step'; readonly service: string; readonly step: string; readonly code: number; readonly text: string }
  | { readonly kind: 'message'; readonly service: string; readonly step: string; readonly style: number; readonly text: string }
  | { readonly kind: 'unavailable'; readonly what: string; readonly text: string };

const PAM_PROMPT_ECHO_OFF = 1;
const PAM_PROMPT_ECHO_ON = 2;

/** The driver's stdout, one JSON object per line; lines that are not its objects are ignored. */
export function parseDriverOutput(stdout: string): DriverLine[] {
  const lines: DriverLine[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    const record = value as Record<string, unknown>;
    const text = typeof record['text'] === 'string' ? record['text'] : '';
    const service = typeof record['service'] === 'string' ? record['service'] : '';
    const step = typeof record['step'] === 'string' ? record['step'] : '';
    if (record['kind'] === 'step' && typeof record['code'] === 'number') lines.push({ kind: 'step', service, step, code: record['code'], text });
    else if (record['kind'] === 'message' && typeof record['style'] === 'number') lines.push({ kind: 'message', service, step, style: record['style'], text });
    else if (record['kind'] === 'unavailable' && typeof record['what'] === 'string') lines.push({ kind: 'unavailable', what: record['what'], text });
  }
  return lines;
}

function stepOf(driverStep: string): PamStep {
  if (driverStep === 'session-close') return 'session';
  return driverStep === 'auth' || driverStep === 'account' || driverStep === 'start' || driverStep === 'tty' ? driverStep : 'session';
}

function reasonWith(text: string, messages: readonly string[]): string {
  const said = messages.map((message) => message.trim()).filter((message) => message !== '');
  return said.length === 0 ? text : `${text} (PAM said: ${said.join(' / ')})`;
}

/**
 * What the driver proved for one service. A service with no final step line (the driver died mid-way) is a
 * failure at the step it was in: unknown is not success.
 */
export function serviceOutcome(service: string, lines: readonly DriverLine[]): ServiceOutcome {
  const passed: PamStep[] = [];
  const messages: string[] = [];
  const stepMessages = new Map<string, string[]>();
  let sessionClosed = false;
  let lastStep = 'start';
  for (const line of lines) {
    if (line.kind === 'unavailable' || line.service !== service) continue;
    if (line.kind === 'message') {
      if (line.style === PAM_PROMPT_ECHO_OFF) continue;
      const text = line.style === PAM_PROMPT_ECHO_ON ? `unanswered prompt "${line.text.trim()}"` : line.text;
      messages.push(text);
      stepMessages.set(line.step, [...(stepMessages.get(line.step) ?? []), text]);
      continue;
    }
    lastStep = line.step;
    if (line.code !== 0) {
      const step = stepOf(line.step);
      const prefix = line.step === 'session-close' ? 'closing the session: ' : '';
      return { service, passed, messages, failed: { step, service, reason: reasonWith(`${prefix}${line.text} (PAM code ${line.code})`, stepMessages.get(line.step) ?? []) } };
    }
    if (line.step === 'session-close') sessionClosed = true;
    else if (line.step === 'auth' || line.step === 'account' || line.step === 'session') passed.push(line.step);
  }
  if (!sessionClosed || !passed.includes('session')) {
    const next: PamStep = !passed.includes('auth') ? (lastStep === 'start' || lastStep === 'tty' ? 'auth' : stepOf(lastStep)) : !passed.includes('account') ? 'account' : 'session';
    return { service, passed, messages, failed: { step: next, service, reason: 'the PAM driver ended before this step reported a result' } };
  }
  return { service, passed, messages };
}

/** pamtester's operations in the order the proof runs them, and the proof step each stands for. */
export const PAMTESTER_OPERATIONS: readonly (readonly [string, PamStep])[] = [
  ['authenticate', 'auth'],
  ['acct_mgmt', 'account'],
  ['open_session', 'session'],
  ['close_session', 'session'],
];

const PAMTESTER_PROGRESS = /^(invoking pam_start|performing operation - |successfully authenticated|account management done|successfully opened a session|session has successfully been closed)/;

/**
 * `pamtester -v SERVICE USER authenticate acct_mgmt open_session close_session` output (stdout and stderr
 * interleaved): `performing operation - X` before each operation, `pamtester: <pam_strerror>` on failure.
 */
export function pamtesterOutcome(service: string, lines: readonly string[], exitCode: number | undefined): ServiceOutcome {
  const passed: PamStep[] = [];
  const messages: string[] = [];
  let current: string | undefined;
  const done = new Set<string>();
  for (const raw of lines) {
    const match = /pamtester: (.*)$/.exec(raw);
    if (!match) {
      if (raw.trim() !== '') messages.push(raw.trim());
      continue;
    }
    const said = match[1] as string;
    const operation = /^performing operation - (\S+)/.exec(said);
    if (operation) {
      if (current !== undefined) done.add(current);
      current = operation[1];
      continue;
    }
    if (PAMTESTER_PROGRESS.test(said)) continue;
    const step = PAMTESTER_OPERATIONS.find(([name]) => name === current)?.[1] ?? 'start';
    return { service, passed: passedOf(done), messages, failed: { step, service, reason: reasonWith(said, messages) } };
  }
  if (current !== undefined && exitCode === 0) done.add(current);
  if (exitCode !== 0) {
    const step = PAMTESTER_OPERATIONS.find(([name]) => name === current)?.[1] ?? 'start';
    return { service, passed: passedOf(done), messages, failed: { step, service, reason: `pamtester exited with status ${exitCode ?? 'unknown'}` } };
  }
  passed.push(...passedOf(done));
  if (!done.has('close_session')) return { service, passed, messages, failed: { step: 'session', service, reason: 'pamtester did not report closing the session' } };
  return { service, passed, messages };
}

function passedOf(done: ReadonlySet<string>): PamStep[] {
  const steps: PamStep[] = [];
  for (const [operation, step] of PAMTESTER_OPERATIONS) {
    if (operation === 'close_session') continue;
    if (done.has(operation)) steps.push(step);
  }
  return steps;
}

/** What the proof found out about a login shell, and its verdict. */
export interface ShellFacts {
  readonly shell: string;
  /** undefined: no such file (after following links inside the root). */
  readonly mode: number | undefined;
  readonly isFile: boolean;
  readonly listedInShells: boolean;
}

/** undefined when the shell is usable for a login; otherwise the reason. */
export function shellProblem(facts: ShellFacts): string | undefined {
  if (facts.shell === '') return 'the user has no login shell in /etc/passwd';
  if (!facts.shell.startsWith('/')) return `the login shell ${facts.shell} is not an absolute path`;
  if (facts.mode === undefined) return `the login shell ${facts.shell} does not exist in the target`;
  if (!facts.isFile) return `the login shell ${facts.shell} is not a regular file`;
  if ((facts.mode & 0o111) === 0) return `the login shell ${facts.shell} is not executable (mode ${(facts.mode & 0o7777).toString(8).padStart(4, '0')})`;
  if (!facts.listedInShells) return `the login shell ${facts.shell} is not listed in /etc/shells`;
  return undefined;
}

export interface UnixChkpwdFacts {
  readonly path: string | undefined;
  readonly mode: number | undefined;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  /** The group name of gid, from the target's /etc/group. */
  readonly group: string | undefined;
  /** A security.capability attribute is set (Gentoo's USE=filecaps: cap_dac_override). */
  readonly hasFileCapability: boolean | undefined;
  /** /etc/shadow's group and mode, to check that the setgid group can read it. */
  readonly shadowGid: number | undefined;
  readonly shadowMode: number | undefined;
}

export interface UnixChkpwdVerdict {
  readonly privilege: 'setgid' | 'setuid-root' | 'file-capability' | 'none';
  /** undefined when unix_chkpwd can read /etc/shadow. */
  readonly problem: string | undefined;
}

export function judgeUnixChkpwd(facts: UnixChkpwdFacts): UnixChkpwdVerdict {
  if (facts.path === undefined || facts.mode === undefined) return { privilege: 'none', problem: 'unix_chkpwd is not installed in the target (pam_unix needs it)' };
  const where = facts.path;
  if ((facts.mode & 0o111) === 0) return { privilege: 'none', problem: `${where} is not executable` };
  if ((facts.mode & 0o4000) !== 0 && facts.uid === 0) return { privilege: 'setuid-root', problem: undefined };
  if ((facts.mode & 0o2000) !== 0) {
    const readable = facts.shadowGid === facts.gid && facts.shadowMode !== undefined && (facts.shadowMode & 0o040) !== 0;
    if (readable) return { privilege: 'setgid', problem: undefined };
    return { privilege: 'setgid', problem: `${where} is setgid ${facts.group ?? String(facts.gid)}, but /etc/shadow is not readable by that group` };
  }
  if (facts.hasFileCapability === true) return { privilege: 'file-capability', problem: undefined };
  const mode = (facts.mode & 0o7777).toString(8).padStart(4, '0');
  return { privilege: 'none', problem: `${where} (mode ${mode}, group ${facts.group ?? String(facts.gid)}) has neither setgid shadow nor setuid root nor a file capability, so it cannot read /etc/shadow` };
}

/** Linux-PAM ≥ 1.6.0 runs unix_chkpwd even for root; `undefined` (version unknown) counts as ≥ 1.6.0. */
export function pamRunsChkpwdForRoot(version: string | undefined): boolean {
  if (version === undefined) return true;
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (!match) return true;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  return major > 1 || (major === 1 && minor >= 6);
}

/** The pam version from a vdb folder name such as `pam-1.5.2-r3`. */
export function pamVersionFromVdb(names: readonly string[]): string | undefined {
  for (const name of names) {
    const match = /^pam-(\d+(?:\.\d+)*)/.exec(name);
    if (match) return match[1];
  }
  return undefined;
}

/** pam_faillock's settings (faillock.conf(5)) that decide whether a tally blocks a login. */
export interface FaillockSettings {
  readonly dir: string;
  readonly deny: number;
  readonly failInterval: number;
  readonly unlockTime: number;
}

export const FAILLOCK_DEFAULTS: FaillockSettings = { dir: '/run/faillock', deny: 3, failInterval: 900, unlockTime: 600 };

export function parseFaillockConf(text: string | undefined): FaillockSettings {
  let settings = { ...FAILLOCK_DEFAULTS };
  for (const raw of (text ?? '').split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const match = /^([a-z_]+)\s*=\s*(\S+)$/.exec(line);
    if (!match) continue;
    const [, key, value] = match as unknown as [string, string, string];
    if (key === 'dir' && value.startsWith('/')) settings = { ...settings, dir: value };
    else if (key === 'deny' && /^\d+$/.test(value)) settings = { ...settings, deny: Number(value) };
    else if (key === 'fail_interval' && /^\d+$/.test(value)) settings = { ...settings, failInterval: Number(value) };
    else if (key === 'unlock_time' && /^\d+$/.test(value)) settings = { ...settings, unlockTime: Number(value) };
    else if (key === 'unlock_time' && value === 'never') settings = { ...settings, unlockTime: 0 };
  }
  return settings;
}

/** pam_faillock's tally file: records of `char source[52]; u16 reserved; u16 status; u64 time` (64 bytes). */
export function parseTallyFile(bytes: Uint8Array): { source: string; valid: boolean; time: number }[] {
  const records: { source: string; valid: boolean; time: number }[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = 0; offset + 64 <= bytes.byteLength; offset += 64) {
    const raw = bytes.subarray(offset, offset + 52);
    const end = raw.indexOf(0);
    const source = new TextDecoder().decode(end === -1 ? raw : raw.subarray(0, end));
    const status = view.getUint16(offset + 54, true);
    const time = Number(view.getBigUint64(offset + 56, true));
    if (time === 0 && source === '' && status === 0) continue;
    records.push({ source, valid: (status & 0x1) !== 0, time });
  }
  return records;
}

export interface FaillockTally {
  /** Where it was read; undefined when there is no tally file. */
  readonly file: string | undefined;
  /** Valid failures on record. */
  readonly failures: number;
  /** Valid failures within fail_interval. */
  readonly recentFailures: number;
  readonly deny: number;
  /** pam_faillock would refuse the user now, even with the right password. */
  readonly locked: boolean;
}

export function judgeTally(file: string | undefined, records: readonly { valid: boolean; time: number }[], settings: FaillockSettings, nowSeconds: number): FaillockTally {
  const valid = records.filter((record) => record.valid);
  const recent = valid.filter((record) => nowSeconds - record.time <= settings.failInterval);
  const latest = Math.max(0, ...recent.map((record) => record.time));
  const stillLocked = settings.unlockTime === 0 || nowSeconds - latest < settings.unlockTime;
  return { file, failures: valid.length, recentFailures: recent.length, deny: settings.deny, locked: settings.deny > 0 && recent.length >= settings.deny && stillLocked };
}

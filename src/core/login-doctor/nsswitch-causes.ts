import type { LoginCause } from './causes.ts';

/** One source of an nsswitch.conf database line, with its `[STATUS=action]` criteria. */
export interface NsswitchSource {
  readonly name: string;
  /** status (lower case, `!` kept for a negation) → action (`return` or `continue`, also `merge`). */
  readonly actions: ReadonlyMap<string, string>;
}

/** /etc/nsswitch.conf (nsswitch.conf(5)): `database: source [STATUS=action …] source …`. */
export function parseNsswitch(text: string): Map<string, NsswitchSource[]> {
  const databases = new Map<string, NsswitchSource[]>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const database = line.slice(0, colon).trim();
    const sources: { name: string; actions: Map<string, string> }[] = [];
    for (const token of line.slice(colon + 1).match(/\[[^\]]*\]|[^\s[]+/g) ?? []) {
      if (token.startsWith('[')) {
        const last = sources.at(-1);
        for (const pair of token.slice(1, -1).trim().split(/\s+/)) {
          const match = /^(!?[A-Za-z]+)=([A-Za-z]+)$/.exec(pair);
          if (last !== undefined && match !== null) last.actions.set((match[1] as string).toLowerCase(), (match[2] as string).toLowerCase());
        }
      } else {
        sources.push({ name: token, actions: new Map() });
      }
    }
    databases.set(database, sources);
  }
  return databases;
}

/** Sources glibc ≥ 2.34 carries inside libc itself: no libnss_<name>.so.2 has to exist for them. */
export const BUILTIN_SOURCES: ReadonlySet<string> = new Set(['files', 'dns']);

/** The databases a login reads. */
export const LOGIN_DATABASES: readonly string[] = ['passwd', 'group', 'shadow'];

type Status = 'success' | 'notfound' | 'unavail';

function actionFor(source: NsswitchSource, status: Status): 'return' | 'continue' {
  const explicit = source.actions.get(status);
  if (explicit === 'return' || explicit === 'continue') return explicit;
  // A negated criterion `!STATUS=action` applies to every other status.
  for (const [key, action] of source.actions) {
    if (key.startsWith('!') && key.slice(1) !== status && (action === 'return' || action === 'continue')) return action;
  }
  return status === 'success' ? 'return' : 'continue';
}

/**
 * Whether a lookup of a local entry (in /etc/passwd, /etc/group, /etc/shadow) succeeds, walking the sources as
 * glibc does: a missing module answers UNAVAIL; `files`/`compat` answer SUCCESS when the entry is local.
 */
export function lookupSucceeds(sources: readonly NsswitchSource[], isInstalled: (source: string) => boolean, entryIsLocal: boolean): boolean {
  for (const source of sources) {
    let status: Status;
    if (!BUILTIN_SOURCES.has(source.name) && !isInstalled(source.name)) status = 'unavail';
    else if (source.name === 'files' || source.name === 'compat') status = entryIsLocal ? 'success' : 'notfound';
    // An installed remote source (sss, ldap, systemd): assume it cannot vouch for the user (the network may be down).
    else status = 'notfound';
    if (actionFor(source, status) === 'return') return status === 'success';
  }
  return false;
}

/**
 * Sources named for passwd, group or shadow whose NSS module is not installed. glibc skips an absent module
 * (UNAVAIL → continue), so this blocks only when the lookup of the user then fails: the source came with
 * `[UNAVAIL=return]`, or `files` is not reached, or the user is not a local one.
 */
export function checkNsswitch(
  databases: ReadonlyMap<string, readonly NsswitchSource[]>,
  isInstalled: (source: string) => boolean,
  user: string,
  userIsLocal: boolean,
): LoginCause[] {
  const causes: LoginCause[] = [];
  for (const database of LOGIN_DATABASES) {
    const sources = databases.get(database);
    if (sources === undefined) continue;
    const missing = sources.filter((source) => !BUILTIN_SOURCES.has(source.name) && !isInstalled(source.name)).map((source) => source.name);
    if (missing.length === 0) continue;
    const fails = !lookupSucceeds(sources, isInstalled, userIsLocal);
    // A failed group lookup leaves the user without supplementary groups; the login itself goes on.
    const blocks = fails && database !== 'group';
    causes.push({
      id: 'nsswitch-source-missing',
      severity: blocks ? 'blocks' : 'warns',
      summary: `/etc/nsswitch.conf names ${missing.join(', ')} for ${database}, but ${missing.map((name) => `libnss_${name}.so.2`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed`,
      evidence: { database, missing, sources: sources.map((source) => source.name), user, lookupFails: fails },
      repair: `install the NSS module${missing.length === 1 ? '' : 's'} (${missing.map((name) => `libnss_${name}.so.2`).join(', ')}), or remove ${missing.join(', ')} from the ${database} line of /etc/nsswitch.conf`,
    });
  }
  return causes;
}

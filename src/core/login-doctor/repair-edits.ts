import { parsePamFile } from '../auth/pam-config.ts';
import { parseBracketControl } from './pam-causes.ts';

/**
 * The text edits of the login doctor's repairs: each is the smallest change to one file, and each leaves a
 * note starting with `# argo:` where the file format has comments, so the admin who reads the file later sees
 * what was changed, by whom and why. Pure: text in, text out; an edit that finds nothing to change returns the
 * text unchanged (the caller then writes nothing).
 */

/** The note argo writes above a line it changed. */
export function argoNote(runId: string, why: string): string {
  return `# argo: ${why} (argo recover ${runId}; undo: argo recover --undo ${runId})`;
}

/**
 * Comments out the logical PAM rule that starts on physical line `line` (1-based), with its backslash
 * continuation lines. The note goes on the rule's own first line (`# argo: WHY: auth required pam_x.so`), so the
 * file keeps its line count: the line numbers of the other rules the diagnosis named stay right, and so do the
 * `[success=N]` jumps, which count rules. `expect` must hold for the rule's text (the module it names): when
 * the line holds something else, nothing is changed and undefined is returned.
 */
export function commentOutRule(text: string, line: number, note: string, expect: (rule: string) => boolean = () => true): string | undefined {
  const lines = text.split('\n');
  const start = line - 1;
  if (start < 0 || start >= lines.length) return undefined;
  let end = start;
  while ((lines[end] as string).endsWith('\\') && end + 1 < lines.length) end += 1;
  const rule = lines.slice(start, end + 1).join('\n');
  if (rule.trimStart().startsWith('#') || rule.trim() === '' || !expect(rule)) return undefined;
  const commented = lines.slice(start, end + 1).map((physical, index) => (index === 0 ? `${note}: ${physical}` : `#${physical}`));
  return [...lines.slice(0, start), ...commented, ...lines.slice(end + 1)].join('\n');
}

/**
 * Whether the rule on `line` lies inside the span of an earlier `[… =N]` jump of its type: PAM counts rules
 * to jump over, so taking one out would move where that jump lands (past a pam_deny, say). An include or
 * substack in the file makes the count unknowable here, and then any earlier jump counts as spanning it.
 */
export function isInsideJump(text: string, service: string, line: number): boolean {
  const { rules } = parsePamFile(service, text);
  const target = rules.find((rule) => rule.line === line);
  if (target === undefined) return false;
  const sameType = rules.filter((rule) => rule.type === target.type);
  const index = sameType.indexOf(target);
  const hasInclude = /^\s*(?:@include\b|-?\w+\s+(?:include|substack)\b)/m.test(text);
  for (let earlier = 0; earlier < index; earlier += 1) {
    const pairs = parseBracketControl((sameType[earlier] as { control: string }).control);
    const jumps = [...(pairs?.values() ?? [])].filter((action) => /^[1-9][0-9]*$/.test(action)).map(Number);
    if (jumps.length === 0) continue;
    if (hasInclude || earlier + Math.max(...jumps) >= index) return true;
  }
  return false;
}

/**
 * Drops `sources` from the `database:` line of nsswitch.conf (`passwd: files sss` → `passwd: files`), keeping
 * the old line as a comment under the note. A `[NOTFOUND=return]`-style action that followed a dropped
 * source goes with it. When nothing would be left, `files` stays: a database with no source finds nobody.
 */
export function dropNsswitchSources(text: string, database: string, sources: readonly string[], note: string): string {
  const lines = text.split('\n');
  const index = lines.findIndex((line) => new RegExp(`^\\s*${database}\\s*:`).test(line));
  if (index < 0) return text;
  const original = lines[index] as string;
  const [head = '', ...rest] = original.split('#');
  const colon = head.indexOf(':');
  const tokens = head.slice(colon + 1).trim().split(/\s+/).filter((token) => token !== '');
  const kept: string[] = [];
  let droppingAction = false;
  for (const token of tokens) {
    if (token.startsWith('[')) {
      if (!droppingAction) kept.push(token);
      continue;
    }
    droppingAction = sources.includes(token);
    if (!droppingAction) kept.push(token);
  }
  while (kept[0]?.startsWith('[')) kept.shift();
  if (kept.filter((token) => !token.startsWith('[')).length === 0) kept.unshift('files');
  if (kept.join(' ') === tokens.join(' ')) return text;
  const comment = rest.length > 0 ? ` #${rest.join('#')}` : '';
  const replaced = `${head.slice(0, colon + 1)}${' '.repeat(Math.max(1, 15 - colon))}${kept.join(' ')}${comment}`;
  return [...lines.slice(0, index), note, `#${original}`, replaced, ...lines.slice(index + 1)].join('\n');
}

/** Appends lines that are not there yet (to /etc/shells, /etc/securetty), under one note. */
export function appendMissingLines(text: string | undefined, wanted: readonly string[], note: string): string {
  const present = new Set((text ?? '').split('\n').map((line) => line.trim()));
  const missing = wanted.filter((line) => !present.has(line));
  if (missing.length === 0) return text ?? '';
  const base = text === undefined || text === '' ? '' : text.endsWith('\n') ? text : `${text}\n`;
  return `${base}${note}\n${missing.join('\n')}\n`;
}

function editColonLine(text: string, user: string, edit: (fields: string[]) => void): string {
  const lines = text.split('\n');
  const index = lines.findIndex((line) => line.split(':')[0] === user);
  if (index < 0) return text;
  const fields = (lines[index] as string).split(':');
  edit(fields);
  lines[index] = fields.join(':');
  return lines.join('\n');
}

/** Clears the account expiry date (shadow field 8), as `chage -E -1 USER` does. */
export function clearAccountExpiry(shadow: string, user: string): string {
  return editColonLine(shadow, user, (fields) => {
    if (fields.length >= 8) fields[7] = '';
  });
}

/** Removes the leading `!` marks of a locked hash, as `usermod -U USER` does; the hash itself is kept. */
export function unlockPassword(shadow: string, user: string): string {
  return editColonLine(shadow, user, (fields) => {
    const password = fields[1] ?? '';
    const unlocked = password.replace(/^!+/, '');
    // `!` alone (no password ever set) is not unlocked into an empty, password-less entry.
    if (unlocked !== '') fields[1] = unlocked;
  });
}

/** Points the user's login shell (passwd field 7) at `shell`, as `usermod -s SHELL USER` does. */
export function setLoginShell(passwd: string, user: string, shell: string): string {
  return editColonLine(passwd, user, (fields) => {
    if (fields.length >= 7) fields[6] = shell;
  });
}

/**
 * Which packages one `apkg update` merged, read from `/var/log/emerge.log` (lines `<epoch>: <message>`,
 * written by Portage's emergelog). An emerge run is a session: it starts with `Started emerge on:` (or
 * ` *** emerge …` when that line is missing) and ends with ` *** exiting …` / ` *** terminating.`. The update's
 * sessions are those that started inside its time window (from the pre snapshot to the post snapshot, or to
 * the last line of its own log when it has none); a session keeps its merges until it ends, so an emerge
 * that outlived a killed argo still counts, and a later emerge run by hand does not.
 */

export interface EmergeSession {
  /** Epoch seconds of the session's first line. */
  readonly start: number;
  /** Epoch seconds of its exiting/terminating line; undefined when it never ended (killed, still running). */
  readonly end: number | undefined;
  /** Epoch seconds of its last line: when it stopped writing, ended or not. */
  readonly last: number;
  /** The ` *** emerge …` arguments, as logged. */
  readonly command: string;
  /** CPVs with a `::: completed emerge` line, in order. */
  readonly completed: readonly string[];
  /** CPVs with a `>>> emerge` line and no completion: their merge was cut off. */
  readonly unfinished: readonly string[];
}

const STARTED = 'Started emerge on:';
const COMMAND = '*** emerge ';
const START = '>>> emerge (';
const COMPLETED = '::: completed emerge (';

interface OpenSession {
  start: number;
  end: number | undefined;
  last: number;
  command: string;
  completed: string[];
  pending: string[];
}

/** The CPV in `(i of n) CPV to ROOT`. */
function cpvOf(rest: string): string | undefined {
  const close = rest.indexOf(') ');
  if (close === -1) return undefined;
  const tail = rest.slice(close + 2);
  const to = tail.indexOf(' to ');
  const cpv = to === -1 ? tail.trim() : tail.slice(0, to);
  return /^[^/\s]+\/[^/\s]+$/.test(cpv) ? cpv : undefined;
}

export function parseEmergeSessions(text: string): EmergeSession[] {
  const sessions: EmergeSession[] = [];
  let open: OpenSession | undefined;
  const close = (end: number | undefined): void => {
    if (open === undefined) return;
    sessions.push({ start: open.start, end: end ?? open.end, last: open.last, command: open.command, completed: open.completed, unfinished: open.pending });
    open = undefined;
  };
  for (const raw of text.split('\n')) {
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    const time = Number(raw.slice(0, colon));
    if (!Number.isInteger(time)) continue;
    const message = raw.slice(colon + 1).trim();
    if (message.startsWith(STARTED)) {
      close(undefined);
      open = { start: time, end: undefined, last: time, command: '', completed: [], pending: [] };
    } else if (message.startsWith(COMMAND)) {
      if (open === undefined || open.command !== '' || open.end !== undefined) {
        close(undefined);
        open = { start: time, end: undefined, last: time, command: '', completed: [], pending: [] };
      }
      open.command = message.slice(COMMAND.length);
    } else if (message.startsWith('*** exiting') || message === '*** terminating.') {
      if (open !== undefined) open.end = time;
      if (message === '*** terminating.') close(time);
    } else if (open !== undefined && message.startsWith(START)) {
      const cpv = cpvOf(message.slice(START.length));
      if (cpv !== undefined && !open.pending.includes(cpv)) open.pending.push(cpv);
    } else if (open !== undefined && message.startsWith(COMPLETED)) {
      const cpv = cpvOf(message.slice(COMPLETED.length));
      if (cpv === undefined) continue;
      open.pending = open.pending.filter((pending) => pending !== cpv);
      if (!open.completed.includes(cpv)) open.completed.push(cpv);
    }
    if (open !== undefined) open.last = Math.max(open.last, time);
  }
  close(undefined);
  return sessions;
}

export interface UpdateMerges {
  readonly sessions: readonly EmergeSession[];
  /** Merged by the update, each once, in order. */
  readonly completed: readonly string[];
  /** Started by the update and never completed (nor completed by a later session of it). */
  readonly unfinished: readonly string[];
}

/** The sessions that started in [from, to] (epoch seconds) and what they merged. */
export function selectUpdateMerges(sessions: readonly EmergeSession[], window: { readonly from: number; readonly to: number }): UpdateMerges {
  const chosen = sessions.filter((session) => session.start >= window.from && session.start <= window.to);
  const completed: string[] = [];
  for (const session of chosen) for (const cpv of session.completed) if (!completed.includes(cpv)) completed.push(cpv);
  const unfinished: string[] = [];
  for (const session of chosen) for (const cpv of session.unfinished) if (!completed.includes(cpv) && !unfinished.includes(cpv)) unfinished.push(cpv);
  return { sessions: chosen, completed, unfinished };
}

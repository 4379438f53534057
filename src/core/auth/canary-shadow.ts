import { ArgoError } from '../errors.ts';
import { assertFieldValue, describeShadow, editShadowEntry } from './shadow.ts';

/**
 * The canary's /etc/shadow entry is always closed: `!` in front of its hash (sshd without PAM refuses a `!`
 * hash, pam_unix's auth cannot match it) and an account expiry of day 1, 1970-01-02 (pam_unix's account stage
 * refuses an expired account for every service: login, sshd, su, a display manager). Only the proof's private
 * copy of the file opens it, and only inside the proof's own mount namespace.
 */
export const CANARY_EXPIRE_DAY = 1;

/** Whether the entry is closed (locked and expired), open to some service (an older argo's), or absent. */
export type CanaryAccess = 'closed' | 'open' | 'missing';

/**
 * The file with `user`'s entry closed around a new hash: `!<hash>`, last change `day`, no password aging (the
 * proof must not start failing when the password grows old) and expired since day 1.
 */
export function closeCanaryEntry(text: string, user: string, hash: string, day: number): string {
  assertFieldValue(hash, user);
  if (hash.startsWith('!') || hash.startsWith('*')) throw new ArgoError('ARGO_INVALID_INPUT', 'The canary needs a real hash to lock, not a locked one', { details: { user } });
  return editShadowEntry(text, user, (fields) => {
    fields.splice(1, 7, `!${hash}`, String(day), '', '', '', '', String(CANARY_EXPIRE_DAY));
  });
}

/**
 * The same file with the canary's entry open: its hash without the `!`, and no expiry. Only for the proof's
 * private copy. A closed entry whose hash is not a crypt hash (`!`, `*`, empty) is refused: an empty hash would
 * let the proof pass without testing the password, or crypt, at all.
 */
export function openCanaryEntry(text: string, user: string): string {
  return editShadowEntry(text, user, (fields) => {
    const open = (fields[1] ?? '').replace(/^!/, '');
    if (describeShadow(`${user}:${open}:`, 0)[0]?.state !== 'hashed') {
      throw new ArgoError('ARGO_INVALID_INPUT', `The shadow entry of ${user} holds no password hash to prove`, {
        hint: 'Re-key the canary with apkg canary setup.',
        details: { user },
      });
    }
    fields[1] = open;
    fields[7] = '';
  });
}

/** `today` in days since the epoch. Closed means both locked (or no password at all) and expired. */
export function canaryAccess(text: string, user: string, today: number): CanaryAccess {
  const entries = describeShadow(text, today).filter((shape) => shape.user === user);
  if (entries.length === 0) return 'missing';
  return entries.every((entry) => (entry.state === 'locked' || entry.state === 'no-login') && entry.accountExpired) ? 'closed' : 'open';
}

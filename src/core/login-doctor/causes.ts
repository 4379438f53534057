/**
 * The causes of "nobody can log in" that the login doctor diagnoses, each with a stable id: the id goes into
 * report.json and the summary, and the repair of the next session keys on it, so renaming one is a breaking
 * change. Diagnosis only reads; `repair` says in words the smallest change that would restore the login.
 */
export const LOGIN_CAUSE_IDS = [
  'user-unknown',
  'shadow-entry-missing',
  'nologin',
  'account-locked',
  'account-expired',
  'password-expired-inactive',
  'password-change-forced',
  'shell-missing',
  'shell-not-executable',
  'shell-not-listed',
  'pam-service-missing',
  'pam-line-unparsable',
  'pam-module-missing',
  'pam-module-unloadable',
  'nsswitch-source-missing',
  'unix-chkpwd-missing',
  'unix-chkpwd-unprivileged',
  'shadow-permissions',
  'passwd-permissions',
  'faillock-tally',
  'tally2',
  'securetty',
  'root-full',
  'root-read-only',
] as const;

export type LoginCauseId = (typeof LOGIN_CAUSE_IDS)[number];

/** `blocks`: the login fails while the cause is there. `warns`: it matters in some paths (a display manager, a password change, another service) or exposes secrets, but the console login still works. */
export type CauseSeverity = 'blocks' | 'warns';

/** What was found, as plain JSON values; never a password hash or a password. */
export type Evidence = Readonly<Record<string, string | number | boolean | null | readonly string[] | readonly number[] | readonly Readonly<Record<string, string | number | boolean | null>>[]>>;

export interface LoginCause {
  readonly id: LoginCauseId;
  readonly severity: CauseSeverity;
  /** One line a person reads: what is wrong, naming the file, user or module. */
  readonly summary: string;
  readonly evidence: Evidence;
  /** The smallest repair, in words (the dry run of the doctor prints it). */
  readonly repair: string;
}

const ORDER = new Map<LoginCauseId, number>(LOGIN_CAUSE_IDS.map((id, index) => [id, index]));

/** Blocking causes first, then in the catalogue's order; a stable sort keeps same-id causes in the order found. */
export function sortCauses(causes: readonly LoginCause[]): LoginCause[] {
  return [...causes].sort((a, b) => {
    if (a.severity !== b.severity) return a.severity === 'blocks' ? -1 : 1;
    return (ORDER.get(a.id) ?? 0) - (ORDER.get(b.id) ?? 0);
  });
}

export function isBlocking(cause: LoginCause): boolean {
  return cause.severity === 'blocks';
}

import type { LoginCause } from '../../core/login-doctor/causes.ts';
import type { Verdict } from '../../core/recovery/verdict.ts';
import type { ChangeJournal } from '../../login-path/change-journal.ts';
import type { LoginState } from '../../login-path/read-login-state.ts';
import type { RunLogDir } from '../../logging/run-log-dir.ts';
import type { System } from '../../system/open-system.ts';
import type { ProcessTable } from '../../system/process-table.ts';
import type { StepContext } from '../types.ts';

/** Where the new password comes from. Only the kind and the file's path are ever logged. */
export type PasswordSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'hash'; readonly hash: string }
  | { readonly kind: 'generate' };

export interface RecoveryOptions {
  readonly user: string;
  readonly password: PasswordSource;
  /** Binhost base URL for the binary-package pivot (PORTAGE_BINHOST for emerge). */
  readonly binhost: string | undefined;
  /** Phases the user asked to skip (--skip). */
  readonly skip: ReadonlySet<string>;
  /** Budget of a source or manual build of libxcrypt (default 1 h). */
  readonly buildBudgetMs: number;
  /** A build that prints nothing for this long is killed (default 20 min). */
  readonly buildInactivityMs: number;
  /** The command the user ran: `argo rescue` mounts and unmounts the root itself and has no --resume. */
  readonly via: 'recover' | 'rescue';
}

/** Secrets, in memory only: never in the state file, the report or a log. */
export interface RecoverySecrets {
  /** The plaintext password, when there is one (file or generated). */
  password: string | undefined;
  /** The hash to write, for --password-hash. */
  hash: string | undefined;
}

/** The `deps` of every recovery step. */
export interface RecoveryDeps {
  readonly system: System;
  readonly processes: ProcessTable;
  readonly options: RecoveryOptions;
  readonly secrets: RecoverySecrets;
  readonly logs: RunLogDir;
  /** Every file the run changes, recorded before the change (changes.json; `argo recover --undo RUN`). */
  readonly journal: ChangeJournal;
}

/** The output of diagnostics/collect, kept in the state file: the before-picture and the verdict. */
export interface DiagnosticsOutput {
  readonly before: LoginState;
  readonly verdict: Verdict;
  /** The login doctor's causes (nologin, PAM, the account, the shell, …), blocking ones first. */
  readonly loginCauses: readonly LoginCause[];
  readonly doctorMs: number;
}

export const RECOVERY_PHASES = [
  'diagnostics',
  'process-cleanup',
  'libxcrypt-rebuild',
  'login-repair',
  'password-reset',
  'pam-canary',
  'display-manager',
  'system-state',
  'summary',
] as const;

export type RecoveryPhaseId = (typeof RECOVERY_PHASES)[number];

/** The skip predicate of a repair phase: --skip, else the diagnostics verdict's reason it is not needed. */
export function skipUnlessNeeded(phase: 'process-cleanup' | 'libxcrypt-rebuild' | 'display-manager') {
  return (context: StepContext<RecoveryDeps>): string | undefined =>
    context.deps.options.skip.has(phase) ? 'skipped with --skip' : context.outputOf<DiagnosticsOutput>('diagnostics/collect')?.verdict.skipReasons[phase];
}

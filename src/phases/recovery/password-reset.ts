import * as path from 'node:path';
import { replaceShadowPassword } from '../../core/auth/shadow.ts';
import { ArgoError } from '../../core/errors.ts';
import { logEvent } from '../../core/log-events.ts';
import { checkHashWithTargetCrypt, generateSalt, hashPasswordWithOpenssl, verifyWithTargetCrypt } from '../../login-path/password-hash.ts';
import type { CommandRunner } from '../../system/run-command.ts';
import { replaceShadowLocked, shadowRunBackup, SHADOW_FILE } from '../../system/shadow-file.ts';
import type { Attempt, Phase, StepContext } from '../types.ts';
import type { DiagnosticsOutput, RecoveryDeps } from './recovery-deps.ts';

type Context = StepContext<RecoveryDeps>;

export interface PasswordResetOutput {
  readonly user: string;
  readonly hashedWith: 'openssl-in-target' | 'openssl-on-host' | 'given-hash';
  readonly lastChangeDay: number;
  /** Argo's copy of /etc/shadow before this run's first change (0600 root, inside the target). */
  readonly backup: string;
  /** Whether /etc/shadow- was written (only when there was none: an existing one is the admin's). */
  readonly systemBackupWritten: boolean;
  /** Extended attributes (SELinux label, ACLs) kept from the old file. */
  readonly xattrs: readonly string[] | undefined;
}

/** The user's current hash, read fresh (it may have changed since diagnostics). */
function currentHash(shadow: string, user: string): string | undefined {
  return shadow.split('\n').find((line) => line.startsWith(`${user}:`))?.split(':')[1];
}

/**
 * Writes the new hash into /etc/shadow under the password-file lock: only the user's line changes (hash and
 * last-change day, edited on the file as read inside the lock), the file is replaced atomically with its mode,
 * owner, group and extended attributes, argo keeps the old file as /etc/shadow.argo-<run id>, and /etc/shadow-
 * is written only when there is none.
 */
async function writeShadow(context: Context, hash: string, hashedWith: PasswordResetOutput['hashedWith']): Promise<PasswordResetOutput> {
  const { system, options } = context.deps;
  const day = Math.floor(system.clock.now().getTime() / 86_400_000);
  const edit = (before: string): string => replaceShadowPassword(before, options.user, hash, day);
  if (context.dryRun) {
    edit(await system.target.readText(SHADOW_FILE));
    return { user: options.user, hashedWith, lastChangeDay: day, backup: shadowRunBackup(runIdOf(context)), systemBackupWritten: false, xattrs: undefined };
  }
  const written = await replaceShadowLocked(system.target, edit, {
    runId: runIdOf(context),
    commands: system.hostCommands,
    signal: context.signal,
    // Recorded in changes.json inside the lock, before the write: argo recover --undo knows of it even after a kill.
    beforeWrite: context.deps.journal.recordBeforeWrite('password-reset', SHADOW_FILE, `set a new password for ${options.user} (${hashedWith}), last change today`),
  });
  logEvent(context.logger, 'file.replaced', { path: SHADOW_FILE, backup: written.runBackup, bytes: written.bytes });
  return { user: options.user, hashedWith, lastChangeDay: day, backup: written.runBackup, systemBackupWritten: written.systemBackupWritten, xattrs: written.xattrs?.names };
}

/** The run's id is its log folder's name; a resumed run keeps it, and so keeps its first backup. */
function runIdOf(context: Context): string {
  return path.basename(context.deps.logs.dir);
}

function hashAttempt(id: 'openssl-in-target' | 'openssl-on-host', runner: (deps: RecoveryDeps) => CommandRunner): Attempt<RecoveryDeps> {
  return {
    id,
    async run(context) {
      const { system, secrets } = context.deps;
      const password = secrets.password;
      if (password === undefined) throw new ArgoError('ARGO_INVALID_INPUT', 'No password to set', { hint: 'Give --password-file, --password-hash or --generate-password.' });
      const hash = await hashPasswordWithOpenssl(runner(context.deps), password, generateSalt(), context.signal);
      // The target's own crypt must accept the new hash before it goes in: otherwise we would lock the user out.
      // (A dry run did not repair libcrypt, so there the check would only repeat the diagnosis.)
      if (!context.dryRun && !(await verifyWithTargetCrypt(system.commands, password, hash, context.signal))) {
        throw new ArgoError('ARGO_STEP_FAILED', "the target's crypt does not accept the new SHA-512-crypt hash", {
          hint: 'libcrypt still lacks sha512crypt; the libxcrypt rebuild must succeed first.',
        });
      }
      return writeShadow(context, hash, id);
    },
  };
}

const givenHash: Attempt<RecoveryDeps> = {
  id: 'given-hash',
  async run(context) {
    const hash = context.deps.secrets.hash as string;
    // The target's crypt must be able to verify the hash's method and setting, or the user is locked out.
    // (A dry run did not repair libcrypt, so there the check would only repeat the diagnosis.)
    if (!context.dryRun) await checkHashWithTargetCrypt(context.deps.system.commands, hash, context.signal);
    return writeShadow(context, hash, 'given-hash');
  },
};

/** Causes a new hash (no `!`, today as the last change) repairs: the reset runs for them even when the old hash verifies. */
const PASSWORD_CAUSES: ReadonlySet<string> = new Set(['account-locked', 'password-expired-inactive', 'password-change-forced', 'shadow-entry-missing']);

/** Phase 5: set the password non-interactively, never through passwd(1). */
export const passwordResetPhase: Phase<RecoveryDeps> = {
  id: 'password-reset',
  dependsOn: ['libxcrypt-rebuild', 'login-repair'],
  async skip(context) {
    const { options, secrets, system } = context.deps;
    if (options.skip.has('password-reset')) return 'skipped with --skip';
    if (options.password.kind === 'generate') return undefined;
    // A locked, expired or must-change password needs a fresh hash and today's date even when it verifies.
    const causes = context.outputOf<DiagnosticsOutput>('diagnostics/collect')?.loginCauses ?? [];
    if (causes.some((cause) => PASSWORD_CAUSES.has(cause.id))) return undefined;
    const shadow = await system.target.readTextIfExists('/etc/shadow');
    const stored = shadow === undefined ? undefined : currentHash(shadow, options.user);
    if (stored === undefined || stored === '') return undefined;
    if (options.password.kind === 'hash') return stored === secrets.hash ? `${options.user}'s shadow entry already holds the given hash` : undefined;
    const verifies = secrets.password !== undefined && (await verifyWithTargetCrypt(system.commands, secrets.password, stored, context.signal).catch(() => false));
    return verifies ? `${options.user}'s current hash already verifies the given password` : undefined;
  },
  steps: [
    {
      id: 'write-shadow',
      budgetMs: 5 * 60_000,
      attempts: [
        hashAttempt('openssl-in-target', (deps) => deps.system.commands),
        hashAttempt('openssl-on-host', (deps) => deps.system.hostCommands),
      ],
    },
  ],
};

/** With --password-hash the given hash is written as it is (it was checked for shape when parsing options). */
export const passwordResetFromHashPhase: Phase<RecoveryDeps> = {
  ...passwordResetPhase,
  steps: [{ id: 'write-shadow', budgetMs: 5 * 60_000, attempts: [givenHash] }],
};

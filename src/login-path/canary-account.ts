import { canaryAccess, closeCanaryEntry, openCanaryEntry } from '../core/auth/canary-shadow.ts';
import { parsePasswd } from '../core/auth/passwd.ts';
import { ArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import type { System } from '../system/open-system.ts';
import { assertRegularFile, withPrivateCopy } from '../system/private-copy.ts';
import { replaceShadowLocked, SHADOW_FILE } from '../system/shadow-file.ts';
import { generatePassword, generateSalt, hashPasswordWithOpenssl, verifyWithTargetCrypt } from './password-hash.ts';
import { proveLogin, type LoginProofResult, type ProofMethod } from './prove-login.ts';

/** The account `apkg update` logs in as after an update, to prove the login path still works. */
export const CANARY_USER = 'argo-canary';
/** Its password, inside the target, readable by root only. */
export const CANARY_PASSWORD_FILE = '/var/lib/argo/canary-password';

export interface CanarySetup {
  readonly user: string;
  readonly created: boolean;
  readonly passwordFile: string;
  /** How the proof drove PAM: the target's libpam through python3, or pamtester. */
  readonly verifiedWith: ProofMethod;
  /** What the proof passed for the `login` service: `auth`, `account`, `session`. */
  readonly proof: readonly string[];
  /** An older argo's canary could log in outside the proof; it is closed now. */
  readonly wasOpen: boolean;
}

/**
 * Creates (or re-keys) the canary account: a system user without a home or a login shell, with a random
 * SHA-512-crypt password kept root-only in the target, and its /etc/shadow entry always closed (locked and
 * expired, see closeCanaryEntry): no service lets it in. The new hash must verify with the target's own crypt
 * before it is written; afterwards the canary's proof (proveCanaryLogin) must pass.
 */
export async function setUpCanaryAccount(system: System, signal: AbortSignal): Promise<CanarySetup> {
  const { target, commands } = system;
  // The proof binds a copy over exactly the file this writes; a symlink there would split the two.
  await assertRegularFile(target, SHADOW_FILE);
  const passwd = parsePasswd((await target.readTextIfExists('/etc/passwd')) ?? '');
  const created = !passwd.some((entry) => entry.user === CANARY_USER);
  if (created) {
    const shell = (await target.exists('/sbin/nologin')) ? '/sbin/nologin' : '/usr/sbin/nologin';
    await commands.run('useradd', ['--system', '--no-create-home', '--home-dir', '/var/empty', '--shell', shell, '--comment', 'argo login canary', CANARY_USER], { signal, budgetMs: 60_000 });
  }
  const password = generatePassword();
  const hash = await hashPasswordWithOpenssl(commands, password, generateSalt(), signal);
  if (!(await verifyWithTargetCrypt(commands, password, hash, signal))) {
    throw new ArgoError('ARGO_STEP_FAILED', "The target's crypt cannot verify SHA-512-crypt: the login path is already broken", {
      hint: 'Run argo recover first; a canary is for proving a working login stays working.',
    });
  }
  const day = Math.floor(system.clock.now().getTime() / 86_400_000);
  await target.mkdir('/var/lib/argo', 0o700);
  await target.writeFileAtomic(CANARY_PASSWORD_FILE, `${password}\n`, { mode: 0o600, uid: 0, gid: 0 });
  let wasOpen = false;
  const closeEntry = (before: string): string => {
    // useradd's fresh entry (`!`, no expiry) is not yet closed, but it is no older argo's open canary either.
    wasOpen = !created && canaryAccess(before, CANARY_USER, day) === 'open';
    return closeCanaryEntry(before, CANARY_USER, hash, day);
  };
  // One backup for every re-key: /etc/shadow.argo-canary keeps the state before argo's first canary change,
  // instead of a new copy of old hashes in /etc at every run.
  const written = await replaceShadowLocked(target, closeEntry, { runId: 'canary', commands: system.hostCommands, signal });
  logEvent(system.logger, 'file.replaced', { path: SHADOW_FILE, backup: written.runBackup, bytes: written.bytes });
  const result = await proveCanaryLogin(system, password, signal);
  if (result.failed !== undefined) {
    throw new ArgoError('ARGO_STEP_FAILED', `The canary's login proof failed at ${result.failed.step}: ${result.failed.reason}`, {
      hint: 'The canary stays locked. The login path of this system is broken: run argo recover, then apkg canary setup again.',
      details: { user: CANARY_USER, step: result.failed.step, service: result.failed.service },
    });
  }
  return { user: CANARY_USER, created, passwordFile: CANARY_PASSWORD_FILE, verifiedWith: result.method, proof: result.proof, wasOpen };
}

/**
 * The canary's login through the target's `login` service, auth, account and session, with the real PAM
 * stack, crypt and pam_unix. The real /etc/shadow keeps the canary closed throughout: the PAM-driving command
 * alone sees, bound over /etc/shadow inside its private mount namespace, a copy in which the canary's entry is
 * open. Nothing on disk ever holds an open canary, so a SIGKILL at any moment leaves no door behind.
 */
export async function proveCanaryLogin(system: System, password: string, signal: AbortSignal): Promise<LoginProofResult> {
  return withPrivateCopy(
    system.target,
    SHADOW_FILE,
    (text) => openCanaryEntry(text, CANARY_USER),
    (overlay) => proveLogin(system, { user: CANARY_USER, password, services: ['login'], pamOnly: true, overlays: [overlay], signal }),
  );
}

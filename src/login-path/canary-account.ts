import { parsePasswd } from '../core/auth/passwd.ts';
import { replaceShadowPassword } from '../core/auth/shadow.ts';
import { ArgoError } from '../core/errors.ts';
import { logEvent } from '../core/log-events.ts';
import type { System } from '../system/open-system.ts';
import { replaceShadowLocked, SHADOW_FILE } from '../system/shadow-file.ts';
import { CANARY_ATTEMPTS } from './authenticate.ts';
import { generatePassword, generateSalt, hashPasswordWithOpenssl, verifyWithTargetCrypt } from './password-hash.ts';

/** The account `apkg update` logs in as after an update, to prove the login path still works. */
export const CANARY_USER = 'argo-canary';
/** Its password, inside the target, readable by root only. */
export const CANARY_PASSWORD_FILE = '/var/lib/argo/canary-password';

export interface CanarySetup {
  readonly user: string;
  readonly created: boolean;
  readonly passwordFile: string;
  readonly verifiedWith: string;
}

/**
 * Creates (or re-keys) the canary account: a system user without a home or a login shell, with a random
 * SHA-512-crypt password kept root-only in the target. The new hash must verify with the target's own
 * crypt before it is written, and a real unix_chkpwd check must pass afterwards.
 */
export async function setUpCanaryAccount(system: System, signal: AbortSignal): Promise<CanarySetup> {
  const { target, commands } = system;
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
  // One backup for every re-key: /etc/shadow.argo-canary keeps the state before argo's first canary change,
  // instead of a new copy of old hashes in /etc at every run.
  const runId = 'canary';
  const written = await replaceShadowLocked(target, (before) => replaceShadowPassword(before, CANARY_USER, hash, day), { runId, commands: system.hostCommands, signal });
  logEvent(system.logger, 'file.replaced', { path: SHADOW_FILE, backup: written.runBackup, bytes: written.bytes });
  const unixChkpwd = CANARY_ATTEMPTS[0];
  await unixChkpwd?.run(commands, CANARY_USER, password, signal);
  return { user: CANARY_USER, created, passwordFile: CANARY_PASSWORD_FILE, verifiedWith: unixChkpwd?.method ?? 'none' };
}

import { hashPrefixesInUse } from '../core/auth/shadow.ts';
import { isArgoError } from '../core/errors.ts';
import type { System } from '../system/open-system.ts';
import { CANARY_PASSWORD_FILE, proveCanaryLogin } from './canary-account.ts';
import { checkPamStack } from './check-pam-stack.ts';
import { testCrypt } from './test-crypt.ts';

/** What one verification proved, in order: each name is a check that ran and passed. */
export type LoginProof = 'crypt' | 'pam-modules' | 'canary-login';

export interface LoginPathVerification {
  readonly cryptOk: boolean;
  readonly failingPrefixes: readonly string[];
  readonly pamOk: boolean;
  readonly missingModules: readonly string[];
  /** `missing`: no canary account (apkg canary setup), so no real login was tried. */
  readonly canary: 'ok' | 'failed' | 'missing';
  /** Why the canary's login failed: the step and PAM's own words, or the error that stopped the proof. */
  readonly canaryFailure?: string;
  /** The checks that passed. A login is proven only with `canary-login` among them. */
  readonly proof: readonly LoginProof[];
  /**
   * true: the canary's login (the `login` service: auth, account, session) passed and crypt and PAM pass;
   * false: one of them failed;
   * null: nothing failed but no real login was tried (no canary account). Unknown is never true.
   */
  readonly loginOk: boolean | null;
}

/**
 * After an update: the target's crypt passes the known-answer tests for every hash method in use, every
 * PAM module is present, and the canary account passes the `login` service's auth, account and session
 * through the target's real PAM (proveCanaryLogin: the canary stays locked on disk throughout).
 */
export async function verifyLoginPath(system: System, signal: AbortSignal): Promise<LoginPathVerification> {
  const prefixes = hashPrefixesInUse((await system.target.readTextIfExists('/etc/shadow')) ?? '');
  const crypt = await testCrypt(system.commands, prefixes, signal);
  const pam = await checkPamStack(system.target);
  const password = (await system.target.readTextIfExists(CANARY_PASSWORD_FILE))?.trim();
  let canary: LoginPathVerification['canary'] = 'missing';
  let canaryFailure: string | undefined;
  if (password !== undefined && password !== '') {
    try {
      const result = await proveCanaryLogin(system, password, signal);
      canary = result.failed === undefined ? 'ok' : 'failed';
      if (result.failed !== undefined) canaryFailure = `${result.failed.step}: ${result.failed.reason}`;
    } catch (error) {
      if (!isArgoError(error) || error.code === 'ARGO_INTERRUPTED') throw error;
      canary = 'failed';
      canaryFailure = error.message;
    }
  }
  const cryptOk = crypt.allOk;
  const pamOk = pam.complete;
  const proof: LoginProof[] = [];
  if (cryptOk) proof.push('crypt');
  if (pamOk) proof.push('pam-modules');
  if (canary === 'ok') proof.push('canary-login');
  return {
    cryptOk,
    failingPrefixes: crypt.results.filter((result) => !result.ok).map((result) => result.prefix),
    pamOk,
    missingModules: pam.missingModules.map((entry) => entry.module),
    canary,
    ...(canaryFailure !== undefined && { canaryFailure }),
    proof,
    loginOk: !cryptOk || !pamOk || canary === 'failed' ? false : canary === 'ok' ? true : null,
  };
}

/** One line for people: exactly what was proven and what was not. */
export function describeVerification(verification: LoginPathVerification): string {
  const crypt = verification.cryptOk ? 'crypt verifies every hash method in use' : `crypt FAILS ${verification.failingPrefixes.join(' ')}`;
  const pam = verification.pamOk ? 'every PAM module present' : `PAM modules MISSING: ${verification.missingModules.join(', ')}`;
  const canary = {
    ok: 'a real login of argo-canary worked (the login service: auth, account, session)',
    failed: `the argo-canary login FAILED${verification.canaryFailure === undefined ? '' : ` at ${verification.canaryFailure}`}`,
    missing: 'no real login tried: there is no canary account (create one with apkg canary setup)',
  }[verification.canary];
  return `${crypt}; ${pam}; ${canary}`;
}

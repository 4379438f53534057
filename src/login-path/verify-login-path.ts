import { hashPrefixesInUse } from '../core/auth/shadow.ts';
import { isArgoError } from '../core/errors.ts';
import type { System } from '../system/open-system.ts';
import { CANARY_ATTEMPTS } from './authenticate.ts';
import { CANARY_PASSWORD_FILE, CANARY_USER } from './canary-account.ts';
import { checkPamStack } from './check-pam-stack.ts';
import { testCrypt } from './test-crypt.ts';

export interface LoginPathVerification {
  readonly cryptOk: boolean;
  readonly failingPrefixes: readonly string[];
  readonly pamOk: boolean;
  readonly missingModules: readonly string[];
  /** `missing`: no canary account (apkg canary setup); then the crypt and PAM checks decide alone. */
  readonly canary: 'ok' | 'failed' | 'missing';
  readonly loginOk: boolean;
}

/**
 * After an update: the target's crypt passes the known-answer tests for every hash method in use, every
 * PAM module is present, and the canary account really authenticates through unix_chkpwd.
 */
export async function verifyLoginPath(system: System, signal: AbortSignal): Promise<LoginPathVerification> {
  const prefixes = hashPrefixesInUse((await system.target.readTextIfExists('/etc/shadow')) ?? '');
  const crypt = await testCrypt(system.commands, prefixes, signal);
  const pam = await checkPamStack(system.target);
  const password = (await system.target.readTextIfExists(CANARY_PASSWORD_FILE))?.trim();
  let canary: LoginPathVerification['canary'] = 'missing';
  if (password !== undefined && password !== '') {
    try {
      await CANARY_ATTEMPTS[0]?.run(system.commands, CANARY_USER, password, signal);
      canary = 'ok';
    } catch (error) {
      if (!isArgoError(error) || error.code === 'ARGO_INTERRUPTED') throw error;
      canary = 'failed';
    }
  }
  const cryptOk = crypt.allOk;
  const pamOk = pam.complete;
  return {
    cryptOk,
    failingPrefixes: crypt.results.filter((result) => !result.ok).map((result) => result.prefix),
    pamOk,
    missingModules: pam.missingModules.map((entry) => entry.module),
    canary,
    loginOk: cryptOk && pamOk && canary !== 'failed',
  };
}

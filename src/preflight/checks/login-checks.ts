import { canaryAccess } from '../../core/auth/canary-shadow.ts';
import { parsePasswd } from '../../core/auth/passwd.ts';
import { hashPrefixesInUse } from '../../core/auth/shadow.ts';
import { isArgoError } from '../../core/errors.ts';
import { CANARY_PASSWORD_FILE, CANARY_USER, proveCanaryLogin } from '../../login-path/canary-account.ts';
import { findInstalled } from '../../core/gentoo/find-installed.ts';
import { checkPamStack } from '../../login-path/check-pam-stack.ts';
import { testCrypt } from '../../login-path/test-crypt.ts';
import { readVdb } from '../../system/gentoo/read-vdb.ts';
import type { Check } from '../types.ts';

/** The same crypt test as `argo recover`'s diagnostics: $6$ and every method in /etc/shadow. */
export const libcryptCheck: Check = {
  id: 'libcrypt',
  budgetMs: 60_000,
  async run({ system, signal }) {
    const prefixes = hashPrefixesInUse((await system.target.readTextIfExists('/etc/shadow')) ?? '');
    const crypt = await testCrypt(system.commands, prefixes, signal);
    const failing = crypt.results.filter((result) => !result.ok).map((result) => result.prefix);
    const details = { tool: crypt.tool, tested: crypt.results.map((result) => result.prefix), failing, untested: crypt.untested, attempts: crypt.attempts };
    if (crypt.tool === undefined) {
      return { status: 'fail', summary: crypt.libcryptMissing ? 'libcrypt cannot be loaded' : 'no perl or python3 to test crypt(3) with', details, advice: 'Run argo recover before any update.' };
    }
    if (failing.length > 0) {
      return { status: 'fail', summary: `crypt(3) cannot verify ${failing.join(' ')}: logins with such hashes fail`, details, advice: 'Run argo recover now; do not update on top of a broken libcrypt.' };
    }
    return { status: 'pass', summary: `crypt(3) verifies ${crypt.results.map((result) => result.prefix).join(' ')}`, details };
  },
};

/** The same PAM stack check as recover's diagnostics. */
export const pamStackCheck: Check = {
  id: 'pam-stack',
  budgetMs: 30_000,
  async run({ system }) {
    const report = await checkPamStack(system.target);
    const details = { ...report };
    if (report.moduleDir === undefined) return { status: 'fail', summary: 'pam_unix.so not found in any PAM module folder', details, advice: 'Re-emerge sys-libs/pam.' };
    if (report.missingModules.length > 0 || report.missingIncludes.length > 0) {
      const missing = [...report.missingModules.map((entry) => entry.module), ...report.missingIncludes.map((name) => `/etc/pam.d/${name}`)];
      return { status: 'fail', summary: `PAM stack incomplete: ${missing.join(', ')} missing`, details, advice: 'Re-emerge sys-libs/pam and sys-auth/pambase before updating.' };
    }
    if (!report.unixChkpwd.privileged) {
      return { status: 'fail', summary: `unix_chkpwd ${report.unixChkpwd.path ?? 'is missing'}${report.unixChkpwd.path ? ' is not setgid' : ''}`, details, advice: 'Re-emerge sys-libs/pam (it installs /sbin/unix_chkpwd setgid shadow).' };
    }
    return { status: 'pass', summary: `every module of ${report.servicesChecked.join(', ')} present in ${report.moduleDir}`, details };
  },
};

const LOADERS = ['/lib64/ld-linux-x86-64.so.2', '/lib/ld-linux-aarch64.so.1', '/lib/ld-linux-armhf.so.3', '/lib/ld-linux.so.2', '/lib64/ld64.so.2', '/lib/ld-linux-riscv64-lp64d.so.1'];

/** glibc installed and its dynamic loader present: without the loader nothing dynamically linked starts. */
export const glibcCheck: Check = {
  id: 'glibc',
  budgetMs: 30_000,
  async run({ system }) {
    const vdb = await readVdb(system.target);
    const glibc = findInstalled(vdb, 'sys-libs/glibc').at(-1);
    const loaders: string[] = [];
    for (const loader of LOADERS) if (await system.target.exists(loader)) loaders.push(loader);
    const details = { installed: glibc?.cpv, loaders, crypt: glibc?.use.includes('crypt') ?? false };
    if (loaders.length === 0) return { status: 'fail', summary: 'no dynamic loader (ld-linux*.so) found', details, advice: 'Restore sys-libs/glibc from a binary package or a snapshot before anything else.' };
    if (glibc === undefined) return { status: 'warn', summary: `loader present (${loaders[0]}) but sys-libs/glibc is not in /var/db/pkg`, details };
    if (glibc.use.includes('crypt')) {
      return { status: 'warn', summary: `${glibc.cpv} has USE=crypt: it competes with libxcrypt[system] for libcrypt.so`, details, advice: 'Set sys-libs/glibc -crypt in package.use.' };
    }
    return { status: 'pass', summary: `${glibc.cpv}, loader ${loaders[0]}`, details };
  },
};

/**
 * The account apkg update logs in as after the update. Without it the update can prove crypt and the PAM
 * modules, but not that a real login works: warn, and say how to create it. A canary that some service would
 * let in (an older argo's: an unlocked hash, no expiry) is a door: warn, and say how to close it.
 */
export const canaryCheck: Check = {
  id: 'canary',
  budgetMs: 60_000,
  async run({ system, signal }) {
    const hasAccount = parsePasswd((await system.target.readTextIfExists('/etc/passwd')) ?? '').some((entry) => entry.user === CANARY_USER);
    const password = (await system.target.readTextIfExists(CANARY_PASSWORD_FILE))?.trim();
    const today = Math.floor(system.clock.now().getTime() / 86_400_000);
    const access = canaryAccess((await system.target.readTextIfExists('/etc/shadow')) ?? '', CANARY_USER, today);
    const details = { user: CANARY_USER, account: hasAccount, passwordFile: password === undefined ? undefined : CANARY_PASSWORD_FILE, shadowEntry: access };
    if (hasAccount && access === 'open') {
      return {
        status: 'warn',
        summary: `${CANARY_USER} can log in outside the proof: run apkg canary setup`,
        details,
        advice: 'apkg canary setup locks and expires it in /etc/shadow; the update still proves its login, inside a private mount namespace.',
      };
    }
    if (!hasAccount || password === undefined || password === '') {
      return {
        status: 'warn',
        summary: `no canary account (${CANARY_USER}): after the update a real login cannot be proven, only crypt and the PAM modules`,
        details,
        advice: 'Create it once with: apkg canary setup',
      };
    }
    let reason: string | undefined;
    try {
      const result = await proveCanaryLogin(system, password, signal);
      if (result.failed !== undefined) reason = `${result.failed.step}: ${result.failed.reason}`;
    } catch (error) {
      if (!isArgoError(error) || error.code === 'ARGO_INTERRUPTED') throw error;
      reason = error.message;
    }
    if (reason !== undefined) {
      return { status: 'warn', summary: `${CANARY_USER} cannot log in now (${reason}): the update could not prove logins either`, details, advice: 'Re-key it with apkg canary setup (or run argo recover if crypt fails too).' };
    }
    return { status: 'pass', summary: `${CANARY_USER} passes the login service (auth, account, session) inside the proof, and is locked outside it: the update can prove a real login`, details };
  },
};

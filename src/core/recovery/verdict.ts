/**
 * What diagnostics concludes from the before-picture: the causes found, in words an admin reads, and which
 * repair phases are needed. Pure: the picture comes in, the verdict goes out.
 */

export interface Cause {
  /** Stable id, for reports and tests. */
  readonly id: string;
  readonly text: string;
  /** What the admin should do about it when no phase repairs it. */
  readonly advice?: string;
}

export interface Verdict {
  readonly causes: readonly Cause[];
  /** For each repair phase: undefined when it is needed, else why it is not. */
  readonly skipReasons: {
    readonly 'process-cleanup': string | undefined;
    readonly 'libxcrypt-rebuild': string | undefined;
    readonly 'display-manager': string | undefined;
  };
}

/** The slice of the login-state picture the verdict reads (structurally a subset of LoginState). */
export interface VerdictInput {
  readonly crypt: {
    readonly tool: string | undefined;
    readonly libcryptMissing: boolean;
    readonly results: readonly { readonly prefix: string; readonly ok: boolean; readonly got: string }[];
  };
  readonly hashPrefixesInUse: readonly string[];
  readonly user: {
    readonly name: string;
    readonly exists: boolean;
    readonly shell: string | undefined;
    readonly shellExists: boolean;
    readonly shellListed: boolean;
    readonly shadow: { readonly state: string; readonly accountExpired: boolean; readonly passwordExpired: boolean } | undefined;
  };
  readonly pam: {
    readonly moduleDir: string | undefined;
    readonly missingModules: readonly { readonly module: string; readonly usedBy: readonly string[] }[];
    readonly missingIncludes: readonly string[];
    readonly unixChkpwd: { readonly path: string | undefined; readonly privileged: boolean };
  };
  readonly nologin: boolean;
  readonly readOnly: boolean;
  readonly freeBytes: number | undefined;
  readonly packages: { readonly libxcrypt?: { readonly cpv: string; readonly extraEconf: string | undefined } };
  readonly displayManager: { readonly configured: string | undefined; readonly installed: readonly string[]; readonly enabled: boolean };
}

const LOW_SPACE_BYTES = 200 * 1024 * 1024;

export function decideVerdict(state: VerdictInput, context: { readonly liveSystem: boolean }): Verdict {
  const causes: Cause[] = [];
  const failing = state.crypt.results.filter((result) => !result.ok);
  const cryptBroken = state.crypt.libcryptMissing || state.crypt.tool === undefined || failing.length > 0;

  if (state.crypt.libcryptMissing) {
    causes.push({ id: 'libcrypt-missing', text: 'libcrypt cannot be loaded: programs linked to it (perl, unix_chkpwd, pam_unix) fail to start' });
  } else if (state.crypt.tool === undefined) {
    causes.push({ id: 'no-crypt-tool', text: 'neither perl nor python3 exists in the target, so its crypt(3) could not be tested', advice: 'The libxcrypt rebuild runs anyway; check logins by hand afterwards.' });
  }
  for (const result of failing) {
    const how = result.got === 'failure-token' ? 'returns the failure token *0' : 'returns a wrong answer';
    const inUse = state.hashPrefixesInUse.includes(result.prefix) ? ', and /etc/shadow holds such hashes' : '';
    causes.push({ id: `crypt-${result.prefix}`, text: `libcrypt cannot verify ${result.prefix} hashes (crypt ${how})${inUse}` });
  }
  const extraEconf = state.packages.libxcrypt?.extraEconf;
  if (extraEconf !== undefined && /--enable-hashes=/.test(extraEconf) && !/--enable-hashes=(?:\S*,)?(?:all|strong|glibc|sha512crypt)\b/.test(extraEconf)) {
    causes.push({
      id: 'libxcrypt-extra-econf',
      text: `${state.packages.libxcrypt?.cpv} was built with EXTRA_ECONF="${extraEconf}", which leaves SHA512-crypt out`,
      advice: 'Remove the --enable-hashes override from /etc/portage/package.env and /etc/portage/env/*, or the next rebuild breaks logins again.',
    });
  }
  for (const missing of state.pam.missingModules) {
    causes.push({ id: `pam-module-${missing.module}`, text: `PAM module ${missing.module} is missing (needed by ${missing.usedBy.join(', ')})`, advice: 'Re-emerge the package that provides it (sys-libs/pam, sys-auth/pambase, …).' });
  }
  if (state.pam.moduleDir === undefined) {
    causes.push({ id: 'pam-unix-missing', text: 'pam_unix.so was not found in any PAM module folder', advice: 'Re-emerge sys-libs/pam.' });
  }
  for (const include of state.pam.missingIncludes) {
    causes.push({ id: `pam-include-${include}`, text: `/etc/pam.d/${include} is included by a login stack but does not exist`, advice: 'Re-emerge sys-auth/pambase, or restore the file.' });
  }
  if (state.pam.unixChkpwd.path === undefined) {
    causes.push({ id: 'unix-chkpwd-missing', text: 'unix_chkpwd is missing: screen lockers and non-root programs cannot check passwords', advice: 'Re-emerge sys-libs/pam.' });
  } else if (!state.pam.unixChkpwd.privileged) {
    causes.push({ id: 'unix-chkpwd-not-setgid', text: `${state.pam.unixChkpwd.path} is neither setgid nor setuid root, so it cannot read /etc/shadow`, advice: `chown root:shadow ${state.pam.unixChkpwd.path}; chmod 2711 ${state.pam.unixChkpwd.path}` });
  }
  if (state.nologin) {
    causes.push({ id: 'nologin', text: '/etc/nologin exists: every login but root is refused', advice: 'Remove /etc/nologin (and /run/nologin) once maintenance is over.' });
  }
  const user = state.user;
  if (!user.exists) {
    causes.push({ id: 'user-missing', text: `there is no user ${user.name} in /etc/passwd`, advice: `Create it (useradd -m ${user.name}) or pick another --user.` });
  } else {
    if (!user.shellExists) causes.push({ id: 'shell-missing', text: `${user.name}'s shell ${user.shell ?? '(none)'} does not exist`, advice: `usermod -s /bin/bash ${user.name}` });
    else if (!user.shellListed) causes.push({ id: 'shell-unlisted', text: `${user.name}'s shell ${user.shell ?? ''} is not in /etc/shells (pam_shells refuses the login)`, advice: `Add ${user.shell ?? ''} to /etc/shells.` });
    if (user.shadow === undefined) causes.push({ id: 'shadow-missing', text: `${user.name} has no /etc/shadow entry` });
    else {
      if (user.shadow.state === 'locked') causes.push({ id: 'account-locked', text: `${user.name}'s password is locked (! in /etc/shadow); the password reset unlocks it` });
      if (user.shadow.state === 'no-login') causes.push({ id: 'account-no-password', text: `${user.name} has no usable password (* or ! in /etc/shadow); the password reset sets one` });
      if (user.shadow.accountExpired) causes.push({ id: 'account-expired', text: `${user.name}'s account has expired`, advice: `chage -E -1 ${user.name}` });
      if (user.shadow.passwordExpired) causes.push({ id: 'password-expired', text: `${user.name}'s password is past its maximum age; the password reset renews it` });
    }
  }
  if (state.readOnly) causes.push({ id: 'read-only-root', text: 'the target root is mounted read-only: nothing can be repaired', advice: 'mount -o remount,rw on the root filesystem, then run again.' });
  if (state.freeBytes !== undefined && state.freeBytes < LOW_SPACE_BYTES) {
    causes.push({ id: 'low-disk-space', text: `only ${Math.round(state.freeBytes / 1048576)} MiB free on the target root`, advice: 'Free space (clean /var/tmp/portage, distfiles, old kernels) before a rebuild.' });
  }
  const dm = state.displayManager;
  const dmNeeded = dm.installed.length > 0 && (!dm.enabled || (dm.configured !== undefined && !dm.installed.includes(dm.configured)));
  if (dmNeeded) {
    causes.push({ id: 'display-manager-disabled', text: dm.enabled ? `DISPLAYMANAGER=${dm.configured ?? ''} is not installed` : 'the display manager is not enabled in the default runlevel' });
  }

  return {
    causes,
    skipReasons: {
      'process-cleanup': context.liveSystem ? undefined : "the target's processes are not running (it is not the running system: --root is not /)",
      'libxcrypt-rebuild': cryptBroken ? undefined : `libcrypt verifies every hash method in use (${['$6$', ...state.hashPrefixesInUse].filter((p, i, all) => all.indexOf(p) === i).join(' ')})`,
      'display-manager': dm.installed.length === 0 ? 'no display manager is installed' : dmNeeded ? undefined : `${dm.configured ?? dm.installed[0]} is already enabled`,
    },
  };
}

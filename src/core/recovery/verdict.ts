/**
 * What diagnostics concludes from the before-picture about libcrypt, free space for a rebuild and the display
 * manager: the causes found, in words an admin reads, and which repair phases are needed. Pure: the picture
 * comes in, the verdict goes out. The causes of a refused login itself are the login doctor's.
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
  // Everything else that keeps a login out (PAM, nologin, the account, the shell, unix_chkpwd, a read-only
  // root) is the login doctor's (src/core/login-doctor): one place, one cause id each.
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

import { describe, expect, it } from 'vitest';
import { decideVerdict, type VerdictInput } from './verdict.ts';

const healthy: VerdictInput = {
  crypt: { tool: 'perl', libcryptMissing: false, results: [{ prefix: '$6$', ok: true, got: 'expected' }] },
  hashPrefixesInUse: ['$6$'],
  user: { name: 'alice', exists: true, shell: '/bin/bash', shellExists: true, shellListed: true, shadow: { state: 'hashed', accountExpired: false, passwordExpired: false } },
  pam: { moduleDir: '/lib64/security', missingModules: [], missingIncludes: [], unixChkpwd: { path: '/sbin/unix_chkpwd', privileged: true } },
  nologin: false,
  readOnly: false,
  freeBytes: 10 * 1024 ** 3,
  packages: { libxcrypt: { cpv: 'sys-libs/libxcrypt-4.4.36', extraEconf: undefined } },
  displayManager: { configured: 'sddm', installed: ['sddm'], enabled: true },
};

describe('decideVerdict', () => {
  it('finds nothing on a healthy system and needs no repair phase', () => {
    const verdict = decideVerdict(healthy, { liveSystem: false });
    expect(verdict.causes).toEqual([]);
    expect(verdict.skipReasons['libxcrypt-rebuild']).toContain('verifies every hash method');
    expect(verdict.skipReasons['display-manager']).toBe('sddm is already enabled');
    expect(verdict.skipReasons['process-cleanup']).toContain('not running');
  });

  it('names the incident: $6$ unsupported, built with an EXTRA_ECONF that dropped it', () => {
    const verdict = decideVerdict(
      {
        ...healthy,
        crypt: { tool: 'perl', libcryptMissing: false, results: [{ prefix: '$6$', ok: false, got: 'failure-token' }] },
        packages: { libxcrypt: { cpv: 'sys-libs/libxcrypt-4.4.36', extraEconf: '--enable-hashes=yescrypt,bcrypt' } },
        displayManager: { configured: 'sddm', installed: ['sddm'], enabled: false },
      },
      { liveSystem: true },
    );
    expect(verdict.causes.map((cause) => cause.id)).toEqual(['crypt-$6$', 'libxcrypt-extra-econf', 'display-manager-disabled']);
    expect(verdict.causes[0]?.text).toContain('failure token *0');
    expect(verdict.skipReasons).toEqual({ 'process-cleanup': undefined, 'libxcrypt-rebuild': undefined, 'display-manager': undefined });
  });

  it.each([
    ['--enable-hashes=strong,glibc', false],
    ['--enable-hashes=all', false],
    ['--enable-hashes=sha512crypt,yescrypt', false],
    ['--enable-hashes=yescrypt', true],
    ['--with-foo', false],
  ])('EXTRA_ECONF %s drops SHA512-crypt: %s', (extraEconf, drops) => {
    const verdict = decideVerdict({ ...healthy, packages: { libxcrypt: { cpv: 'sys-libs/libxcrypt-4.4.36', extraEconf } } }, { liveSystem: false });
    expect(verdict.causes.some((cause) => cause.id === 'libxcrypt-extra-econf')).toBe(drops);
  });

  it("leaves the login's own causes (PAM, nologin, shell, unix_chkpwd, read-only root) to the login doctor", () => {
    const verdict = decideVerdict(
      {
        ...healthy,
        nologin: true,
        readOnly: true,
        user: { ...healthy.user, shellListed: false },
        pam: { ...healthy.pam, missingModules: [{ module: 'pam_tally2.so', usedBy: ['system-login:1'] }], unixChkpwd: { path: '/sbin/unix_chkpwd', privileged: false } },
      },
      { liveSystem: false },
    );
    expect(verdict.causes).toEqual([]);
  });

  it('rebuilds when no crypt tool could run or libcrypt does not load', () => {
    expect(decideVerdict({ ...healthy, crypt: { tool: undefined, libcryptMissing: false, results: [] } }, { liveSystem: false }).skipReasons['libxcrypt-rebuild']).toBeUndefined();
    expect(decideVerdict({ ...healthy, crypt: { tool: undefined, libcryptMissing: true, results: [] } }, { liveSystem: false }).causes[0]?.id).toBe('libcrypt-missing');
  });
});

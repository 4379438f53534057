import { describe, expect, it } from 'vitest';
import { checkLegacyHash, checkNologin, checkSecuretty, checkShadowEntry, checkShell, isExecutableBy, judgeAging, readShadowAging, type ShadowAging } from './account-causes.ts';

const TODAY = 20_000;
const aging = (fields: Partial<ShadowAging>): ShadowAging => ({ user: 'alice', lockMark: undefined, noPassword: false, lastChange: TODAY - 10, max: 99999, inactive: -1, expire: -1, ...fields });

describe('judgeAging (pam_unix check_shadow_expiry)', () => {
  it.each([
    ['a plain entry', {}, 'ok'],
    ['chage -E 0', { expire: 0 }, 'account-expired'],
    ['expiry today', { expire: TODAY }, 'account-expired'],
    ['expiry tomorrow', { expire: TODAY + 1 }, 'ok'],
    ['last change 0 (passwd -e)', { lastChange: 0 }, 'password-change-forced-zero'],
    ['changed in the future', { lastChange: TODAY + 5, max: 1, inactive: 1 }, 'ok'],
    ['max exceeded within the inactive period', { lastChange: TODAY - 40, max: 30, inactive: 20 }, 'password-change-forced-max'],
    ['max + inactive passed', { lastChange: TODAY - 60, max: 30, inactive: 20 }, 'password-expired-inactive'],
    ['max exceeded, no inactive limit', { lastChange: TODAY - 60, max: 30, inactive: -1 }, 'password-change-forced-max'],
    ['expired account wins over aging', { lastChange: 0, expire: 1 }, 'account-expired'],
  ] as const)('%s → %s', (_, fields, verdict) => {
    expect(judgeAging(aging(fields), TODAY)).toBe(verdict);
  });
});

describe('readShadowAging', () => {
  it.each([
    ['alice:$6$salt$hash:19000:0:99999:7:::', { lockMark: undefined, noPassword: false, lastChange: 19000, max: 99999, inactive: -1, expire: -1 }],
    ['alice:!$6$salt$hash:19000:0:99999:7:5:0:', { lockMark: '!', noPassword: false, inactive: 5, expire: 0 }],
    ['alice:!!:19000::::::', { lockMark: '!', noPassword: true, max: -1 }],
    ['alice:*:19000:0:99999:7:::', { lockMark: '*', noPassword: true }],
  ])('%s', (line, expected) => {
    expect(readShadowAging(`root:x:1::::::\n${line}\n`, 'alice')).toMatchObject(expected);
  });

  it('never carries the hash', () => {
    expect(JSON.stringify(readShadowAging('alice:$6$salt$secret:1:0:99999:7:::', 'alice'))).not.toContain('secret');
    expect(readShadowAging('bob:x:1::::::', 'alice')).toBeUndefined();
  });
});

describe('checkShadowEntry', () => {
  it.each([
    ['a healthy entry', aging({}), []],
    ['a locked hash', aging({ lockMark: '!' }), [['account-locked', 'blocks']]],
    ['an expired account', aging({ expire: 1 }), [['account-expired', 'blocks']]],
    ['inactive past its limit', aging({ lastChange: TODAY - 60, max: 30, inactive: 20 }), [['password-expired-inactive', 'blocks']]],
    ['a forced change', aging({ lastChange: 0 }), [['password-change-forced', 'warns']]],
    ['locked and expired', aging({ lockMark: '!', expire: 1 }), [['account-locked', 'blocks'], ['account-expired', 'blocks']]],
    ['no entry', undefined, [['shadow-entry-missing', 'blocks']]],
  ])('%s', (_, entry, expected) => {
    expect(checkShadowEntry('alice', entry, TODAY).map((cause) => [cause.id, cause.severity])).toEqual(expected);
  });
});

describe('checkShell', () => {
  const file = { isFile: true, mode: 0o100755, uid: 0, gid: 0 };
  const listed = ['/bin/sh', '/bin/bash'];
  it.each([
    ['an installed listed shell', { shell: '/bin/bash', stat: file, listed, pamShellsInStack: true }, []],
    ['a missing shell', { shell: '/bin/zsh', stat: undefined, listed: [...listed, '/bin/zsh'], pamShellsInStack: true }, [['shell-missing', 'blocks']]],
    ['a shell without x bits', { shell: '/bin/bash', stat: { ...file, mode: 0o100644 }, listed, pamShellsInStack: false }, [['shell-not-executable', 'blocks']]],
    ['a folder', { shell: '/bin/bash', stat: { ...file, isFile: false }, listed, pamShellsInStack: false }, [['shell-not-executable', 'blocks']]],
    ['unlisted, pam_shells in the stack', { shell: '/bin/fish', stat: file, listed, pamShellsInStack: true }, [['shell-not-listed', 'blocks']]],
    ['unlisted, no pam_shells', { shell: '/bin/fish', stat: file, listed, pamShellsInStack: false }, [['shell-not-listed', 'warns']]],
    ['no /etc/shells', { shell: '/bin/bash', stat: file, listed: undefined, pamShellsInStack: true }, [['shell-not-listed', 'blocks']]],
  ])('%s', (_, facts, expected) => {
    expect(checkShell({ user: 'alice', uid: 1000, gid: 1000 }, facts).map((cause) => [cause.id, cause.severity])).toEqual(expected);
  });

  it.each([
    [0o755, 0, 0, 1000, 1000, true],
    [0o750, 0, 0, 1000, 1000, false],
    [0o750, 0, 1000, 1000, 1000, true],
    [0o700, 1000, 0, 1000, 1000, true],
    [0o700, 5, 0, 0, 0, true],
    [0o644, 0, 0, 0, 0, false],
  ])('mode %o owner %i:%i for %i:%i → %s', (mode, fileUid, fileGid, uid, gid, expected) => {
    expect(isExecutableBy({ mode, uid: fileUid, gid: fileGid }, uid, gid)).toBe(expected);
  });
});

describe('checkNologin and checkSecuretty', () => {
  it.each([
    [1000, ['/etc/nologin'], true, 'blocks'],
    [0, ['/etc/nologin'], true, 'warns'],
    [1000, ['/run/nologin'], false, 'warns'],
    [1000, [], true, undefined],
  ] as const)('uid %i with %j (pam_nologin %s) → %s', (uid, present, pam, severity) => {
    expect(checkNologin('u', uid, { present, pamNologinInStack: pam })[0]?.severity).toBe(severity);
  });

  it.each([
    [0, ['console', 'tty1', 'tty2'], true, undefined],
    [0, ['ttyS0'], true, 'blocks'],
    [0, ['ttyS0'], false, 'warns'],
    [1000, ['ttyS0'], true, undefined],
    [0, undefined, true, undefined],
  ] as const)('uid %i securetty %j (pam_securetty %s) → %s', (uid, listed, pam, severity) => {
    expect(checkSecuretty(uid, listed, pam)[0]?.severity).toBe(severity);
  });
});

describe('checkLegacyHash', () => {
  it('warns when the target’s crypt_checksalt says legacy, and only then', () => {
    expect(checkLegacyHash('alice', '$1$', 3)).toMatchObject([{ id: 'password-change-forced', severity: 'warns', evidence: { reason: 'legacy-hash', method: '$1$' } }]);
    expect(checkLegacyHash('alice', '$6$', 0)).toEqual([]);
    expect(checkLegacyHash('alice', '$1$', undefined)).toEqual([]);
  });
});

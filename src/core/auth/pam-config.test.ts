import { describe, expect, it } from 'vitest';
import { parsePamFile, resolvePamStack } from './pam-config.ts';

// Gentoo's rendered sys-auth/pambase files (system-auth template) and login, as on a real OpenRC system.
const FILES: Record<string, string> = {
  login: [
    '#%PAM-1.0',
    'auth       required     pam_securetty.so',
    'auth       include      system-local-login',
    'account    include      system-local-login',
    'password   include      system-local-login',
    'session    optional     pam_lastlog.so silent',
    'session    include      system-local-login',
  ].join('\n'),
  'system-local-login': 'auth include system-login\naccount include system-login\npassword include system-login\nsession include system-login\n',
  'system-login': [
    'auth       required     pam_tally2.so onerr=succeed',
    'auth       required     pam_shells.so',
    'auth       required     pam_nologin.so',
    'auth       include      system-auth',
    '-session   optional     pam_elogind.so',
    'session    include      system-auth',
  ].join('\n'),
  'system-auth': [
    'auth            required        pam_env.so',
    'auth            [success=1 default=ignore]      pam_unix.so nullok  try_first_pass',
    'auth            requisite       pam_deny.so',
    'password        required        pam_unix.so try_first_pass nullok sha512 shadow \\',
    '                                use_authtok',
    'session         required        pam_unix.so # trailing comment',
    'garbage',
  ].join('\n'),
};

describe('parsePamFile', () => {
  it('reads rules with bracket controls, optional modules, continuations and comments', () => {
    const file = parsePamFile('system-auth', FILES['system-auth'] as string);
    expect(file.rules.map((rule) => [rule.type, rule.control, rule.module, rule.args.join(' ')])).toEqual([
      ['auth', 'required', 'pam_env.so', ''],
      ['auth', '[success=1 default=ignore]', 'pam_unix.so', 'nullok try_first_pass'],
      ['auth', 'requisite', 'pam_deny.so', ''],
      ['password', 'required', 'pam_unix.so', 'try_first_pass nullok sha512 shadow use_authtok'],
      ['session', 'required', 'pam_unix.so', ''],
    ]);
    expect(file.problems).toEqual([{ line: 7, message: 'not a PAM rule: garbage' }]);
  });

  it("reads Debian's @include lines", () => {
    expect(parsePamFile('login', '@include common-auth\naccount required pam_nologin.so\n').includes).toEqual(['common-auth']);
  });
});

describe('resolvePamStack', () => {
  it('follows include chains once each and reports missing ones', () => {
    const files: Record<string, string> = { ...FILES, 'system-login': `${FILES['system-login']}\nauth include system-login\nauth substack gone` };
    const stack = resolvePamStack('login', (name) => files[name]);
    expect([...new Set(stack.rules.map((rule) => rule.module))]).toEqual([
      'pam_securetty.so', 'pam_lastlog.so', 'pam_tally2.so', 'pam_shells.so', 'pam_nologin.so', 'pam_elogind.so', 'pam_env.so', 'pam_unix.so', 'pam_deny.so',
    ]);
    expect(stack.rules.find((rule) => rule.module === 'pam_elogind.so')?.optionalModule).toBe(true);
    expect(stack.missingIncludes).toEqual(['gone']);
  });
});

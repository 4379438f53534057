import { describe, expect, it } from 'vitest';
import { buildLoginStack, checkPamLines, checkPamModules, checkPamServices, enforcingRules, missingModuleOutcome, parseBracketControl, type ModuleFacts } from './pam-causes.ts';

// Debian bookworm's files, as in the fixture roots.
const DEBIAN: Record<string, string> = {
  login: [
    'auth       optional   pam_faildelay.so  delay=3000000',
    'auth       requisite  pam_nologin.so',
    'session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close',
    '@include common-auth',
    'session    optional   pam_motd.so motd=/run/motd.dynamic',
    '@include common-account',
    '@include common-password',
  ].join('\n'),
  'common-auth': 'auth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\trequisite\tpam_deny.so\nauth\trequired\tpam_permit.so\n',
  'common-account': 'account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\naccount\trequisite\tpam_deny.so\n',
  'common-password': 'password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\npassword required pam_pwquality.so\n',
  other: '@include common-auth\n@include common-account\n',
};

// Gentoo's /etc/pam.d/other (sys-auth/pambase): everything denied.
const GENTOO_OTHER = 'auth required pam_deny.so\naccount required pam_deny.so\npassword required pam_deny.so\nsession required pam_deny.so\n';

const DIR = '/lib/x86_64-linux-gnu/security';

describe('missingModuleOutcome', () => {
  it.each([
    ['required', 'fails'],
    ['requisite', 'fails'],
    ['sufficient', 'ignored'],
    ['optional', 'ignored'],
    ['[success=ok ignore=ignore module_unknown=ignore default=bad]', 'ignored'],
    ['[success=1 default=ignore]', 'fails'],
    ['[default=1]', 'ignored'],
    ['[success=ok default=bad]', 'fails'],
    ['[success=ok default=die]', 'fails'],
    ['[success=ok]', 'fails'],
    ['[module_unknown=die default=ignore]', 'fails'],
  ])('%s → %s', (control, outcome) => {
    expect(missingModuleOutcome(control)).toBe(outcome);
  });

  it.each([['[success=1 default=ignore]', true], ['[succes=1]', false], ['[success=maybe]', false], ['[]', false], ['[success=1', false]])('parses %s: %s', (control, valid) => {
    expect(parseBracketControl(control) !== undefined).toBe(valid);
  });
});

describe('checkPamModules', () => {
  const stack = buildLoginStack((name) => DEBIAN[name]);
  const all = new Map<string, ModuleFacts>(stack.rules.map((rule) => [`${DIR}/${rule.module}`, { present: true, missingLibraries: [] }]));

  it('finds nothing when every module is present and loadable', () => {
    expect(checkPamModules(stack, DIR, all)).toEqual([]);
  });

  it.each([
    ['pam_nologin.so', 'a requisite auth rule', 'blocks'],
    ['pam_motd.so', 'an optional rule', 'warns'],
    ['pam_selinux.so', 'a bracket with module_unknown=ignore', 'warns'],
    ['pam_unix.so', 'success=1 brackets that jump over pam_deny', 'blocks'],
    ['pam_deny.so', 'requisite rules', 'blocks'],
    ['pam_pwquality.so', 'only a password rule', 'warns'],
  ])('a missing %s (%s) %s', (module, _, severity) => {
    const facts = new Map(all);
    facts.set(`${DIR}/${module}`, { present: false, missingLibraries: [] });
    const causes = checkPamModules(stack, DIR, facts);
    expect(causes.map((cause) => [cause.id, cause.severity, cause.evidence['module']])).toEqual([['pam-module-missing', severity, module]]);
  });

  it('reports a present module whose library is gone as unloadable, with the sonames', () => {
    const facts = new Map(all);
    facts.set(`${DIR}/pam_deny.so`, { present: true, missingLibraries: ['libcrypt.so.1'] });
    expect(checkPamModules(stack, DIR, facts)).toMatchObject([{ id: 'pam-module-unloadable', severity: 'blocks', evidence: { missingLibraries: ['libcrypt.so.1'] } }]);
  });

  it('ignores `-type` rules, which libpam skips when the module is missing', () => {
    const optional = buildLoginStack((name) => ({ login: '-session optional pam_elogind.so\n-auth required pam_gone.so\n' })[name]);
    expect(checkPamModules(optional, DIR, new Map([[`${DIR}/pam_gone.so`, { present: false }]]))).toEqual([]);
  });

  it('gives the blocking severity only to rules that decide the login, not to other', () => {
    const files: Record<string, string> = { ...DEBIAN, other: 'auth required pam_other_only.so\n' };
    const facts = new Map([...all, [`${DIR}/pam_other_only.so`, { present: false }]]);
    expect(checkPamModules(buildLoginStack((name) => files[name]), DIR, facts).map((cause) => cause.severity)).toEqual(['warns']);
  });
});

describe('checkPamLines and checkPamServices', () => {
  it.each([
    ['an unknown type', 'auht required pam_unix.so\n', 1],
    ['a rule without a module', 'auth required\n', 1],
    ['an unknown control', 'auth requird pam_unix.so\n', 1],
    ['a broken bracket', 'auth [success=1 default=ignore pam_unix.so\n', 1],
    ['well-formed rules', 'auth required pam_unix.so\nauth [default=die] pam_deny.so\n', 0],
  ])('%s: %i unparsable', (_, text, count) => {
    const causes = checkPamLines(buildLoginStack((name) => ({ login: text })[name]));
    expect(causes).toHaveLength(count);
    for (const cause of causes) expect(cause).toMatchObject({ id: 'pam-line-unparsable', severity: 'blocks' });
  });

  it.each([
    ['login present', DEBIAN, []],
    ['login absent, Debian other permits', { ...DEBIAN, login: undefined }, [['pam-service-missing', 'warns']]],
    ['login absent, Gentoo other denies', { ...DEBIAN, login: undefined, other: GENTOO_OTHER }, [['pam-service-missing', 'blocks']]],
    ['login and other absent', { ...DEBIAN, login: undefined, other: undefined }, [['pam-service-missing', 'blocks']]],
    ['an included file absent', { ...DEBIAN, 'common-account': undefined }, [['pam-service-missing', 'blocks']]],
  ])('%s', (_, files, expected) => {
    const stack = buildLoginStack((name) => (files as Record<string, string | undefined>)[name]);
    expect(checkPamServices(stack).map((cause) => [cause.id, cause.severity])).toEqual(expected);
  });

  it('follows Gentoo system-login for the modules that gate a login', () => {
    const stack = buildLoginStack((name) => ({ login: 'auth include system-local-login\n', 'system-local-login': 'auth include system-login\n', 'system-login': 'auth required pam_shells.so\nauth optional pam_nologin.so\n' })[name]);
    expect(enforcingRules(stack, 'pam_shells.so')).toHaveLength(1);
    expect(enforcingRules(stack, 'pam_nologin.so')).toHaveLength(0);
  });
});

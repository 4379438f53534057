import type { RootedFs } from '../system/rooted-fs.ts';

/**
 * /etc/pam.d/login as the distribution's own package installs it, for a target that lost the file and has no
 * pending copy of it (`._cfg0000_login`). Which one fits is told by the files the stack includes: Gentoo's
 * pambase ships system-local-login, Debian's pam ships common-auth. Both only include the system's own
 * stacks; neither permits anything the rest of the system does not.
 */
const COPIES: readonly { readonly includes: string; readonly source: string; readonly text: string }[] = [
  {
    includes: 'system-local-login',
    // github.com/gentoo/pambase templates/login.tpl, rendered with USE="-securetty -debug".
    source: "sys-auth/pambase's login (templates/login.tpl)",
    text: ['auth\t\tinclude\t\tsystem-local-login', 'account\t\tinclude\t\tsystem-local-login', 'password\tinclude\t\tsystem-local-login', 'session\t\toptional\tpam_lastlog.so', 'session\t\tinclude\t\tsystem-local-login', ''].join('\n'),
  },
  {
    includes: 'common-auth',
    // Debian 12's login 1:4.13+dfsg1-1+deb12u1, /etc/pam.d/login without its comments.
    source: "Debian's login package (/etc/pam.d/login of login 1:4.13+dfsg1-1+deb12u1)",
    text: [
      'auth       optional   pam_faildelay.so  delay=3000000',
      'auth       requisite  pam_nologin.so',
      'session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close',
      'session    required     pam_loginuid.so',
      'session    optional   pam_motd.so motd=/run/motd.dynamic',
      'session    optional   pam_motd.so noupdate',
      'session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so open',
      'session       required   pam_env.so readenv=1',
      'session       required   pam_env.so readenv=1 envfile=/etc/default/locale',
      '@include common-auth',
      'auth       optional   pam_group.so',
      'session    required   pam_limits.so',
      'session    optional   pam_lastlog.so',
      'session    optional   pam_mail.so standard',
      'session    optional   pam_keyinit.so force revoke',
      '@include common-account',
      '@include common-session',
      '@include common-password',
      '',
    ].join('\n'),
  },
];

/** The package's copy of a service file that fits the target, or undefined (only `login` is carried). */
export async function builtInPamService(target: RootedFs, service: string): Promise<{ text: string; source: string } | undefined> {
  if (service !== 'login') return undefined;
  for (const copy of COPIES) {
    if (await target.exists(`/etc/pam.d/${copy.includes}`)) return { text: copy.text, source: copy.source };
  }
  return undefined;
}

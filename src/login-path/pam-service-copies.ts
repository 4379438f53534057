import { createHash } from 'node:crypto';
import * as path from 'node:path/posix';
import { readGpkg } from '../core/gentoo/read-gpkg.ts';
import { trySplitPackageVersion } from '../core/gentoo/parse-cpv.ts';
import { readMakeConf } from '../system/gentoo/read-make-conf.ts';
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

/** Where Portage recorded a file: the package that installed it (CONTENTS) and the md5 it had then. */
async function ownerOf(target: RootedFs, file: string): Promise<{ category: string; pf: string; md5: string; buildId: string | undefined } | undefined> {
  const vdb = '/var/db/pkg';
  if (!(await target.isDirectory(vdb))) return undefined;
  const prefix = `obj ${file} `;
  for (const category of await target.readdir(vdb)) {
    if (category.type !== 'directory') continue;
    for (const entry of await target.readdir(path.join(vdb, category.name))) {
      if (entry.type !== 'directory') continue;
      const contents = await target.readTextIfExists(path.join(vdb, category.name, entry.name, 'CONTENTS'));
      const line = contents?.split('\n').find((candidate) => candidate.startsWith(prefix));
      const md5 = line?.slice(prefix.length).split(' ')[0];
      if (md5 === undefined || !/^[0-9a-f]{32}$/.test(md5)) continue;
      const buildId = (await target.readTextIfExists(path.join(vdb, category.name, entry.name, 'BUILD_ID')))?.trim();
      return { category: category.name, pf: entry.name, md5, buildId: buildId === '' ? undefined : buildId };
    }
  }
  return undefined;
}

/**
 * The file as the package that installed it ships it, from that package's own binary package in PKGDIR
 * (FEATURES=buildpkg keeps one; `<cat>/<pn>/<pf>-<build id>.gpkg.tar` or `<cat>/<pf>.gpkg.tar`). Used only
 * when its md5 is the one CONTENTS recorded at install time: the exact file the system had, not a newer or a
 * tampered one. Undefined when there is no such package or no such file in it.
 */
export async function packageCopyOf(target: RootedFs, file: string): Promise<{ text: string; source: string } | undefined> {
  const owner = await ownerOf(target, file);
  if (owner === undefined) return undefined;
  const pkgdir = (await readMakeConf(target)).vars['PKGDIR'] ?? '/var/cache/binpkgs';
  const split = trySplitPackageVersion(owner.pf);
  if (!split.ok) return undefined;
  const pn = split.value.pn;
  const folder = path.join(pkgdir, owner.category, pn);
  const candidates = [
    ...(owner.buildId === undefined ? [] : [path.join(folder, `${owner.pf}-${owner.buildId}.gpkg.tar`)]),
    ...((await target.isDirectory(folder)) ? (await target.readdir(folder)).map((entry) => entry.name).filter((name) => name.startsWith(`${owner.pf}-`) && name.endsWith('.gpkg.tar')).sort().reverse().map((name) => path.join(folder, name)) : []),
    path.join(pkgdir, owner.category, `${owner.pf}.gpkg.tar`),
  ];
  for (const candidate of [...new Set(candidates)]) {
    const bytes = await target.readBytesIfExists(candidate);
    if (bytes === undefined) continue;
    try {
      const gpkg = await readGpkg(bytes, { imageData: true, strict: true, maxUnpackedBytes: 512 * 1024 * 1024 });
      const data = gpkg.image.find((entry) => entry.path === file && entry.data !== undefined)?.data;
      if (data === undefined || createHash('md5').update(data).digest('hex') !== owner.md5) continue;
      return { text: Buffer.from(data).toString('utf8'), source: `${owner.category}/${owner.pf}'s binary package ${candidate} (md5 as CONTENTS recorded it)` };
    } catch {
      // A damaged or foreign file in PKGDIR is no copy: the next candidate, or none.
      continue;
    }
  }
  return undefined;
}

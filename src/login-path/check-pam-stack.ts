import * as path from 'node:path/posix';
import { PAM_MODULE_DIRS, resolvePamStack, type PamRule } from '../core/auth/pam-config.ts';
import type { RootedFs } from '../system/rooted-fs.ts';

/** Services whose stacks decide whether anyone can log in (Gentoo's pambase names, and Debian's). */
export const LOGIN_SERVICES: readonly string[] = ['login', 'su', 'passwd', 'system-auth', 'system-login', 'system-local-login', 'common-auth', 'sshd'];

export interface MissingModule {
  readonly module: string;
  /** Services (`file:line`) whose stack needs it. */
  readonly usedBy: readonly string[];
}

export interface PamStackReport {
  /** Where pam_unix.so was found: the target's module folder for its libdir. */
  readonly moduleDir: string | undefined;
  readonly servicesChecked: readonly string[];
  /** Required modules that do not exist: PAM fails the whole stack when one is missing. */
  readonly missingModules: readonly MissingModule[];
  /** `include`/`substack`/`@include` names with no file in /etc/pam.d. */
  readonly missingIncludes: readonly string[];
  readonly unixChkpwd: UnixChkpwdReport;
  readonly complete: boolean;
}

export interface UnixChkpwdReport {
  readonly path: string | undefined;
  /** setgid (Gentoo: group shadow) or setuid root (older layouts): without either it cannot read /etc/shadow. */
  readonly privileged: boolean;
  readonly mode: string | undefined;
}

const UNIX_CHKPWD_PATHS = ['/sbin/unix_chkpwd', '/usr/sbin/unix_chkpwd', '/usr/bin/unix_chkpwd'];

/**
 * Checks that every module the login stacks reference exists for the target's libdir, and that
 * unix_chkpwd is there with the privilege it needs. Reads files only, inside the target root.
 */
export async function checkPamStack(target: RootedFs): Promise<PamStackReport> {
  const services: string[] = [];
  const texts = new Map<string, string | undefined>();
  for (const name of (await target.isDirectory('/etc/pam.d')) ? (await target.readdir('/etc/pam.d')).map((entry) => entry.name) : []) {
    texts.set(name, await target.readTextIfExists(path.join('/etc/pam.d', name)));
  }
  const rules: PamRule[] = [];
  const missingIncludes = new Set<string>();
  for (const service of LOGIN_SERVICES) {
    if (texts.get(service) === undefined) continue;
    services.push(service);
    const stack = resolvePamStack(service, (name) => texts.get(name));
    rules.push(...stack.rules);
    for (const name of stack.missingIncludes) missingIncludes.add(name);
  }

  const moduleDir = await findModuleDir(target);
  const missing = new Map<string, Set<string>>();
  const checked = new Map<string, boolean>();
  for (const rule of rules) {
    if (rule.optionalModule) continue;
    const file = rule.module.startsWith('/') ? rule.module : moduleDir === undefined ? undefined : path.join(moduleDir, rule.module);
    let present = file === undefined ? false : checked.get(file);
    if (present === undefined && file !== undefined) {
      present = await target.exists(file);
      checked.set(file, present);
    }
    if (!present) {
      const users = missing.get(rule.module) ?? new Set<string>();
      users.add(`${rule.service}:${rule.line}`);
      missing.set(rule.module, users);
    }
  }

  const unixChkpwd = await checkUnixChkpwd(target);
  const missingModules = [...missing].map(([module, usedBy]) => ({ module, usedBy: [...usedBy] }));
  return {
    moduleDir,
    servicesChecked: services,
    missingModules,
    missingIncludes: [...missingIncludes],
    unixChkpwd,
    complete: moduleDir !== undefined && missingModules.length === 0 && missingIncludes.size === 0 && unixChkpwd.privileged,
  };
}

async function findModuleDir(target: RootedFs): Promise<string | undefined> {
  for (const dir of PAM_MODULE_DIRS) {
    if (await target.exists(path.join(dir, 'pam_unix.so'))) return dir;
  }
  return undefined;
}

async function checkUnixChkpwd(target: RootedFs): Promise<UnixChkpwdReport> {
  for (const candidate of UNIX_CHKPWD_PATHS) {
    if (!(await target.exists(candidate))) continue;
    const stats = await target.stat(candidate);
    const privileged = (stats.mode & 0o2000) !== 0 || ((stats.mode & 0o4000) !== 0 && stats.uid === 0);
    return { path: candidate, privileged, mode: (stats.mode & 0o7777).toString(8).padStart(4, '0') };
  }
  return { path: undefined, privileged: false, mode: undefined };
}

import { describeShadow, hashPrefixesInUse, type ShadowShape } from '../core/auth/shadow.ts';
import { parsePasswd, parseShells } from '../core/auth/passwd.ts';
import { findInstalled } from '../core/gentoo/find-installed.ts';
import type { VdbPackage } from '../core/gentoo/parse-vdb-entry.ts';
import { mountContaining, parseMountinfo } from '../core/system-state/parse-mountinfo.ts';
import { readVdb } from '../system/gentoo/read-vdb.ts';
import type { System } from '../system/open-system.ts';
import { checkPamStack, type PamStackReport } from './check-pam-stack.ts';
import { testCrypt, type CryptTestResult } from './test-crypt.ts';

export interface PackageSummary {
  readonly cpv: string;
  readonly slot: string;
  readonly use: readonly string[];
  /** Recorded EXTRA_ECONF: where a `--enable-hashes=` override would show. */
  readonly extraEconf: string | undefined;
}

export interface UserState {
  readonly name: string;
  readonly exists: boolean;
  readonly uid: number | undefined;
  readonly shell: string | undefined;
  readonly shellExists: boolean;
  /** Listed in /etc/shells (pam_shells refuses logins with unlisted shells). */
  readonly shellListed: boolean;
  /** The shape of the shadow entry, never the hash. */
  readonly shadow: ShadowShape | undefined;
}

export type InitSystem = 'openrc' | 'systemd' | 'unknown';

export interface DisplayManagerState {
  /** DISPLAYMANAGER from /etc/conf.d/display-manager (or /etc/rc.conf, which wins). */
  readonly configured: string | undefined;
  /** Display managers whose program exists in the target. */
  readonly installed: readonly string[];
  /** OpenRC: display-manager in the default runlevel; systemd: display-manager.service enabled. */
  readonly enabled: boolean;
  /** OpenRC's /etc/init.d/display-manager exists. */
  readonly hasService: boolean;
}

/** The before/after picture of everything a login depends on. JSON-serialisable; never holds a hash. */
export interface LoginState {
  readonly crypt: CryptTestResult;
  readonly hashPrefixesInUse: readonly string[];
  readonly user: UserState;
  readonly pam: PamStackReport;
  /** /etc/nologin exists: PAM's pam_nologin refuses every non-root login. */
  readonly nologin: boolean;
  readonly readOnly: boolean;
  readonly freeBytes: number | undefined;
  readonly packages: { readonly libxcrypt?: PackageSummary; readonly pam?: PackageSummary; readonly glibc?: PackageSummary };
  readonly init: InitSystem;
  readonly displayManager: DisplayManagerState;
}

const DISPLAY_MANAGERS: Readonly<Record<string, readonly string[]>> = {
  xdm: ['/usr/bin/xdm'],
  sddm: ['/usr/bin/sddm'],
  gdm: ['/usr/bin/gdm', '/usr/sbin/gdm'],
  lightdm: ['/usr/sbin/lightdm', '/usr/bin/lightdm'],
  greetd: ['/usr/sbin/greetd', '/usr/bin/greetd'],
  lxdm: ['/usr/sbin/lxdm', '/usr/bin/lxdm'],
  entrance: ['/usr/sbin/entrance', '/usr/bin/entrance'],
  slim: ['/usr/bin/slim'],
};

/** Reads the whole picture, running the crypt test inside the target. Reads only; changes nothing. */
export async function readLoginState(system: System, userName: string, signal: AbortSignal): Promise<LoginState> {
  const { target } = system;
  const shadowText = (await target.readTextIfExists('/etc/shadow')) ?? '';
  const today = Math.floor(system.clock.now().getTime() / 86_400_000);
  const prefixes = hashPrefixesInUse(shadowText);
  const [crypt, pam, user, packages, readOnly, freeBytes, init] = await Promise.all([
    testCrypt(system.commands, prefixes, signal),
    checkPamStack(target),
    readUser(system, userName, describeShadow(shadowText, today)),
    readPackages(system),
    isReadOnly(system),
    freeSpace(system),
    detectInit(system),
  ]);
  return {
    crypt,
    hashPrefixesInUse: prefixes,
    user,
    pam,
    nologin: (await target.exists('/etc/nologin')) || (await target.exists('/run/nologin')),
    readOnly,
    freeBytes,
    packages,
    init,
    displayManager: await readDisplayManager(system, init),
  };
}

async function readUser(system: System, name: string, shapes: readonly ShadowShape[]): Promise<UserState> {
  const passwd = parsePasswd((await system.target.readTextIfExists('/etc/passwd')) ?? '');
  const entry = passwd.find((candidate) => candidate.user === name);
  const shells = parseShells((await system.target.readTextIfExists('/etc/shells')) ?? '');
  return {
    name,
    exists: entry !== undefined,
    uid: entry?.uid,
    shell: entry?.shell,
    shellExists: entry?.shell ? await system.target.exists(entry.shell) : false,
    shellListed: entry?.shell ? shells.includes(entry.shell) : false,
    shadow: shapes.find((shape) => shape.user === name),
  };
}

async function readPackages(system: System): Promise<LoginState['packages']> {
  const vdb = await readVdb(system.target);
  const summary = (atom: string): PackageSummary | undefined => {
    const found: VdbPackage | undefined = findInstalled(vdb, atom).at(-1);
    if (found === undefined) return undefined;
    return { cpv: found.cpv, slot: found.slot, use: found.use, extraEconf: found.buildSettings['EXTRA_ECONF'] };
  };
  const result: { libxcrypt?: PackageSummary; pam?: PackageSummary; glibc?: PackageSummary } = {};
  const libxcrypt = summary('sys-libs/libxcrypt');
  const pam = summary('sys-libs/pam');
  const glibc = summary('sys-libs/glibc');
  if (libxcrypt) result.libxcrypt = libxcrypt;
  if (pam) result.pam = pam;
  if (glibc) result.glibc = glibc;
  return result;
}

async function isReadOnly(system: System): Promise<boolean> {
  const table = parseMountinfo((await system.host.readTextIfExists('/proc/self/mountinfo')) ?? '');
  const mount = mountContaining(table, system.root);
  return mount !== undefined && (mount.options.includes('ro') || mount.superOptions.includes('ro'));
}

async function freeSpace(system: System): Promise<number | undefined> {
  try {
    const stats = await system.target.statfs('/');
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

async function detectInit(system: System): Promise<InitSystem> {
  const { target } = system;
  const init = await target.lstat('/sbin/init').catch(() => undefined);
  if (init?.isSymbolicLink() && (await target.readlink('/sbin/init')).includes('systemd')) return 'systemd';
  if ((await target.exists('/sbin/openrc-run')) || (await target.exists('/sbin/openrc')) || (await target.isDirectory('/etc/runlevels'))) return 'openrc';
  if (await target.isDirectory('/etc/systemd/system')) return 'systemd';
  return 'unknown';
}

/** The value of `NAME=` in a conf.d-style shell file (quotes removed); the last assignment wins. */
function shellVariable(text: string, name: string): string | undefined {
  let value: string | undefined;
  for (const line of text.split('\n')) {
    const match = new RegExp(`^\\s*(?:export\\s+)?${name}=(?:"([^"]*)"|'([^']*)'|(\\S*))`).exec(line);
    if (match) value = match[1] ?? match[2] ?? match[3];
  }
  return value;
}

async function readDisplayManager(system: System, init: InitSystem): Promise<DisplayManagerState> {
  const { target } = system;
  const confd = (await target.readTextIfExists('/etc/conf.d/display-manager')) ?? '';
  const rcConf = (await target.readTextIfExists('/etc/rc.conf')) ?? '';
  const configured = shellVariable(rcConf, 'DISPLAYMANAGER') ?? shellVariable(confd, 'DISPLAYMANAGER');
  const installed: string[] = [];
  for (const [name, programs] of Object.entries(DISPLAY_MANAGERS)) {
    for (const program of programs) {
      if (await target.exists(program)) {
        installed.push(name);
        break;
      }
    }
  }
  const enabled =
    init === 'systemd'
      ? (await target.lstat('/etc/systemd/system/display-manager.service').catch(() => undefined)) !== undefined
      : (await target.lstat('/etc/runlevels/default/display-manager').catch(() => undefined)) !== undefined;
  return { configured: configured || undefined, installed, enabled, hasService: await target.exists('/etc/init.d/display-manager') };
}

import type { LoginCause } from './causes.ts';
import { modeString } from './account-causes.ts';

export interface FileFacts {
  readonly path: string;
  /** Undefined when the file does not exist. */
  readonly stat: { readonly isFile: boolean; readonly mode: number; readonly uid: number; readonly gid: number } | undefined;
}

/** /etc/passwd or /etc/shadow missing, or not a regular file: every login fails; its `-` backup has the last state. */
function notAFileCause(id: 'passwd-permissions' | 'shadow-permissions', name: string, facts: FileFacts): LoginCause {
  return {
    id,
    severity: 'blocks',
    summary: facts.stat === undefined ? `${name} does not exist` : `${name} is not a regular file`,
    evidence: { path: facts.path, exists: facts.stat !== undefined },
    repair: `restore ${name} from its backup ${name}- (or a snapshot)`,
  };
}

/** /etc/passwd: owned by root, readable by everyone (every program that names a user reads it), writable by root only. */
export function checkPasswdFile(facts: FileFacts): LoginCause[] {
  const { stat } = facts;
  if (stat === undefined || !stat.isFile) return [notAFileCause('passwd-permissions', '/etc/passwd', facts)];
  const problems: string[] = [];
  if ((stat.mode & 0o004) === 0) problems.push('not readable by other users');
  if ((stat.mode & 0o022) !== 0) problems.push('writable by group or others');
  if (stat.uid !== 0) problems.push('not owned by root');
  if (problems.length === 0) return [];
  return [
    {
      id: 'passwd-permissions',
      // Unreadable, the user's own processes cannot name themselves (shells print "I have no name!", desktops fail).
      severity: (stat.mode & 0o004) === 0 ? 'blocks' : 'warns',
      summary: `/etc/passwd is ${problems.join(', ')} (mode ${modeString(stat.mode)}, uid ${stat.uid}, gid ${stat.gid})`,
      evidence: { path: facts.path, mode: modeString(stat.mode), uid: stat.uid, gid: stat.gid, problems },
      repair: 'chown root:root /etc/passwd && chmod 0644 /etc/passwd',
    },
  ];
}

export interface UnixChkpwdFacts {
  /** Undefined when no unix_chkpwd exists in the target. */
  readonly path: string | undefined;
  readonly stat: { readonly mode: number; readonly uid: number; readonly gid: number } | undefined;
  /** File capabilities as getcap prints them (`cap_dac_override=ep`); undefined when they could not be read. */
  readonly capabilities: string | undefined;
}

/** Capabilities that let unix_chkpwd read /etc/shadow whatever its mode; it is not capability-aware, so it needs them effective and permitted. */
export function hasShadowCapability(capabilities: string | undefined): boolean {
  if (capabilities === undefined) return false;
  // getcap ≥ 2.30 prints `cap_dac_override=ep`, older versions `= cap_dac_override+ep`; several caps share one clause.
  for (const match of capabilities.matchAll(/((?:cap_[a-z_]+,)*cap_[a-z_]+)[=+]([eip]+)/g)) {
    const names = (match[1] as string).split(',');
    const flags = match[2] as string;
    if (names.some((name) => name === 'cap_dac_override' || name === 'cap_dac_read_search') && flags.includes('e') && flags.includes('p')) return true;
  }
  return false;
}

/**
 * How unix_chkpwd gets to read /etc/shadow: setuid root, setgid to the group that may read the file (Debian:
 * shadow, 2755), or the cap_dac_override file capability. Without it pam_unix cannot verify passwords of a
 * caller that is not root (and since Linux-PAM 1.6.0, root's too).
 */
export function checkUnixChkpwd(chkpwd: UnixChkpwdFacts, shadow: FileFacts, groupName: (gid: number) => string | undefined): LoginCause[] {
  if (chkpwd.path === undefined || chkpwd.stat === undefined) {
    return [
      {
        id: 'unix-chkpwd-missing',
        severity: 'blocks',
        summary: 'unix_chkpwd is not installed: pam_unix cannot verify passwords for a caller that cannot read /etc/shadow',
        evidence: { searched: ['/sbin/unix_chkpwd', '/usr/sbin/unix_chkpwd', '/usr/bin/unix_chkpwd'] },
        repair: 'reinstall the PAM package (sys-libs/pam), which installs unix_chkpwd with its privilege',
      },
    ];
  }
  const { mode, uid, gid } = chkpwd.stat;
  const setuidRoot = (mode & 0o4000) !== 0 && uid === 0;
  const setgid = (mode & 0o2000) !== 0;
  const shadowStat = shadow.stat;
  const readsShadowByGroup = setgid && shadowStat !== undefined && shadowStat.gid === gid && (shadowStat.mode & 0o040) !== 0;
  if (setuidRoot || readsShadowByGroup || hasShadowCapability(chkpwd.capabilities)) return [];
  // setgid to a group named shadow while /etc/shadow lost that group or its g+r: the file is what changed.
  if (setgid && groupName(gid) === 'shadow') return [];
  const evidence = {
    path: chkpwd.path,
    mode: modeString(mode),
    uid,
    gid,
    group: groupName(gid) ?? null,
    capabilities: chkpwd.capabilities === undefined ? null : chkpwd.capabilities,
    capabilitiesChecked: chkpwd.capabilities !== undefined,
  };
  return [
    {
      id: 'unix-chkpwd-unprivileged',
      // Without getcap the file capability is unknown: say so rather than claim a cause that may not be there.
      severity: chkpwd.capabilities === undefined ? 'warns' : 'blocks',
      summary: `${chkpwd.path} (mode ${modeString(mode)}) is neither setgid to the shadow group, setuid root, nor has cap_dac_override${chkpwd.capabilities === undefined ? ' (its file capabilities could not be read)' : ''}`,
      evidence,
      repair: `restore its privilege: chgrp shadow ${chkpwd.path} && chmod 2755 ${chkpwd.path} (or, with file capabilities, setcap cap_dac_override+ep ${chkpwd.path})`,
    },
  ];
}

/**
 * /etc/shadow: owned by root, nothing for others, no group write; its group may read it only when that group
 * is root's or `shadow` (Debian: root:shadow 0640, Gentoo: root:root 0600). A setgid unix_chkpwd whose group
 * lost its read access blocks every non-root password check.
 */
export function checkShadowFile(shadow: FileFacts, chkpwd: UnixChkpwdFacts, groupName: (gid: number) => string | undefined): LoginCause[] {
  const { stat } = shadow;
  if (stat === undefined || !stat.isFile) return [notAFileCause('shadow-permissions', '/etc/shadow', shadow)];
  const problems: string[] = [];
  if (stat.uid !== 0) problems.push('not owned by root');
  if ((stat.mode & 0o007) !== 0) problems.push('open to other users');
  if ((stat.mode & 0o020) !== 0) problems.push('writable by its group');
  const group = groupName(stat.gid);
  if (stat.gid !== 0 && group !== 'shadow' && (stat.mode & 0o040) !== 0) problems.push(`readable by group ${group ?? stat.gid}`);
  const chk = chkpwd.stat;
  const chkpwdNeedsGroup = chk !== undefined && (chk.mode & 0o2000) !== 0 && !((chk.mode & 0o4000) !== 0 && chk.uid === 0) && groupName(chk.gid) === 'shadow';
  const lockedOut = chkpwdNeedsGroup && !(stat.gid === chk.gid && (stat.mode & 0o040) !== 0);
  if (lockedOut) problems.push(`not readable by group shadow, which unix_chkpwd (setgid shadow) relies on`);
  if (problems.length === 0) return [];
  return [
    {
      id: 'shadow-permissions',
      severity: lockedOut ? 'blocks' : 'warns',
      summary: `/etc/shadow is ${problems.join(', ')} (mode ${modeString(stat.mode)}, uid ${stat.uid}, group ${group ?? stat.gid})`,
      evidence: { path: shadow.path, mode: modeString(stat.mode), uid: stat.uid, gid: stat.gid, group: group ?? null, problems },
      repair: chkpwdNeedsGroup ? 'chown root:shadow /etc/shadow && chmod 0640 /etc/shadow' : 'chown root:root /etc/shadow && chmod 0600 /etc/shadow',
    },
  ];
}

/** Below this much space for unprivileged writes, a desktop login cannot write its session files. */
export const FULL_BELOW_BYTES = 1024 * 1024;

export interface RootFilesystemFacts {
  readonly availableBytes: number;
  readonly totalBytes: number;
  /** Free inodes; undefined on filesystems that do not count them (btrfs reports 0 files). */
  readonly freeInodes: number | undefined;
  readonly readOnly: boolean;
  readonly mountPoint: string | undefined;
}

export function checkRootFilesystem(facts: RootFilesystemFacts): LoginCause[] {
  const causes: LoginCause[] = [];
  const full = facts.availableBytes < FULL_BELOW_BYTES || facts.freeInodes === 0;
  if (full) {
    causes.push({
      id: 'root-full',
      severity: 'blocks',
      summary: `The target's root filesystem is full (${facts.availableBytes} bytes available${facts.freeInodes === 0 ? ', no free inodes' : ''}): a login cannot write its session files`,
      evidence: { availableBytes: facts.availableBytes, totalBytes: facts.totalBytes, freeInodes: facts.freeInodes ?? null },
      repair: 'free space that is not user data: /var/tmp/portage, /var/cache/distfiles, old binary packages in /var/cache/binpkgs',
    });
  }
  if (facts.readOnly) {
    causes.push({
      id: 'root-read-only',
      severity: 'warns',
      summary: `The target's root filesystem is mounted read-only${facts.mountPoint === undefined ? '' : ` (${facts.mountPoint})`}: no repair can be written`,
      evidence: { mountPoint: facts.mountPoint ?? null },
      repair: `remount it read-write (mount -o remount,rw ${facts.mountPoint ?? '/'}); if the kernel made it read-only after errors, run fsck first`,
    });
  }
  return causes;
}

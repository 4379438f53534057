import type { FstabEntry } from '../system-state/fstab.ts';
import type { BlockDevice, ProbedFilesystem, RootFilesystem } from './block-devices.ts';

/**
 * What `argo rescue` decides from what it saw: which of the looked-into filesystems are Gentoo roots, which
 * one it repairs, which of that root's fstab entries it mounts for the repair, and the mount options of
 * each. Pure: the looking (mounts, reads) is in src/rescue and src/system.
 */

/** btrfs layouts: the default subvolume first, then these names under the top level (Gentoo wiki, openSUSE, Ubuntu). */
export const BTRFS_ROOT_SUBVOLUMES = ['@', '@root', '@gentoo'] as const;

/** What one look into a filesystem (or one of its btrfs subvolumes) found. */
export interface RootEvidence {
  /** ID and PRETTY_NAME of /etc/os-release (or /usr/lib/os-release). */
  readonly osId: string | undefined;
  readonly osIdLike: readonly string[];
  readonly osName: string | undefined;
  readonly hasVarDbPkg: boolean;
  readonly hasEtcPortage: boolean;
  /** etc/, usr/ and a /bin/sh: something a chroot can run in. */
  readonly looksLikeLinuxRoot: boolean;
}

/**
 * A Gentoo root: os-release says so, or Portage's package database and configuration are both there (a
 * stage3 from before os-release, or one whose os-release was overwritten). One of the two alone is not
 * enough: a data disk with a copied /etc/portage is not a system.
 */
export function isGentoo(evidence: RootEvidence): boolean {
  if (!evidence.looksLikeLinuxRoot) return false;
  if (evidence.osId === 'gentoo' || evidence.osIdLike.includes('gentoo')) return true;
  return evidence.hasVarDbPkg && evidence.hasEtcPortage;
}

export function parseOsRelease(text: string): { id: string | undefined; idLike: string[]; name: string | undefined } {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) fields.set(match[1] as string, (match[2] as string).replace(/^(["'])(.*)\1$/, '$2'));
  }
  return {
    id: fields.get('ID'),
    idLike: (fields.get('ID_LIKE') ?? '').split(/\s+/).filter((word) => word !== ''),
    name: fields.get('PRETTY_NAME') ?? fields.get('NAME'),
  };
}

/** One filesystem (and, on btrfs, one subvolume of it) that was looked into. */
export interface RootCandidate {
  readonly device: string;
  readonly fsType: RootFilesystem;
  readonly uuid: string | undefined;
  readonly label: string | undefined;
  readonly sizeBytes: number | undefined;
  /** On a removable, hot-pluggable or USB device: a stick or an external disk, perhaps not this machine's. */
  readonly removable: boolean;
  /** btrfs: the subvolume path from the top level (`@`), or undefined for the top level itself. */
  readonly subvolume: string | undefined;
  /** btrfs: its subvolume id (5 for the top level), how it is mounted. */
  readonly subvolumeId?: string | undefined;
  readonly evidence: RootEvidence;
  readonly gentoo: boolean;
}

/** `/dev/sda2` or `/dev/sda2 subvol=@`: how the admin names a candidate in lists and errors. */
export function candidateName(candidate: Pick<RootCandidate, 'device' | 'subvolume'>): string {
  return candidate.subvolume === undefined ? candidate.device : `${candidate.device} subvol=${candidate.subvolume}`;
}

export type Choice =
  | { readonly kind: 'chosen'; readonly candidate: RootCandidate }
  | { readonly kind: 'none' }
  | { readonly kind: 'several'; readonly candidates: readonly RootCandidate[] }
  | { readonly kind: 'unsure'; readonly candidate: RootCandidate; readonly reason: string };

/**
 * The root to repair among the Gentoo candidates: the only one; with --device, the one on that device (a
 * btrfs filesystem can hold several Gentoo subvolumes: then --subvolume picks, else they are listed).
 * Without --device the only candidate is still not taken when a locked device (LUKS, md, LVM) could hold
 * the real root, or when it is on a stick or an external disk: a backup clone or a planted stick would be
 * "repaired" and the real system left broken. Then the admin names it.
 */
export function chooseRoot(candidates: readonly RootCandidate[], wanted: { device?: string | undefined; subvolume?: string | undefined }, context: { lockedDevices?: readonly string[] } = {}): Choice {
  let gentoo = candidates.filter((candidate) => candidate.gentoo);
  if (wanted.device !== undefined) gentoo = gentoo.filter((candidate) => candidate.device === wanted.device);
  const subvolume = wanted.subvolume?.replace(/^\/+/, '');
  if (subvolume !== undefined) gentoo = gentoo.filter((candidate) => (candidate.subvolume ?? '') === subvolume);
  if (gentoo.length === 0) return { kind: 'none' };
  if (gentoo.length > 1) return { kind: 'several', candidates: gentoo };
  const candidate = gentoo[0] as RootCandidate;
  if (wanted.device === undefined) {
    const locked = context.lockedDevices ?? [];
    if (locked.length > 0) return { kind: 'unsure', candidate, reason: `${locked.join(', ')} ${locked.length === 1 ? 'is' : 'are'} locked and could hold the real root` };
    if (candidate.removable) return { kind: 'unsure', candidate, reason: `${candidate.device} is a removable or USB device, perhaps not this machine's system` };
  }
  return { kind: 'chosen', candidate };
}

/** A device of the live system, with what blkid found on it: how fstab's sources are matched. */
export interface KnownDevice {
  readonly device: BlockDevice;
  readonly fs: ProbedFilesystem | undefined;
}

/** Where the repair reads and writes: the Portage database and logs under /var, libraries under /usr, /boot. */
export function neededForRepair(mountPoint: string): boolean {
  const normal = mountPoint.replace(/\/+$/, '') || '/';
  if (normal === '/boot') return true;
  return ['/usr', '/var'].some((top) => normal === top || normal.startsWith(`${top}/`));
}

/** fstab types that are not a block device of this machine: never mounted by rescue. */
const NOT_LOCAL = new Set(['swap', 'proc', 'sysfs', 'tmpfs', 'devpts', 'devtmpfs', 'efivarfs', 'cgroup', 'cgroup2', 'debugfs', 'securityfs', 'configfs', 'none', 'nfs', 'nfs4', 'cifs', 'smb3', 'sshfs', 'overlay', 'autofs', '9p', 'virtiofs']);

/** Filesystems rescue mounts from fstab; anything else (FUSE, network, exotic types) would run a mount helper of the live system. */
const FSTAB_TYPES = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'vfat', 'exfat', 'f2fs']);

/**
 * Mount options passed on from fstab: only those that say how a filesystem reads and writes. Everything
 * else (loop, offset=, helper=, X-mount.*, owner changes, propagation flags, user mounts) is dropped: they
 * could mount one filesystem twice, change the mount point, or run a program.
 */
const KEPT_OPTIONS = [
  /^(no)?atime$/, /^(rel|strict|lazy|no)?atime$/, /^nodiratime$/, /^(no)?(dev|suid|exec)$/, /^sync$/, /^async$/, /^dirsync$/,
  /^subvol=[^,]+$/, /^subvolid=\d+$/, /^compress(-force)?(=[a-z0-9:]+)?$/, /^space_cache(=v[12])?$/, /^nospace_cache$/, /^(no)?ssd(_spread)?$/, /^autodefrag$/, /^(no)?discard(=async|=sync)?$/,
  /^data=(journal|ordered|writeback)$/, /^commit=\d+$/, /^(no)?barrier(=\d)?$/, /^errors=(continue|remount-ro|panic)$/, /^(no)?acl$/, /^(no)?user_xattr$/, /^(no)?journal_checksum$/,
  /^(no)?(inode64|largeio|swalloc|attr2)$/, /^logbufs=\d+$/, /^logbsize=\d+k?$/,
  /^(uid|gid)=\d+$/, /^(umask|fmask|dmask)=[0-7]{3,4}$/, /^codepage=\d+$/, /^iocharset=[a-z0-9_-]+$/, /^shortname=(lower|win95|winnt|mixed)$/, /^utf8$/, /^flush$/, /^quiet$/,
] as const;

/** fstab mount points the repair cannot do without: Portage's database, the libraries, the logs. */
const REQUIRED_MOUNTS = new Set(['/usr', '/usr/lib', '/usr/lib64', '/var', '/var/db', '/var/db/pkg', '/var/lib', '/var/lib/portage', '/var/log']);

/** blkid types that are not a filesystem of their own: a member of something else. */
const NOT_A_FILESYSTEM = new Set(['linux_raid_member', 'LVM2_member', 'crypto_LUKS', 'swap', 'zfs_member', 'ddf_raid_member', 'isw_raid_member']);

export interface PlannedMount {
  readonly entry: FstabEntry;
  /** The device fstab's source resolved to, or undefined when it names no device of this machine. */
  readonly device: string | undefined;
  readonly fsType: string;
  readonly options: readonly string[];
  /** Why this entry is not mounted (it still appears in the report). */
  readonly skip: string | undefined;
  /** The repair does not run without it (/usr, /var, /var/db/pkg, /var/log, ...). */
  readonly required: boolean;
}

export interface RootForPlan {
  readonly device: string;
  readonly fsType: string;
  /** Whether `device` is on the same disk as the root (a source named by kernel name must be). */
  readonly sameDisk: (device: string) => boolean;
}

/**
 * The fstab entries of the chosen root that the repair needs (/usr, /var and below, /boot), with their
 * source resolved against the devices blkid identified: UUID=, LABEL=, PARTUUID=, PARTLABEL=, the
 * /dev/disk/by-* links of those, or a /dev path (kernel names move on a live system: such a source is
 * taken only on the root's own disk). A source must be a filesystem of the type fstab says, not a member of
 * an array or a container, not in use by the live system, and not a device mounted twice (btrfs
 * subvolumes aside). Entries the repair does not need, network and virtual filesystems and bind mounts are
 * left out; an entry that cannot be mounted is kept with `skip` so that the report says so: nofail, except
 * for the `required` ones. Shallow mount points come first (/var before /var/log).
 */
export function planFstabMounts(entries: readonly FstabEntry[], devices: readonly KnownDevice[], root: RootForPlan): PlannedMount[] {
  const planned: PlannedMount[] = [];
  const seen = new Set<string>();
  const usedDevices = new Map<string, string>([[root.device, root.fsType]]);
  for (const entry of entries) {
    const mountPoint = entry.mountPoint.replace(/\/+$/, '') || '/';
    if (mountPoint === '/' || !mountPoint.startsWith('/') || !neededForRepair(mountPoint)) continue;
    if (NOT_LOCAL.has(entry.type) || entry.type.startsWith('fuse')) continue;
    if (entry.options.includes('bind') || entry.options.includes('rbind')) continue;
    if (seen.has(mountPoint)) continue; // the first line wins, as mount -a would leave the later one shadowing it
    seen.add(mountPoint);
    const required = REQUIRED_MOUNTS.has(mountPoint);
    const options = entry.options.filter((option) => KEPT_OPTIONS.some((pattern) => pattern.test(option)));
    const skipped = (skip: string, device?: string): PlannedMount => ({ entry, device, fsType: entry.type, options, skip, required });
    if (mountPoint.split('/').includes('..')) {
      planned.push(skipped('its mount point has .. in it'));
      continue;
    }
    const known = resolveSource(entry.source, devices);
    if (known === undefined) {
      planned.push(skipped(`no single device of this machine is ${entry.source}`));
      continue;
    }
    const path = known.device.path;
    const probed = known.fs?.type;
    const fsType = entry.type === 'auto' ? (probed ?? 'auto') : entry.type;
    const problem =
      probed === undefined ? `blkid found no filesystem on ${path}`
      : NOT_A_FILESYSTEM.has(probed) ? `${path} is a ${probed}, not a filesystem: open, assemble or activate it and mount it by hand`
      : probed !== fsType && !(/^ext[234]$/.test(probed) && /^ext[234]$/.test(fsType)) ? `fstab says ${fsType}, and ${path} holds ${probed}`
      : !FSTAB_TYPES.has(fsType) ? `${fsType} is not a filesystem argo rescue mounts`
      : known.device.childTypes.length > 0 ? `${path} is in use by ${known.device.childPaths.join(', ')}`
      : known.device.mountpoints.length > 0 ? `the live system has ${path} mounted at ${known.device.mountpoints.join(', ')}`
      : isKernelName(entry.source) && !root.sameDisk(path) ? `${entry.source} is a kernel name, and names move on a live system (it is not on the root's disk here): use UUID= in fstab, or mount it by hand`
      : usedDevices.has(path) && !(fsType === 'btrfs' && usedDevices.get(path) === 'btrfs') ? `${path} is mounted already for this rescue; one filesystem is never mounted twice`
      : undefined;
    if (problem !== undefined) {
      planned.push(skipped(problem, path));
      continue;
    }
    if (path === root.device && root.fsType !== 'btrfs') {
      planned.push(skipped('it names the root filesystem itself', path));
      continue;
    }
    usedDevices.set(path, fsType);
    planned.push({ entry, device: path, fsType, options, skip: undefined, required });
  }
  return planned.sort((a, b) => depth(a.entry.mountPoint) - depth(b.entry.mountPoint));
}

/** `/dev/sda3`, `/dev/nvme0n1p3`, `/dev/vdb1`: names the kernel gives in the order it finds disks. */
const isKernelName = (source: string): boolean => /^\/dev\/(sd[a-z]+|hd[a-z]+|vd[a-z]+|xvd[a-z]+|nvme\d+n\d+|mmcblk\d+)/.test(source);

const depth = (mountPoint: string): number => mountPoint.split('/').filter((part) => part !== '').length;

const SOURCE_KINDS: readonly { readonly prefix: string; readonly byLink: string; readonly field: keyof ProbedFilesystem }[] = [
  { prefix: 'UUID=', byLink: '/dev/disk/by-uuid/', field: 'uuid' },
  { prefix: 'LABEL=', byLink: '/dev/disk/by-label/', field: 'label' },
  { prefix: 'PARTUUID=', byLink: '/dev/disk/by-partuuid/', field: 'partUuid' },
  { prefix: 'PARTLABEL=', byLink: '/dev/disk/by-partlabel/', field: 'partLabel' },
];

/** The device an fstab source names, matched by what blkid read from the devices (no udev links needed). */
export function resolveSource(source: string, devices: readonly KnownDevice[]): KnownDevice | undefined {
  const unquoted = source.replace(/^(["'])(.*)\1$/, '$2');
  for (const kind of SOURCE_KINDS) {
    let value: string | undefined;
    if (unquoted.startsWith(kind.prefix)) value = unquoted.slice(kind.prefix.length).replace(/^(["'])(.*)\1$/, '$2');
    else if (unquoted.startsWith(kind.byLink)) value = decodeUdevName(unquoted.slice(kind.byLink.length));
    if (value === undefined) continue;
    const matches = devices.filter((known) => {
      const have = known.fs?.[kind.field];
      return have !== undefined && (kind.field === 'uuid' || kind.field === 'partUuid' ? have.toLowerCase() === value.toLowerCase() : have === value);
    });
    // Two devices with one UUID (a cloned disk, an md member seen beside its array): ambiguous, not guessed.
    return matches.length === 1 ? matches[0] : undefined;
  }
  if (unquoted.startsWith('/dev/')) return devices.find((known) => known.device.path === unquoted);
  return undefined;
}

/** udev writes unsafe characters of labels in /dev/disk/by-label as \x2f. */
function decodeUdevName(name: string): string {
  return name.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/**
 * Read-only mount options that also keep the kernel from writing: ext4 replays its journal and btrfs its
 * log tree on a read-only mount unless told not to, and XFS its log. Looking must not change a disk.
 */
export function lookOnlyOptions(fsType: string): string[] {
  switch (fsType) {
    case 'ext4':
    case 'ext3':
      return ['ro', 'noload'];
    case 'xfs':
      return ['ro', 'norecovery'];
    case 'btrfs':
      return ['ro', 'rescue=nologreplay'];
    default:
      return ['ro'];
  }
}

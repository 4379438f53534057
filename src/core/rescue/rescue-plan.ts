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
  /** btrfs: the subvolume path from the top level (`@`), or undefined for the default subvolume. */
  readonly subvolume: string | undefined;
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
  | { readonly kind: 'several'; readonly candidates: readonly RootCandidate[] };

/**
 * The root to repair among the Gentoo candidates: the only one; with --device, the one on that device (a
 * btrfs filesystem can hold several Gentoo subvolumes: then --subvolume picks, else they are listed). Two
 * candidates that are the same subvolume seen twice (default subvolume = `@`) count once.
 */
export function chooseRoot(candidates: readonly RootCandidate[], wanted: { device?: string | undefined; subvolume?: string | undefined }): Choice {
  let gentoo = candidates.filter((candidate) => candidate.gentoo);
  if (wanted.device !== undefined) gentoo = gentoo.filter((candidate) => candidate.device === wanted.device);
  const subvolume = wanted.subvolume?.replace(/^\/+/, '');
  if (subvolume !== undefined) gentoo = gentoo.filter((candidate) => (candidate.subvolume ?? '') === subvolume);
  if (gentoo.length === 0) return { kind: 'none' };
  if (gentoo.length === 1) return { kind: 'chosen', candidate: gentoo[0] as RootCandidate };
  return { kind: 'several', candidates: gentoo };
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
const NOT_LOCAL = new Set(['swap', 'proc', 'sysfs', 'tmpfs', 'devpts', 'devtmpfs', 'efivarfs', 'cgroup', 'cgroup2', 'debugfs', 'securityfs', 'configfs', 'none', 'nfs', 'nfs4', 'cifs', 'smb3', 'sshfs', 'fuse', 'fuse.sshfs', 'overlay', 'autofs', '9p', 'virtiofs']);

/** Options that say when or by whom to mount, not how: rescue mounts now, as root, read-write or read-only as it decides. */
const DROPPED_OPTIONS = new Set(['defaults', 'auto', 'noauto', 'nofail', 'user', 'users', 'nouser', 'owner', 'group', '_netdev', 'ro', 'rw', 'sw', 'discard=async']);

export interface PlannedMount {
  readonly entry: FstabEntry;
  /** The device fstab's source resolved to, or undefined when it names no device of this machine. */
  readonly device: string | undefined;
  readonly fsType: string;
  readonly options: readonly string[];
  /** Why this entry is not mounted (it still appears in the report). */
  readonly skip: string | undefined;
}

/**
 * The fstab entries of the chosen root that the repair needs (/usr, /var and below, /boot), with their
 * source resolved against the devices blkid identified: UUID=, LABEL=, PARTUUID=, PARTLABEL=, the
 * /dev/disk/by-* links of those, or a /dev path. Entries the repair does not need, network and virtual
 * filesystems, and bind mounts are left out; an entry whose device is not here is kept with `skip` so that
 * the report says so (nofail semantics: one missing /var/cache disk does not stop a login repair).
 * Shallow mount points come first (/var before /var/log).
 */
export function planFstabMounts(entries: readonly FstabEntry[], devices: readonly KnownDevice[], root: { device: string; fsType: string }): PlannedMount[] {
  const planned: PlannedMount[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const mountPoint = entry.mountPoint.replace(/\/+$/, '') || '/';
    if (mountPoint === '/' || !mountPoint.startsWith('/') || !neededForRepair(mountPoint)) continue;
    if (NOT_LOCAL.has(entry.type) || entry.type.startsWith('fuse.')) continue;
    if (entry.options.includes('bind') || entry.options.includes('rbind')) continue;
    if (seen.has(mountPoint)) continue; // the first line wins, as mount -a would leave the later one shadowing it
    seen.add(mountPoint);
    const options = entry.options.filter((option) => !DROPPED_OPTIONS.has(option) && !option.startsWith('x-') && !option.startsWith('comment='));
    if (mountPoint.split('/').includes('..')) {
      planned.push({ entry, device: undefined, fsType: entry.type, options, skip: 'its mount point has .. in it' });
      continue;
    }
    const known = resolveSource(entry.source, devices);
    if (known === undefined) {
      planned.push({ entry, device: undefined, fsType: entry.type, options, skip: `no single device of this machine is ${entry.source}` });
      continue;
    }
    const fsType = entry.type === 'auto' ? (known.fs?.type ?? 'auto') : entry.type;
    if (known.device.path === root.device && root.fsType !== 'btrfs') {
      planned.push({ entry, device: known.device.path, fsType, options, skip: 'it names the root filesystem itself' });
      continue;
    }
    planned.push({ entry, device: known.device.path, fsType, options, skip: undefined });
  }
  return planned.sort((a, b) => depth(a.entry.mountPoint) - depth(b.entry.mountPoint));
}

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

import { z } from 'zod';
import { ArgoError } from '../errors.ts';
import { shellQuote } from '../shell-quote.ts';

/**
 * The block devices of a live system, as `lsblk --json` lists them and `blkid -p` identifies them, and what
 * `argo rescue` makes of each: a filesystem to look into, a container it cannot open by itself (LUKS, an
 * inactive md array or LVM volume group) with the command that opens it, or something that is never a root.
 *
 * lsblk gives the topology (disks, partitions, the mapped devices on top of them, what is mounted where);
 * its FSTYPE and UUID columns come from udev's database, which a live system without udev (or a device
 * attached a second ago) does not have, so the filesystem of each device is probed with `blkid -p`.
 */

/** The lsblk columns asked for; `lsblk --json --bytes --output` with these names. */
export const LSBLK_COLUMNS = ['NAME', 'PATH', 'TYPE', 'SIZE', 'RO', 'RM', 'HOTPLUG', 'TRAN', 'MOUNTPOINTS', 'PKNAME'] as const;

interface LsblkNode {
  readonly name: string;
  readonly path: string;
  readonly type: string;
  readonly size: number | null;
  readonly ro: boolean | null;
  readonly rm?: boolean | null | undefined;
  readonly hotplug?: boolean | null | undefined;
  readonly tran?: string | null | undefined;
  readonly mountpoints: readonly (string | null)[] | null;
  readonly children?: readonly LsblkNode[] | undefined;
}

const flag = z.union([z.boolean(), z.enum(['0', '1']).transform((value) => value === '1'), z.null()]).optional();

const lsblkNode: z.ZodType<LsblkNode> = z.lazy(() =>
  z.object({
    name: z.string().min(1),
    path: z.string().startsWith('/dev/'),
    type: z.string(),
    // util-linux prints numbers as numbers with --bytes; older versions printed strings.
    size: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number), z.null()]),
    ro: z.union([z.boolean(), z.enum(['0', '1']).transform((value) => value === '1'), z.null()]),
    rm: flag,
    hotplug: flag,
    tran: z.string().nullable().optional(),
    mountpoints: z.array(z.string().nullable()).nullable(),
    children: z.array(lsblkNode).optional(),
  }),
);

const lsblkOutput = z.object({ blockdevices: z.array(lsblkNode) });

/** One device of the tree, flattened: its parents by path, its children by type. */
export interface BlockDevice {
  readonly name: string;
  readonly path: string;
  /** lsblk's TYPE: disk, part, loop, crypt, lvm, raid1, rom, ... */
  readonly type: string;
  readonly sizeBytes: number | undefined;
  readonly readOnly: boolean;
  /** Removable, hot-pluggable or on USB (this device or a parent): a stick or an external disk. */
  readonly removable: boolean;
  readonly mountpoints: readonly string[];
  readonly parent: string | undefined;
  readonly childTypes: readonly string[];
  readonly childPaths: readonly string[];
}

export function parseLsblk(text: string): BlockDevice[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ArgoError('ARGO_INVALID_INPUT', 'lsblk --json printed something that is not JSON', { cause: error, hint: 'Check that util-linux is installed and recent (lsblk --output MOUNTPOINTS needs 2.37 or newer).' });
  }
  const parsed = lsblkOutput.safeParse(json);
  if (!parsed.success) {
    throw new ArgoError('ARGO_INVALID_INPUT', `lsblk --json printed an unexpected shape: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
      hint: 'Check that util-linux is installed and recent (lsblk --output MOUNTPOINTS needs 2.37 or newer).',
    });
  }
  const devices = new Map<string, BlockDevice>();
  const visit = (node: LsblkNode, parent: string | undefined, parentRemovable: boolean): void => {
    const removable = parentRemovable || node.rm === true || node.hotplug === true || node.tran === 'usb';
    const known = devices.get(node.path);
    const children = node.children ?? [];
    // A device under two parents (an md array on two disks) appears twice; the first is kept.
    if (known === undefined) {
      devices.set(node.path, {
        name: node.name,
        path: node.path,
        type: node.type,
        sizeBytes: node.size ?? undefined,
        readOnly: node.ro === true,
        removable,
        mountpoints: (node.mountpoints ?? []).filter((point): point is string => point !== null),
        parent,
        childTypes: children.map((child) => child.type),
        childPaths: children.map((child) => child.path),
      });
    }
    for (const child of children) visit(child, node.path, removable);
  };
  for (const node of parsed.data.blockdevices) visit(node, undefined, false);
  return [...devices.values()];
}

/** `blkid -p -o export DEV`: KEY=value lines (values with shell-safe escapes). */
export interface ProbedFilesystem {
  /** TYPE: ext4, xfs, btrfs, crypto_LUKS, LVM2_member, linux_raid_member, swap, vfat, ... */
  readonly type: string | undefined;
  readonly uuid: string | undefined;
  readonly label: string | undefined;
  readonly partUuid: string | undefined;
  readonly partLabel: string | undefined;
  /** USAGE: filesystem, crypto, raid, other. */
  readonly usage: string | undefined;
}

export function parseBlkidExport(text: string): ProbedFilesystem {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line);
    // blkid -o export escapes characters unsafe in a shell with a backslash.
    if (match) fields.set(match[1] as string, (match[2] as string).replace(/\\(.)/g, '$1'));
  }
  return {
    type: fields.get('TYPE'),
    uuid: fields.get('UUID'),
    label: fields.get('LABEL'),
    partUuid: fields.get('PART_ENTRY_UUID') ?? fields.get('PARTUUID'),
    partLabel: fields.get('PART_ENTRY_NAME') ?? fields.get('PARTLABEL'),
    usage: fields.get('USAGE'),
  };
}

/** Filesystems a Gentoo root lives on that rescue can mount and look into. */
export const ROOT_FILESYSTEMS = ['ext4', 'ext3', 'ext2', 'xfs', 'btrfs'] as const;
export type RootFilesystem = (typeof ROOT_FILESYSTEMS)[number];

export const isRootFilesystem = (type: string | undefined): type is RootFilesystem => (ROOT_FILESYSTEMS as readonly string[]).includes(type ?? '');

/** What rescue does with one device. */
export type DeviceVerdict =
  | { readonly kind: 'probe'; readonly device: BlockDevice; readonly fs: ProbedFilesystem & { readonly type: RootFilesystem } }
  | { readonly kind: 'locked'; readonly device: BlockDevice; readonly fs: ProbedFilesystem | undefined; readonly what: string; readonly howToOpen: string }
  | { readonly kind: 'skip'; readonly device: BlockDevice; readonly fs: ProbedFilesystem | undefined; readonly reason: string };

/**
 * Sorts each device: a filesystem of a root type is probed; a LUKS container, an md member or an LVM
 * physical volume without its opened device on top is `locked`, with the command that opens it (rescue
 * never asks for a passphrase and never assembles or activates anything by itself: that is the admin's
 * call); everything else is skipped with a reason. A device in use by the live system (mounted at /, or
 * a container whose opened device is in the tree) is not a candidate of its own.
 */
export function classifyDevice(device: BlockDevice, fs: ProbedFilesystem | undefined): DeviceVerdict {
  const type = fs?.type;
  if (device.mountpoints.includes('/')) return { kind: 'skip', device, fs, reason: 'the running system is mounted from it' };
  if (type === 'crypto_LUKS') {
    if (device.childTypes.includes('crypt')) return { kind: 'skip', device, fs, reason: `LUKS container, open as ${device.childPaths.join(', ')}` };
    const name = `${device.name.replace(/[^A-Za-z0-9_.-]/g, '_')}_crypt`;
    return {
      kind: 'locked',
      device,
      fs,
      what: 'an encrypted LUKS container',
      howToOpen: `cryptsetup open ${shellQuote(device.path)} ${name}   (then run argo rescue again; it finds /dev/mapper/${name})`,
    };
  }
  if (type === 'linux_raid_member') {
    if (device.childTypes.some((child) => child.startsWith('raid') || child === 'md')) return { kind: 'skip', device, fs, reason: `md array member, assembled as ${device.childPaths.join(', ')}` };
    return { kind: 'locked', device, fs, what: 'a member of an md RAID array that is not assembled', howToOpen: 'mdadm --assemble --scan   (then run argo rescue again)' };
  }
  if (type === 'LVM2_member') {
    if (device.childTypes.includes('lvm')) return { kind: 'skip', device, fs, reason: `LVM physical volume, active as ${device.childPaths.join(', ')}` };
    return { kind: 'locked', device, fs, what: 'an LVM physical volume whose volume group is not active', howToOpen: 'vgchange -ay   (then run argo rescue again)' };
  }
  if (isRootFilesystem(type)) return { kind: 'probe', device, fs: { ...(fs as ProbedFilesystem), type } };
  if (type === undefined) {
    const partitioned = device.childTypes.includes('part');
    return { kind: 'skip', device, fs, reason: partitioned ? 'partition table (its partitions are looked at)' : 'no filesystem found' };
  }
  return { kind: 'skip', device, fs, reason: `${type} is not a root filesystem` };
}

/** `sda2 (ext4, LABEL=gentoo, 50.0 GiB)` for lists the admin reads. */
export function describeDevice(device: BlockDevice, fs: ProbedFilesystem | undefined): string {
  const parts = [fs?.type ?? device.type];
  if (fs?.label !== undefined && fs.label !== '') parts.push(`LABEL=${JSON.stringify(fs.label).slice(1, -1)}`);
  if (device.sizeBytes !== undefined) parts.push(formatSize(device.sizeBytes));
  if (device.removable) parts.push('removable or USB');
  return `${device.path} (${parts.join(', ')})`;
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

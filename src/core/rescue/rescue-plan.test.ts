import { describe, expect, it } from 'vitest';
import { parseFstab } from '../system-state/fstab.ts';
import { classifyDevice, parseBlkidExport, parseLsblk, type BlockDevice } from './block-devices.ts';
import { chooseRoot, isGentoo, lookOnlyOptions, parseOsRelease, planFstabMounts, resolveSource, type KnownDevice, type RootCandidate, type RootEvidence } from './rescue-plan.ts';

// lsblk --json --bytes --output NAME,PATH,TYPE,SIZE,RO,MOUNTPOINTS,PKNAME of a laptop booted from SystemRescue:
// an NVMe disk with an EFI partition, /boot, and a LUKS container opened as cryptroot holding LVM.
const LSBLK = JSON.stringify({
  blockdevices: [
    { name: 'loop0', path: '/dev/loop0', type: 'loop', size: 812646400, ro: true, mountpoints: ['/run/archiso/airootfs'], pkname: null },
    {
      name: 'sda', path: '/dev/sda', type: 'disk', size: 15376000000, ro: false, mountpoints: [null], pkname: null,
      children: [{ name: 'sda1', path: '/dev/sda1', type: 'part', size: 15375000000, ro: false, mountpoints: ['/run/archiso/bootmnt'], pkname: 'sda' }],
    },
    {
      name: 'nvme0n1', path: '/dev/nvme0n1', type: 'disk', size: 512110190592, ro: false, mountpoints: [null], pkname: null,
      children: [
        { name: 'nvme0n1p1', path: '/dev/nvme0n1p1', type: 'part', size: 536870912, ro: false, mountpoints: [null], pkname: 'nvme0n1' },
        { name: 'nvme0n1p2', path: '/dev/nvme0n1p2', type: 'part', size: 1073741824, ro: false, mountpoints: [null], pkname: 'nvme0n1' },
        {
          name: 'nvme0n1p3', path: '/dev/nvme0n1p3', type: 'part', size: 510497456128, ro: false, mountpoints: [null], pkname: 'nvme0n1',
          children: [
            {
              name: 'cryptroot', path: '/dev/mapper/cryptroot', type: 'crypt', size: 510480678912, ro: false, mountpoints: [null], pkname: 'nvme0n1p3',
              children: [{ name: 'vg0-root', path: '/dev/mapper/vg0-root', type: 'lvm', size: 107374182400, ro: false, mountpoints: [null], pkname: 'cryptroot' }],
            },
          ],
        },
      ],
    },
  ],
});

const device = (devices: BlockDevice[], path: string): BlockDevice => devices.find((entry) => entry.path === path) as BlockDevice;

describe('block devices', () => {
  const devices = parseLsblk(LSBLK);

  it('flattens the tree with parents and child types', () => {
    expect(devices.map((entry) => entry.path)).toEqual([
      '/dev/loop0', '/dev/sda', '/dev/sda1', '/dev/nvme0n1', '/dev/nvme0n1p1', '/dev/nvme0n1p2', '/dev/nvme0n1p3', '/dev/mapper/cryptroot', '/dev/mapper/vg0-root',
    ]);
    expect(device(devices, '/dev/nvme0n1p3')).toMatchObject({ parent: '/dev/nvme0n1', childTypes: ['crypt'], childPaths: ['/dev/mapper/cryptroot'] });
    expect(device(devices, '/dev/loop0')).toMatchObject({ readOnly: true, mountpoints: ['/run/archiso/airootfs'] });
  });

  it('refuses what is not lsblk JSON, naming lsblk', () => {
    expect(() => parseLsblk('lsblk: unknown column')).toThrow(/lsblk --json printed something that is not JSON/);
    expect(() => parseLsblk('{"blockdevices":[{"name":"x"}]}')).toThrow(/unexpected shape/);
  });

  it('reads blkid -p export output, unescaping values', () => {
    expect(parseBlkidExport('DEVNAME=/dev/sda2\nLABEL=my\\ root\nUUID=1234\nTYPE=ext4\nUSAGE=filesystem\nPART_ENTRY_UUID=abcd\nPART_ENTRY_NAME=gentoo\n')).toEqual({
      type: 'ext4', uuid: '1234', label: 'my root', partUuid: 'abcd', partLabel: 'gentoo', usage: 'filesystem',
    });
  });

  it('probes root filesystems, reports a closed LUKS container with the command that opens it, skips the rest', () => {
    const locked = classifyDevice({ ...device(devices, '/dev/nvme0n1p3'), childTypes: [], childPaths: [] }, { type: 'crypto_LUKS', uuid: 'u', label: undefined, partUuid: undefined, partLabel: undefined, usage: 'crypto' });
    expect(locked).toMatchObject({ kind: 'locked', howToOpen: expect.stringContaining('cryptsetup open /dev/nvme0n1p3 nvme0n1p3_crypt') });
    expect(classifyDevice(device(devices, '/dev/nvme0n1p3'), { type: 'crypto_LUKS', uuid: 'u', label: undefined, partUuid: undefined, partLabel: undefined, usage: 'crypto' })).toMatchObject({ kind: 'skip' });
    const pv = { type: 'LVM2_member', uuid: 'p', label: undefined, partUuid: undefined, partLabel: undefined, usage: 'raid' };
    expect(classifyDevice({ ...device(devices, '/dev/mapper/cryptroot'), childTypes: [] }, pv)).toMatchObject({ kind: 'locked', howToOpen: expect.stringContaining('vgchange -ay') });
    expect(classifyDevice(device(devices, '/dev/mapper/cryptroot'), pv)).toMatchObject({ kind: 'skip' });
    const member = { type: 'linux_raid_member', uuid: 'm', label: undefined, partUuid: undefined, partLabel: undefined, usage: 'raid' };
    expect(classifyDevice(device(devices, '/dev/nvme0n1p2'), member)).toMatchObject({ kind: 'locked', howToOpen: expect.stringContaining('mdadm --assemble --scan') });
    expect(classifyDevice(device(devices, '/dev/mapper/vg0-root'), { type: 'btrfs', uuid: 'b', label: undefined, partUuid: undefined, partLabel: undefined, usage: 'filesystem' })).toMatchObject({ kind: 'probe' });
    expect(classifyDevice(device(devices, '/dev/nvme0n1p1'), { type: 'vfat', uuid: 'e', label: undefined, partUuid: undefined, partLabel: undefined, usage: 'filesystem' })).toMatchObject({ kind: 'skip', reason: 'vfat is not a root filesystem' });
    expect(classifyDevice(device(devices, '/dev/nvme0n1'), undefined)).toMatchObject({ kind: 'skip', reason: expect.stringContaining('partition table') });
    expect(classifyDevice({ ...device(devices, '/dev/sda1'), mountpoints: ['/'] }, { type: 'ext4', uuid: 'x', label: undefined, partUuid: undefined, partLabel: undefined, usage: 'filesystem' })).toMatchObject({ kind: 'skip' });
  });
});

const evidence = (over: Partial<RootEvidence>): RootEvidence => ({ osId: undefined, osIdLike: [], osName: undefined, hasVarDbPkg: false, hasEtcPortage: false, looksLikeLinuxRoot: true, ...over });

describe('what is a Gentoo root, and which one', () => {
  it('os-release ID=gentoo or ID_LIKE, or both the package database and Portage configuration', () => {
    expect(isGentoo(evidence({ osId: 'gentoo' }))).toBe(true);
    expect(isGentoo(evidence({ osId: 'funtoo', osIdLike: ['gentoo'] }))).toBe(true);
    expect(isGentoo(evidence({ hasVarDbPkg: true, hasEtcPortage: true }))).toBe(true);
    expect(isGentoo(evidence({ hasEtcPortage: true }))).toBe(false);
    expect(isGentoo(evidence({ osId: 'debian' }))).toBe(false);
    expect(isGentoo(evidence({ osId: 'gentoo', looksLikeLinuxRoot: false }))).toBe(false);
    expect(parseOsRelease('NAME=Gentoo\nID=gentoo\nPRETTY_NAME="Gentoo Linux"\n')).toEqual({ id: 'gentoo', idLike: [], name: 'Gentoo Linux' });
  });

  const candidate = (device: string, subvolume: string | undefined, gentoo: boolean): RootCandidate => ({
    device, fsType: 'btrfs', uuid: undefined, label: undefined, sizeBytes: undefined, removable: false, subvolume, evidence: evidence({}), gentoo,
  });

  it('chooses the only Gentoo root; refuses to guess between several; --device and --subvolume pick', () => {
    expect(chooseRoot([candidate('/dev/a', undefined, false), candidate('/dev/a', '@', true)], {})).toMatchObject({ kind: 'chosen', candidate: { subvolume: '@' } });
    expect(chooseRoot([candidate('/dev/a', '@', true), candidate('/dev/b', undefined, true)], {})).toMatchObject({ kind: 'several' });
    expect(chooseRoot([candidate('/dev/a', '@', true), candidate('/dev/b', undefined, true)], { device: '/dev/b' })).toMatchObject({ kind: 'chosen', candidate: { device: '/dev/b' } });
    expect(chooseRoot([candidate('/dev/a', '@', true), candidate('/dev/a', '@gentoo', true)], { subvolume: '/@gentoo' })).toMatchObject({ kind: 'chosen', candidate: { subvolume: '@gentoo' } });
    expect(chooseRoot([candidate('/dev/a', undefined, false)], {})).toEqual({ kind: 'none' });
  });

  it('does not take the only root by itself beside a locked device, or on a stick; --device does', () => {
    const only = [candidate('/dev/sdb1', undefined, true)];
    expect(chooseRoot(only, {}, { lockedDevices: ['/dev/nvme0n1p3'] })).toMatchObject({ kind: 'unsure', reason: '/dev/nvme0n1p3 is locked and could hold the real root' });
    expect(chooseRoot([{ ...(only[0] as RootCandidate), removable: true }], {})).toMatchObject({ kind: 'unsure', reason: expect.stringContaining('removable') });
    expect(chooseRoot(only, { device: '/dev/sdb1' }, { lockedDevices: ['/dev/nvme0n1p3'] })).toMatchObject({ kind: 'chosen' });
  });

  it('reads without writing: no journal or log replay on the looks', () => {
    expect(lookOnlyOptions('ext4')).toEqual(['ro', 'noload']);
    expect(lookOnlyOptions('xfs')).toEqual(['ro', 'norecovery']);
    expect(lookOnlyOptions('btrfs')).toEqual(['ro', 'rescue=nologreplay']);
  });
});

describe('the fstab entries the repair mounts', () => {
  const known = (path: string, fs: Partial<KnownDevice['fs']> & { type: string }): KnownDevice => ({
    device: { name: path.slice(5), path, type: 'part', sizeBytes: 1, readOnly: false, removable: false, mountpoints: [], parent: undefined, childTypes: [], childPaths: [] },
    fs: { uuid: undefined, label: undefined, partUuid: undefined, partLabel: undefined, usage: 'filesystem', ...fs },
  });
  const devices = [
    known('/dev/sda2', { type: 'btrfs', uuid: 'AAAA-root', label: 'gentoo' }),
    known('/dev/sda1', { type: 'ext4', uuid: 'bbbb-boot', partLabel: 'boot' }),
    known('/dev/sdb1', { type: 'xfs', uuid: 'cccc-var', label: 'var disk' }),
    known('/dev/sdc1', { type: 'ext4', uuid: 'same' }),
    known('/dev/sdd1', { type: 'ext4', uuid: 'same' }),
  ];
  const fstab = parseFstab(
    [
      'UUID=aaaa-root  /            btrfs  subvol=@,noatime,compress=zstd  0 0',
      'PARTLABEL=boot  /boot        ext4   noauto,noatime,x-systemd.automount  0 2',
      '/dev/disk/by-label/var\\x20disk  /var  xfs  defaults,nofail  0 2',
      'UUID=aaaa-root  /var/log     btrfs  subvol=@log,noatime  0 0',
      'UUID=same       /var/cache   ext4   defaults  0 2',
      'UUID=gone       /usr/portage ext4   defaults  0 2',
      'LABEL=gentoo    /home        btrfs  subvol=@home  0 0',
      'tmpfs           /var/tmp/portage tmpfs size=4G  0 0',
      'server:/distfiles /var/cache/distfiles nfs ro 0 0',
      '/srv/bind       /var/lib/x   none   bind  0 0',
      '/var/evil       /var/../etc  ext4   defaults 0 0',
      '',
    ].join('\n'),
  );

  it('mounts /boot, /usr, /var and below, by UUID, PARTLABEL and by-label links; keeps the options that say how, drops those that say when', () => {
    const plan = planFstabMounts(fstab, devices, { device: '/dev/sda2', fsType: 'btrfs', sameDisk: () => true });
    expect(plan.map((entry) => [entry.entry.mountPoint, entry.device, entry.fsType, entry.options.join(','), entry.skip, entry.required])).toEqual([
      ['/boot', '/dev/sda1', 'ext4', 'noatime', undefined, false],
      ['/var', '/dev/sdb1', 'xfs', '', undefined, true],
      ['/var/log', '/dev/sda2', 'btrfs', 'subvol=@log,noatime', undefined, true],
      ['/var/cache', undefined, 'ext4', '', 'no single device of this machine is UUID=same', false],
      ['/usr/portage', undefined, 'ext4', '', 'no single device of this machine is UUID=gone', false],
      ['/var/../etc', undefined, 'ext4', '', 'its mount point has .. in it', false],
    ]);
  });

  it('passes on only the options that say how a filesystem reads and writes, and only filesystem types it knows', () => {
    const entries = parseFstab(
      [
        'UUID=bbbb-boot /boot ext4 X-mount.mkdir,X-mount.mode=0777,loop,offset=0,helper=udisks2,uid=0,noatime,x-systemd.automount,user,remount,shared 0 2',
        'LABEL=var\\040disk /var ntfs-3g defaults 0 0',
        '',
      ].join('\n'),
    );
    const plan = planFstabMounts(entries, devices, { device: '/dev/sda2', fsType: 'btrfs', sameDisk: () => true });
    expect(plan.map((entry) => [entry.entry.mountPoint, entry.options.join(','), entry.skip])).toEqual([
      ['/boot', 'uid=0,noatime', undefined],
      ['/var', '', 'fstab says ntfs-3g, and /dev/sdb1 holds xfs'],
    ]);
  });

  it('never mounts a member of an array or a container, a device in use, a kernel name off the root disk, or one filesystem twice', () => {
    const raid = known('/dev/sde1', { type: 'linux_raid_member', uuid: 'r' });
    const busy = { ...known('/dev/sdf1', { type: 'ext4', uuid: 'busy' }), device: { ...known('/dev/sdf1', { type: 'ext4' }).device, mountpoints: ['/run/media/x'] } };
    const other = known('/dev/sdg1', { type: 'ext4', uuid: 'g' });
    const entries = parseFstab(
      ['/dev/sde1 /usr ext4 defaults 0 0', 'UUID=busy /var ext4 defaults 0 0', '/dev/sdg1 /var/log ext4 defaults 0 0', 'UUID=bbbb-boot /boot ext4 defaults 0 0', 'UUID=bbbb-boot /var/db ext4 defaults 0 0', ''].join('\n'),
    );
    const plan = planFstabMounts(entries, [...devices, raid, busy, other], { device: '/dev/sda2', fsType: 'btrfs', sameDisk: (device) => device !== '/dev/sdg1' });
    expect(plan.map((entry) => [entry.entry.mountPoint, entry.skip, entry.required])).toEqual([
      ['/usr', '/dev/sde1 is a linux_raid_member, not a filesystem: open, assemble or activate it and mount it by hand', true],
      ['/var', 'the live system has /dev/sdf1 mounted at /run/media/x', true],
      ['/boot', undefined, false],
      ['/var/log', expect.stringContaining('/dev/sdg1 is a kernel name, and names move on a live system'), true],
      ['/var/db', '/dev/sda1 is mounted already for this rescue; one filesystem is never mounted twice', true],
    ]);
  });

  it('matches UUIDs without regard to case, never guesses between two devices with one UUID', () => {
    expect(resolveSource('UUID=AAAA-ROOT', devices)?.device.path).toBe('/dev/sda2');
    expect(resolveSource('UUID=same', devices)).toBeUndefined();
    expect(resolveSource('/dev/sdb1', devices)?.device.path).toBe('/dev/sdb1');
    expect(resolveSource('/dev/disk/by-partlabel/boot', devices)?.device.path).toBe('/dev/sda1');
    expect(resolveSource('LABEL="var disk"', devices)?.device.path).toBe('/dev/sdb1');
  });
});

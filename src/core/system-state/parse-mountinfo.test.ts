import { describe, expect, it } from 'vitest';
import { isMountPoint, mountsUnder, parseMountinfo } from './parse-mountinfo.ts';

// Lines in the kernel's format (proc(5)), including an escaped space and a bind mount with propagation.
const SAMPLE = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw',
  '90 22 0:5 / /mnt/gentoo/dev rw,nosuid master:2 - devtmpfs udev rw,size=4096k',
  '91 90 0:24 / /mnt/gentoo/dev/pts rw,nosuid,noexec master:3 - devpts devpts rw,gid=5,mode=620',
  '92 22 8:1 /home/a\\040b /mnt/my\\040data rw - ext4 /dev/sda1 rw',
  'garbage line without separator',
].join('\n');

describe('parseMountinfo', () => {
  it('reads every field and unescapes paths', () => {
    const entries = parseMountinfo(SAMPLE);
    expect(entries).toHaveLength(5);
    expect(entries[2]).toMatchObject({ mountId: 90, parentId: 22, mountPoint: '/mnt/gentoo/dev', fsType: 'devtmpfs', source: 'udev', propagation: ['master:2'] });
    expect(entries[4]).toMatchObject({ root: '/home/a b', mountPoint: '/mnt/my data' });
  });

  it('lists mounts under a path deepest first', () => {
    const entries = parseMountinfo(SAMPLE);
    expect(mountsUnder(entries, '/mnt/gentoo').map((entry) => entry.mountPoint)).toEqual(['/mnt/gentoo/dev/pts', '/mnt/gentoo/dev']);
    expect(mountsUnder(entries, '/mnt/gent')).toEqual([]);
    expect(isMountPoint(entries, '/proc')).toBe(true);
    expect(isMountPoint(entries, '/mnt/gentoo')).toBe(false);
  });
});

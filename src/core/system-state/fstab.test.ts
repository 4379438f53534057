import { describe, expect, it } from 'vitest';
import { auditFstab, parseFstab } from './fstab.ts';

const FSTAB = `# <fs>                  <mountpoint>    <type>  <opts>          <dump/pass>
UUID=1111               /               ext4    noatime         0 1
UUID=2222               /boot           vfat    noauto,noatime  1 2
UUID=3333               none            swap    sw              0 0
LABEL=homedisk          /home/shared    ext4    defaults        0 2
LABEL=media             /mnt/media      xfs     nofail          0 2
/srv/data               /home/alice/data none   bind            0 0
/gone                   /mnt/gone        none   bind            0 0
tmpfs                   /var/tmp/portage tmpfs  size=8G         0 0
/dev/sdc1               /mnt/my\\040disk ext4   defaults        0 2
`;

describe('parseFstab and auditFstab', () => {
  it('finds data mounts without nofail and binds whose source is gone', () => {
    const entries = parseFstab(FSTAB);
    expect(entries).toHaveLength(9);
    expect(entries[8]?.mountPoint).toBe('/mnt/my disk');
    const findings = auditFstab(entries, { systemd: false, exists: (path) => path === '/srv/data' });
    expect(findings.map((finding) => [finding.entry.mountPoint, finding.problem])).toEqual([
      ['/home/shared', 'missing-nofail'],
      ['/mnt/gone', 'bind-source-missing'],
      ['/mnt/my disk', 'missing-nofail'],
    ]);
  });

  it('on systemd also wants x-systemd.automount on data mounts', () => {
    const findings = auditFstab(parseFstab(FSTAB), { systemd: true, exists: () => true });
    expect(findings.map((finding) => [finding.entry.mountPoint, finding.problem])).toContainEqual(['/mnt/media', 'missing-automount']);
  });
});

/** One line of /etc/fstab (fstab(5)). */
export interface FstabEntry {
  readonly line: number;
  readonly source: string;
  readonly mountPoint: string;
  readonly type: string;
  readonly options: readonly string[];
}

/** fstab escapes spaces in fields as \040. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export function parseFstab(text: string): FstabEntry[] {
  const entries: FstabEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [source, mountPoint, type, options = 'defaults'] = line.split(/\s+/);
    if (source === undefined || mountPoint === undefined || type === undefined) return;
    entries.push({ line: index + 1, source: unescape(source), mountPoint: unescape(mountPoint), type, options: options.split(',') });
  });
  return entries;
}

/** Mounts the system needs to boot at all; a failure there is fatal anyway and nofail would hide it. */
const SYSTEM_MOUNTS = new Set(['/', '/usr', '/var', '/boot', '/boot/efi', '/efi', '/tmp', '/var/tmp', '/home/root']);
const VIRTUAL_TYPES = new Set(['swap', 'proc', 'sysfs', 'tmpfs', 'devpts', 'devtmpfs', 'efivarfs', 'cgroup', 'cgroup2', 'debugfs', 'securityfs', 'configfs', 'none']);

export interface FstabFinding {
  readonly entry: FstabEntry;
  readonly problem: 'missing-nofail' | 'missing-automount' | 'bind-source-missing';
}

/**
 * Data mounts (a shared home disk, a media disk) without `nofail` stop the boot in emergency mode when
 * the disk is absent; on systemd they also want `x-systemd.automount`. Bind mounts need their source.
 */
export function auditFstab(entries: readonly FstabEntry[], context: { systemd: boolean; exists: (path: string) => boolean }): FstabFinding[] {
  const findings: FstabFinding[] = [];
  for (const entry of entries) {
    const isBind = entry.options.includes('bind') || entry.options.includes('rbind');
    if (isBind) {
      if (!context.exists(entry.source)) findings.push({ entry, problem: 'bind-source-missing' });
      continue;
    }
    if (SYSTEM_MOUNTS.has(entry.mountPoint) || VIRTUAL_TYPES.has(entry.type) || entry.options.includes('noauto')) continue;
    if (!entry.options.includes('nofail')) findings.push({ entry, problem: 'missing-nofail' });
    else if (context.systemd && !entry.options.includes('x-systemd.automount')) findings.push({ entry, problem: 'missing-automount' });
  }
  return findings;
}

import * as path from 'node:path/posix';
import { auditFstab, parseFstab } from '../../core/system-state/fstab.ts';
import type { RootedFs } from '../../system/rooted-fs.ts';
import type { Check } from '../types.ts';

export const fstabCheck: Check = {
  id: 'fstab',
  budgetMs: 10_000,
  async run({ system }) {
    const text = await system.target.readTextIfExists('/etc/fstab');
    if (text === undefined) return { status: 'warn', summary: '/etc/fstab does not exist', details: {} };
    const entries = parseFstab(text);
    const systemd = (await system.target.readlink('/sbin/init').catch(() => '')).includes('systemd');
    const sources = new Map<string, boolean>();
    for (const entry of entries) if (entry.options.includes('bind') || entry.options.includes('rbind')) sources.set(entry.source, await system.target.exists(entry.source));
    const findings = auditFstab(entries, { systemd, exists: (source) => sources.get(source) ?? false });
    const details = { findings: findings.map((finding) => ({ line: finding.entry.line, mountPoint: finding.entry.mountPoint, problem: finding.problem })) };
    if (findings.length === 0) return { status: 'pass', summary: `${entries.length} entries; data mounts carry nofail`, details };
    const words = findings.map((finding) => `${finding.entry.mountPoint} (${finding.problem.replace(/-/g, ' ')})`);
    return {
      status: 'warn',
      summary: `fstab not hardened: ${words.join(', ')}`,
      details,
      advice: 'Add nofail (and x-systemd.automount on systemd) to data mounts, so a missing disk cannot stop the boot.',
    };
  },
};

/** Unread news items: `news-<repo>.unread` as Portage keeps it in /var/lib/gentoo/news (eselect news reads the same). */
export const newsCheck: Check = {
  id: 'news',
  budgetMs: 10_000,
  async run({ system }) {
    const dir = '/var/lib/gentoo/news';
    const unread: string[] = [];
    if (await system.target.isDirectory(dir)) {
      for (const entry of await system.target.readdir(dir)) {
        if (!entry.name.endsWith('.unread')) continue;
        const items = ((await system.target.readTextIfExists(path.join(dir, entry.name))) ?? '').split('\n').map((line) => line.trim()).filter(Boolean);
        unread.push(...items);
      }
    }
    if (unread.length === 0) return { status: 'pass', summary: 'no unread news', details: { unread } };
    return { status: 'warn', summary: `${unread.length} unread news item${unread.length === 1 ? '' : 's'}: ${unread.slice(0, 3).join(', ')}${unread.length > 3 ? ', …' : ''}`, details: { unread }, advice: 'Read them first: eselect news read.' };
  },
};

/** `._cfg0000_name` files left by an earlier update under CONFIG_PROTECT (/etc by default). */
async function findConfigUpdates(target: RootedFs, dir: string, found: string[], depth: number): Promise<void> {
  if (depth > 8 || found.length >= 200) return;
  let entries;
  try {
    entries = await target.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EACCES' || (error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (/^\._cfg\d{4}_/.test(entry.name)) found.push(full);
    else if (entry.type === 'directory') await findConfigUpdates(target, full, found, depth + 1);
  }
}

export const configUpdatesCheck: Check = {
  id: 'config-updates',
  budgetMs: 20_000,
  async run({ system }) {
    const found: string[] = [];
    await findConfigUpdates(system.target, '/etc', found, 0);
    if (found.length === 0) return { status: 'pass', summary: 'no pending configuration updates', details: { files: [] } };
    return { status: 'warn', summary: `${found.length} pending configuration update${found.length === 1 ? '' : 's'} (${found[0]}${found.length > 1 ? ', …' : ''})`, details: { files: found }, advice: 'Merge them first: dispatch-conf or etc-update.' };
  },
};

export const preservedLibsCheck: Check = {
  id: 'preserved-libs',
  budgetMs: 10_000,
  async run({ system }) {
    const text = await system.target.readTextIfExists('/var/lib/portage/preserved_libs_registry');
    let entries: string[] = [];
    try {
      entries = text === undefined || text.trim() === '' ? [] : Object.keys(JSON.parse(text) as Record<string, unknown>);
    } catch {
      return { status: 'warn', summary: 'the preserved-libs registry is not valid JSON', details: {}, advice: 'Run emerge @preserved-rebuild.' };
    }
    if (entries.length === 0) return { status: 'pass', summary: 'no preserved libraries waiting for a rebuild', details: { packages: [] } };
    return { status: 'warn', summary: `${entries.length} package${entries.length === 1 ? '' : 's'} keep preserved libraries (${entries.slice(0, 3).join(', ')})`, details: { packages: entries }, advice: 'Run emerge @preserved-rebuild first.' };
  },
};

/** A second bootable entry: another kernel, another OS, or a snapshot entry (grub-btrfs). */
export const bootFallbackCheck: Check = {
  id: 'boot-fallback',
  budgetMs: 10_000,
  async run({ system }) {
    const entries: string[] = [];
    for (const file of ['/boot/grub/grub.cfg', '/boot/grub2/grub.cfg']) {
      const text = await system.target.readTextIfExists(file);
      if (text === undefined) continue;
      for (const match of text.matchAll(/^\s*menuentry\s+['"]([^'"]+)['"]/gm)) entries.push(match[1] as string);
    }
    for (const dir of ['/boot/loader/entries', '/efi/loader/entries', '/boot/efi/loader/entries']) {
      if (!(await system.target.isDirectory(dir))) continue;
      for (const entry of await system.target.readdir(dir)) if (entry.name.endsWith('.conf')) entries.push(entry.name);
    }
    const details = { entries };
    if (entries.length >= 2) return { status: 'pass', summary: `${entries.length} boot entries (fallback: ${entries[1]})`, details };
    return {
      status: 'warn',
      summary: entries.length === 0 ? 'no boot loader entries found (GRUB or systemd-boot)' : 'only one boot entry: no fallback if it breaks',
      details,
      advice: 'Keep the previous kernel as a second entry, or add snapshot entries (grub-btrfs).',
    };
  },
};

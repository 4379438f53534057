import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT } from './run-cli.ts';

export const CLUSTERHQ = join(PROJECT, 'test/fixtures/gentoo/clusterhq-prefix');
export const CLUSTERHQ_MD5_CACHE = join(CLUSTERHQ, 'md5-cache-installed');
export const CLUSTERHQ_EMERGE_LOG = join(CLUSTERHQ, 'var/log/emerge.log');
export const JOEPASSS_AMD64_INDEX = join(PROJECT, 'test/fixtures/gentoo/joepasss-gpkg-binhost/amd64/Packages');

/**
 * The clusterhq prefix has no saved `emerge -pv` output; this writes the one that rebuilds it: every installed
 * package that has an md5-cache entry, in merge order (VDB COUNTER), each `[ebuild   R    ]` line with the USE
 * the VDB records (flags of its IUSE, enabled or `-disabled`), as Portage prints them.
 */
export async function clusterhqRebuildPlan(): Promise<string> {
  const rows: { counter: number; line: string }[] = [];
  for (const category of (await readdir(CLUSTERHQ_MD5_CACHE)).sort()) {
    for (const pf of (await readdir(join(CLUSTERHQ_MD5_CACHE, category))).sort()) {
      const vdb = join(CLUSTERHQ, 'var/db/pkg', category, pf);
      const read = async (name: string): Promise<string> => (await readFile(join(vdb, name), 'utf8').catch(() => '')).trim();
      const enabled = new Set((await read('USE')).split(/\s+/));
      const iuse = [...new Set((await read('IUSE')).split(/\s+/).filter((flag) => flag !== '').map((flag) => flag.replace(/^[+-]/, '')))].sort();
      const use = iuse.map((flag) => (enabled.has(flag) ? flag : `-${flag}`)).join(' ');
      const counter = Number(await read('COUNTER')) || 0;
      rows.push({ counter, line: `[ebuild   R    ] ${category}/${pf}${use === '' ? '' : `  USE="${use}"`} 0 KiB` });
    }
  }
  rows.sort((a, b) => a.counter - b.counter || (a.line < b.line ? -1 : 1));
  return `${rows.map((row) => row.line).join('\n')}\n\nTotal: ${rows.length} packages (${rows.length} reinstalls), Size of downloads: 0 KiB\n`;
}

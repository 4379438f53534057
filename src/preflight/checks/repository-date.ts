/**
 * The date of the repository snapshot an update goes to: the `metadata/timestamp.chk` that every Gentoo
 * repository sync (rsync mirror, emerge-webrsync, the git mirror's metadata) writes, in the gentoo
 * repository of the target. A binhost built before that date lacks what the snapshot changed.
 */

import { parseBinreposConf } from '../../core/gentoo/parse-binrepos-conf.ts';
import type { RootedFs } from '../../system/rooted-fs.ts';
import { readConfigFiles } from '../../system/gentoo/read-config-files.ts';
import { readMakeConf } from '../../system/gentoo/read-make-conf.ts';

export interface RepositoryDate {
  /** Path inside the target root of the file the date was read from. */
  readonly file: string;
  readonly date: Date;
}

/** Where Portage looks when repos.conf and make.conf say nothing: the current default, then the old one. */
const DEFAULT_LOCATIONS = ['/var/db/repos/gentoo', '/usr/portage'];

/**
 * The gentoo repository's `location` from repos.conf (configparser syntax, as binrepos.conf; later files win),
 * else make.conf's PORTDIR, else the defaults.
 */
async function repositoryLocations(target: RootedFs): Promise<string[]> {
  let location: string | undefined;
  for (const file of await readConfigFiles(target, '/etc/portage/repos.conf')) {
    const section = parseBinreposConf(file.text, { file: file.path }).sections.find((entry) => entry.name === 'gentoo');
    const value = section?.options.get('location')?.value.trim();
    if (value !== undefined && value !== '') location = value;
  }
  if (location !== undefined) return [location];
  const portdir = (await readMakeConf(target)).vars['PORTDIR'];
  return portdir === undefined || portdir === '' ? DEFAULT_LOCATIONS : [portdir];
}

/** `Tue, 16 Sep 2014 14:37:20 +0000` (date -R, as the mirrors write it); undefined when it is not a date. */
export function parseTimestampChk(text: string): Date | undefined {
  const line = text.split('\n')[0]?.trim() ?? '';
  const millis = Date.parse(line);
  return line === '' || Number.isNaN(millis) ? undefined : new Date(millis);
}

/** The snapshot's date, or undefined when the target has no readable timestamp.chk (never synced, or no Portage). */
export async function readRepositoryDate(target: RootedFs): Promise<RepositoryDate | undefined> {
  for (const location of await repositoryLocations(target)) {
    const file = `${location.replace(/\/+$/, '')}/metadata/timestamp.chk`;
    const text = await target.readTextIfExists(file);
    const date = text === undefined ? undefined : parseTimestampChk(text);
    if (date !== undefined) return { file, date };
  }
  return undefined;
}

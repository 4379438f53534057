/**
 * `emerge --sync`, as a drone runs it through `build-swarm sync`: Portage syncs every repository of the config
 * root's repos.conf and prints, per repository, `>>> Syncing repository 'NAME' into 'LOCATION'...` then
 * `=== Sync completed for NAME` (lib/portage/emaint/modules/sync/sync.py, lib/_emerge/actions.py). The fake has
 * one repository, `gentoo`, at `<PORTAGE_CONFIGROOT>/var/db/repos/gentoo`: a sync writes the UTC time into its
 * `metadata/timestamp.chk` in the format Gentoo's rsync mirrors use. A file `fake-sync-fails` in the config
 * root's /etc/portage makes it fail as a broken mirror does (exit 1).
 */

import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function syncRepos(env: NodeJS.ProcessEnv, stdout: (text: string) => void, stderr: (text: string) => void): number {
  const configRoot = env.PORTAGE_CONFIGROOT ?? '/';
  const location = join(configRoot, 'var/db/repos/gentoo');
  stdout(`>>> Syncing repository 'gentoo' into '${location}'...\n`);
  if (existsSync(join(configRoot, 'etc/portage/fake-sync-fails'))) {
    stderr(`!!! Rsync has not successfully finished. It is recommended that you keep\n!!! trying or that you use the 'emerge-webrsync' option if you are unable\n!!! to use rsync due to firewall or other restrictions.\n`);
    stdout(`Action: sync for repo: gentoo, returned code = 1\n`);
    return 1;
  }
  mkdirSync(join(location, 'metadata'), { recursive: true });
  const stamp = new Date().toUTCString().replace(/ GMT$/, ' +0000');
  const file = join(location, 'metadata/timestamp.chk');
  writeFileSync(`${file}.new`, `${stamp}\n`);
  renameSync(`${file}.new`, file);
  stdout(`=== Sync completed for gentoo\n`);
  return 0;
}

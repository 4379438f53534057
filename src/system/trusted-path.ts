/**
 * Whether a folder argo keeps secrets or serves files from can be swapped under it by another local user: every
 * folder above it must be root's (or this user's) and writable by nobody else, as sshd's StrictModes asks of a
 * home folder. A sticky folder writable by all (/tmp, /var/tmp) is allowed: there only an entry's owner may
 * rename or remove it, and the entry below it is checked in turn. No symbolic link on the way: its target is
 * another path, checked by nobody.
 */

import { lstat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ArgoError } from '../core/errors.ts';

/** Throws ARGO_UNSAFE_PATH naming the first folder above `path` another user could change. */
export async function checkAncestors(path: string, what: string): Promise<void> {
  const euid = process.geteuid?.() ?? 0;
  const ancestors: string[] = [];
  for (let folder = dirname(resolve(path)); ; folder = dirname(folder)) {
    ancestors.unshift(folder);
    if (folder === dirname(folder)) break;
  }
  for (const folder of ancestors) {
    const info = await lstat(folder);
    const problem = info.isSymbolicLink()
      ? 'it is a symbolic link'
      : info.uid !== 0 && info.uid !== euid
        ? `it is owned by uid ${info.uid}`
        : (info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0
          ? `its mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')} lets group or others write in it`
          : undefined;
    if (problem !== undefined) {
      throw new ArgoError('ARGO_UNSAFE_PATH', `${what} ${path} is refused: the folder ${folder} above it can be changed by others (${problem})`, {
        hint: 'Give a path whose every folder is root\'s and writable by root alone (no symbolic link on the way), e.g. under /var/lib.',
        details: { path, folder, problem },
      });
    }
  }
}

import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path/posix';
import { CHROOT_ENV } from '../system/chroot-session.ts';
import { readVdb } from '../system/gentoo/read-vdb.ts';
import type { System } from '../system/open-system.ts';
import { createPrivateDirInside } from '../system/private-dir.ts';
import { testCrypt } from './test-crypt.ts';
import { compactTimestamp } from '../core/compact-timestamp.ts';

const LIBCRYPT_DIRS = ['/usr/lib64', '/lib64', '/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib', '/lib'];

/** The target's live libcrypt.so.1, resolved to the real file (`/usr/lib64/libcrypt.so.1.1.0`). */
export async function liveLibcrypt(system: System): Promise<{ dir: string; file: string } | undefined> {
  for (const dir of LIBCRYPT_DIRS) {
    if (await system.target.exists(path.join(dir, 'libcrypt.so.1'))) return { dir, file: await system.target.realpath(path.join(dir, 'libcrypt.so.1')) };
  }
  return undefined;
}

/** The package whose CONTENTS records the replaced file, and what Portage's record says now. */
export interface PortageRecord {
  /** `sys-libs/libxcrypt-4.4.36-r3`. */
  readonly cpv: string;
  /** False: the installed file no longer has the md5 in CONTENTS (qcheck/emerge would report it modified). */
  readonly matches: boolean;
  /** What to run to make the package's files and its record agree again. */
  readonly reinstall: string;
}

export type RestoreResult =
  | {
      readonly restored: true;
      readonly file: string;
      /** The file that was live before, kept root-only next to it (`<file>.argo-replaced-<id>`), inside the target. */
      readonly replacedCopy: string;
      /** The owning package's record of the file, or undefined when no installed package owns it. */
      readonly portage: PortageRecord | undefined;
    }
  | { readonly restored: false; readonly reason: string };

/**
 * Puts the libcrypt of an older tree (a snapshot, `/.snapshots/12/snapshot`) back in place of the live one,
 * but only after that copy passed the crypt test for every prefix with the target's own perl
 * (LD_LIBRARY_PATH pointing at a fresh private scratch copy). The install is an atomic replacement of the real
 * file; the file it replaces is kept first as `<file>.argo-replaced-<id>` (0600 root). The package that owns
 * the file (from the VDB's CONTENTS) now has a record that no longer matches: the result names it and the
 * re-emerge that puts record and file back in step. Shared by `argo recover`'s snapshot pivot and
 * `apkg update`'s repair.
 */
export async function restoreLibcryptFrom(system: System, tree: string, prefixes: readonly string[], signal: AbortSignal): Promise<RestoreResult> {
  const { target, commands } = system;
  const live = await liveLibcrypt(system);
  if (live === undefined) return { restored: false, reason: 'the target has no libcrypt.so.1 to replace' };
  const candidate = path.join(tree, live.file);
  if (!(await target.exists(candidate))) return { restored: false, reason: `${tree} has no ${live.file}` };
  const replacement = await target.readBytes(candidate);
  // A fresh 0700 folder each time: a fixed name in /var/tmp could be planted by a local user first.
  const checkDir = await createPrivateDirInside(target, '/var/tmp', 'argo-libcrypt-check');
  try {
    await target.writeFileAtomic(path.join(checkDir.inside, 'libcrypt.so.1'), replacement, { mode: 0o644 });
    const withCopy = { ...commands, run: (file: string, args: readonly string[], options = {}) => commands.run(file, args, { ...options, env: { ...CHROOT_ENV, LD_LIBRARY_PATH: checkDir.inside } }) };
    const check = await testCrypt(withCopy, prefixes, signal);
    if (!check.allOk) return { restored: false, reason: `the libcrypt in ${tree} fails the crypt test too` };
  } finally {
    checkDir.remove();
  }
  const replacedCopy = `${live.file}.argo-replaced-${compactTimestamp(system.clock.now())}-${randomBytes(3).toString('hex')}`;
  await target.writeFileAtomic(replacedCopy, await target.readBytes(live.file), { mode: 0o600, uid: 0, gid: 0 });
  await target.writeFileAtomic(live.file, replacement);
  return { restored: true, file: live.file, replacedCopy, portage: await portageRecordOf(system, live.file, replacement, signal) };
}

/** The installed package whose CONTENTS lists `file` (under any of the folder spellings a merged /usr allows). */
async function portageRecordOf(system: System, file: string, installed: Uint8Array, signal: AbortSignal): Promise<PortageRecord | undefined> {
  const spellings = new Set([file, file.replace(/^\/usr\/lib/, '/lib'), file.replace(/^\/lib/, '/usr/lib')]);
  const md5 = createHash('md5').update(installed).digest('hex');
  const vdb = await readVdb(system.target, { signal });
  for (const pkg of vdb.packages) {
    const entry = pkg.contents.find((item) => item.type === 'obj' && spellings.has(item.path));
    if (entry === undefined || entry.type !== 'obj') continue;
    return { cpv: pkg.cpv, matches: entry.md5 === md5, reinstall: `emerge --oneshot ${pkg.category}/${pkg.pn}` };
  }
  return undefined;
}

import * as path from 'node:path/posix';
import { CHROOT_ENV } from '../system/chroot-session.ts';
import type { System } from '../system/open-system.ts';
import { testCrypt } from './test-crypt.ts';

const LIBCRYPT_DIRS = ['/usr/lib64', '/lib64', '/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib', '/lib'];

/** The target's live libcrypt.so.1, resolved to the real file (`/usr/lib64/libcrypt.so.1.1.0`). */
export async function liveLibcrypt(system: System): Promise<{ dir: string; file: string } | undefined> {
  for (const dir of LIBCRYPT_DIRS) {
    if (await system.target.exists(path.join(dir, 'libcrypt.so.1'))) return { dir, file: await system.target.realpath(path.join(dir, 'libcrypt.so.1')) };
  }
  return undefined;
}

export type RestoreResult = { readonly restored: true; readonly file: string } | { readonly restored: false; readonly reason: string };

/**
 * Puts the libcrypt of an older tree (a snapshot, `/.snapshots/12/snapshot`) back in place of the live one,
 * but only after that copy passed the crypt test for every prefix with the target's own perl
 * (LD_LIBRARY_PATH pointing at a scratch copy). The install is an atomic replacement of the real file.
 * Shared by `argo recover`'s snapshot pivot and `apkg update`'s repair.
 */
export async function restoreLibcryptFrom(system: System, tree: string, prefixes: readonly string[], signal: AbortSignal): Promise<RestoreResult> {
  const { target, commands } = system;
  const live = await liveLibcrypt(system);
  if (live === undefined) return { restored: false, reason: 'the target has no libcrypt.so.1 to replace' };
  const candidate = path.join(tree, live.file);
  if (!(await target.exists(candidate))) return { restored: false, reason: `${tree} has no ${live.file}` };
  const checkDir = '/var/tmp/argo-libcrypt-check';
  await target.mkdir(checkDir, 0o700);
  try {
    await target.writeFileAtomic(path.join(checkDir, 'libcrypt.so.1'), await target.readBytes(candidate), { mode: 0o644 });
    const withCopy = { ...commands, run: (file: string, args: readonly string[], options = {}) => commands.run(file, args, { ...options, env: { ...CHROOT_ENV, LD_LIBRARY_PATH: checkDir } }) };
    const check = await testCrypt(withCopy, prefixes, signal);
    if (!check.allOk) return { restored: false, reason: `the libcrypt in ${tree} fails the crypt test too` };
  } finally {
    await target.remove(checkDir);
  }
  await target.writeFileAtomic(live.file, await target.readBytes(candidate));
  return { restored: true, file: live.file };
}

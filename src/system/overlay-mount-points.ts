import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ArgoError } from '../core/errors.ts';
import { isMissing } from './fs-errors.ts';
import type { FileOverlay } from './overlay-argv.ts';
import type { RootedFs } from './rooted-fs.ts';

/**
 * Host path of the file an overlay is bound over, resolved inside the target as the kernel would after chroot.
 * Both ends must be regular files, never symlinks: mount(2) follows a symlink, and a link planted where the
 * target's file should be would move the bind (with a private copy of /etc/shadow) onto another file, or off
 * the target onto the host's own.
 */
export async function resolveOverlayMountPoint(target: RootedFs, overlay: FileOverlay): Promise<string> {
  if (!path.posix.isAbsolute(overlay.targetPath) || !path.isAbsolute(overlay.hostFile)) {
    throw new Error(`overlay paths must be absolute: ${overlay.hostFile} over ${overlay.targetPath}`);
  }
  const mountPoint = await target.resolveParent(overlay.targetPath);
  const notRegular = async (file: string): Promise<string | undefined> => {
    try {
      const stats = await fs.lstat(file);
      if (stats.isSymbolicLink()) return 'it is a symbolic link';
      return stats.isFile() ? undefined : 'it is not a regular file';
    } catch (error) {
      if (isMissing(error)) return 'it does not exist';
      throw error;
    }
  };
  for (const [file, shown] of [
    [mountPoint, `${overlay.targetPath} in ${target.root}`],
    [overlay.hostFile, overlay.hostFile],
  ] as const) {
    const reason = await notRegular(file);
    if (reason !== undefined) {
      throw new ArgoError('ARGO_MOUNT_FAILED', `Cannot bind a file over ${overlay.targetPath}: ${shown} is not usable, ${reason}`, {
        hint: 'A file is bound only over a regular file; look at it with ls -l.',
        details: { root: target.root, path: overlay.targetPath, reason },
      });
    }
  }
  return mountPoint;
}

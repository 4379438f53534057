import { constants as fsConstants, type Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArgoError } from '../core/errors.ts';
import { isMissing } from './fs-errors.ts';
import type { FileOverlay } from './overlay-argv.ts';
import { isPidAlive } from './pid-alive.ts';
import { withPrivateTempDir } from './private-dir.ts';
import type { RootedFs } from './rooted-fs.ts';

/**
 * Runs `work` with a private, edited copy of one of the target's files, ready to be bound over it
 * (RunOptions.overlays). The copy lives in a fresh 0700 folder of root's under the host's temporary folder
 * (a random name, created with mkdir and checked with lstat, so nothing a local user planted in /tmp is ever
 * reused), is created O_EXCL 0600 and only then given the original's owner, group and mode (so that a setgid
 * helper such as unix_chkpwd reads it as it reads the original), and is removed when `work` ends, however it ends.
 *
 * The original must be a regular file, not a symlink: the bind would otherwise land on whatever the link names.
 */
export async function withPrivateCopy<T>(target: RootedFs, file: string, edit: (text: string) => string, work: (overlay: FileOverlay) => Promise<T>): Promise<T> {
  const { text, stats } = await readRegularFile(target, file);
  const edited = edit(text);
  await sweepAbandonedCopies();
  return withPrivateTempDir(`${OVERLAY_PREFIX}-${process.pid}`, async (dir) => {
    const copy = path.join(dir, path.posix.basename(file));
    const handle = await fs.open(copy, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
    try {
      await handle.writeFile(edited);
      await handle.chown(stats.uid, stats.gid);
      await handle.chmod(stats.mode & 0o777);
    } finally {
      await handle.close();
    }
    return work({ hostFile: copy, targetPath: file });
  });
}

const OVERLAY_PREFIX = 'argo-overlay';
const ABANDONED = /^argo-overlay-(\d+)-/;

/**
 * Copies left by an argo that was SIGKILLed while it proved a login (the finally above never ran): folders of
 * ours, named with the pid of their argo, whose argo is gone. They may hold a copy of /etc/shadow, so they go
 * at the next proof. A pid that is alive (even reused by another program) keeps its folder for a later sweep.
 */
async function sweepAbandonedCopies(): Promise<void> {
  const base = os.tmpdir();
  for (const name of await fs.readdir(base).catch(() => [] as string[])) {
    const pid = ABANDONED.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isPidAlive(Number(pid))) continue;
    const folder = path.join(base, name);
    const stats = await fs.lstat(folder).catch(() => undefined);
    if (stats === undefined || !stats.isDirectory() || stats.uid !== (process.geteuid?.() ?? 0)) continue;
    await fs.rm(folder, { recursive: true, force: true });
  }
}

/** The text and the stats of one open of the file, refused when it is anything but a regular file. */
async function readRegularFile(target: RootedFs, file: string): Promise<{ text: string; stats: Stats }> {
  const handle = await openRegularFile(target, file);
  try {
    return { text: await handle.readFile('utf8'), stats: await handle.stat() };
  } finally {
    await handle.close();
  }
}

/**
 * Refuses a file that is not a regular file of the target (a symlink, a folder, nothing): for a file argo both
 * rewrites and binds a copy over, where a link would send the two to different places.
 */
export async function assertRegularFile(target: RootedFs, file: string): Promise<void> {
  await (await openRegularFile(target, file)).close();
}

async function openRegularFile(target: RootedFs, file: string): Promise<fs.FileHandle> {
  const host = await target.resolveParent(file);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(host, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (error) {
    if (isMissing(error)) throw new ArgoError('ARGO_FILE_NOT_FOUND', `${file} does not exist in ${target.root}`, { cause: error, details: { root: target.root, path: file } });
    if ((error as NodeJS.ErrnoException).code !== 'ELOOP') throw error;
    throw notRegular(target, file, 'it is a symbolic link');
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw notRegular(target, file, 'it is not a regular file');
  }
  return handle;
}

function notRegular(target: RootedFs, file: string, reason: string): ArgoError {
  return new ArgoError('ARGO_UNSAFE_PATH', `${file} in ${target.root} cannot be copied for a private bind: ${reason}`, {
    hint: `Look at it (ls -l ${file}): argo binds a copy only over a regular file.`,
    details: { root: target.root, path: file, reason },
  });
}

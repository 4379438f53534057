import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import { ArgoError } from '../core/errors.ts';

/**
 * Reads a file that holds a secret (a password, a password hash) given on the command line, refusing one that
 * others could read or change: it must be a regular file (not a symlink, FIFO or device: O_NOFOLLOW and
 * O_NONBLOCK so a FIFO cannot hang a run), owned by root (or the user argo runs as), with no permission bits
 * for group or others, and at most `maxBytes` long. The checks are made on the open descriptor (fstat), so the
 * file checked is the file read.
 */
export async function readPrivateFile(file: string, maxBytes: number, what: string): Promise<string> {
  const refuse = (reason: string, hint: string): ArgoError =>
    new ArgoError('ARGO_SECRET_FILE_UNSAFE', `The ${what} ${file} is refused: ${reason}`, { hint, details: { file, reason } });
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ArgoError('ARGO_FILE_NOT_FOUND', `The ${what} ${file} does not exist`, { hint: 'Give the path of a file on the machine argo runs on (not inside --root).', details: { file } });
    }
    if (code === 'ELOOP') throw refuse('it is a symbolic link', 'Give the real file, not a link to it.');
    throw error;
  }
  try {
    const stats = await handle.stat();
    const euid = process.geteuid?.() ?? 0;
    if (!stats.isFile()) throw refuse('it is not a regular file', 'Write the secret into a plain file (not a pipe or a device).');
    if (stats.uid !== 0 && stats.uid !== euid) throw refuse(`it is owned by uid ${stats.uid}, not root`, `chown root:root ${file}`);
    if ((stats.mode & 0o077) !== 0) {
      throw refuse(`its mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')} lets group or others read or change it`, `chmod 600 ${file} (and consider the secret exposed: change it).`);
    }
    if (stats.size > maxBytes) throw refuse(`it is larger than ${maxBytes} bytes`, 'The file must hold the secret alone on one line.');
    // The size can change between fstat and read: read one byte more than allowed to notice.
    const buffer = Buffer.alloc(maxBytes + 1);
    const { bytesRead } = await handle.read(buffer, 0, maxBytes + 1, 0);
    if (bytesRead > maxBytes) throw refuse(`it is larger than ${maxBytes} bytes`, 'The file must hold the secret alone on one line.');
    const bytes = buffer.subarray(0, bytesRead);
    const text = bytes.toString('utf8');
    buffer.fill(0);
    return text;
  } finally {
    await handle.close();
  }
}

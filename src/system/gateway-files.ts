/**
 * The file access of the gateway, its client and verify, kept here with the project's other side effects:
 * the data folder's safety check, files served from inside a folder, build logs kept, files a drone uploads,
 * and text files read whole.
 */

import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { lstat, mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ArgoError } from '../core/errors.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { isMissing } from './fs-errors.ts';
import { checkAncestors } from './trusted-path.ts';

/**
 * The data folder is written as root and served to the world: it must be root's own (not a symlink, not writable
 * by group or others), so nobody else can plant a symlink the gateway would write through. Created when missing.
 */
export async function checkDataFolder(data: string): Promise<void> {
  await mkdir(data, { recursive: true, mode: 0o755 });
  await checkAncestors(data, "The gateway's data folder");
  const info = await lstat(data);
  const euid = process.geteuid?.() ?? 0;
  const problem = info.isSymbolicLink()
    ? 'it is a symbolic link'
    : !info.isDirectory()
      ? 'it is not a folder'
      : info.uid !== 0 && info.uid !== euid
        ? `it is owned by uid ${info.uid}`
        : (info.mode & 0o022) !== 0
          ? `its mode ${(info.mode & 0o777).toString(8)} lets group or others write in it`
          : undefined;
  if (problem !== undefined) {
    throw new ArgoError('ARGO_UNSAFE_PATH', `The gateway's data folder ${data} is refused: ${problem}`, {
      hint: `Give a folder of root's own: chown root:root ${data} && chmod 755 ${data} (and give drones uploads over HTTP rather than write access).`,
    });
  }
}

/** `path` below `root` as a path relative to root's real path, when it is a regular file inside it (no symlink out). */
export async function servedFile(root: string, path: string): Promise<{ readonly root: string; readonly path: string } | undefined> {
  let real: string;
  let realRoot: string;
  try {
    [real, realRoot] = await Promise.all([realpath(join(root, path)), realpath(root)]);
  } catch (error) {
    if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
  if (!real.startsWith(`${realRoot}/`) || !(await stat(real)).isFile()) return undefined;
  return { root: realRoot, path: relative(realRoot, real) };
}

/** Keeps a build log (its folder made as needed), replacing it atomically. */
export async function keepLogFile(file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  await writeFileAtomic(file, bytes, { mode: 0o644 });
}

/** A file to upload: its size and SHA-256 (read once), and a stream of it. */
export async function uploadSource(file: string): Promise<{ readonly size: number; readonly sha256: string; stream(): ReadStream }> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return { size: (await stat(file)).size, sha256: hash.digest('hex'), stream: () => createReadStream(file) };
}

/** The whole file's bytes. */
export function readBytes(file: string): Promise<Buffer> {
  return readFile(file);
}

/** The file's text, or undefined when it does not exist. */
export async function readTextIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/**
 * A kept log's lines, `batch` at a time, read as a stream (a log may be 64 MiB); undefined when it was not kept.
 * `stop` ends the reading early (the client went).
 */
export async function readLogLines(file: string, batch: number): Promise<{ readonly batches: AsyncIterable<readonly string[]>; stop(): void } | undefined> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const opened = await new Promise<boolean>((resolve, reject) => {
    input.once('open', () => resolve(true));
    input.once('error', (error) => (isMissing(error) ? resolve(false) : reject(error)));
  });
  if (!opened) return undefined;
  async function* batches(): AsyncGenerator<readonly string[]> {
    let lines: string[] = [];
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lines.push(line);
      if (lines.length === batch) {
        yield lines;
        lines = [];
      }
    }
    if (lines.length > 0) yield lines;
  }
  return { batches: batches(), stop: () => input.destroy() };
}

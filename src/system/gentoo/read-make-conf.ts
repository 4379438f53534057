/**
 * Reads make.conf from a target root: `/etc/portage/make.conf` as a file or a directory of files (read in lexical
 * order, each seeing the variables of the ones before), with `source` statements resolved inside the root.
 * Parsing is `parseMakeConf`; this only supplies the files.
 */

import type { Diagnostic } from '../../core/gentoo/diagnostics.ts';
import { parseMakeConf, type MakeConf, type MakeConfOrigin } from '../../core/gentoo/parse-make-conf.ts';
import type { RootedFs } from '../rooted-fs.ts';
import { readConfigFiles } from './read-config-files.ts';

export interface ReadMakeConfOptions {
  /** Default `/etc/portage/make.conf`. */
  readonly path?: string;
  /** Variables known before make.conf (make.globals, profile make.defaults). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface MakeConfFiles {
  readonly vars: Readonly<Record<string, string>>;
  readonly origins: Readonly<Record<string, MakeConfOrigin>>;
  /** make.conf files and the files they source, in the order read. */
  readonly files: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Parsing is pure, so sourced files are read between passes: each pass reports the files it wanted and did not have,
 * they are read, and the file is parsed again until nothing new is wanted.
 */
const MAX_PASSES = 16;

/** Bigger sourced files are not read (a make.conf is a few KiB). */
const MAX_SOURCED_BYTES = 4 * 1024 * 1024;

/**
 * The text of a sourced file; a directory, a missing file, anything but a regular file (a FIFO would block
 * the read for ever, a device would never end) and a file past 4 MiB count as missing (the parser reports it).
 */
async function readSourced(fs: RootedFs, path: string): Promise<string | undefined> {
  let stats;
  try {
    stats = await fs.stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw error;
  }
  if (!stats.isFile() || stats.size > MAX_SOURCED_BYTES) return undefined;
  return fs.readTextIfExists(path);
}

export async function readMakeConf(fs: RootedFs, options: ReadMakeConfOptions = {}): Promise<MakeConfFiles> {
  const vars: Record<string, string> = {};
  const origins: Record<string, MakeConfOrigin> = {};
  const files: string[] = [];
  const diagnostics: Diagnostic[] = [];
  const known: Record<string, string> = { ...options.env };
  const cache = new Map<string, string | undefined>();

  for (const file of await readConfigFiles(fs, options.path ?? '/etc/portage/make.conf')) {
    let result: MakeConf;
    for (let pass = 1; ; pass += 1) {
      const wanted: string[] = [];
      result = parseMakeConf(file.text, {
        file: file.path,
        env: known,
        readFile: (path) => {
          if (!cache.has(path)) wanted.push(path);
          return cache.get(path);
        },
      });
      if (wanted.length === 0 || pass === MAX_PASSES) break;
      for (const path of wanted) cache.set(path, await readSourced(fs, path));
    }
    files.push(file.path, ...result.sourced);
    Object.assign(vars, result.vars);
    Object.assign(known, result.vars);
    Object.assign(origins, result.origins);
    diagnostics.push(...result.diagnostics);
  }
  return { vars, origins, files, diagnostics };
}

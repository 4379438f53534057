/**
 * Portage's "file or directory" rule for /etc/portage (portage(5): make.conf, package.*, repos.conf, sets.conf,
 * binrepos.conf): a path that is a file is read as it is; a directory is read as all the regular files below it in
 * lexical order, descending into subdirectories where they sort, skipping names that start with `.` or end with
 * `~` and VCS directories (`_recursive_file_list` in lib/portage/util/__init__.py). Symbolic links are followed
 * inside the target root. A path that does not exist gives no files.
 */

import type { RootedFs } from '../rooted-fs.ts';
import { isMissing } from '../fs-errors.ts';

export interface ConfigFile {
  /** Path inside the target root. */
  readonly path: string;
  readonly text: string;
}

/** Portage `VCS_DIRS` (lib/portage/const.py). */
const VCS_DIRS: ReadonlySet<string> = new Set(['CVS', 'RCS', 'SCCS', '.bzr', '.git', '.hg', '.svn']);
/** Files bigger than this are not read. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** Guards against very deep trees; loops are cut by the ancestor check below. */
const MAX_DEPTH = 32;

function isSkipped(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~');
}

/**
 * `ancestors` holds the resolved directories above `target`: a symlink back to one of them would make Portage walk
 * forever, here it is skipped.
 */
async function collect(fs: RootedFs, target: string, ancestors: ReadonlySet<string>, files: ConfigFile[]): Promise<void> {
  let stats;
  try {
    stats = await fs.stat(target);
  } catch (error) {
    if (isMissing(error)) return;
    throw error;
  }
  if (stats.isFile()) {
    // A configuration file is a few KiB; a huge one is left out rather than read into memory.
    if (stats.size <= MAX_FILE_BYTES) files.push({ path: target, text: await fs.readText(target) });
    return;
  }
  if (!stats.isDirectory() || ancestors.size >= MAX_DEPTH) return;
  const resolved = await fs.resolve(target);
  if (ancestors.has(resolved)) return;
  const inside = new Set(ancestors).add(resolved);
  for (const entry of await fs.readdir(target)) {
    if (isSkipped(entry.name) || VCS_DIRS.has(entry.name)) continue;
    await collect(fs, `${target === '/' ? '' : target}/${entry.name}`, inside, files);
  }
}

export async function readConfigFiles(fs: RootedFs, target: string): Promise<ConfigFile[]> {
  const files: ConfigFile[] = [];
  await collect(fs, target, new Set(), files);
  return files;
}

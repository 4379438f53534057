/** One line of /proc/<pid>/mountinfo (proc(5)). */
export interface MountEntry {
  readonly mountId: number;
  readonly parentId: number;
  /** Path inside the filesystem that is mounted (e.g. `/` or a bind source's subdirectory). */
  readonly root: string;
  readonly mountPoint: string;
  readonly options: readonly string[];
  /** Optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`. */
  readonly propagation: readonly string[];
  readonly fsType: string;
  readonly source: string;
  readonly superOptions: readonly string[];
}

/** The kernel escapes space, tab, newline and backslash in paths as octal (`\040`). */
function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(' ');
    const after = line.slice(separator + 3).split(' ');
    if (before.length < 6 || after.length < 3) continue;
    entries.push({
      mountId: Number(before[0]),
      parentId: Number(before[1]),
      root: unescapeOctal(before[3] as string),
      mountPoint: unescapeOctal(before[4] as string),
      options: (before[5] as string).split(','),
      propagation: before.slice(6),
      fsType: after[0] as string,
      source: unescapeOctal(after[1] as string),
      superOptions: (after[2] as string).split(','),
    });
  }
  return entries;
}

/** Mount points at or below `path`, deepest first: the order in which they can be unmounted. */
export function mountsUnder(entries: readonly MountEntry[], path: string): MountEntry[] {
  const prefix = path.endsWith('/') ? path : `${path}/`;
  return entries
    .filter((entry) => entry.mountPoint === path || entry.mountPoint.startsWith(prefix))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
}

export function isMountPoint(entries: readonly MountEntry[], path: string): boolean {
  return entries.some((entry) => entry.mountPoint === path);
}

/** The mount that holds `path`: the entry with the longest mount point that is `path` or a parent of it. */
export function mountContaining(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const entry of entries) {
    const prefix = entry.mountPoint === '/' ? '/' : `${entry.mountPoint}/`;
    const holds = path === entry.mountPoint || path.startsWith(prefix);
    // Later lines win for the same mount point: they are mounted on top.
    if (holds && (best === undefined || entry.mountPoint.length >= best.mountPoint.length)) best = entry;
  }
  return best;
}

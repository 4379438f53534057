/**
 * The snapshot number in a btrfs subvolume path, when the path is a snapper-layout snapshot
 * (`/@/.snapshots/12/snapshot`, `@/.snapshots/12/snapshot` from `btrfs subvolume get-default`).
 */
export function snapshotIdOfSubvolume(subvolumePath: string): number | undefined {
  const match = /(?:^|\/)\.snapshots\/(\d+)\/snapshot\/?$/.exec(subvolumePath);
  return match ? Number(match[1]) : undefined;
}

/** The `path` field of `btrfs subvolume get-default` (`ID 260 gen 11 top level 256 path @/.snapshots/5/snapshot`). */
export function parseDefaultSubvolume(text: string): string | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith('ID '));
  if (line === undefined) return undefined;
  if (/^ID 5 \(FS_TREE\)/.test(line)) return '/';
  const match = / path (.+)$/.exec(line);
  return match ? (match[1] as string) : undefined;
}

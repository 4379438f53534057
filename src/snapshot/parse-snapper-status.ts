import type { ChangeStatus, SnapshotChange } from './types.ts';

/**
 * Parses `snapper status A..B`: one line per path, six flag columns, a space, the path
 * (`c..... /etc/hostname`, `+..... /etc/new`, `-..... /etc/gone`, `..ug.. /etc/chowned`). Column 1 is
 * `+` created, `-` deleted, `c` content changed, `t` type changed, `.` unchanged content; columns 2–6 are
 * permissions, user, group, xattrs, ACL. Lines that do not match (warnings) are ignored.
 */
export function parseSnapperStatus(text: string): SnapshotChange[] {
  const changes: SnapshotChange[] = [];
  for (const line of text.split('\n')) {
    const match = /^([+\-ct.])([p.])([u.])([g.])([x.])([a.]) (\/.*)$/.exec(line);
    if (!match) continue;
    changes.push({ path: match[7] as string, status: statusOf(match[1] as string) });
  }
  return changes.sort((a, b) => comparePaths(a.path, b.path));
}

function statusOf(flag: string): ChangeStatus {
  if (flag === '+') return 'created';
  if (flag === '-') return 'deleted';
  return 'modified';
}

export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

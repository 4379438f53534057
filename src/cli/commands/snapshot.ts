import { ArgoError, EXIT } from '../../core/errors.ts';
import { openSystem } from '../../system/open-system.ts';
import { openSnapshotBackend } from '../../snapshot/detect-backend.ts';
import { DEFAULT_MIN_FREE_BYTES } from '../../snapshot/free-space.ts';
import { deleteSnapshot, findUpdateSnapshots } from '../../snapshot/retention.ts';
import type { Snapshot, SnapshotChange, SnapshotKind } from '../../snapshot/types.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export type SnapshotAction = 'create' | 'list' | 'diff' | 'restore' | 'delete';

export interface SnapshotArgs extends GlobalOptions {
  readonly action: SnapshotAction;
  /** create: single | pre | post. */
  readonly type?: SnapshotKind | undefined;
  /** create --type post: the pre snapshot. */
  readonly preNumber?: number | undefined;
  readonly description?: string | undefined;
  /** create: `key=value` items (`argo-update=<id>`). */
  readonly userdata?: readonly string[] | undefined;
  /** create: minimum free bytes on the filesystem. */
  readonly minFree?: number | undefined;
  /** diff / restore: the older snapshot; delete: the snapshot. */
  readonly from?: number | undefined;
  /** diff / restore: the newer side; 0 or absent is the current system. */
  readonly to?: number | undefined;
  /** restore: only these paths (inside the root). */
  readonly paths?: readonly string[] | undefined;
  /** list / diff / restore: use the pre/post pair of this update id instead of numbers. */
  readonly update?: string | undefined;
}

/**
 * `argo snapshot create|list|diff|restore|delete`: snapper where the root has a config for `/`, plain
 * btrfs otherwise. Handlers return data; --json prints it, otherwise a table.
 */
export async function runSnapshotCommand(args: SnapshotArgs, context: HandlerContext): Promise<CommandOutcome> {
  const system = openSystem({ root: args.root, logger: context.logger });
  try {
    const { backend, detection } = await openSnapshotBackend(system, { signal: context.signal, minFreeBytes: args.minFree ?? DEFAULT_MIN_FREE_BYTES });
    const about = { root: system.root, backend: backend.name, reason: detection.reason };
    switch (args.action) {
      case 'create': {
        const snapshot = await backend.create({
          kind: args.type ?? 'single',
          preId: args.preNumber,
          description: args.description ?? 'argo snapshot',
          userdata: parseUserdata(args.userdata ?? []),
          cleanup: 'number',
        });
        return { exitCode: EXIT.ok, json: { ...about, snapshot }, text: `Created snapshot ${snapshot.id} (${backend.name}).` };
      }
      case 'list': {
        let snapshots = await backend.list();
        if (args.update !== undefined) snapshots = snapshots.filter((snapshot) => snapshot.userdata['argo-update'] === args.update);
        return { exitCode: EXIT.ok, json: { ...about, snapshots }, text: formatSnapshotTable(snapshots) };
      }
      case 'diff': {
        const [from, to] = await rangeOf(args, backend);
        const changes = await backend.diff(from, to);
        return { exitCode: EXIT.ok, json: { ...about, from, to, changes }, text: formatChanges(changes, `No changes between ${from} and ${label(to)}.`) };
      }
      case 'restore': {
        const [from, to] = await rangeOf(args, backend);
        const restored = await backend.restore(from, to, args.paths);
        return { exitCode: EXIT.ok, json: { ...about, from, to, restored }, text: formatChanges(restored, 'Nothing to restore: no changes in that range or those paths.') };
      }
      case 'delete': {
        if (args.from === undefined) throw new ArgoError('ARGO_USAGE', 'argo snapshot delete needs the snapshot number', { hint: 'e.g. argo snapshot delete 12' });
        await deleteSnapshot(system, backend, args.from, context.signal);
        return { exitCode: EXIT.ok, json: { ...about, deleted: args.from }, text: `Deleted snapshot ${args.from}.` };
      }
    }
  } finally {
    await system.close();
  }
}

async function rangeOf(args: SnapshotArgs, backend: Parameters<typeof findUpdateSnapshots>[0]): Promise<[number, number]> {
  if (args.update !== undefined) {
    const pair = await findUpdateSnapshots(backend, args.update);
    if (pair.pre === undefined) {
      throw new ArgoError('ARGO_SNAPSHOT_NOT_FOUND', `No pre-update snapshot for update ${args.update}`, {
        hint: 'List them with argo snapshot list; update snapshots carry argo-update=<id>.',
        details: { update: args.update },
      });
    }
    return [pair.pre.id, args.to ?? pair.post?.id ?? 0];
  }
  if (args.from === undefined) throw new ArgoError('ARGO_USAGE', 'Name the older snapshot (or --update ID)', { hint: 'e.g. argo snapshot diff 12 13' });
  return [args.from, args.to ?? 0];
}

export function parseUserdata(items: readonly string[]): Record<string, string> {
  const userdata: Record<string, string> = {};
  for (const item of items) {
    const index = item.indexOf('=');
    if (index <= 0) throw new ArgoError('ARGO_USAGE', `Userdata ${JSON.stringify(item)} is not key=value`, { hint: 'e.g. --userdata argo-update=2026-11-22-1' });
    userdata[item.slice(0, index)] = item.slice(index + 1);
  }
  return userdata;
}

const label = (id: number): string => (id === 0 ? 'now' : String(id));

export function formatSnapshotTable(snapshots: readonly Snapshot[]): string {
  if (snapshots.length === 0) return 'No snapshots.';
  const rows = [
    ['#', 'Type', 'Pre #', 'Date', 'Description', 'Userdata'],
    ...snapshots.map((s) => [
      String(s.id),
      s.kind,
      s.preId === undefined ? '' : String(s.preId),
      s.date,
      s.description,
      Object.entries(s.userdata)
        .map(([key, value]) => `${key}=${value}`)
        .join(', '),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

function formatChanges(changes: readonly SnapshotChange[], empty: string): string {
  if (changes.length === 0) return empty;
  const mark = { created: '+', deleted: '-', modified: 'c' } as const;
  return changes.map((change) => `${mark[change.status]} ${change.path}`).join('\n');
}

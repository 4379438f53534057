import { ArgoError, EXIT } from '../../core/errors.ts';
import { openSystem } from '../../system/open-system.ts';
import { openSnapshotBackend } from '../../snapshot/detect-backend.ts';
import { startBudget } from '../../snapshot/budget.ts';
import { DEFAULT_MIN_FREE_BYTES } from '../../snapshot/free-space.ts';
import { selectChanges } from '../../snapshot/restore-changes.ts';
import { deleteSnapshot, findUpdateSnapshots } from '../../snapshot/retention.ts';
import { CURRENT, type Snapshot, type SnapshotBackend, type SnapshotChange, type SnapshotKind } from '../../snapshot/types.ts';
import { startProgress } from '../../logging/progress.ts';
import { enterTarget } from '../enter-target.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';
import { askFirst, assertCanAsk, type Ask } from './confirm.ts';

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
  /** restore against the live system: revert every change since `from`, in the whole subvolume. */
  readonly allChanges?: boolean | undefined;
  /** restore: show what would be restored; change nothing. */
  readonly pretend?: boolean | undefined;
  /** restore: show what would be restored, then ask on the terminal (emerge --ask). */
  readonly ask?: boolean | undefined;
  /** Seconds the command may take; default per action (BUDGETS). */
  readonly budget?: number | undefined;
}

/** Default budgets in seconds: listing is quick, a diff or restore walks a whole tree. */
export const BUDGETS: Readonly<Record<SnapshotAction, number>> = { create: 600, list: 120, diff: 1800, restore: 3600, delete: 600 };

/**
 * `argo snapshot create|list|diff|restore|delete`: snapper where the root has a config for `/`, plain
 * btrfs otherwise. Handlers return data; --json prints it, otherwise a table.
 */
export async function runSnapshotCommand(args: SnapshotArgs, context: HandlerContext, ask?: Ask): Promise<CommandOutcome> {
  const asking = { ask: args.action === 'restore' && args.ask === true, pretend: args.pretend === true };
  // Before the lock and the diff: a script that says --ask is refused at once.
  assertCanAsk(asking, context, 'argo snapshot restore');
  // --pretend changes nothing: it needs neither a writable root nor the lock.
  const changes = !['list', 'diff'].includes(args.action) && args.pretend !== true;
  await using door = await enterTarget(args, { command: `argo snapshot ${args.action}`, chroot: false, writable: changes, lock: changes }, context.logger);
  const system = openSystem({ root: door.root, logger: context.logger, dryRun: args.pretend === true });
  const budget = startBudget(context.signal, (args.budget ?? BUDGETS[args.action]) * 1000, `argo snapshot ${args.action}`);
  const signal = budget.signal;
  try {
    const { backend, detection } = await openSnapshotBackend(system, { signal, minFreeBytes: args.minFree ?? DEFAULT_MIN_FREE_BYTES });
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
        const changes = await diffShowingProgress(backend, from, to, context);
        return { exitCode: EXIT.ok, json: { ...about, from, to, changes }, text: formatChanges(changes, `No changes between ${from} and ${label(to)}.`) };
      }
      case 'restore': {
        const [from, to] = await rangeOf(args, backend);
        const paths = args.paths ?? [];
        if (to === CURRENT && paths.length === 0 && args.allChanges !== true && args.pretend !== true) {
          throw new ArgoError('ARGO_USAGE', `Restoring snapshot ${from} against the live system needs --paths or --all-changes`, {
            hint: `Without them every change since snapshot ${from} would be reverted, /home and databases included. Name what to restore (--paths /etc/foo), compare two snapshots (argo snapshot restore ${from} N), or say --all-changes; --pretend shows the list first.`,
            details: { from },
          });
        }
        // The list --pretend shows is the list --ask shows and exactly what is then restored: one diff, then undo().
        const wouldRestore = selectChanges(await diffShowingProgress(backend, from, to, context), paths);
        const nothing = 'Nothing to restore: no changes in that range or those paths.';
        if (args.pretend === true) {
          return { exitCode: EXIT.ok, json: { ...about, from, to, pretend: true, restored: [], wouldRestore }, text: formatChanges(wouldRestore, nothing) };
        }
        if (wouldRestore.length > 0) {
          const plan = `${formatChanges(wouldRestore, nothing)}\n\n${wouldRestore.length} path(s) changed between snapshot ${from} and ${label(to)} go back to how they are in snapshot ${from} (+ created since: removed, - deleted since: put back, c changed: put back).`;
          await askFirst(asking, context, plan, `restore these ${wouldRestore.length} path(s) from snapshot ${from}`, ask);
          await backend.undo(from, to, wouldRestore);
        }
        return { exitCode: EXIT.ok, json: { ...about, from, to, restored: wouldRestore }, text: formatChanges(wouldRestore, nothing) };
      }
      case 'delete': {
        if (args.from === undefined) throw new ArgoError('ARGO_USAGE', 'argo snapshot delete needs the snapshot number', { hint: 'e.g. argo snapshot delete 12' });
        await deleteSnapshot(system, backend, args.from, signal);
        return { exitCode: EXIT.ok, json: { ...about, deleted: args.from }, text: `Deleted snapshot ${args.from}.` };
      }
    }
  } finally {
    budget.dispose();
    await system.close();
  }
}

/** backend.diff with a `progress` event every second while it walks (elapsed only: the total is known at the end). */
async function diffShowingProgress(backend: SnapshotBackend, from: number, to: number, context: HandlerContext): Promise<SnapshotChange[]> {
  using progress = startProgress(context.logger, { task: `snapshot diff ${from}..${label(to)}`, unit: 'changes', heartbeatMs: 1000 });
  const changes = await backend.diff(from, to);
  progress.setTotal(changes.length);
  progress.advance(changes.length);
  progress.finish();
  return changes;
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

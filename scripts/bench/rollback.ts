/**
 * File-level rollback on btrfs: the change list by walking both trees (diff-trees.ts) against btrfs' own list
 * (`btrfs send --no-data`, btrfs-send-changes.ts), on the healthy Debian fixture root (~400 MB, 13,600 entries)
 * in a subvolume of a btrfs loop device (test/support/btrfs-target.ts), after an update-sized change of about
 * 300 paths (applyUpdateLikeChange: files rewritten, reinstalled with the same bytes, added, removed, a library
 * bumped, a folder renamed, modes changed, hard links).
 *
 * Rows: the change list between the pre and post snapshots; between the pre snapshot and the live subvolume
 * (send goes through a temporary read-only snapshot); the rollback of one package's files
 * (`argo snapshot restore PRE --paths /usr/lib/x86_64-linux-gnu`: the change list, then 3 paths restored); and
 * the rollback of everything (`--all-changes`: the change list, then all of it restored, one cp/mv per path,
 * which is the same code for both). Medians of ARGO_BENCH_RUNS runs (default 3), methods interleaved, warm page
 * cache. Exits 1 when the two methods give different change lists, when a rollback leaves a difference, or when
 * a change list from send is not 10× faster. Needs the fixtures: bash scripts/setup.sh --fixtures.
 *
 *   npm run bench -- rollback
 */
import { execFileSync } from 'node:child_process';
import pino from 'pino';
import { createBtrfsBackend, type DiffMethod } from '../../src/snapshot/btrfs-backend.ts';
import { CURRENT, type SnapshotChange } from '../../src/snapshot/types.ts';
import { openSystem, type System } from '../../src/system/open-system.ts';
import { applyUpdateLikeChange, openBtrfsDisk } from '../../test/support/btrfs-target.ts';

const runs = Number(process.env['ARGO_BENCH_RUNS'] ?? 3);
const METHODS = ['walk', 'send'] as const satisfies readonly DiffMethod[];
const LIST_ROWS = ['change list, pre → post snapshot', 'change list, pre snapshot → live'] as const;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const logger = pino({ level: 'warn' });

const timings = new Map<string, number[]>();
const record = (row: string, method: string, ms: number): void => {
  const key = `${row}\t${method}`;
  timings.set(key, [...(timings.get(key) ?? []), ms]);
};
const lists = new Map<string, string>();
let failures = 0;
const fail = (message: string): void => {
  failures += 1;
  console.error(message);
};
const compare = (row: string, method: string, changes: readonly SnapshotChange[]): void => {
  const text = JSON.stringify(changes);
  const other = lists.get(row);
  if (other === undefined) lists.set(row, text);
  else if (other !== text) fail(`${row}: the ${method} change list differs from the other method's`);
};

const disk = await openBtrfsDisk();
const systems: System[] = [];
try {
  /** A fresh root from the pristine fixture, a pre snapshot, the update, a post snapshot. */
  const prepare = async (name: string) => {
    const root = await disk.makeRoot(name);
    const system = openSystem({ root, logger });
    systems.push(system);
    const backend = (diffMethod: DiffMethod) => createBtrfsBackend({ system, diffMethod, minFreeBytes: 1 });
    const pre = await backend('walk').create({ kind: 'pre', description: 'bench pre', userdata: { 'argo-update': name } });
    applyUpdateLikeChange(root);
    const post = await backend('walk').create({ kind: 'post', preId: pre.id, description: 'bench post', userdata: { 'argo-update': name } });
    return { root, backend, pre: pre.id, post: post.id };
  };

  const target = await prepare('diffed');
  const entries = Number(execFileSync('sh', ['-c', 'find "$1" -xdev | wc -l', 'sh', target.root], { encoding: 'utf8' }).trim());
  let changed = 0;
  // Round 0 warms the page cache for both methods and is not counted.
  for (let run = 0; run <= runs; run += 1) {
    for (const method of METHODS) {
      for (const row of LIST_ROWS) {
        const started = performance.now();
        const changes = await target.backend(method).diff(target.pre, row.endsWith('live') ? CURRENT : target.post);
        if (run > 0) record(row, method, performance.now() - started);
        compare(row, method, changes);
        changed = changes.length;
      }
    }
  }
  for (const [row, paths] of [
    ['rollback of one package (--paths /usr/lib/x86_64-linux-gnu: change list + 3 paths restored)', ['/usr/lib/x86_64-linux-gnu']],
    ['rollback of everything (--all-changes: change list + every path restored)', undefined],
  ] as const) {
    for (let run = 0; run < runs; run += 1) {
      for (const method of METHODS) {
        const rolled = await prepare(`rollback-${method}-${run}-${paths === undefined ? 'all' : 'one'}`);
        const backend = rolled.backend(method);
        const started = performance.now();
        await backend.restore(rolled.pre, CURRENT, paths);
        record(row, method, performance.now() - started);
        const left = (await backend.diff(rolled.pre, CURRENT)).filter((change) => paths === undefined || paths.some((wanted) => change.path.startsWith(wanted)));
        if (left.length > 0) fail(`${row} with ${method}: ${left.length} differences left, e.g. ${left[0]?.path}`);
      }
    }
  }

  console.log(`Debian fixture root: ${entries} entries; the update changes ${changed} paths. Medians of ${runs} runs, warm page cache.\n`);
  console.log('| case | tree walk | btrfs send | faster |');
  console.log('|---|---|---|---|');
  for (const row of new Set([...timings.keys()].map((key) => key.split('\t')[0] as string))) {
    const walk = median(timings.get(`${row}\twalk`) ?? []);
    const send = median(timings.get(`${row}\tsend`) ?? []);
    console.log(`| ${row} | ${(walk / 1000).toFixed(2)} s | ${(send / 1000).toFixed(2)} s | ${(walk / send).toFixed(1)}× |`);
    if ((LIST_ROWS as readonly string[]).includes(row) && walk / send < 10) fail(`${row}: send is not 10× faster`);
  }
} finally {
  for (const system of systems) await system.close();
  await disk.close();
}
process.exitCode = failures === 0 ? 0 : 1;

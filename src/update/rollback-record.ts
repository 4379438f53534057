import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { parseContents, type ContentsEntry } from '../core/gentoo/parse-contents.ts';
import { trySplitPackageVersion, tryParseCpv } from '../core/gentoo/parse-cpv.ts';
import { isBelow, type UpdatePaths } from '../core/update/rollback-plan.ts';
import { parseEmergeSessions, selectUpdateMerges, type UpdateMerges } from '../core/update/update-merges.ts';
import { lstatIfExists, type RootedFs } from '../system/rooted-fs.ts';

const VDB = '/var/db/pkg';
/** How long after argo's last log line an emerge it started may still have begun (Python start-up, a slow disk). */
const START_SLACK_SECONDS = 30;

export interface UpdateWindow {
  /** Epoch seconds: the pre snapshot. */
  readonly from: number;
  /** Epoch seconds: the post snapshot, else argo's last log line of the update (plus a little slack), else now. */
  readonly to: number;
  /** Where `to` came from. */
  readonly toFrom: 'post snapshot' | 'update log' | 'now';
}

export interface PackageRecord {
  readonly cpv: string;
  /** `merged`: completed; `unfinished`: its merge was cut off. */
  readonly state: 'merged' | 'unfinished';
  /** The versions of the same package it replaced (CPVs in the pre snapshot). */
  readonly replaced: readonly string[];
  /** False when no CONTENTS of the new version could be read (an unfinished merge, an entry removed since). */
  readonly newContentsKnown: boolean;
}

/** What a path of a merged package should be right after the update, from its CONTENTS. */
export type ExpectedEntry = { readonly type: 'obj'; readonly md5: string } | { readonly type: 'sym'; readonly target: string } | { readonly type: 'dir' | 'dev' | 'fif' };

export interface UpdateFileRecord {
  readonly window: UpdateWindow;
  readonly merges: UpdateMerges;
  readonly packages: readonly PackageRecord[];
  readonly paths: UpdatePaths;
  /** Paths of the new versions (canonical) and what they should be now. */
  readonly expected: ReadonlyMap<string, ExpectedEntry>;
}

export interface ReadRecordInput {
  /** The pre snapshot's tree. */
  readonly pre: RootedFs;
  /** The tree right after the update: the post snapshot, or the live system without one. */
  readonly after: RootedFs;
  /** The live system (for argo's own log of the update). */
  readonly live: RootedFs;
  readonly updateId: string;
  readonly preDate: string;
  readonly postDate: string | undefined;
  /** Every path changed from the pre snapshot to `after`. */
  readonly changed: ReadonlySet<string>;
  readonly nowSeconds: number;
  readonly signal?: AbortSignal | undefined;
}

/** Reads the update's own record: its time window, the packages emerge.log says it merged, and their CONTENTS. */
export async function readUpdateFileRecord(input: ReadRecordInput): Promise<UpdateFileRecord> {
  const window = await updateWindow(input);
  const sessions = parseEmergeSessions((await input.after.readTextIfExists('/var/log/emerge.log')) ?? '');
  const merges = selectUpdateMerges(sessions, window);
  const owned = new Set<string>();
  const vdbEntries: string[] = [];
  const expected = new Map<string, ExpectedEntry>();
  const packages: PackageRecord[] = [];
  const changedVdb = [...input.changed].filter((changed) => isBelow(changed, VDB));

  const targets = [...merges.completed.map((cpv) => ({ cpv, state: 'merged' as const })), ...merges.unfinished.map((cpv) => ({ cpv, state: 'unfinished' as const }))];
  for (const { cpv, state } of targets) {
    input.signal?.throwIfAborted();
    const parsed = tryParseCpv(cpv);
    if (!parsed.ok) continue;
    const { category, pn, pf } = parsed.value;
    // The new version: its entry after the update, or the -MERGING- entry Portage left when it was cut off.
    let newContentsKnown = false;
    for (const entry of [`${VDB}/${category}/${pf}`, `${VDB}/${category}/-MERGING-${pf}`]) {
      const text = await input.after.readTextIfExists(`${entry}/CONTENTS`);
      if (await input.after.isDirectory(entry)) vdbEntries.push(entry);
      if (text === undefined) continue;
      newContentsKnown = true;
      for (const item of parseContents(text).entries) {
        const canonical = await canonicalPath(input.after, item.path);
        owned.add(canonical);
        expected.set(canonical, expectedOf(item));
      }
    }
    // The versions it replaced: entries of the same package in the pre snapshot that the update changed
    // (an untouched other slot is not among them). A cut-off merge may have overwritten files of any of them.
    const replaced: string[] = [];
    for (const name of await listDir(input.pre, `${VDB}/${category}`)) {
      const split = trySplitPackageVersion(name);
      if (!split.ok || split.value.pn !== pn) continue;
      const entry = `${VDB}/${category}/${name}`;
      if (state === 'merged' && !changedVdb.some((changed) => isBelow(changed, entry))) continue;
      replaced.push(`${category}/${name}`);
      vdbEntries.push(entry);
      const text = await input.pre.readTextIfExists(`${entry}/CONTENTS`);
      for (const item of parseContents(text ?? '').entries) owned.add(await canonicalPath(input.pre, item.path));
    }
    packages.push({ cpv, state, replaced, newContentsKnown });
  }
  return { window, merges, packages, paths: { owned, vdbEntries: [...new Set(vdbEntries)] }, expected };
}

async function updateWindow(input: ReadRecordInput): Promise<UpdateWindow> {
  const from = epochOf(input.preDate) ?? epochOfUpdateId(input.updateId) ?? 0;
  const post = input.postDate === undefined ? undefined : epochOf(input.postDate);
  if (post !== undefined) return { from, to: post, toFrom: 'post snapshot' };
  const main = await input.live.readTextIfExists(`/var/log/argo/update-${input.updateId}/main.log`);
  const last = main === undefined ? undefined : lastLogTime(main);
  if (last !== undefined) return { from, to: last + START_SLACK_SECONDS, toFrom: 'update log' };
  return { from, to: input.nowSeconds, toFrom: 'now' };
}

function epochOf(iso: string): number | undefined {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** `20261122T040228Z` (apkg update's id: the time it started). */
function epochOfUpdateId(id: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(id);
  return match ? epochOf(`${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${match[6]}Z`) : undefined;
}

/** The `time` of the last JSON line of a pino log. */
function lastLogTime(text: string): number | undefined {
  const lines = text.trimEnd().split('\n');
  for (let index = lines.length - 1; index >= 0 && index >= lines.length - 5; index -= 1) {
    try {
      const time = (JSON.parse(lines[index] as string) as { time?: unknown }).time;
      const epoch = typeof time === 'string' ? epochOf(time) : typeof time === 'number' ? Math.floor(time / 1000) : undefined;
      if (epoch !== undefined) return epoch;
    } catch {
      // a line cut off by a crash: try the one before
    }
  }
  return undefined;
}

function expectedOf(item: ContentsEntry): ExpectedEntry {
  if (item.type === 'obj') return { type: 'obj', md5: item.md5 };
  if (item.type === 'sym') return { type: 'sym', target: item.target };
  return { type: item.type };
}

async function listDir(tree: RootedFs, dir: string): Promise<string[]> {
  if (!(await tree.isDirectory(dir))) return [];
  return (await tree.readdir(dir)).filter((entry) => entry.type === 'directory').map((entry) => entry.name);
}

/**
 * A CONTENTS path as the snapshot diff names it: its folder with symlinks resolved (merged /usr: a package
 * lists /lib64/libcrypt.so.1 and the tree holds /usr/lib64/libcrypt.so.1), the last component as it is.
 */
async function canonicalPath(tree: RootedFs, file: string): Promise<string> {
  const normal = path.posix.resolve('/', file);
  if (normal === '/') return normal;
  return path.posix.join(await tree.realpath(path.posix.dirname(normal)), path.posix.basename(normal));
}

/**
 * The update's paths (among `paths`) that changed again after the update, without a post snapshot: a file of
 * a merged package whose live md5 or link target differs from its CONTENTS; any other file of the update
 * (owned only by a replaced version, a /var/db/pkg file, Portage's own state) whose inode changed after the
 * update's end.
 */
export async function changedSinceUpdate(
  live: RootedFs,
  record: UpdateFileRecord,
  candidates: readonly { readonly path: string; readonly status: string }[],
  signal?: AbortSignal,
): Promise<Set<string>> {
  const changed = new Set<string>();
  // The update's end: its post snapshot, else the later of its own last log line and its emerge runs' last line.
  const ends = record.merges.sessions.map((session) => session.end ?? session.last);
  const bound = Math.max(record.window.toFrom === 'now' ? record.window.from : record.window.to, ...ends);
  for (const candidate of candidates) {
    signal?.throwIfAborted();
    const stats = await lstatIfExists(live, candidate.path);
    const expected = record.expected.get(candidate.path);
    if (expected !== undefined) {
      if (!(await matches(live, candidate.path, stats, expected))) changed.add(candidate.path);
      continue;
    }
    // No checksum to compare with (a path only a replaced version owned, a /var/db/pkg file, Portage's own
    // state): the inode change time says whether it was touched after the update. Portage keeps the
    // package's mtimes when it merges, but not the ctime, and nothing can set a ctime back.
    if (stats !== undefined && !stats.isDirectory() && Math.floor(stats.ctimeMs / 1000) > bound) changed.add(candidate.path);
  }
  return changed;
}

async function matches(live: RootedFs, file: string, stats: Awaited<ReturnType<typeof lstatIfExists>>, expected: ExpectedEntry): Promise<boolean> {
  if (stats === undefined) return false;
  switch (expected.type) {
    case 'obj':
      return stats.isFile() && createHash('md5').update(await live.readBytes(file)).digest('hex') === expected.md5;
    case 'sym':
      return stats.isSymbolicLink() && (await live.readlink(file)) === expected.target;
    case 'dir':
      return stats.isDirectory();
    default:
      return !stats.isFile() && !stats.isDirectory() && !stats.isSymbolicLink();
  }
}


import type { EmergeLogBuild } from '../gentoo/parse-emerge-log.ts';
import type { EmergePlanEntry, EmergePlanPackage } from '../gentoo/parse-emerge-plan.ts';
import type { EmergeProgressEvent } from '../gentoo/parse-emerge-progress.ts';

/** What the progress bar knows: how far emerge is, from its own `>>> Emerging (N of M)` lines. */
export interface UpdateProgress {
  readonly total: number;
  readonly completed: readonly string[];
  readonly failed: readonly string[];
  readonly current: { readonly cpv: string; readonly index: number; readonly binary: boolean } | undefined;
}

export function startProgress(total: number): UpdateProgress {
  return { total, completed: [], failed: [], current: undefined };
}

/** Strips a binary's `-BUILD_ID` so that progress lines and plan lines name the same CPV. */
export function baseCpv(cpv: string, plan: ReadonlySet<string>): string {
  if (plan.has(cpv)) return cpv;
  const withoutBuildId = cpv.replace(/-\d+$/, '');
  return plan.has(withoutBuildId) ? withoutBuildId : cpv;
}

export function applyProgressEvent(progress: UpdateProgress, event: EmergeProgressEvent, planned: ReadonlySet<string>): UpdateProgress {
  switch (event.kind) {
    case 'emerging':
      return { ...progress, total: Math.max(progress.total, event.total), current: { cpv: baseCpv(event.cpv, planned), index: event.index, binary: event.binary } };
    case 'completed': {
      const cpv = baseCpv(event.cpv, planned);
      return { ...progress, completed: [...progress.completed, cpv], current: progress.current?.cpv === cpv ? undefined : progress.current };
    }
    case 'failed':
      return { ...progress, failed: [...progress.failed, baseCpv(event.cpv, planned)], current: undefined };
    default:
      return progress;
  }
}

/** Package name without version: `sys-libs/glibc-2.40-r5` → `sys-libs/glibc`. */
export function cpOf(cpv: string): string {
  return cpv.replace(/-\d[^/]*$/, '');
}

const BINARY_SECONDS_PER_MIB = 0.5;
const BINARY_FIXED_SECONDS = 3;
const UNKNOWN_COMPILE_SECONDS = 120;

/**
 * Seconds left: for each planned package not yet completed, its last build time from emerge.log (the
 * median of its past compiles, or of its past binary merges when it comes as a binary), else an estimate
 * from the binary's size, else a flat guess for an unknown compile.
 */
export function estimateRemainingSeconds(plan: readonly EmergePlanEntry[], progress: UpdateProgress, history: readonly EmergeLogBuild[]): number {
  const done = new Set([...progress.completed, ...progress.failed]);
  const byPackage = new Map<string, { binary: number[]; compile: number[] }>();
  for (const build of history) {
    const entry = byPackage.get(cpOf(build.cpv)) ?? { binary: [], compile: [] };
    (build.binary ? entry.binary : entry.compile).push(build.seconds);
    byPackage.set(cpOf(build.cpv), entry);
  }
  const median = (values: number[]): number | undefined => (values.length === 0 ? undefined : [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]);
  let seconds = 0;
  for (const entry of plan) {
    if (entry.kind !== 'ebuild' && entry.kind !== 'binary') continue;
    if (done.has(entry.cpv)) continue;
    const known = byPackage.get(cpOf(entry.cpv));
    const binary = entry.kind === 'binary';
    const past = median(binary ? (known?.binary ?? []) : (known?.compile ?? []));
    if (past !== undefined) seconds += past;
    else if (binary || (entry as EmergePlanPackage).size !== undefined) seconds += binary ? BINARY_FIXED_SECONDS + ((entry as EmergePlanPackage).size ?? 0) / 1048576 * BINARY_SECONDS_PER_MIB : UNKNOWN_COMPILE_SECONDS;
    else seconds += UNKNOWN_COMPILE_SECONDS;
  }
  return Math.round(seconds);
}

function clock(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

/** One line: `[ 3/45] sys-libs/glibc-2.40-r5 (binary)  elapsed 2m13s  ~5m00s left`, with a bar on a wide TTY. */
export function renderProgressLine(progress: UpdateProgress, elapsedSeconds: number, remainingSeconds: number, width = 0): string {
  const done = progress.completed.length + progress.failed.length;
  const counter = `[${String(done).padStart(String(progress.total).length)}/${progress.total}]`;
  const what = progress.current ? `${progress.current.cpv}${progress.current.binary ? ' (binary)' : ''}` : done === progress.total ? 'done' : 'resolving';
  const failed = progress.failed.length > 0 ? `  ${progress.failed.length} failed` : '';
  const text = `${counter} ${what}  elapsed ${clock(elapsedSeconds)}  ~${clock(remainingSeconds)} left${failed}`;
  if (width < 60) return text;
  const barWidth = 20;
  const filled = progress.total === 0 ? barWidth : Math.round((done / progress.total) * barWidth);
  return `${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)} ${text}`.slice(0, width - 1);
}

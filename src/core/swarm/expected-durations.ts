/**
 * Expected build durations from past builds (emerge.log, and the swarm's own history): the median of that
 * package's (category/name) builds, else the median of its category's, else a default. Binary merges are not
 * builds and are left out.
 */

import type { EmergeLogBuild } from '../gentoo/parse-emerge-log.ts';
import { tryParseCpv } from '../gentoo/parse-cpv.ts';
import type { EstimateDuration } from './build-dag.ts';

export const DEFAULT_DURATION_SECONDS = 600;
export const HEAVY_THRESHOLD_SECONDS = 1800;
/** Package names that are heavy whatever their history says. */
export const HEAVY_PACKAGE_NAMES: ReadonlySet<string> = new Set([
  'llvm', 'clang', 'rust', 'gcc', 'firefox', 'chromium', 'webkit-gtk', 'qtwebengine', 'libreoffice', 'ghc', 'nodejs',
]);

export interface DurationOptions {
  readonly defaultSeconds?: number;
  readonly heavySeconds?: number;
  readonly heavyNames?: ReadonlySet<string>;
  /** The swarm's own past builds: `category/name` → seconds at the same reference speed as the emerge.log builds. */
  readonly history?: ReadonlyMap<string, readonly number[]>;
}

export function estimateDurations(builds: readonly EmergeLogBuild[], options: DurationOptions = {}): EstimateDuration {
  const defaultSeconds = options.defaultSeconds ?? DEFAULT_DURATION_SECONDS;
  const heavySeconds = options.heavySeconds ?? HEAVY_THRESHOLD_SECONDS;
  const heavyNames = options.heavyNames ?? HEAVY_PACKAGE_NAMES;
  const byPackage = new Map<string, number[]>();
  const byCategory = new Map<string, number[]>();
  for (const build of builds) {
    if (build.binary) continue;
    const parsed = tryParseCpv(build.cpv);
    if (!parsed.ok) continue;
    push(byPackage, parsed.value.cp, build.seconds);
    push(byCategory, parsed.value.category, build.seconds);
  }
  for (const [cp, values] of options.history ?? []) {
    const category = cp.slice(0, cp.indexOf('/'));
    for (const seconds of values) {
      push(byPackage, cp, seconds);
      push(byCategory, category, seconds);
    }
  }
  const packageMedians = medians(byPackage);
  const categoryMedians = medians(byCategory);
  return (_cpv, cp, category) => {
    const duration = packageMedians.get(cp) ?? categoryMedians.get(category) ?? defaultSeconds;
    const name = cp.slice(cp.indexOf('/') + 1);
    return { duration, heavy: duration >= heavySeconds || heavyNames.has(name) };
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function push(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function medians(map: ReadonlyMap<string, readonly number[]>): Map<string, number> {
  return new Map([...map].map(([key, values]) => [key, median(values)]));
}

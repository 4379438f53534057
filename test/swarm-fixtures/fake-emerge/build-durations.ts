/**
 * How long each package really took to build: the median of its completed source builds (`>>> emerge` to
 * `::: completed emerge`, paired as qlop pairs them) in a real emerge.log, by CATEGORY/PN so that any version
 * of a package gets a duration.
 */

import { parseEmergeLog } from '../../../src/core/gentoo/parse-emerge-log.ts';
import { tryParseCpv } from '../../../src/core/gentoo/parse-cpv.ts';

export function medianBuildSeconds(emergeLogText: string): ReadonlyMap<string, number> {
  const byPackage = new Map<string, number[]>();
  for (const build of parseEmergeLog(emergeLogText).builds) {
    if (build.binary) continue;
    const cpv = tryParseCpv(build.cpv);
    if (!cpv.ok) continue;
    const list = byPackage.get(cpv.value.cp) ?? [];
    list.push(build.seconds);
    byPackage.set(cpv.value.cp, list);
  }
  const medians = new Map<string, number>();
  for (const [cp, seconds] of byPackage) medians.set(cp, median(seconds));
  return medians;
}

/**
 * `medianBuildSeconds(log).get(cp)`, parsing only the lines that name `CATEGORY/PN-` (a run needs the durations of
 * the one or few packages it builds, and the clusterhq log has 6,000 lines). qlop pairs records by CPV and ROOT, so
 * the lines of other packages change nothing for this one; a line naming it in passing (in a path) is parsed as
 * the full log's parse would parse it. Each CATEGORY/PN is looked up once.
 */
export function buildSecondsLookup(emergeLogText: string): (cp: string) => number | undefined {
  const found = new Map<string, number | undefined>();
  return (cp) => {
    if (!found.has(cp)) found.set(cp, medianBuildSeconds(linesNaming(emergeLogText, `${cp}-`)).get(cp));
    return found.get(cp);
  };
}

/** The lines of `text` that contain `needle`, in order, joined by newlines. */
function linesNaming(text: string, needle: string): string {
  const lines: string[] = [];
  let at = text.indexOf(needle);
  while (at !== -1) {
    const start = text.lastIndexOf('\n', at) + 1;
    let end = text.indexOf('\n', at);
    if (end === -1) end = text.length;
    lines.push(text.slice(start, end));
    at = text.indexOf(needle, end);
  }
  return lines.join('\n');
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Seconds the fake sleeps for a package: max(MIN_SECONDS, TIME_SCALE x real duration). */
export function scaledSeconds(realSeconds: number, timeScale: number, minSeconds: number): number {
  return Math.max(minSeconds, timeScale * realSeconds);
}

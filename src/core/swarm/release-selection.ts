/**
 * Which build of a slot a release takes: staging keeps every build a cycle published, a release holds one per
 * (category/name, SLOT): the highest version, then the newest BUILD_TIME, then the highest BUILD_ID. Shared by
 * finalize (src/system/binhost-releases.ts) and the preflight swarm check, so both mean the same release.
 */

import { compareVersions } from '../gentoo/compare-versions.ts';
import type { PackagesIndexEntry } from '../gentoo/packages-index.ts';
import { tryParseCpv } from '../gentoo/parse-cpv.ts';

/** `category/name:slot` (the sub-slot left out): two packages with one key cannot both be installed. */
export function slotKeyOf(entry: PackagesIndexEntry): string {
  const cpv = tryParseCpv(entry.fields['CPV'] ?? '');
  return `${cpv.ok ? cpv.value.cp : (entry.fields['CPV'] ?? '')}:${(entry.fields['SLOT'] ?? '0').split('/')[0]}`;
}

/** The newest build of each slot, in the order the entries came. */
export function newestPerSlot(entries: readonly PackagesIndexEntry[]): PackagesIndexEntry[] {
  const best = new Map<string, PackagesIndexEntry>();
  for (const entry of entries) {
    const key = slotKeyOf(entry);
    const held = best.get(key);
    if (held === undefined || isNewerBuild(entry, held)) best.set(key, entry);
  }
  const kept = new Set(best.values());
  return entries.filter((entry) => kept.has(entry));
}

export function isNewerBuild(a: PackagesIndexEntry, b: PackagesIndexEntry): boolean {
  const [va, vb] = [tryParseCpv(a.fields['CPV'] ?? ''), tryParseCpv(b.fields['CPV'] ?? '')];
  if (va.ok && vb.ok) {
    const order = compareVersions(va.value.pvr, vb.value.pvr);
    if (order !== 0) return order > 0;
  }
  const number = (entry: PackagesIndexEntry, key: string): number => Number(entry.fields[key] ?? 0) || 0;
  return number(a, 'BUILD_TIME') !== number(b, 'BUILD_TIME') ? number(a, 'BUILD_TIME') > number(b, 'BUILD_TIME') : number(a, 'BUILD_ID') > number(b, 'BUILD_ID');
}

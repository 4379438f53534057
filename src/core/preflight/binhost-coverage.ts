import type { EmergePlanEntry, EmergePlanPackage, EmergeUseFlag } from '../gentoo/parse-emerge-plan.ts';
import type { PackagesIndexEntry } from '../gentoo/packages-index.ts';

export interface Coverage {
  readonly total: number;
  readonly available: number;
  readonly missing: readonly string[];
  /** Missing packages that are critical: they would be compiled in place. */
  readonly criticalMissing: readonly string[];
  readonly percent: number;
  /** For each missing package: no binary at all, or binaries with other USE. */
  readonly reasons: Readonly<Record<string, 'no-binary' | 'use-differs'>>;
}

/** `PYTHON_TARGETS="python3_12"` in a plan is `python_targets_python3_12` in a binary's USE. */
function useName(flag: EmergeUseFlag): string {
  return flag.expandGroup === undefined ? flag.name : `${flag.expandGroup.toLowerCase()}_${flag.name}`;
}

/**
 * Whether a binary package was built with the USE the plan wants (what --binpkg-respect-use checks): every
 * flag the plan shows has the same state in the binary's USE. Forced and masked flags, shown in
 * parentheses, follow the profile and are not compared.
 */
export function hasMatchingUse(planned: EmergePlanPackage, binary: PackagesIndexEntry): boolean {
  const built = new Set((binary.fields['USE'] ?? '').split(' ').filter(Boolean));
  return planned.use.filter((flag) => !flag.forced && !flag.removed).every((flag) => built.has(useName(flag)) === flag.enabled);
}

/** The update set matched against a binhost index: which planned compiles have a binary with the right USE. */
export function computeCoverage(plan: readonly EmergePlanEntry[], index: readonly PackagesIndexEntry[], criticalPackages: readonly string[]): Coverage {
  const byCpv = new Map<string, PackagesIndexEntry[]>();
  for (const entry of index) {
    const list = byCpv.get(entry.fields['CPV'] as string) ?? [];
    list.push(entry);
    byCpv.set(entry.fields['CPV'] as string, list);
  }
  const merges = plan.filter((entry): entry is EmergePlanPackage => entry.kind === 'ebuild' || entry.kind === 'binary');
  const missing: string[] = [];
  const reasons: Record<string, 'no-binary' | 'use-differs'> = {};
  for (const entry of merges) {
    if (entry.kind === 'binary') continue; // emerge already chose a binary package for it
    const candidates = byCpv.get(entry.cpv) ?? [];
    if (candidates.some((candidate) => hasMatchingUse(entry, candidate))) continue;
    missing.push(entry.cpv);
    reasons[entry.cpv] = candidates.length === 0 ? 'no-binary' : 'use-differs';
  }
  const cpOf = (cpv: string): string => cpv.replace(/-\d.*$/, '');
  const critical = new Set(criticalPackages);
  const available = merges.length - missing.length;
  return {
    total: merges.length,
    available,
    missing,
    criticalMissing: missing.filter((cpv) => critical.has(cpOf(cpv))),
    percent: merges.length === 0 ? 100 : Math.floor((available / merges.length) * 1000) / 10,
    reasons,
  };
}

/**
 * `argo-toolkit/gentoo`: Portage-compatible readers and writers, pure (no I/O). Every parser returns
 * diagnostics `{ file, line, field, message, action }` instead of throwing; `parse*` functions whose
 * contract is one value throw ArgoError, and their `tryParse*` twins return `{ ok, value | reason }`.
 * The folder walkers that read a root (`readVdb`, `readConfigFiles`, `readMakeConf`) are exported from
 * `argo-toolkit` itself, because they touch the disk.
 */
export type { Diagnostic } from './diagnostics.ts';
export type { ParseResult } from './parse-result.ts';

// Versions, package names, atoms
export { tryParseVersion, parseVersion, isValidVersion, isPmsVersion, stripRevision, type Version, type VersionSuffix, type VersionSuffixKind } from './parse-version.ts';
export { compareVersions, type VersionOrder } from './compare-versions.ts';
export { isValidCategory, isValidPackageName, endsWithVersion, trySplitPackageVersion, splitPackageVersion, tryParseCpv, parseCpv, type Cpv, type PackageVersion } from './parse-cpv.ts';
export { tryParseAtom, parseAtom, type Atom, type AtomOperator, type AtomBlocker, type SlotOperator, type UseDep, type UseDepKind, type ParseAtomOptions } from './parse-atom.ts';
export { formatAtom, formatUseDep } from './format-atom.ts';
export { evaluateAtomUse } from './evaluate-atom-use.ts';
export { matchAtom, findMatches, type PackageRef } from './match-atom.ts';

// Dependency specifications
export { parseDepSpec, isValidUseFlag, type DepSpec, type DepNode, type DepAtomNode, type DepTokenNode, type DepConditionalNode, type DepGroupNode, type DepGroupKind, type ParseDepSpecOptions } from './parse-dep-spec.ts';
export { formatDepSpec, formatDepNode } from './format-dep-spec.ts';
export { evaluateDepSpec, collectAtoms, type EvaluateDepSpecOptions } from './evaluate-dep-spec.ts';
export { matchDepSpec, type DepSpecMatch } from './match-dep-spec.ts';

// Installed packages (/var/db/pkg)
export { parseVdbEntry, VDB_BUILD_SETTING_KEYS, type VdbPackage, type VdbEntry } from './parse-vdb-entry.ts';
export { parseContents, type Contents, type ContentsEntry, type ParseContentsOptions } from './parse-contents.ts';
export { parseNeeded, parseNeededElf2, type NeededEntry, type NeededElfEntry } from './parse-needed.ts';
export { parseSonameDeps, type SonameDeps } from './parse-soname-deps.ts';
export { findInstalled, type InstalledPackages } from './find-installed.ts';

// Portage configuration, world and sets, metadata cache
export { parsePackageUse, splitConfigLine, packageConfigKey, type PackageConfig, type PackageConfigEntry, type ParsePackageUseOptions } from './parse-package-use.ts';
export { resolvePackageUse, type ResolvedPackageUse } from './resolve-package-use.ts';
export { mergeIncremental, type MergeIncrementalOptions } from './merge-incremental.ts';
export { parseMakeConf, type MakeConf, type MakeConfOrigin, type ParseMakeConfOptions } from './parse-make-conf.ts';
export { parseWorldFile, parseWorldSets, parseSetReference, PORTAGE_SETS, type WorldAtom, type WorldSet } from './parse-world.ts';
export { parseMd5CacheEntry, type Md5CacheEntry, type EclassDigest } from './parse-md5-cache-entry.ts';

// Binhost index and binary packages
export { parsePackagesIndex, type ParsePackagesIndexOptions } from './parse-packages-index.ts';
export { formatPackagesIndex, refreshPackagesIndexHeader, type FormatPackagesIndexOptions } from './format-packages-index.ts';
export type { PackagesIndex, PackagesIndexEntry, ParsedPackagesIndex, IndexFields } from './packages-index.ts';
export { gzipPackagesIndex, gunzipPackagesIndex } from './packages-index-gzip.ts';
export { parseBinreposConf, type BinreposConf, type BinreposConfSection } from './parse-binrepos-conf.ts';
export { listBinrepos, type Binrepo, type BinrepoList, type ListBinreposInput } from './list-binrepos.ts';
export { readGpkg, type Gpkg, type GpkgMember, type GpkgImageEntry, type GpkgVerification, type ReadGpkgOptions } from './read-gpkg.ts';
export { writeGpkg, type WriteGpkgInput, type GpkgImageInput } from './write-gpkg.ts';
export { parseGpkgManifest, formatGpkgManifest, type GpkgManifest, type GpkgManifestEntry } from './gpkg-manifest.ts';
export { readXpak, type Xpak, type XpakIndexEntry } from './read-xpak.ts';

// emerge's log and output
export { parseEmergeLog, type ParsedEmergeLog, type EmergeLogBuild, type EmergeLogAbort, type EmergeLogAttempt } from './parse-emerge-log.ts';
export { parseEmergePlan, type ParsedEmergePlan, type EmergePlanEntry, type EmergePlanPackage, type EmergePlanTotal, type EmergeUseFlag } from './parse-emerge-plan.ts';
export { parseEmergeProgressLine, type EmergeProgressEvent } from './parse-emerge-progress.ts';

/**
 * Reads the inputs of a swarm cycle from disk: a binhost Packages index, or an `emerge -pv` plan with the
 * repository's md5-cache (entries named CATEGORY/PF), and emerge.log files for durations. A file that cannot be
 * read, or from which nothing usable can be parsed, is an ArgoError naming it (and the line when known).
 * Smaller problems come back as diagnostics.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArgoError } from '../core/errors.ts';
import type { Diagnostic } from '../core/gentoo/diagnostics.ts';
import type { EmergeLogBuild } from '../core/gentoo/parse-emerge-log.ts';
import { parseEmergeLog } from '../core/gentoo/parse-emerge-log.ts';
import { parseEmergePlan, type EmergePlanPackage } from '../core/gentoo/parse-emerge-plan.ts';
import { parseMd5CacheEntry, type Md5CacheEntry } from '../core/gentoo/parse-md5-cache-entry.ts';
import { gunzipPackagesIndex } from '../core/gentoo/packages-index-gzip.ts';
import { parsePackagesIndex } from '../core/gentoo/parse-packages-index.ts';
import { packagesFromIndex, packagesFromPlan, type DagInputPackage } from '../core/swarm/build-dag.ts';
import { isMissing } from './fs-errors.ts';

/** Where a cycle's packages come from; a plan may come as text (from the gateway's API), `file` then names it in messages. */
export type SwarmCycleSource = { readonly kind: 'packages-index'; readonly file: string } | { readonly kind: 'plan'; readonly file: string; readonly md5Cache: string; readonly text?: string };

export interface SwarmInputs {
  readonly packages: readonly DagInputPackage[];
  readonly builds: readonly EmergeLogBuild[];
  readonly diagnostics: readonly Diagnostic[];
}

export async function readSwarmInputs(source: SwarmCycleSource, historyFiles: readonly string[]): Promise<SwarmInputs> {
  const diagnostics: Diagnostic[] = [];
  const packages = source.kind === 'packages-index' ? await readIndexPackages(source.file, diagnostics) : await readPlanPackages(source.file, source.md5Cache, diagnostics, source.text);
  const builds: EmergeLogBuild[] = [];
  for (const file of historyFiles) {
    const log = parseEmergeLog(await readText(file, 'emerge.log'), { file });
    if (log.builds.length === 0 && log.diagnostics.length > 0) throw unparsable(file, 'an emerge.log', log.diagnostics[0]);
    diagnostics.push(...log.diagnostics);
    builds.push(...log.builds);
  }
  return { packages, builds, diagnostics };
}

async function readIndexPackages(file: string, diagnostics: Diagnostic[]): Promise<DagInputPackage[]> {
  const index = parsePackagesIndex(await readIndexText(file), { file });
  if (index.packages.length === 0) throw unparsable(file, 'a Packages index with at least one package', index.diagnostics[0], 'ARGO_INDEX_INVALID');
  diagnostics.push(...index.diagnostics);
  return packagesFromIndex(index.packages, file);
}

async function readPlanPackages(file: string, md5Cache: string, diagnostics: Diagnostic[], text?: string): Promise<DagInputPackage[]> {
  const plan = parseEmergePlan(text ?? (await readText(file, 'emerge plan')), { file });
  const planned = plan.packages.filter((entry): entry is EmergePlanPackage => entry.kind === 'ebuild');
  if (planned.length === 0) throw unparsable(file, 'an emerge -pv plan with at least one [ebuild …] line', plan.diagnostics[0]);
  diagnostics.push(...plan.diagnostics);
  const cache = new Map<string, { entry: Md5CacheEntry; file: string }>();
  for (const pkg of planned) {
    const path = join(md5Cache, pkg.cpv);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (isMissing(error)) continue; // reported by packagesFromPlan, with the plan's line
      throw cannotRead(path, 'md5-cache entry', error);
    }
    const parsed = parseMd5CacheEntry(text, { file: path });
    diagnostics.push(...parsed.diagnostics);
    cache.set(pkg.cpv, { entry: parsed.entry, file: path });
  }
  if (cache.size === 0) {
    throw new ArgoError('ARGO_FILE_NOT_FOUND', `No md5-cache entry for any package of the plan under ${md5Cache}`, {
      hint: 'Give --md5-cache the metadata/md5-cache folder of the repository the plan was made from (entries CATEGORY/PF).',
      details: { path: md5Cache, plan: file },
    });
  }
  const fromPlan = packagesFromPlan(planned, cache, file);
  diagnostics.push(...fromPlan.diagnostics);
  return fromPlan.packages;
}

/** `Packages` as text, or `Packages.gz` (gzip magic), as binhosts serve both. */
async function readIndexText(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw cannotRead(path, 'Packages index', error);
  }
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipPackagesIndex(bytes, { file: path }) : new TextDecoder().decode(bytes);
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw cannotRead(path, what, error);
  }
}

function cannotRead(path: string, what: string, error: unknown): ArgoError {
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  return new ArgoError(isMissing(error) ? 'ARGO_FILE_NOT_FOUND' : 'ARGO_INVALID_INPUT', `Cannot read the ${what} ${path}`, {
    cause: error,
    hint: isMissing(error) ? 'Check the path.' : 'Check that it is a readable file.',
    details: { path, errno },
  });
}

function unparsable(path: string, expected: string, first: Diagnostic | undefined, code: 'ARGO_INVALID_INPUT' | 'ARGO_INDEX_INVALID' = 'ARGO_INVALID_INPUT'): ArgoError {
  const where = first?.line === undefined ? path : `${path}:${first.line}`;
  return new ArgoError(code, `${where} is not ${expected}${first === undefined ? '' : `: ${first.message}`}`, {
    hint: 'Give the file the option asks for; see build-swarm simulate --help.',
    details: { path, ...(first?.line === undefined ? {} : { line: first.line }), ...(first?.field === undefined ? {} : { field: first.field }) },
  });
}

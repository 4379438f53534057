/**
 * What `build-swarm verify` judges (src/core/swarm/verify-score.ts), read from Redis and the gateway's data
 * folder: the profile's newest cycle with every package's state, the staging index
 * (`DATA/staging/<binhost>/Packages`), the production release's index (`DATA/production/<binhost>/Packages`, a
 * symlink to the current release; absent before the first finalize) and, when given, a world file.
 *
 * Verify is a gate: an input it cannot trust is an ArgoError naming it and what to do, never a guess. An index
 * Portage would read differently from what it says (a line without a colon, a missing VERSION, a stanza without
 * CPV, reading stopped early, a CPV that does not parse) is refused with its file and line; keys Portage merely
 * drops are fine.
 */

import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ArgoError } from '../core/errors.ts';
import type { Diagnostic } from '../core/gentoo/diagnostics.ts';
import { tryParseCpv } from '../core/gentoo/parse-cpv.ts';
import { parsePackagesIndex } from '../core/gentoo/parse-packages-index.ts';
import { parseWorldFile, type WorldAtom } from '../core/gentoo/parse-world.ts';
import { PACKAGE_STATES, type PackageState } from '../core/swarm/cycle-model.ts';
import type { ProfileSettings } from '../core/swarm/swarm-config.ts';
import { scoreVerify, type IndexStanza, type VerifyCycle, type VerifyReport } from '../core/swarm/verify-score.ts';
import type { PackageConfigEntry } from '../core/gentoo/parse-package-use.ts';
import { readTextIfPresent } from '../system/gateway-files.ts';
import { planNextRelease, type ReleasePlan } from '../system/binhost-releases.ts';
import { readCycle, readRecords } from './cycle-store.ts';
import type { SwarmKeys } from './swarm-keys.ts';

export interface VerifyInputsRequest {
  readonly redis: Redis;
  readonly keys: SwarmKeys;
  readonly profile: Pick<ProfileSettings, 'name' | 'binhostPath'>;
  /** The gateway's data folder (`--data`). */
  readonly dataDir: string;
  /** `--world FILE`, a Portage world file. */
  readonly worldFile: string | undefined;
}

export interface ReadIndex {
  readonly file: string;
  readonly stanzas: readonly IndexStanza[];
}

export interface VerifyInputs {
  readonly cycle: VerifyCycle;
  readonly staging: ReadIndex;
  /** Undefined when the profile has no production release yet. */
  readonly production: ReadIndex | undefined;
  readonly world: { readonly file: string; readonly atoms: readonly WorldAtom[] } | undefined;
}

export async function readVerifyInputs(request: VerifyInputsRequest): Promise<VerifyInputs> {
  const { profile, dataDir } = request;
  const cycle = await readNewestCycle(request.redis, request.keys, profile.name);
  const stagingFile = join(dataDir, 'staging', profile.binhostPath, 'Packages');
  const staging = await readBinhostIndex(stagingFile);
  if (staging === undefined) {
    throw new ArgoError('ARGO_FILE_NOT_FOUND', `Profile ${profile.name} has no staging index ${stagingFile}`, {
      hint: `Check that --data is the gateway's data folder and that cycle ${cycle.id} has published packages (build-swarm status).`,
      details: { path: stagingFile, profile: profile.name, cycle: cycle.id },
    });
  }
  const production = await readBinhostIndex(join(dataDir, 'production', profile.binhostPath, 'Packages'));
  const world = request.worldFile === undefined ? undefined : { file: request.worldFile, atoms: await readWorld(request.worldFile) };
  return { cycle, staging, production, world };
}

export interface VerifyProfileRequest extends VerifyInputsRequest {
  readonly profile: Pick<ProfileSettings, 'name' | 'binhostPath' | 'use'>;
  /** Parsed with parseUsePins: DEFAULT_USE_PINS first, then the operator's. */
  readonly pins: readonly PackageConfigEntry[];
  readonly threshold: number;
  /** The release to judge (finalize passes the one it is about to publish); default: what finalize would publish now. */
  readonly plan?: ReleasePlan;
}

/**
 * Scores the release finalize would publish (staging's newest build per slot and what the current release keeps),
 * every package's dependencies against that release itself: what `build-swarm verify` and the gateway's finalize
 * both run, so the score judges exactly what is published.
 */
export async function verifyProfile(request: VerifyProfileRequest): Promise<VerifyReport> {
  const inputs = await readVerifyInputs(request);
  const plan = request.plan ?? (await planNextRelease({ data: request.dataDir, binhost: request.profile.binhostPath }));
  return scoreVerify({
    profile: { name: request.profile.name, use: request.profile.use },
    cycle: inputs.cycle,
    // The plan holds what production keeps; production is named in the details only when there is one.
    staging: plan.packages.map((entry) => entry.fields),
    production: inputs.production === undefined ? undefined : [],
    pins: request.pins,
    world: inputs.world?.atoms,
    threshold: request.threshold,
  });
}

/** The fields of the cycle and its records that verify relies on, checked: Redis is outside data. */
const definitionSchema = z.object({ id: z.string(), profile: z.string(), nodes: z.array(z.object({ cpv: z.string() })) });
const packageState = z.custom<PackageState>((value) => PACKAGE_STATES.some((state) => state === value), 'not a package state');
const recordSchema = z.object({ cpv: z.string(), state: packageState });

/** How many cycle ids to look at per round trip while searching for the profile's newest. */
const CYCLE_BATCH = 50;

/** The profile's newest cycle (by creation time), with each package's state; running or finished. */
export async function readNewestCycle(redis: Redis, keys: SwarmKeys, profile: string): Promise<VerifyCycle> {
  const id = await newestCycleId(redis, keys, profile);
  const stored = id === undefined ? undefined : await readCycle(redis, keys, id);
  if (id === undefined || stored === undefined) {
    throw new ArgoError('ARGO_USAGE', `Profile ${profile} has no cycle to verify`, {
      hint: `Start one with build-swarm fresh --profile ${profile}, and verify once it has built.`,
      details: { profile },
    });
  }
  const definition = definitionSchema.safeParse(stored.definition);
  if (!definition.success) throw badRecord(keys.cycle(id), definition.error);
  const states = new Map<string, PackageState>();
  for (const [cpv, record] of await readRecords(redis, keys, id)) {
    const parsed = recordSchema.safeParse(record);
    if (!parsed.success || parsed.data.cpv !== cpv) throw badRecord(`${keys.packages(id)} ${cpv}`, parsed.error);
    states.set(cpv, parsed.data.state);
  }
  return { id, packages: definition.data.nodes.map((node) => ({ cpv: node.cpv, state: states.get(node.cpv) })) };
}

async function newestCycleId(redis: Redis, keys: SwarmKeys, profile: string): Promise<string | undefined> {
  for (let start = 0; ; start += CYCLE_BATCH) {
    const ids = await redis.zrevrange(keys.cycles, start, start + CYCLE_BATCH - 1);
    if (ids.length === 0) return undefined;
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hget(keys.cycle(id), 'profile');
    const profiles = (await pipeline.exec()) ?? [];
    const index = profiles.findIndex(([error, value]) => error === null && value === profile);
    if (index !== -1) return ids[index];
  }
}

function badRecord(key: string, error: z.ZodError | undefined): ArgoError {
  return new ArgoError('ARGO_INVALID_INPUT', `The swarm's Redis holds a cycle record verify cannot read: ${key}`, {
    hint: 'It was written by another version of argo, or changed by hand; start a fresh cycle for the profile.',
    details: { key, problems: error?.issues.slice(0, 5).map((issue) => `${issue.path.join('.')}: ${issue.message}`) ?? ['the record names another package'] },
  });
}

/** A binhost's `Packages`, or undefined when the file (or a folder on the way) does not exist. */
export async function readBinhostIndex(file: string): Promise<ReadIndex | undefined> {
  let text: string | undefined;
  try {
    text = await readTextIfPresent(file);
  } catch (error) {
    throw new ArgoError('ARGO_INVALID_INPUT', `Cannot read the Packages index ${file}`, { cause: error, hint: 'Check that it is a readable file.', details: { path: file } });
  }
  if (text === undefined) return undefined;
  const index = parsePackagesIndex(text, { file });
  const fatal = index.diagnostics.find((diagnostic) => diagnostic.action !== 'dropped');
  if (fatal !== undefined) throw invalidIndex(file, fatal.line, `${fatal.message}${fatal.field === undefined ? '' : ` (${fatal.field})`}`);
  for (const entry of index.packages) {
    const cpv = entry.fields['CPV'] ?? '';
    const parsed = tryParseCpv(cpv);
    if (!parsed.ok) throw invalidIndex(file, lineOf(text, `CPV: ${cpv}`), `CPV ${JSON.stringify(cpv)}: ${parsed.reason}`);
  }
  return { file, stanzas: index.packages.map((entry) => entry.fields) };
}

function invalidIndex(file: string, line: number | undefined, problem: string): ArgoError {
  return new ArgoError('ARGO_INDEX_INVALID', `${file}${line === undefined ? '' : `:${line}`}: ${problem}`, {
    hint: 'The gateway rewrites staging\'s Packages after every upload: republish the package, or restore the index of a release (build-swarm rollback).',
    details: { path: file, ...(line === undefined ? {} : { line }) },
  });
}

/** 1-based line of the first line that is exactly `wanted`. */
function lineOf(text: string, wanted: string): number | undefined {
  const index = text.split(/\r\n?|\n/).indexOf(wanted);
  return index === -1 ? undefined : index + 1;
}

/** The world file's atoms; a line Portage would drop is refused, so that coverage counts what the file says. */
export async function readWorld(file: string): Promise<readonly WorldAtom[]> {
  let text: string | undefined;
  let failure: unknown;
  try {
    text = await readTextIfPresent(file);
  } catch (error) {
    failure = error;
  }
  if (text === undefined) {
    throw new ArgoError(failure === undefined ? 'ARGO_FILE_NOT_FOUND' : 'ARGO_INVALID_INPUT', `Cannot read the world file ${file}`, {
      ...(failure === undefined ? {} : { cause: failure }),
      hint: 'Give --world a Portage world file (/var/lib/portage/world of a client of the profile).',
      details: { path: file },
    });
  }
  const world = parseWorldFile(text, { file });
  const problem: Diagnostic | undefined = world.diagnostics[0];
  if (problem !== undefined) {
    throw new ArgoError('ARGO_INVALID_INPUT', `${file}:${problem.line ?? 0}: ${problem.field ?? ''}: ${problem.message}`, {
      hint: 'A world file holds one package atom per line (cat/pkg or cat/pkg:slot); remove or fix the line.',
      details: { path: file, line: problem.line },
    });
  }
  return world.atoms;
}

/**
 * The `swarm` check's judgement, pure: what the gateway and the target said goes in, the outcome comes out.
 *
 * - fail: the swarm has no production release of the profile; that release is older than the repository
 *   snapshot the update goes to (its binaries lack what the snapshot changed); the verify of the newest
 *   finished cycle is not safe (the swarm itself says its builds must not be published).
 * - warn: a cycle of the profile is running (production is about to change; its verify is not judged, as
 *   packages still building count as missing); staging holds builds production does not (built, not
 *   published); the repository date or the verify could not be read.
 */

import type { PackagesIndexEntry } from '../../core/gentoo/packages-index.ts';
import { newestPerSlot } from '../../core/swarm/release-selection.ts';
import type { CycleStatus } from '../../core/swarm/swarm-status.ts';
import type { VerifyReport } from '../../swarm-client/api.ts';
import type { CheckOutcome } from '../types.ts';
import type { RepositoryDate } from './repository-date.ts';

export interface SwarmFacts {
  readonly gateway: string;
  readonly profile: string;
  /** The profile's cycles that have not finished. */
  readonly running: readonly CycleStatus[];
  /** The current production release, or undefined before the first finalize. */
  readonly release: { readonly id: string; readonly createdAt: string } | undefined;
  readonly repository: RepositoryDate | undefined;
  /** The gateway's verify of the profile, or why it could not be read. */
  readonly verify: VerifyReport | { readonly error: string };
  readonly staging: readonly PackagesIndexEntry[];
  readonly production: readonly PackagesIndexEntry[];
}

interface Finding {
  readonly summary: string;
  readonly advice: string;
}

/** How many package names a summary line names before it says "and N more". */
const NAMED = 3;

export function judgeSwarm(facts: SwarmFacts): CheckOutcome {
  const failures: Finding[] = [];
  const warnings: Finding[] = [];
  const unpublished = unpublishedBuilds(facts.staging, facts.production);
  const verify = 'error' in facts.verify ? undefined : facts.verify;

  const release = releaseFinding(facts);
  if (release !== undefined) (release.fail ? failures : warnings).push(release);
  for (const cycle of facts.running) {
    warnings.push({
      summary: `cycle ${cycle.id} of ${facts.profile} is running (${cycle.counts.built} of ${cycle.packages.length} built, ~${formatSeconds(cycle.eta)} left)`,
      advice: 'Production changes when it is finalized: follow it with build-swarm status and check again afterwards.',
    });
  }
  if (facts.running.length === 0) {
    if ('error' in facts.verify) {
      warnings.push({ summary: `the swarm's verify could not be read: ${facts.verify.error}`, advice: `Run build-swarm verify --profile ${facts.profile} on the swarm to see why.` });
    } else if (!facts.verify.safe) {
      failures.push({
        summary: `the swarm's verify scores ${facts.verify.score} (safe below ${facts.verify.threshold}): ${describeComponents(facts.verify)}`,
        advice: `The swarm says its builds are not fit to publish: fix what build-swarm verify --profile ${facts.profile} lists before updating from it.`,
      });
    }
  }
  if (unpublished.length > 0) {
    warnings.push({
      summary: `staging holds ${unpublished.length} build${unpublished.length === 1 ? '' : 's'} production does not (${nameSome(unpublished)})`,
      advice: `They are built but not published: build-swarm finalize --profile ${facts.profile} publishes them once verify passes.`,
    });
  }

  const details = {
    gateway: facts.gateway,
    profile: facts.profile,
    release: facts.release ?? null,
    repository: facts.repository === undefined ? null : { file: facts.repository.file, date: facts.repository.date.toISOString() },
    running: facts.running.map((cycle) => ({ id: cycle.id, built: cycle.counts.built, failed: cycle.counts.failed, total: cycle.packages.length, etaSeconds: Math.round(cycle.eta) })),
    verify: verify === undefined ? { error: (facts.verify as { error: string }).error } : { score: verify.score, safe: verify.safe, threshold: verify.threshold, components: verify.components },
    unpublished,
  };
  const [firstFailure] = failures;
  if (firstFailure !== undefined) return { status: 'fail', summary: failures.map((finding) => finding.summary).join('; '), details, advice: firstFailure.advice };
  const [firstWarning] = warnings;
  if (firstWarning !== undefined) return { status: 'warn', summary: warnings.map((finding) => finding.summary).join('; '), details, advice: firstWarning.advice };
  return {
    status: 'pass',
    summary: `production release ${facts.release?.id ?? '?'} of ${facts.profile} is newer than the repository snapshot; verify ${verify?.score ?? '?'} (safe below ${verify?.threshold ?? '?'}); no cycle running, nothing unpublished`,
    details,
  };
}

/** The release's age against the repository snapshot: a failure, a warning when it cannot be told, or nothing. */
function releaseFinding(facts: SwarmFacts): (Finding & { readonly fail: boolean }) | undefined {
  if (facts.release === undefined) {
    return { fail: true, summary: `the swarm has published no release of ${facts.profile}`, advice: `Build and publish one first: build-swarm fresh --profile ${facts.profile}, then build-swarm finalize.` };
  }
  const created = Date.parse(facts.release.createdAt);
  if (facts.repository === undefined || Number.isNaN(created)) {
    const missing = facts.repository === undefined ? 'the repository snapshot has no readable metadata/timestamp.chk' : `release ${facts.release.id} has no readable creation time`;
    return { fail: false, summary: `the age of release ${facts.release.id} could not be compared: ${missing}`, advice: 'Sync the repository (emaint sync -r gentoo) so that its timestamp.chk says which snapshot the update goes to.' };
  }
  if (created >= facts.repository.date.getTime()) return undefined;
  return {
    fail: true,
    summary: `production release ${facts.release.id} (${facts.release.createdAt}) is older than the repository snapshot (${facts.repository.date.toISOString()}, ${facts.repository.file})`,
    advice: 'Its binaries predate what the update installs: let the swarm build this snapshot first (apkg update --request-builds asks it to).',
  };
}

/**
 * The builds the next finalize would publish that production lacks: staging's newest build of each
 * (category/name, SLOT), as a release takes them, compared with production by CPV, BUILD_ID and PATH. Older
 * builds staging keeps (a release never takes them) are not counted.
 */
export function unpublishedBuilds(staging: readonly PackagesIndexEntry[], production: readonly PackagesIndexEntry[]): string[] {
  const published = new Set(production.map(buildKey));
  return newestPerSlot(staging)
    .filter((entry) => !published.has(buildKey(entry)))
    .map((entry) => `${entry.fields['CPV'] ?? '?'}${(entry.fields['BUILD_ID'] ?? '') === '' ? '' : `-${entry.fields['BUILD_ID']}`}`);
}

function buildKey(entry: PackagesIndexEntry): string {
  return [entry.fields['CPV'] ?? '', entry.fields['BUILD_ID'] ?? '', entry.fields['PATH'] ?? ''].join('\n');
}

/** `failed 25 (sys-libs/zlib-1.2.8-r1 failed), coverage 3` : the components that scored, as verify lists them. */
export function describeComponents(verify: Pick<VerifyReport, 'components'>): string {
  const scored = verify.components.filter((component) => component.points > 0);
  if (scored.length === 0) return 'no component scored';
  return scored.map((component) => `${component.id} ${component.points}${component.packages.length === 0 ? '' : ` (${nameSome(component.packages)})`}`).join(', ');
}

function nameSome(names: readonly string[]): string {
  return names.length <= NAMED ? names.join(', ') : `${names.slice(0, NAMED).join(', ')} and ${names.length - NAMED} more`;
}

/** `1h05m`, `3m20s`, `12s`: an ETA at a glance. */
export function formatSeconds(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  return m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

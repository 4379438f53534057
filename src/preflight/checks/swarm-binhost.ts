/**
 * What a client reads of its build swarm, through the gateway's one client (src/swarm-client): the profile it
 * takes binaries from, and that profile's production or staging `Packages` index. Shared by the preflight
 * checks and `apkg update --request-builds`.
 */

import { ArgoError, isArgoError } from '../../core/errors.ts';
import type { PackagesIndexEntry } from '../../core/gentoo/packages-index.ts';
import { parsePackagesIndex } from '../../core/gentoo/parse-packages-index.ts';
import type { CheckOutcome, SwarmAccess } from '../types.ts';

export interface SwarmIndex {
  /** The binhost's URL (no credentials), for messages and details. */
  readonly url: string;
  /** False when the binhost serves no index: a profile never finalized, or nothing staged yet. */
  readonly present: boolean;
  readonly entries: readonly PackagesIndexEntry[];
}

const profiles = new WeakMap<SwarmAccess, Promise<string>>();

/**
 * The profile of `swarm`, checked against the gateway's list: a misspelt profile would otherwise look like a
 * profile that was never published (its binhost answers 404 either way). Asked once per SwarmAccess.
 */
export function swarmProfile(swarm: SwarmAccess): Promise<string> {
  let profile = profiles.get(swarm);
  if (profile === undefined) {
    profile = resolveProfile(swarm);
    profiles.set(swarm, profile);
  }
  return profile;
}

async function resolveProfile(swarm: SwarmAccess): Promise<string> {
  const names = (await swarm.client.profiles()).profiles.map((entry) => entry.name).sort();
  if (swarm.profile !== undefined) {
    if (names.includes(swarm.profile)) return swarm.profile;
    throw new ArgoError('ARGO_CONFIG_INVALID', `The swarm at ${swarm.client.url} has no profile ${JSON.stringify(swarm.profile)}`, {
      hint: `Its profiles: ${names.join(', ') || 'none'}. Give one with --swarm-profile (or ARGO_SWARM_PROFILE).`,
      details: { gateway: swarm.client.url, profiles: names },
    });
  }
  const [only, ...others] = names;
  if (only !== undefined && others.length === 0) return only;
  throw new ArgoError('ARGO_CONFIG_INVALID', `The swarm at ${swarm.client.url} serves ${names.length} profiles; which one does this system use?`, {
    hint: `Give --swarm-profile (or ARGO_SWARM_PROFILE): ${names.join(', ') || 'the gateway lists none'}.`,
    details: { gateway: swarm.client.url, profiles: names },
  });
}

/** Where the gateway serves a profile's binhosts: `binhost` is production, `staging` what the cycles uploaded. */
export function swarmBinhostPath(where: 'binhost' | 'staging', profile: string): string {
  return `/${where}/${encodeURIComponent(profile)}`;
}

/** The `Packages` index of the profile's production (`binhost`) or staging binhost. */
export async function readSwarmIndex(swarm: SwarmAccess, profile: string, where: 'binhost' | 'staging'): Promise<SwarmIndex> {
  const path = swarmBinhostPath(where, profile);
  const url = `${swarm.client.url}${path}/`;
  const text = await swarm.client.fetchText(`${path}/Packages`);
  if (text === undefined) return { url, present: false, entries: [] };
  return { url, present: true, entries: parsePackagesIndex(text, { file: `${url}Packages` }).packages };
}

/**
 * The production binhost as emerge is given it (PORTAGE_BINHOST). Portage sends credentials only from the URL,
 * and the gateway takes the token as a Basic auth password; Portage hides URL passwords in what it prints.
 */
export function productionBinhostUrl(swarm: SwarmAccess, profile: string): string {
  const url = new URL(`${swarm.client.url}${swarmBinhostPath('binhost', profile)}/`);
  if (swarm.token !== undefined) {
    url.username = 'argo';
    url.password = swarm.token;
  }
  return url.toString();
}

/**
 * A swarm that does not answer (or refuses the token) leaves a check unable to say anything: it fails, naming
 * the gateway, rather than passing on what it could not see. Any other error is the caller's to handle.
 */
export function unreachableSwarm(error: unknown, swarm: SwarmAccess): CheckOutcome {
  if (!isArgoError(error, 'ARGO_SWARM_UNREACHABLE') && !isArgoError(error, 'ARGO_SWARM_UNAUTHORIZED')) throw error;
  const what = error.code === 'ARGO_SWARM_UNREACHABLE' ? 'does not answer' : swarm.token === undefined ? 'wants a token (--swarm-token-file)' : 'refused the token';
  return {
    status: 'fail',
    summary: `could not be checked: the swarm gateway ${swarm.client.url} ${what}`,
    details: { gateway: swarm.client.url, error: { code: error.code, message: error.message } },
    advice: error.hint ?? 'Check --swarm and --swarm-token-file.',
  };
}

/**
 * `swarm`: is the build swarm this system takes its binaries from (`--swarm URL`) fit to update from now?
 * Asks the gateway for its cycles, the profile's releases, its verify and both binhost indexes, reads the
 * repository date of the target, and leaves the judgement to judgeSwarm (./swarm-findings.ts).
 */

import { isArgoError } from '../../core/errors.ts';
import type { VerifyReport } from '../../swarm-client/api.ts';
import type { Check, SwarmAccess } from '../types.ts';
import { readRepositoryDate } from './repository-date.ts';
import { readSwarmIndex, swarmProfile, unreachableSwarm } from './swarm-binhost.ts';
import { judgeSwarm } from './swarm-findings.ts';

export const swarmCheck: Check = {
  id: 'swarm',
  budgetMs: 120_000,
  async run(context) {
    const swarm = context.options.swarm;
    if (swarm === undefined) return { status: 'skip', summary: 'no build swarm given (--swarm URL)', details: {} };
    try {
      const profile = await swarmProfile(swarm);
      const [status, releases, verify, production, staging, repository] = await Promise.all([
        swarm.client.status(),
        swarm.client.releases(profile),
        verifyOf(swarm, profile),
        readSwarmIndex(swarm, profile, 'binhost'),
        readSwarmIndex(swarm, profile, 'staging'),
        readRepositoryDate(context.system.target),
      ]);
      const current = releases.releases.find((release) => release.current);
      return judgeSwarm({
        gateway: swarm.client.url,
        profile,
        running: status.cycles.filter((cycle) => cycle.profile === profile && cycle.status === 'running'),
        release: current === undefined ? undefined : { id: current.id, createdAt: current.createdAt },
        repository,
        verify,
        staging: staging.entries,
        production: production.entries,
      });
    } catch (error) {
      return unreachableSwarm(error, swarm);
    }
  },
};

/**
 * The gateway's verify, or what kept it from answering (no cycle yet, no staging index): the check reports
 * that rather than failing on it. Unreachable and unauthorized stay errors: the whole check could not run.
 */
async function verifyOf(swarm: SwarmAccess, profile: string): Promise<VerifyReport | { error: string }> {
  try {
    return await swarm.client.verify(profile);
  } catch (error) {
    if (!isArgoError(error) || error.code === 'ARGO_SWARM_UNREACHABLE' || error.code === 'ARGO_SWARM_UNAUTHORIZED') throw error;
    return { error: error.message };
  }
}

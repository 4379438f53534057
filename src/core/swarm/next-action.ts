/**
 * The one thing `build-swarm status` recommends doing next, from the status alone: the first of these that
 * holds, in the order an operator would want to hear them (nothing can build without a leader or a drone; a
 * failure is worth a look before waiting; a finished cycle waits to be verified and published).
 */

import type { SwarmStatus } from './swarm-status.ts';

export interface NextAction {
  /** Why, in one line. */
  readonly reason: string;
  /** The command to run (a shell line), when there is one. */
  readonly command?: string;
}

export function nextAction(status: SwarmStatus): NextAction {
  if (status.leader === undefined) {
    return { reason: 'No orchestrator leads the swarm, so nothing is dispatched', command: 'rc-service build-swarm-orchestrator start   # systemd: systemctl start build-swarm-orchestrator; a local swarm: build-swarm up again' };
  }
  const online = status.drones.filter((drone) => drone.state !== 'offline');
  if (online.length === 0) {
    return { reason: status.drones.length === 0 ? 'No drone has registered' : 'Every drone is offline', command: 'rc-service build-swarm-drone start   # on each build machine' };
  }
  const grounded = status.drones.filter((drone) => drone.state === 'grounded');
  if (grounded.length > 0 && grounded.length === online.length) {
    const first = grounded[0] as (typeof grounded)[number];
    return { reason: `Every online drone is grounded (${first.id}: ${first.reason ?? 'no reason kept'})`, command: `build-swarm drone unground ${first.id}   # once its cause is fixed` };
  }
  const running = status.cycles.filter((cycle) => cycle.status === 'running');
  const newest = status.cycles[0];
  const failedIn = running.find((cycle) => cycle.counts.failed > 0) ?? (newest !== undefined && newest.status === 'finished' && (newest.counts.failed > 0 || newest.counts.blocked > 0) ? newest : undefined);
  if (failedIn !== undefined) {
    const { failed, blocked } = failedIn.counts;
    const reason =
      failed > 0
        ? `${failed} package${failed === 1 ? '' : 's'} failed in cycle ${failedIn.id}${blocked > 0 ? ` (${blocked} blocked by them)` : ''}`
        : `${blocked} package${blocked === 1 ? ' is' : 's are'} blocked in cycle ${failedIn.id} (what they need was cancelled or failed)`;
    return { reason, command: `build-swarm fix-blocked --cycle ${failedIn.id}` };
  }
  if (grounded.length > 0) {
    const first = grounded[0] as (typeof grounded)[number];
    return { reason: `Drone ${first.id} is grounded: ${first.reason ?? 'no reason kept'}`, command: `build-swarm drone unground ${first.id}   # once its cause is fixed` };
  }
  const cycle = running[0];
  if (cycle !== undefined && !online.some((drone) => drone.profiles.includes(cycle.profile))) {
    return { reason: `Cycle ${cycle.id} waits: no online drone builds profile ${cycle.profile}`, command: `build-swarm drone --profile ${cycle.profile}   # on a build machine with that profile's root` };
  }
  if (cycle !== undefined) {
    const left = cycle.counts.queued + cycle.counts['dep-wait'] + cycle.counts.building;
    return { reason: `Cycle ${cycle.id} (${cycle.profile}) is building: ${left} package${left === 1 ? '' : 's'} left, about ${formatDuration(cycle.eta)}`, command: 'build-swarm monitor' };
  }
  if (newest !== undefined && newest.counts.skipped === 0) {
    return { reason: `Cycle ${newest.id} (${newest.profile}) finished: every package built; unless already published`, command: `build-swarm verify --profile ${newest.profile} && build-swarm finalize --profile ${newest.profile}` };
  }
  return { reason: newest === undefined ? 'No cycle yet' : `Cycle ${newest.id} (${newest.profile}) ended with skipped packages`, command: 'build-swarm fresh --profile PROFILE --plan PLAN --md5-cache DIR' };
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

import { EXIT } from '../../core/errors.ts';
import type { SwarmStatus } from '../../core/swarm/swarm-status.ts';
import { connectRedis } from '../../swarm/redis-connection.ts';
import { swarmKeys } from '../../swarm/swarm-keys.ts';
import { readSwarmState } from '../../swarm/swarm-state.ts';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { endpointOf, loadSwarmConfig, type SwarmConfigArgs } from './swarm-roles.ts';

/** `build-swarm status`: the leader, every drone, the newest cycles. */
export async function runSwarmStatusCommand(args: SwarmConfigArgs, context: HandlerContext): Promise<CommandOutcome> {
  const config = await loadSwarmConfig(args, context);
  const redis = await connectRedis(endpointOf(config), 'commands', context.logger, 'argo-status');
  try {
    const status = await readSwarmState(redis, swarmKeys(config.redis.prefix));
    return { exitCode: EXIT.ok, json: status, text: renderStatus(status) };
  } finally {
    redis.disconnect();
  }
}

function renderStatus(status: SwarmStatus): string {
  const lines: string[] = [];
  lines.push(status.leader === undefined ? 'leader: none (no orchestrator holds the lease)' : `leader: ${status.leader.id} (epoch ${status.leader.epoch})`);
  lines.push('', 'drones:');
  if (status.drones.length === 0) lines.push('  none registered');
  for (const drone of status.drones) {
    const what = drone.building.length > 0 ? ` ${drone.building.map((entry) => entry.split(' ')[1]).join(', ')}` : '';
    lines.push(`  ${drone.id.padEnd(16)} ${drone.state.padEnd(9)} ${String(drone.cores).padStart(3)} cores${drone.sweeper ? ' sweeper' : ''}${what}${drone.reason === undefined ? '' : ` (${drone.reason})`}`);
  }
  for (const cycle of status.cycles) {
    const counts = Object.entries(cycle.counts).filter(([, count]) => count > 0).map(([state, count]) => `${state} ${count}`).join(', ');
    lines.push('', `cycle ${cycle.id} (${cycle.profile}, ${cycle.status}): ${counts}`);
    lines.push(`  elapsed ${cycle.elapsed.toFixed(0)} s, eta ${cycle.eta.toFixed(0)} s, lower bound ${cycle.lowerBound.toFixed(0)} s, ratio ${cycle.ratio.toFixed(3)}`);
    for (const pkg of cycle.packages.filter((entry) => entry.state === 'failed' || entry.state === 'building')) {
      lines.push(`  ${pkg.state.padEnd(8)} ${pkg.cpv}${pkg.drone === undefined ? '' : ` on ${pkg.drone}`}${pkg.reason === undefined ? '' : `: ${pkg.reason}`}`);
    }
  }
  return lines.join('\n');
}

import { EXIT } from '../../core/errors.ts';
import { formatDuration, nextAction } from '../../core/swarm/next-action.ts';
import type { SwarmStatus } from '../../core/swarm/swarm-status.ts';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { gatewayClient, type GatewayClientArgs } from './swarm-publish.ts';
import { endpointOf, loadSwarmConfig, type SwarmConfigArgs } from './swarm-config-args.ts';

export type SwarmStatusArgs = SwarmConfigArgs & GatewayClientArgs;

/**
 * `build-swarm status`: the leader, every drone, the newest cycles and one recommended next action. Through the
 * gateway when one is given (`--gateway` or ARGO_SWARM_GATEWAY), else straight from Redis (the swarm's config).
 */
export async function runSwarmStatusCommand(args: SwarmStatusArgs, context: HandlerContext): Promise<CommandOutcome> {
  const status = (args.gateway ?? context.process.env.ARGO_SWARM_GATEWAY ?? '') !== '' ? await (await gatewayClient(args, context)).status() : await statusFromRedis(args, context);
  const next = nextAction(status);
  return { exitCode: EXIT.ok, json: { ...status, next }, text: renderStatus(status) };
}

async function statusFromRedis(args: SwarmConfigArgs, context: HandlerContext): Promise<SwarmStatus> {
  const config = await loadSwarmConfig(args, context);
  // ioredis only for this path: through the gateway, status needs none of it.
  const [{ connectRedis }, { swarmKeys }, { readSwarmState }] = await Promise.all([import('../../swarm/redis-connection.ts'), import('../../swarm/swarm-keys.ts'), import('../../swarm/swarm-state.ts')]);
  const redis = await connectRedis(endpointOf(config), 'commands', context.logger, 'argo-status');
  try {
    return await readSwarmState(redis, swarmKeys(config.redis.prefix));
  } finally {
    redis.disconnect();
  }
}

export function renderStatus(status: SwarmStatus): string {
  const lines: string[] = [];
  const now = status.at;
  const ago = (at: number): string => formatDuration((now - at) / 1000);
  lines.push(status.leader === undefined ? 'leader: none (no orchestrator holds the lease)' : `leader: ${status.leader.id} (epoch ${status.leader.epoch})`);
  lines.push('', 'drones:');
  if (status.drones.length === 0) lines.push('  none registered');
  const running = status.cycles.filter((cycle) => cycle.status === 'running');
  const packageOf = (entry: string) => {
    const [cycleId, cpv] = entry.split(' ');
    return status.cycles.find((cycle) => cycle.id === cycleId)?.packages.find((pkg) => pkg.cpv === cpv);
  };
  for (const drone of status.drones) {
    const what = drone.building
      .map((entry) => {
        const pkg = packageOf(entry);
        const cpv = entry.split(' ')[1] ?? entry;
        if (pkg === undefined || pkg.state !== 'building' || pkg.startedAt === undefined) return `${cpv} (queued)`;
        const elapsed = (now - pkg.startedAt) / 1000;
        const share = pkg.expected > 0 ? ` ${Math.min(99, Math.round((100 * elapsed) / pkg.expected))}%` : '';
        return `${cpv} ${formatDuration(elapsed)}${share}`;
      })
      .join(', ');
    lines.push(`  ${drone.id.padEnd(16)} ${drone.state.padEnd(9)} since ${ago(drone.since).padEnd(12)} ${String(drone.cores).padStart(3)} cores${drone.sweeper ? ' sweeper' : ''}${what === '' ? '' : `  ${what}`}${drone.reason === undefined ? '' : ` (${drone.reason})`}`);
  }
  for (const cycle of status.cycles) {
    if (cycle.status !== 'running' && cycle !== status.cycles[0]) continue;
    const counts = Object.entries(cycle.counts).filter(([, count]) => count > 0).map(([state, count]) => `${state} ${count}`).join(', ');
    const total = cycle.packages.length;
    const done = cycle.counts.built;
    lines.push('', `cycle ${cycle.id} (${cycle.profile}, ${cycle.status}): ${done}/${total} built${counts === '' ? '' : `; ${counts}`}`);
    if (cycle.status === 'running') {
      lines.push(`  queue: ${cycle.queue.heavy} heavy, ${cycle.queue.normal} normal ready; ${cycle.counts['dep-wait']} waiting for dependencies`);
      lines.push(`  elapsed ${formatDuration(cycle.elapsed)}, ETA ${formatDuration(cycle.eta)}; makespan/lowerBound ${cycle.ratio.toFixed(2)} (lower bound ${formatDuration(cycle.lowerBound)})`);
    } else {
      lines.push(`  took ${formatDuration(cycle.elapsed)}; makespan/lowerBound ${cycle.ratio.toFixed(2)} (lower bound ${formatDuration(cycle.lowerBound)})`);
    }
    for (const pkg of cycle.packages.filter((entry) => entry.state === 'failed')) {
      lines.push(`  failed   ${pkg.cpv}${pkg.drone === undefined ? '' : ` on ${pkg.drone}`}${pkg.reason === undefined ? '' : `: ${pkg.reason}`}`);
    }
  }
  if (running.length === 0 && status.cycles.length === 0) lines.push('', 'cycles: none yet');
  const next = nextAction(status);
  lines.push('', `next: ${next.reason}${next.command === undefined ? '' : `\n  ${next.command}`}`);
  return lines.join('\n');
}

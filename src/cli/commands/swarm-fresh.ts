import { ArgoError, EXIT } from '../../core/errors.ts';
import { SCHEDULING_POLICIES, type SchedulingPolicy } from '../../core/swarm/dispatch-policy.ts';
import type { SwarmCycleSource } from '../../system/swarm-inputs.ts';
import { connectRedis } from '../../swarm/redis-connection.ts';
import { startCycle } from '../../swarm/start-cycle.ts';
import { swarmKeys } from '../../swarm/swarm-keys.ts';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { endpointOf, loadSwarmConfig, type SwarmConfigArgs } from './swarm-roles.ts';

export interface SwarmFreshArgs extends SwarmConfigArgs {
  readonly profile: string;
  readonly plan: string | undefined;
  readonly md5Cache: string | undefined;
  readonly packagesIndex: string | undefined;
  readonly history: readonly string[];
  readonly policy: string;
  readonly referenceSpeed: number | undefined;
  readonly allowIncomplete: boolean;
}

/**
 * `build-swarm fresh`: reads the cycle's packages (plan + md5-cache, or a Packages index), estimates durations
 * (emerge.log files and the swarm's own history) and writes the cycle to Redis; the leading orchestrator starts
 * dispatching it. Nothing is written when an input cannot be read.
 */
export async function runSwarmFreshCommand(args: SwarmFreshArgs, context: HandlerContext): Promise<CommandOutcome> {
  const config = await loadSwarmConfig(args, context);
  const profile = config.profiles[args.profile];
  if (profile === undefined) {
    throw new ArgoError('ARGO_USAGE', `No profile named ${args.profile}`, { hint: `Profiles: ${Object.keys(config.profiles).sort().join(', ')}.` });
  }
  const policy = SCHEDULING_POLICIES.find((candidate) => candidate === args.policy) as SchedulingPolicy | undefined;
  if (policy === undefined) throw new ArgoError('ARGO_USAGE', `--policy must be one of ${SCHEDULING_POLICIES.join(', ')}`);
  const source = sourceOf(args);
  const redis = await connectRedis(endpointOf(config), 'commands', context.logger, 'argo-fresh');
  try {
    const started = await startCycle({
      redis,
      keys: swarmKeys(config.redis.prefix),
      profile: profile.name,
      source,
      history: args.history,
      policy,
      ...(args.referenceSpeed === undefined ? {} : { referenceSpeed: args.referenceSpeed }),
      allowIncomplete: args.allowIncomplete,
    });
    const { definition, referenceSpeed, diagnostics } = started;
    const json = {
      cycle: definition.id,
      profile: profile.name,
      packages: definition.nodes.length,
      edges: definition.edges.length,
      cyclesBroken: definition.cyclesBroken,
      referenceSpeed,
      historyBuilds: started.historyBuilds,
      swarmHistoryPackages: started.swarmHistoryPackages,
      diagnostics: diagnostics.slice(0, 20),
      diagnosticsNotShown: Math.max(0, diagnostics.length - 20),
    };
    const broken = definition.cyclesBroken.reduce((count, cycle) => count + cycle.removed.length, 0);
    const text = [
      `cycle ${definition.id} created for profile ${profile.name}`,
      `${definition.nodes.length} packages, ${definition.edges.length} dependency edges, ${definition.cyclesBroken.length} dependency cycles broken (${broken} edges)`,
      `durations at ${referenceSpeed} cores from ${started.historyBuilds} emerge.log builds and the swarm's history of ${started.swarmHistoryPackages} packages`,
      diagnostics.length > 0 ? `${diagnostics.length} input diagnostics (--json lists them)` : '',
    ].filter((line) => line !== '').join('\n');
    return { exitCode: EXIT.ok, json, text };
  } finally {
    redis.disconnect();
  }
}

function sourceOf(args: SwarmFreshArgs): SwarmCycleSource {
  if (args.packagesIndex !== undefined && (args.plan !== undefined || args.md5Cache !== undefined)) {
    throw new ArgoError('ARGO_USAGE', 'Give either --packages-index or --plan with --md5-cache, not both');
  }
  if (args.packagesIndex !== undefined) return { kind: 'packages-index', file: args.packagesIndex };
  if (args.plan !== undefined && args.md5Cache !== undefined) return { kind: 'plan', file: args.plan, md5Cache: args.md5Cache };
  throw new ArgoError('ARGO_USAGE', 'Name the cycle: --packages-index FILE, or --plan FILE with --md5-cache DIR', { hint: 'Run build-swarm fresh --help.' });
}

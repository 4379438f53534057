import { ArgoError, EXIT } from '../../core/errors.ts';
import { SCHEDULING_POLICIES, type SchedulingPolicy } from '../../core/swarm/dispatch-policy.ts';
import type { SwarmCycleSource } from '../../system/swarm-inputs.ts';
import { connectRedis } from '../../swarm/redis-connection.ts';
import { startCycle } from '../../swarm/start-cycle.ts';
import { runningCyclesOf } from '../../swarm/cycle-store.ts';
import { swarmKeys } from '../../swarm/swarm-keys.ts';
import { syncDrones } from '../../swarm/drone-requests.ts';
import { readSwarmState } from '../../swarm/swarm-state.ts';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { endpointOf, loadSwarmConfig, type SwarmConfigArgs } from './swarm-config-args.ts';

export interface SwarmFreshArgs extends SwarmConfigArgs {
  readonly profile: string;
  readonly plan: string | undefined;
  readonly md5Cache: string | undefined;
  readonly packagesIndex: string | undefined;
  readonly history: readonly string[];
  readonly policy: string;
  readonly referenceSpeed: number | undefined;
  readonly allowIncomplete: boolean;
  readonly sync: boolean;
  readonly syncBudget: number;
}

/**
 * `build-swarm fresh`: reads the cycle's packages (plan + md5-cache, or a Packages index), estimates durations
 * (emerge.log files and the swarm's own history) and writes the cycle to Redis; the leading orchestrator starts
 * dispatching it. Nothing is written when an input cannot be read.
 *
 * Idempotent: while the profile's running cycle builds the very same packages, fresh starts nothing and names
 * that cycle (exit 0); a running cycle of other packages is refused (ARGO_CYCLE_ACTIVE, exit 3). With `--sync`,
 * every online drone of the profile runs `emerge --sync` first, and no cycle starts unless each one succeeded.
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
    const keys = swarmKeys(config.redis.prefix);
    // A running cycle of the profile decides alone (the same packages: that cycle; others: refused): never sync
    // the tree under its builds.
    const running = await runningCyclesOf(redis, keys, profile.name);
    if (args.sync && running.length === 0) {
      const state = await readSwarmState(redis, keys, { cycles: 0 });
      const drones = state.drones.filter((drone) => drone.state !== 'offline' && drone.profiles.includes(profile.name)).map((drone) => drone.id);
      const results = await syncDrones(redis, keys, { type: 'sync', profile: profile.name, budgetSeconds: args.syncBudget }, drones, 'fresh', context.signal);
      const bad = results.filter((result) => result.outcome !== 'ok');
      if (drones.length === 0 || bad.length > 0) {
        throw new ArgoError('ARGO_SYNC_FAILED', drones.length === 0 ? `No drone of profile ${profile.name} is online to sync` : `emerge --sync did not succeed on ${bad.map((result) => `${result.drone} (${result.outcome}: ${result.detail})`).join(', ')}; no cycle was started`, {
          hint: drones.length === 0 ? 'Start the drones (build-swarm status lists them), or run fresh without --sync.' : 'Look at that drone\'s repository and network, then run fresh again (build-swarm sync shows each drone).',
          details: { results },
        });
      }
    }
    const started = await startCycle({
      redis,
      keys,
      profile: profile.name,
      source,
      history: args.history,
      policy,
      ...(args.referenceSpeed === undefined ? {} : { referenceSpeed: args.referenceSpeed }),
      allowIncomplete: args.allowIncomplete,
    });
    const { definition, referenceSpeed, diagnostics } = started;
    if (started.alreadyRunning) {
      return {
        exitCode: EXIT.ok,
        json: { cycle: definition.id, profile: profile.name, packages: definition.nodes.length, alreadyRunning: true },
        text: `cycle ${definition.id} of profile ${profile.name} already builds these ${definition.nodes.length} packages: nothing new was started`,
      };
    }
    const json = {
      cycle: definition.id,
      profile: profile.name,
      packages: definition.nodes.length,
      alreadyRunning: false,
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

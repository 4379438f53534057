import { randomBytes } from 'node:crypto';
import { ArgoError, EXIT } from '../../core/errors.ts';
import { compactTimestamp } from '../../core/compact-timestamp.ts';
import { buildDag } from '../../core/swarm/build-dag.ts';
import type { CycleDefinition } from '../../core/swarm/cycle-model.ts';
import { SCHEDULING_POLICIES, type SchedulingPolicy } from '../../core/swarm/dispatch-policy.ts';
import { estimateDurations } from '../../core/swarm/expected-durations.ts';
import type { Diagnostic } from '../../core/gentoo/diagnostics.ts';
import { tryParseCpv } from '../../core/gentoo/parse-cpv.ts';
import { readSwarmInputs, type SwarmCycleSource } from '../../system/swarm-inputs.ts';
import { createCycle, readDurations } from '../../swarm/cycle-store.ts';
import { listDrones } from '../../swarm/drone-registry.ts';
import { connectRedis } from '../../swarm/redis-connection.ts';
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
  const inputs = await readSwarmInputs(sourceOf(args), args.history);
  const redis = await connectRedis(endpointOf(config), 'commands', context.logger, 'argo-fresh');
  try {
    const keys = swarmKeys(config.redis.prefix);
    const drones = (await listDrones(redis, keys)).filter((drone) => drone.profiles.includes(profile.name));
    const referenceSpeed = args.referenceSpeed ?? Math.max(1, ...drones.map((drone) => drone.cores));
    const cps = [...new Set(inputs.packages.flatMap((pkg) => {
      const parsed = tryParseCpv(pkg.cpv);
      return parsed.ok ? [parsed.value.cp] : [];
    }))];
    const history = await readDurations(redis, keys, cps, referenceSpeed);
    const dag = buildDag(inputs.packages, estimateDurations(inputs.builds, { history }));
    refuseIncomplete(args, inputs.diagnostics, dag.diagnostics);
    const createdAt = Date.now();
    const definition: CycleDefinition = {
      id: `${profile.name}-${compactTimestamp(new Date(createdAt))}-${randomBytes(2).toString('hex')}`,
      profile: profile.name,
      createdAt,
      source: args.packagesIndex !== undefined ? `packages-index ${args.packagesIndex}` : `plan ${args.plan ?? ''} with md5-cache ${args.md5Cache ?? ''}`,
      policy,
      referenceSpeed,
      nodes: [...dag.nodes.values()].map((node) => ({ cpv: node.cpv, cp: node.cp, duration: node.duration, heavy: node.heavy })),
      edges: dag.edges,
      cyclesBroken: dag.cyclesBroken,
    };
    await createCycle(redis, keys, definition);
    const diagnostics = [...inputs.diagnostics, ...dag.diagnostics];
    const json = {
      cycle: definition.id,
      profile: profile.name,
      packages: definition.nodes.length,
      edges: definition.edges.length,
      cyclesBroken: definition.cyclesBroken,
      referenceSpeed,
      historyBuilds: inputs.builds.length,
      swarmHistoryPackages: history.size,
      diagnostics: diagnostics.slice(0, 20),
      diagnosticsNotShown: Math.max(0, diagnostics.length - 20),
    };
    const broken = definition.cyclesBroken.reduce((count, cycle) => count + cycle.removed.length, 0);
    const text = [
      `cycle ${definition.id} created for profile ${profile.name}`,
      `${definition.nodes.length} packages, ${definition.edges.length} dependency edges, ${definition.cyclesBroken.length} dependency cycles broken (${broken} edges)`,
      `durations at ${referenceSpeed} cores from ${inputs.builds.length} emerge.log builds and the swarm's history of ${history.size} packages`,
      diagnostics.length > 0 ? `${diagnostics.length} input diagnostics (--json lists them)` : '',
    ].filter((line) => line !== '').join('\n');
    return { exitCode: EXIT.ok, json, text };
  } finally {
    redis.disconnect();
  }
}

/**
 * A cycle built from input that lost packages or dependencies on the way would build in the wrong order or not
 * at all: refused (nothing is written), naming the first problem, unless --allow-incomplete.
 */
function refuseIncomplete(args: SwarmFreshArgs, inputDiagnostics: readonly Diagnostic[], dagDiagnostics: readonly Diagnostic[]): void {
  if (args.allowIncomplete) return;
  const inCache = (diagnostic: Diagnostic): boolean => args.md5Cache !== undefined && diagnostic.file !== undefined && diagnostic.file.startsWith(args.md5Cache);
  const blocking = [...dagDiagnostics, ...inputDiagnostics.filter((diagnostic) => inCache(diagnostic) || diagnostic.action === 'defaulted')];
  const first = blocking[0];
  if (first === undefined) return;
  const where = `${first.file ?? 'input'}${first.line === undefined ? '' : `:${first.line}`}${first.field === undefined ? '' : ` (${first.field})`}`;
  throw new ArgoError('ARGO_INVALID_INPUT', `${where}: ${first.message}${blocking.length > 1 ? ` (and ${blocking.length - 1} more)` : ''}; no cycle was created`, {
    hint: 'Fix the plan, index or md5-cache (see --json for every problem), or pass --allow-incomplete to build what could be read.',
    details: { problems: blocking.slice(0, 20) },
  });
}

function sourceOf(args: SwarmFreshArgs): SwarmCycleSource {
  if (args.packagesIndex !== undefined && (args.plan !== undefined || args.md5Cache !== undefined)) {
    throw new ArgoError('ARGO_USAGE', 'Give either --packages-index or --plan with --md5-cache, not both');
  }
  if (args.packagesIndex !== undefined) return { kind: 'packages-index', file: args.packagesIndex };
  if (args.plan !== undefined && args.md5Cache !== undefined) return { kind: 'plan', file: args.plan, md5Cache: args.md5Cache };
  throw new ArgoError('ARGO_USAGE', 'Name the cycle: --packages-index FILE, or --plan FILE with --md5-cache DIR', { hint: 'Run build-swarm fresh --help.' });
}

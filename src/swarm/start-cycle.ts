/**
 * Starts a cycle: reads its packages (a plan with the repository's md5-cache, or a Packages index), estimates
 * durations (emerge.log files and the swarm's own history in Redis), refuses input that lost packages or
 * dependencies on the way (unless told to go on), and writes the cycle; the leading orchestrator dispatches it.
 * Shared by `build-swarm fresh` and the gateway's `POST /api/v1/profiles/:profile/cycles`.
 */

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ArgoError } from '../core/errors.ts';
import { compactTimestamp } from '../core/compact-timestamp.ts';
import type { Diagnostic } from '../core/gentoo/diagnostics.ts';
import { tryParseCpv } from '../core/gentoo/parse-cpv.ts';
import { buildDag } from '../core/swarm/build-dag.ts';
import type { CycleDefinition } from '../core/swarm/cycle-model.ts';
import type { SchedulingPolicy } from '../core/swarm/dispatch-policy.ts';
import { estimateDurations } from '../core/swarm/expected-durations.ts';
import { readSwarmInputs, type SwarmCycleSource } from '../system/swarm-inputs.ts';
import { createCycle, packagesInputKey, readCycle, readDurations } from './cycle-store.ts';
import { appendSwarmEvent } from './swarm-events.ts';
import { listDrones } from './drone-registry.ts';
import type { SwarmKeys } from './swarm-keys.ts';

export interface StartCycleOptions {
  readonly redis: Redis;
  readonly keys: SwarmKeys;
  readonly profile: string;
  readonly source: SwarmCycleSource;
  readonly history: readonly string[];
  readonly policy: SchedulingPolicy;
  /** Cores the durations are expressed at (default: the fastest drone of the profile). */
  readonly referenceSpeed?: number;
  readonly allowIncomplete: boolean;
}

export interface StartedCycle {
  readonly definition: CycleDefinition;
  readonly referenceSpeed: number;
  readonly historyBuilds: number;
  readonly swarmHistoryPackages: number;
  readonly diagnostics: readonly Diagnostic[];
  /** The profile already builds these very packages: `definition` is that running cycle's, nothing new was written. */
  readonly alreadyRunning: boolean;
}

export async function startCycle(options: StartCycleOptions): Promise<StartedCycle> {
  const { redis, keys, source } = options;
  const inputs = await readSwarmInputs(source, options.history);
  const drones = (await listDrones(redis, keys)).filter((drone) => drone.profiles.includes(options.profile));
  const referenceSpeed = options.referenceSpeed ?? Math.max(1, ...drones.map((drone) => drone.cores));
  const cps = [
    ...new Set(
      inputs.packages.flatMap((pkg) => {
        const parsed = tryParseCpv(pkg.cpv);
        return parsed.ok ? [parsed.value.cp] : [];
      }),
    ),
  ];
  const history = await readDurations(redis, keys, cps, referenceSpeed);
  const dag = buildDag(inputs.packages, estimateDurations(inputs.builds, { history }));
  if (!options.allowIncomplete) refuseIncomplete(source, inputs.diagnostics, dag.diagnostics);
  const createdAt = Date.now();
  const definition: CycleDefinition = {
    id: `${options.profile}-${compactTimestamp(new Date(createdAt))}-${randomBytes(2).toString('hex')}`,
    profile: options.profile,
    createdAt,
    source: source.kind === 'packages-index' ? `packages-index ${source.file}` : `plan ${source.file} with md5-cache ${source.md5Cache}`,
    policy: options.policy,
    referenceSpeed,
    nodes: [...dag.nodes.values()].map((node) => ({ cpv: node.cpv, cp: node.cp, duration: node.duration, heavy: node.heavy })),
    edges: dag.edges,
    cyclesBroken: dag.cyclesBroken,
  };
  const created = await createCycle(redis, keys, definition, packagesInputKey(definition.profile, inputs.packages));
  const common = { referenceSpeed, historyBuilds: inputs.builds.length, swarmHistoryPackages: history.size, diagnostics: [...inputs.diagnostics, ...dag.diagnostics] };
  if (created.existing !== undefined) {
    const running = await readCycle(redis, keys, created.existing);
    if (running !== undefined) return { ...common, definition: running.definition, alreadyRunning: true };
  }
  await appendSwarmEvent(redis, keys, { type: 'cycle-started', cycle: definition.id, profile: definition.profile, packages: definition.nodes.length }).catch(() => undefined);
  return { ...common, definition, alreadyRunning: false };
}

/**
 * A cycle built from input that lost packages or dependencies on the way would build in the wrong order or not
 * at all: refused (nothing is written), naming the first problem.
 */
function refuseIncomplete(source: SwarmCycleSource, inputDiagnostics: readonly Diagnostic[], dagDiagnostics: readonly Diagnostic[]): void {
  const md5Cache = source.kind === 'plan' ? source.md5Cache : undefined;
  const inCache = (diagnostic: Diagnostic): boolean => md5Cache !== undefined && diagnostic.file !== undefined && diagnostic.file.startsWith(md5Cache);
  const blocking = [...dagDiagnostics, ...inputDiagnostics.filter((diagnostic) => inCache(diagnostic) || diagnostic.action === 'defaulted')];
  const first = blocking[0];
  if (first === undefined) return;
  const where = `${first.file ?? 'input'}${first.line === undefined ? '' : `:${first.line}`}${first.field === undefined ? '' : ` (${first.field})`}`;
  throw new ArgoError('ARGO_INVALID_INPUT', `${where}: ${first.message}${blocking.length > 1 ? ` (and ${blocking.length - 1} more)` : ''}; no cycle was created`, {
    hint: 'Fix the plan, index or md5-cache (see --json for every problem), or pass --allow-incomplete to build what could be read.',
    details: { problems: blocking.slice(0, 20) },
  });
}

import { ArgoError, EXIT } from '../../core/errors.ts';
import { buildDag } from '../../core/swarm/build-dag.ts';
import { estimateDurations } from '../../core/swarm/expected-durations.ts';
import { SCHEDULING_POLICIES, simulate, type SchedulingPolicy, type SimulatedDrone, type SimulationResult } from '../../core/swarm/simulate-swarm.ts';
import { writeFileAtomic } from '../../system/atomic-write.ts';
import { readSwarmInputs, type SwarmCycleSource } from '../../system/swarm-inputs.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface SwarmSimulateArgs extends GlobalOptions {
  readonly plan: string | undefined;
  readonly md5Cache: string | undefined;
  readonly packagesIndex: string | undefined;
  readonly history: readonly string[];
  readonly drones: string;
  readonly sweepers: number;
  readonly policy: string;
  readonly scheduleOut: string | undefined;
}

/** How many diagnostics the result carries (the rest are counted). */
const SHOWN_DIAGNOSTICS = 20;

/** `build-swarm simulate`: the cycle's DAG scheduled on simulated drones; exit 0, or 2 for a usage error. */
export async function runSwarmSimulateCommand(args: SwarmSimulateArgs, _context: HandlerContext): Promise<CommandOutcome> {
  const source = sourceOf(args);
  const drones = dronesOf(args.drones, args.sweepers);
  const policy = policyOf(args.policy);
  const inputs = await readSwarmInputs(source, args.history);
  const dag = buildDag(inputs.packages, estimateDurations(inputs.builds));
  const diagnostics = [...inputs.diagnostics, ...dag.diagnostics];
  const result = simulate(dag, drones, policy);
  if (args.scheduleOut !== undefined) await writeFileAtomic(args.scheduleOut, `${JSON.stringify(result.schedule, null, 1)}\n`);
  const { schedule: _schedule, ...summary } = result;
  const json = {
    ...summary,
    drones,
    historyBuilds: inputs.builds.length,
    diagnostics: diagnostics.slice(0, SHOWN_DIAGNOSTICS),
    diagnosticsNotShown: Math.max(0, diagnostics.length - SHOWN_DIAGNOSTICS),
  };
  return { exitCode: EXIT.ok, json, text: renderSimulation(result, drones, diagnostics.length) };
}

function sourceOf(args: SwarmSimulateArgs): SwarmCycleSource {
  if (args.packagesIndex !== undefined && (args.plan !== undefined || args.md5Cache !== undefined)) {
    throw usage('Give either --packages-index or --plan with --md5-cache, not both');
  }
  if (args.packagesIndex !== undefined) return { kind: 'packages-index', file: args.packagesIndex };
  if (args.plan !== undefined && args.md5Cache !== undefined) return { kind: 'plan', file: args.plan, md5Cache: args.md5Cache };
  throw usage('Name the cycle: --packages-index FILE, or --plan FILE with --md5-cache DIR');
}

/** `16,8,14,24,8`: one drone per number (its speed in cores), ids drone-1…; the `sweepers` fastest are sweepers. */
export function dronesOf(list: string, sweepers: number): SimulatedDrone[] {
  const speeds = list.split(',').map((word) => word.trim());
  if (speeds.some((word) => !/^\d+(\.\d+)?$/.test(word) || Number(word) <= 0)) throw usage(`--drones wants positive numbers separated by commas, not "${list}"`);
  if (!Number.isInteger(sweepers) || sweepers < 0 || sweepers > speeds.length) throw usage(`--sweepers must be a whole number from 0 to the number of drones (${speeds.length})`);
  const drones = speeds.map((word, index) => ({ id: `drone-${index + 1}`, speed: Number(word) }));
  const fastest = new Set(
    [...drones]
      .sort((a, b) => b.speed - a.speed || drones.indexOf(a) - drones.indexOf(b))
      .slice(0, sweepers)
      .map((drone) => drone.id),
  );
  return drones.map((drone) => ({ ...drone, sweeper: fastest.has(drone.id) }));
}

function policyOf(name: string): SchedulingPolicy {
  const policy = SCHEDULING_POLICIES.find((candidate) => candidate === name);
  if (policy === undefined) throw usage(`--policy must be one of ${SCHEDULING_POLICIES.join(', ')}`);
  return policy;
}

function usage(message: string): ArgoError {
  return new ArgoError('ARGO_USAGE', message, { hint: 'Run build-swarm simulate --help.' });
}

function renderSimulation(result: SimulationResult, drones: readonly SimulatedDrone[], diagnostics: number): string {
  const seconds = (value: number): string => `${value.toFixed(0)} s (${(value / 3600).toFixed(2)} h)`;
  const broken = result.cyclesBroken.reduce((count, cycle) => count + cycle.removed.length, 0);
  const rows: [string, string][] = [
    ['policy', result.policy],
    ['drones', drones.map((drone) => `${drone.id}:${drone.speed}${drone.sweeper ? ' (sweeper)' : ''}`).join(', ')],
    ['packages', String(result.packages)],
    ['edges', String(result.edges)],
    ['cycles broken', `${result.cyclesBroken.length} (${broken} edges removed)`],
    ['work', `${seconds(result.work)} at speed ${result.referenceSpeed}`],
    ['critical path', `${seconds(result.criticalPath)} at speed ${result.referenceSpeed}`],
    ['lower bound', seconds(result.lowerBound)],
    ['makespan', seconds(result.makespan)],
    ['makespan / lower bound', result.ratio.toFixed(3)],
    ['diagnostics', String(diagnostics)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

import { fileURLToPath } from 'node:url';
import type { Argv } from 'yargs';
import { ArgoError, EXIT } from '../../core/errors.ts';
import { DEFAULT_USE_PINS, DEFAULT_VERIFY_THRESHOLD, parseUsePins, type VerifyReport } from '../../core/swarm/verify-score.ts';
import { swarmKeys } from '../../swarm/swarm-keys.ts';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { endpointOf, loadSwarmConfig, type SwarmConfigArgs } from './swarm-config-args.ts';

export interface SwarmVerifyArgs extends SwarmConfigArgs {
  readonly profile: string;
  /** The gateway's data folder; default: the folder of the configuration's `drone.gateway` (file://). */
  readonly data: string | undefined;
  readonly threshold: number;
  readonly world: string | undefined;
  /** package.use lines: `sys-libs/libxcrypt compat system`. */
  readonly pin: readonly string[];
}

/** How many packages the text shows per component (JSON has them all). */
const SHOWN_PACKAGES = 3;

/** The options of `build-swarm verify`, besides the swarm configuration's (--config, --redis, --id). */
export function swarmVerifyOptions<T>(command: Argv<T>) {
  return command
    .option('profile', { type: 'string', demandOption: true, describe: 'the profile whose staging binhost to verify (its newest cycle)' })
    .option('data', { type: 'string', describe: "the gateway's data folder, holding staging/ and production/ (default: the configured drone.gateway folder)" })
    .option('threshold', { type: 'number', default: DEFAULT_VERIFY_THRESHOLD, describe: 'safe when the score is below this (1-100)' })
    .option('world', { type: 'string', describe: 'a Portage world file: coverage is the share of its atoms staging or production satisfies' })
    .option('pin', { type: 'string', array: true, default: [] as string[], describe: "USE a package must be built with, as a package.use line: 'sys-libs/libxcrypt compat system' (repeatable)" });
}

/**
 * `build-swarm verify`: the risk of promoting the profile's staging binhost, 0-100, with the points of each
 * component and the packages behind them. Exit 0 when the score is below the threshold, 3 when not (the gate
 * `finalize` keeps).
 */
export async function runSwarmVerifyCommand(args: SwarmVerifyArgs, context: HandlerContext): Promise<CommandOutcome> {
  const threshold = thresholdOf(args.threshold);
  // Later lines override earlier ones, as in package.use: the command line's pins win over the defaults.
  const pins = [...parseUsePins(DEFAULT_USE_PINS, 'default pin'), ...parseUsePins(args.pin, '--pin')];
  const config = await loadSwarmConfig(args, context);
  const profile = config.profiles[args.profile];
  if (profile === undefined) {
    throw new ArgoError('ARGO_USAGE', `No profile named ${args.profile}`, { hint: `Profiles: ${Object.keys(config.profiles).sort().join(', ')}.` });
  }
  const dataDir = args.data ?? gatewayFolder(config.drone.gateway);
  const [{ connectRedis }, { verifyProfile }] = await Promise.all([import('../../swarm/redis-connection.ts'), import('../../swarm/verify-inputs.ts')]);
  const redis = await connectRedis(endpointOf(config), 'commands', context.logger, 'argo-verify');
  let report: VerifyReport;
  try {
    report = await verifyProfile({ redis, keys: swarmKeys(config.redis.prefix), profile, dataDir, worldFile: args.world, pins, threshold });
  } finally {
    redis.disconnect();
  }
  return { exitCode: report.safe ? EXIT.ok : EXIT.refused, json: report, text: renderVerify(report) };
}

function thresholdOf(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 100) {
    throw new ArgoError('ARGO_USAGE', `--threshold must be a whole number from 1 to 100, not ${String(value)}`, { hint: `The default, ${DEFAULT_VERIFY_THRESHOLD}, is safe to finalize.` });
  }
  return value;
}

function gatewayFolder(url: string): string {
  if (url.startsWith('file://')) return fileURLToPath(url);
  throw new ArgoError('ARGO_USAGE', `The configured gateway is ${url}, not a folder; verify reads the gateway's data folder`, {
    hint: "Give --data DIR, the gateway's data folder (with staging/ and production/).",
  });
}

export function renderVerify(report: VerifyReport): string {
  const verdict = report.safe ? 'safe to finalize' : 'NOT safe to finalize';
  const sum = report.components.reduce((total, component) => total + component.points, 0);
  const capped = sum > report.score ? ` (the components add up to ${sum})` : '';
  const lines = [`profile ${report.profile}, cycle ${report.cycle}`, `score ${report.score} of 100${capped}, threshold ${report.threshold}: ${verdict}`, '', `${'component'.padEnd(18)} ${'points'.padStart(6)}  detail`];
  const indent = ' '.repeat(27);
  for (const component of report.components) {
    lines.push(`${component.id.padEnd(18)} ${String(component.points).padStart(6)}  ${component.detail}`);
    for (const pkg of component.packages.slice(0, SHOWN_PACKAGES)) lines.push(`${indent}${pkg}`);
    const more = component.packages.length - SHOWN_PACKAGES;
    if (more > 0) lines.push(`${indent}…and ${more.toLocaleString('en-US')} more`);
  }
  return lines.join('\n');
}

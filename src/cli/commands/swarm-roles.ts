import { fileURLToPath } from 'node:url';
import { ArgoError, EXIT } from '../../core/errors.ts';
import { createFileGateway } from '../../system/file-gateway.ts';
import { createHostRunner } from '../../system/run-command.ts';
import { runDrone, type DroneOptions, type DroneProfile } from '../../swarm/drone.ts';
import { createHttpGateway } from '../../swarm-client/swarm-client.ts';
import { readPrivateFile } from '../../system/read-private-file.ts';
import { isLeaseCurrent } from '../../swarm/job-lease.ts';
import { runOrchestrator } from '../../swarm/orchestrator.ts';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { endpointOf, loadSwarmConfig, type SwarmConfigArgs } from './swarm-config-args.ts';

export type { SwarmConfigArgs } from './swarm-config-args.ts';

export interface SwarmDroneArgs extends SwarmConfigArgs {
  readonly gateway: string | undefined;
  readonly cores: number | undefined;
  readonly slots: number | undefined;
  readonly sweeper: boolean | undefined;
  readonly profile: readonly string[] | undefined;
  readonly tokenFile: string | undefined;
}

/** `build-swarm orchestrator`: stands by or leads until SIGTERM. */
export async function runOrchestratorCommand(args: SwarmConfigArgs, context: HandlerContext): Promise<CommandOutcome> {
  const config = await loadSwarmConfig(args, context);
  const settings = config.orchestrator;
  await runOrchestrator({
    id: settings.id,
    endpoint: endpointOf(config),
    prefix: config.redis.prefix,
    leaseTtlMs: settings.leaseTtlMs,
    maintenanceIntervalMs: settings.maintenanceIntervalMs,
    staleTaskMs: settings.staleTaskMs,
    breaker: settings.breaker,
    restartCommands: settings.restartCommands,
    restartBudgetMs: settings.restartBudgetMs,
    maxAttempts: settings.maxAttempts,
    infraRetryBaseMs: settings.infraRetryBaseMs,
    infraRetryMaxMs: settings.infraRetryMaxMs,
    stalledIntervalMs: config.drone.stalledIntervalMs,
    logger: context.logger,
    runner: createHostRunner({ logger: context.logger }),
    signal: context.signal,
  });
  return { exitCode: EXIT.ok };
}

/** `build-swarm drone`: builds until SIGTERM, then drains. */
export async function runDroneCommand(args: SwarmDroneArgs, context: HandlerContext): Promise<CommandOutcome> {
  const explicitRoot = context.process.argv.some((word) => word === '--root' || word.startsWith('--root='));
  const config = await loadSwarmConfig(args, context, {
    ...(args.gateway === undefined ? {} : { gateway: args.gateway }),
    ...(args.cores === undefined ? {} : { cores: args.cores }),
    ...(args.slots === undefined ? {} : { slots: args.slots }),
    ...(args.sweeper === undefined ? {} : { sweeper: args.sweeper }),
    ...(args.profile === undefined || args.profile.length === 0 ? {} : { profiles: [...args.profile] }),
    ...(explicitRoot ? { root: args.root } : {}),
  });
  const drone = config.drone;
  const profiles: DroneProfile[] = drone.profiles.map((name) => {
    const profile = config.profiles[name];
    if (profile === undefined) {
      throw new ArgoError('ARGO_CONFIG_INVALID', `Drone ${drone.id} is to build profile ${name}, which is not defined`, {
        hint: `Define [profiles.${name}] in the configuration, or build one of: ${Object.keys(config.profiles).sort().join(', ')}.`,
      });
    }
    return profile;
  });
  const gateway = await droneGateway(drone.gateway, args.tokenFile ?? (context.process.env.ARGO_SWARM_TOKEN_FILE || undefined), profiles);
  const runner = createHostRunner({ logger: context.logger });
  await runDrone({
    id: drone.id,
    cores: drone.cores,
    slots: drone.slots,
    sweeper: drone.sweeper,
    profiles,
    root: drone.root,
    logDir: drone.logDir,
    endpoint: endpointOf(config),
    prefix: config.redis.prefix,
    lockDurationMs: drone.lockDurationMs,
    stalledIntervalMs: drone.stalledIntervalMs,
    heartbeatMs: drone.heartbeatMs,
    offlineAfterMs: config.orchestrator.offlineAfterMs,
    buildBudgetMs: drone.buildBudgetMs,
    inactivityMs: drone.inactivityMs,
    drainMs: drone.drainMs,
    emergeCommand: drone.emergeCommand,
    gateway,
    runner,
    logger: context.logger,
    signal: context.signal,
  });
  return { exitCode: EXIT.ok };
}

/** The drone's gateway: a shared folder (`file:///srv/argo`) or the HTTP gateway with a `drone` token. */
async function droneGateway(url: string, tokenFile: string | undefined, profiles: readonly DroneProfile[]): Promise<DroneOptions['gateway']> {
  if (url.startsWith('file://')) {
    const root = fileURLToPath(url);
    return (redis, keys) => createFileGateway(root, (lease) => isLeaseCurrent(redis, keys, lease));
  }
  if (url.startsWith('http://') || url.startsWith('https://')) {
    if (tokenFile === undefined) {
      throw new ArgoError('ARGO_CONFIG_INVALID', `The drone uploads to ${url} but has no token`, { hint: 'Give --token-file FILE (or ARGO_SWARM_TOKEN_FILE) holding a token with the drone scope.' });
    }
    const token = (await readPrivateFile(tokenFile, 4096, 'gateway token file')).trim();
    const gateway = createHttpGateway({ url, token, profiles: profiles.map((profile) => ({ name: profile.name, binhostPath: profile.binhostPath })) });
    return () => gateway;
  }
  throw new ArgoError('ARGO_CONFIG_INVALID', `The drone's gateway ${url} is neither http(s):// nor file://`, {
    hint: 'Give --gateway https://GATEWAY:8470 (with --token-file), or file:///srv/argo for a folder the drones and the gateway share.',
  });
}

/** `build-swarm gateway`: serves the binhosts, the API and the events until SIGTERM. */

import { ArgoError, EXIT } from '../../core/errors.ts';
import { logEvent } from '../../core/log-events.ts';
import { DEFAULT_USE_PINS, DEFAULT_VERIFY_THRESHOLD, parseUsePins, type VerifyReport } from '../../core/swarm/verify-score.ts';
import type { ProfileSettings } from '../../core/swarm/swarm-config.ts';
import { buildGateway, type ReleaseStore } from '../../gateway/gateway-server.ts';
import { readTokens } from '../../gateway/gateway-tokens.ts';
import { connectRedis } from '../../swarm/redis-connection.ts';
import { swarmKeys, type SwarmKeys } from '../../swarm/swarm-keys.ts';
import { verifyProfile } from '../../swarm/verify-inputs.ts';
import { finalizeRelease, listReleases, resolveReleaseFile, rollbackRelease, type ReleasePlan } from '../../system/binhost-releases.ts';
import { DEFAULT_MAX_PACKAGE_BYTES, sweepStagingTemporaries } from '../../system/staging-store.ts';
import { checkDataFolder, readBytes } from '../../system/gateway-files.ts';
import { readPrivateFile } from '../../system/read-private-file.ts';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { endpointOf, loadSwarmConfig, type SwarmConfigArgs } from './swarm-config-args.ts';

export interface SwarmGatewayArgs extends SwarmConfigArgs {
  readonly data: string;
  readonly listen: string;
  readonly tokens: string;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly publicBinhost: boolean;
  readonly publicMetrics: boolean;
  readonly publicRead: boolean;
  readonly maxPackageMb: number | undefined;
  readonly keepReleases: number;
  readonly world: string | undefined;
  readonly pin: readonly string[];
  readonly md5Cache: string | undefined;
  readonly history: readonly string[];
}


export async function runSwarmGatewayCommand(args: SwarmGatewayArgs, context: HandlerContext): Promise<CommandOutcome> {
  const config = await loadSwarmConfig(args, context);
  const { host, port } = parseListen(args.listen);
  if ((args.tlsCert === undefined) !== (args.tlsKey === undefined)) {
    throw new ArgoError('ARGO_USAGE', 'TLS needs both --tls-cert and --tls-key', { hint: 'Give both files, or neither for plain HTTP.' });
  }
  const tokens = await readTokens(args.tokens);
  await checkDataFolder(args.data);
  const swept = await sweepStagingTemporaries(args.data, STALE_UPLOAD_MS);
  if (swept.length > 0) context.logger.warn({ removed: swept.length }, 'Removed temporaries of uploads that never finished');
  const https = args.tlsCert === undefined || args.tlsKey === undefined ? undefined : { cert: await readBytes(args.tlsCert), key: Buffer.from(await readPrivateFile(args.tlsKey, 1024 * 1024, 'TLS private key')) };
  const keys = swarmKeys(config.redis.prefix);
  const redis = await connectRedis(endpointOf(config), 'commands', context.logger, 'argo-gateway');
  const app = await buildGateway({
    data: args.data,
    redis,
    keys,
    profiles: config.profiles,
    tokens,
    publicBinhost: args.publicBinhost,
    publicMetrics: args.publicMetrics,
    publicRead: args.publicRead,
    maxPackageBytes: args.maxPackageMb === undefined ? DEFAULT_MAX_PACKAGE_BYTES : args.maxPackageMb * 1024 ** 2,
    releases: releaseStore(args.data, args.keepReleases, context.logger),
    verify: profileVerifier({ redis, keys, data: args.data, world: args.world, pins: args.pin }),
    logger: context.logger,
    ...(https === undefined ? {} : { https }),
    ...(args.md5Cache === undefined ? {} : { cycles: { md5Cache: args.md5Cache, history: args.history } }),
  });
  try {
    const url = await app.listen({ host, port });
    logEvent(context.logger, 'gateway.listening', { url, data: args.data, publicBinhost: args.publicBinhost });
    await new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve();
      context.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await app.close();
    redis.disconnect();
  }
  return { exitCode: EXIT.ok };
}

/** The release store of a data folder (src/system/binhost-releases.ts), as the gateway calls it. */
export function releaseStore(data: string, keep: number, logger: Logger): ReleaseStore {
  return {
    finalize: (binhost, gate) => finalizeRelease({ data, binhost, keep, gate, logger }),
    rollback: (binhost, to) => rollbackRelease({ data, binhost, logger, ...(to === undefined ? {} : { to }) }),
    async list(binhost) {
      const releases = await listReleases({ data, binhost });
      const current = releases.find((release) => release.current)?.id;
      return { ...(current === undefined ? {} : { current }), releases: releases.map((release) => ({ ...release.record, id: release.id, current: release.current })) };
    },
    resolveFile: (binhost, path) => resolveReleaseFile({ data, binhost, path }),
  };
}

/** Verify of a profile from Redis and the data folder, with the gateway's world file and pins. */
export function profileVerifier(options: { readonly redis: Redis; readonly keys: SwarmKeys; readonly data: string; readonly world: string | undefined; readonly pins: readonly string[] }): (profile: ProfileSettings, threshold?: number, plan?: ReleasePlan) => Promise<VerifyReport> {
  const pins = [...parseUsePins(DEFAULT_USE_PINS, 'built-in pins'), ...parseUsePins(options.pins, '--pin')];
  return (profile, threshold, plan) =>
    verifyProfile({ redis: options.redis, keys: options.keys, profile, dataDir: options.data, worldFile: options.world, pins, threshold: threshold ?? DEFAULT_VERIFY_THRESHOLD, ...(plan === undefined ? {} : { plan }) });
}

/** A temporary older than this belongs to an upload that will not finish (a drone's upload budget is 10 min). */
const STALE_UPLOAD_MS = 60 * 60_000;

function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port > 65_535) {
    throw new ArgoError('ARGO_USAGE', `--listen ${JSON.stringify(listen)} is not HOST:PORT`, { hint: 'For example --listen 0.0.0.0:8470, or 127.0.0.1:0 for any free port.' });
  }
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}

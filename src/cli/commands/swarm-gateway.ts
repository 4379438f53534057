/** `build-swarm gateway`: serves the binhosts, the API and the events until SIGTERM. */

import { lstat, mkdir, readFile } from 'node:fs/promises';
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
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { endpointOf, loadSwarmConfig, type SwarmConfigArgs } from './swarm-roles.ts';

export interface SwarmGatewayArgs extends SwarmConfigArgs {
  readonly data: string;
  readonly listen: string;
  readonly tokens: string;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly publicBinhost: boolean;
  readonly publicMetrics: boolean;
  readonly maxPackageMb: number | undefined;
  readonly keepReleases: number;
  readonly world: string | undefined;
  readonly pin: readonly string[];
  readonly md5Cache: string | undefined;
  readonly history: readonly string[];
}

export const DEFAULT_TOKENS_FILE = '/etc/argo/gateway-tokens';

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
  const https = args.tlsCert === undefined || args.tlsKey === undefined ? undefined : { cert: await readFile(args.tlsCert), key: await readFile(args.tlsKey) };
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

/**
 * The data folder is written as root and served to the world: it must be root's own (not a symlink, not writable
 * by group or others), so nobody else can plant a symlink the gateway would write through. Created when missing.
 */
async function checkDataFolder(data: string): Promise<void> {
  await mkdir(data, { recursive: true, mode: 0o755 });
  const info = await lstat(data);
  const euid = process.geteuid?.() ?? 0;
  const problem = info.isSymbolicLink()
    ? 'it is a symbolic link'
    : !info.isDirectory()
      ? 'it is not a folder'
      : info.uid !== 0 && info.uid !== euid
        ? `it is owned by uid ${info.uid}`
        : (info.mode & 0o022) !== 0
          ? `its mode ${(info.mode & 0o777).toString(8)} lets group or others write in it`
          : undefined;
  if (problem !== undefined) {
    throw new ArgoError('ARGO_UNSAFE_PATH', `The gateway's data folder ${data} is refused: ${problem}`, { hint: `Give a folder of root's own: chown root:root ${data} && chmod 755 ${data} (and give drones uploads over HTTP rather than write access).` });
  }
}

function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port > 65_535) {
    throw new ArgoError('ARGO_USAGE', `--listen ${JSON.stringify(listen)} is not HOST:PORT`, { hint: 'For example --listen 0.0.0.0:8470, or 127.0.0.1:0 for any free port.' });
  }
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}

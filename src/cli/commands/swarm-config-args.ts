/**
 * The options every command that talks to the swarm's Redis shares (`--config`, `--redis`, `--id`) and the
 * configuration they give. Kept apart from the roles (src/cli/commands/swarm-roles.ts), whose BullMQ and
 * process runner a `status` or `verify` should not have to load.
 */

import type { PartialCliOverrides, SwarmConfig } from '../../core/swarm/swarm-config.ts';
import { readSwarmConfig, redactRedisUrl, redisConnectionOptions } from '../../system/read-swarm-config.ts';
import type { RedisEndpoint } from '../../swarm/redis-connection.ts';
import type { GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface SwarmConfigArgs extends GlobalOptions {
  readonly config: string | undefined;
  readonly redis: string | undefined;
  readonly id: string | undefined;
}

/** The swarm configuration: file (`--config`, ARGO_SWARM_CONFIG or /etc/argo/swarm.toml), environment, flags. */
export async function loadSwarmConfig(args: SwarmConfigArgs, context: HandlerContext, extra: PartialCliOverrides = {}): Promise<SwarmConfig> {
  return readSwarmConfig({
    ...(args.config === undefined ? {} : { configFile: args.config }),
    env: context.process.env,
    cli: { ...(args.redis === undefined ? {} : { redisUrl: args.redis }), ...(args.id === undefined ? {} : { id: args.id }), ...extra },
  });
}

export function endpointOf(config: SwarmConfig): RedisEndpoint {
  return { ...redisConnectionOptions(config.redis), shownUrl: redactRedisUrl(config.redis.url) };
}

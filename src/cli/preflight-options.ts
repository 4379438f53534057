import type { Argv } from 'yargs';
import { ArgoError } from '../core/errors.ts';
import type { SwarmAccess } from '../preflight/types.ts';
import { createSwarmClient } from '../swarm-client/swarm-client.ts';
import { readPrivateFile } from '../system/read-private-file.ts';

/** The options of `argo preflight` and `apkg preflight` (one definition for both). */
export function preflightOptions<T>(cli: Argv<T>) {
  return swarmOptions(cli)
    .option('binhost', { type: 'string', describe: 'binhost URL or local PKGDIR to check coverage against (default: the target\'s binrepos.conf)' })
    .option('snapshot', { type: 'boolean', default: false, describe: 'take the pre-update snapshot when it is possible' })
    .option('stop-gui', { type: 'boolean', default: false, describe: 'stop the display manager (only from a console, only after the snapshot)' })
    .option('critical', { type: 'string', array: true, default: [] as string[], describe: 'packages that must never compile in place (default: libxcrypt, pam, pambase, glibc, gcc, openssl, …)' })
    .option('proc-root', { type: 'string', hidden: true, describe: 'where to read running processes (tests)' });
}

/** The build swarm a client takes its binaries from: `argo preflight` and `apkg update --request-builds`. */
export function swarmOptions<T>(cli: Argv<T>) {
  return cli
    .option('swarm', { type: 'string', describe: 'the build swarm\'s gateway URL: coverage against its production binhost, and the swarm check (env ARGO_SWARM_GATEWAY)' })
    .option('swarm-profile', { type: 'string', describe: 'the swarm profile this system uses (default: the gateway\'s only one; env ARGO_SWARM_PROFILE)' })
    .option('swarm-token-file', { type: 'string', describe: 'a root-only file holding a gateway token of the read scope; it also goes into the binhost URL emerge fetches with (env ARGO_SWARM_TOKEN_FILE)' });
}

export interface SwarmArgs {
  readonly swarm: string | undefined;
  readonly swarmProfile: string | undefined;
  readonly swarmTokenFile: string | undefined;
  readonly binhost: string | undefined;
  /** apkg update --request-builds: a token of the request scope, never put in a URL. */
  readonly swarmRequestTokenFile?: string | undefined;
}

/**
 * The swarm of the command line, else of the environment (ARGO_SWARM_GATEWAY, ARGO_SWARM_PROFILE,
 * ARGO_SWARM_TOKEN_FILE); undefined when neither names one. The token file is on the machine argo runs on
 * and must be root's alone. --binhost names another binhost to judge: the two are refused together.
 */
export async function resolveSwarm(args: SwarmArgs, env: Readonly<Record<string, string | undefined>>): Promise<SwarmAccess | undefined> {
  const url = nonEmpty(args.swarm) ?? nonEmpty(env['ARGO_SWARM_GATEWAY']);
  if (url === undefined) return undefined;
  if (args.binhost !== undefined) {
    throw new ArgoError('ARGO_USAGE', '--binhost and --swarm name two different binhosts', { hint: 'Give one: --swarm URL judges (and updates from) the swarm\'s production binhost.' });
  }
  const tokenFile = nonEmpty(args.swarmTokenFile) ?? nonEmpty(env['ARGO_SWARM_TOKEN_FILE']);
  const token = tokenFile === undefined ? undefined : (await readPrivateFile(tokenFile, 4096, 'swarm token file')).trim();
  const requestFile = nonEmpty(args.swarmRequestTokenFile) ?? nonEmpty(env['ARGO_SWARM_REQUEST_TOKEN_FILE']);
  const requestToken = requestFile === undefined ? undefined : (await readPrivateFile(requestFile, 4096, 'swarm request token file')).trim();
  return {
    client: createSwarmClient({ url, ...(token === undefined || token === '' ? {} : { token }) }),
    ...(requestToken === undefined || requestToken === '' ? {} : { requester: createSwarmClient({ url, token: requestToken }) }),
    profile: nonEmpty(args.swarmProfile) ?? nonEmpty(env['ARGO_SWARM_PROFILE']),
    token: token === '' ? undefined : token,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

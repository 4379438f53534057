/**
 * `build-swarm up`: a whole swarm on this machine (src/system/local-swarm.ts) until Ctrl-C or SIGTERM. Prints
 * the dashboard, the admin token file and the environment for the other commands once everything answers.
 */

import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv } from 'yargs';
import { ArgoError, EXIT } from '../../core/errors.ts';
import type { LocalSwarmReady } from '../../system/local-swarm.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface SwarmUpArgs extends GlobalOptions {
  readonly data: string;
  readonly drones: number;
  readonly port: number;
  readonly md5Cache: string | undefined;
  readonly history: readonly string[] | undefined;
  readonly emerge: string | undefined;
  readonly seed: string | undefined;
  readonly profile: readonly string[];
  readonly readyTimeout: number;
}

export const DEFAULT_LOCAL_DATA = '/var/lib/argo/swarm-local';
const GENTOO_MD5_CACHE = '/var/db/repos/gentoo/metadata/md5-cache';
const GENTOO_EMERGE_LOG = '/var/log/emerge.log';
const MAX_RESTARTS = 3;

export function swarmUpOptions<T>(command: Argv<T>) {
  return command
    .option('data', { type: 'string', default: DEFAULT_LOCAL_DATA, describe: 'the swarm\'s folder (created 0700): configuration, tokens, Redis, gateway data, drone roots, logs' })
    .option('drones', { type: 'number', default: 2, describe: 'how many drones to run' })
    .option('port', { type: 'number', default: 8470, describe: 'the gateway\'s port on 127.0.0.1 (0: any free port)' })
    .option('md5-cache', { type: 'string', describe: `the repository's md5-cache cycles are read from (default ${GENTOO_MD5_CACHE} when it exists)` })
    .option('history', { type: 'string', array: true, describe: `emerge.log files for expected durations (default ${GENTOO_EMERGE_LOG} when it exists)` })
    .option('emerge', { type: 'string', describe: 'the emerge program the drones run (default: emerge on PATH); written into the configuration when the folder is created' })
    .option('seed', { type: 'string', describe: 'a profile root (make.conf, repository, installed system) copied into each new drone root' })
    .option('profile', { type: 'string', array: true, default: ['desktop'], describe: 'the profiles the drones build (repeatable)' })
    .option('ready-timeout', { type: 'number', default: 120, describe: 'seconds to wait for every process to answer' });
}

export async function runSwarmUpCommand(args: SwarmUpArgs, context: HandlerContext): Promise<CommandOutcome> {
  if (!Number.isInteger(args.drones) || args.drones < 1 || args.drones > 64) throw new ArgoError('ARGO_USAGE', `--drones ${args.drones} is not a whole number from 1 to 64`);
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65_535) throw new ArgoError('ARGO_USAGE', `--port ${args.port} is not a TCP port`, { hint: 'Give 1-65535, or 0 for any free port.' });
  if (!(args.readyTimeout > 0)) throw new ArgoError('ARGO_USAGE', '--ready-timeout must be a positive number of seconds');
  const absolute = (option: string, path: string): string => {
    if (!isAbsolute(path)) throw new ArgoError('ARGO_USAGE', `--${option} ${path} is not an absolute path`, { hint: `Give it from /, e.g. --${option} ${resolve(path)}.` });
    return path;
  };
  // The supervisor (execa and the rest) is loaded for this command only.
  const { runLocalSwarm, fileExists } = await import('../../system/local-swarm.ts');
  const md5Cache = args.md5Cache === undefined ? (fileExists(GENTOO_MD5_CACHE) ? GENTOO_MD5_CACHE : undefined) : absolute('md5-cache', args.md5Cache);
  const history = args.history === undefined ? (fileExists(GENTOO_EMERGE_LOG) ? [GENTOO_EMERGE_LOG] : []) : args.history.map((file) => absolute('history', file));
  const { stdout } = context.process;

  const outcome = await runLocalSwarm({
    data: absolute('data', args.data),
    drones: args.drones,
    port: args.port,
    profiles: args.profile,
    md5Cache,
    history,
    emergeCommand: args.emerge === undefined ? undefined : [absolute('emerge', args.emerge)],
    seed: args.seed === undefined ? undefined : absolute('seed', args.seed),
    cli: [process.execPath, cliEntry()],
    env: context.process.env,
    readyBudgetMs: args.readyTimeout * 1000,
    maxRestarts: MAX_RESTARTS,
    logger: context.logger,
    signal: context.signal,
    onReady: (ready) => stdout.write(args.json ? `${JSON.stringify(readyJson(ready))}\n` : renderReady(ready, md5Cache)),
    onNotice: (line) => context.process.stderr.write(`build-swarm up: ${line}\n`),
  });
  const lost = outcome.lost.length === 0 ? '' : ` (${outcome.lost.join(', ')} had died and were not restarted)`;
  return { exitCode: EXIT.ok, text: `The local swarm in ${args.data} stopped: drones, orchestrators, gateway and redis-server${lost}.` };
}

/** The built CLI's entry file beside this command (dist/cli/build-swarm.js, or the .ts under src). */
function cliEntry(): string {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return fileURLToPath(new URL(`../build-swarm.${extension}`, import.meta.url));
}

function readyJson(ready: LocalSwarmReady): Record<string, unknown> {
  return {
    ready: true,
    url: ready.url,
    dashboard: ready.dashboard,
    adminTokenFile: ready.adminTokenFile,
    readTokenFile: ready.readTokenFile,
    config: ready.config,
    data: ready.data,
    leader: ready.leader,
    drones: ready.drones,
    logs: ready.logs,
    pids: ready.pids,
    env: { ARGO_SWARM_GATEWAY: ready.url, ARGO_SWARM_TOKEN_FILE: ready.adminTokenFile },
  };
}

function renderReady(ready: LocalSwarmReady, md5Cache: string | undefined): string {
  return [
    `Local swarm ready in ${ready.data}: redis-server, the gateway, 2 orchestrators (${ready.leader} leads), ${ready.drones.length} drones.`,
    `Dashboard (read-only without a token): ${ready.dashboard}`,
    `Admin token: ${ready.adminTokenFile}`,
    'Use the build-swarm commands with:',
    `  export ARGO_SWARM_GATEWAY=${ready.url}`,
    `  export ARGO_SWARM_TOKEN_FILE=${ready.adminTokenFile}`,
    md5Cache === undefined ? 'The gateway has no md5-cache: start cycles with build-swarm fresh --config ' + ready.config : `Cycles are read from ${md5Cache}.`,
    `Logs: ${ready.logs}/. Ctrl-C stops the swarm.`,
    '',
  ].join('\n');
}

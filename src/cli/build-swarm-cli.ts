import { ArgoError } from '../core/errors.ts';
import {
  confirmOption,
  runSwarmCancelCommand,
  runSwarmDroneActionCommand,
  runSwarmLogsCommand,
  runSwarmResetCommand,
  runSwarmSyncCommand,
  swarmSyncOptions,
  type SwarmCancelArgs,
  type SwarmDroneActionArgs,
  type SwarmLogsArgs,
  type SwarmResetArgs,
  type SwarmSyncArgs,
} from './commands/swarm-operate.ts';
import type { SwarmFreshArgs } from './commands/swarm-fresh.ts';
import type { SwarmConfigArgs, SwarmDroneArgs } from './commands/swarm-roles.ts';
import type { SwarmStatusArgs } from './commands/swarm-status.ts';
import { gatewayClientOptions, runSwarmFinalizeCommand, runSwarmReleasesCommand, runSwarmRollbackCommand, type SwarmFinalizeArgs, type SwarmReleasesArgs, type SwarmRollbackArgs } from './commands/swarm-publish.ts';
import { runSwarmVerifyCommand, swarmVerifyOptions, type SwarmVerifyArgs } from './commands/swarm-verify.ts';
import type { SwarmGatewayArgs } from './commands/swarm-gateway.ts';
import { DEFAULT_TOKENS_FILE } from '../gateway/gateway-tokens.ts';
import { runSwarmMonitorCommand, swarmMonitorOptions, type SwarmMonitorArgs } from './commands/swarm-monitor.ts';
import { runSwarmUpCommand, swarmUpOptions, type SwarmUpArgs } from './commands/swarm-up.ts';
import { runSwarmFixBlockedCommand, swarmFixBlockedOptions, type SwarmFixBlockedArgs } from './commands/swarm-fix-blocked.ts';
import type { SwarmSimulateArgs } from './commands/swarm-simulate.ts';
import { SCHEDULING_POLICIES } from '../core/swarm/dispatch-policy.ts';
import type { Argv } from 'yargs';
import type { CliDefinition, Handler } from './run-cli.ts';

/**
 * A handler loaded when its command runs: the roles pull in BullMQ, Fastify and the rest, which `status` or
 * `--help` have no use for (Node would spend most of a second loading them on every run).
 */
const lazy =
  <A>(load: () => Promise<Handler<A>>): Handler<A> =>
  async (args, context) =>
    (await load())(args, context);
const runSwarmFreshCommand = lazy<SwarmFreshArgs>(async () => (await import('./commands/swarm-fresh.ts')).runSwarmFreshCommand);
const runOrchestratorCommand = lazy<SwarmConfigArgs>(async () => (await import('./commands/swarm-roles.ts')).runOrchestratorCommand);
const runDroneCommand = lazy<SwarmDroneArgs>(async () => (await import('./commands/swarm-roles.ts')).runDroneCommand);
const runSwarmStatusCommand = lazy<SwarmStatusArgs>(async () => (await import('./commands/swarm-status.ts')).runSwarmStatusCommand);
const runSwarmGatewayCommand = lazy<SwarmGatewayArgs>(async () => (await import('./commands/swarm-gateway.ts')).runSwarmGatewayCommand);
const runSwarmSimulateCommand = lazy<SwarmSimulateArgs>(async () => (await import('./commands/swarm-simulate.ts')).runSwarmSimulateCommand);



export const buildSwarmCli: CliDefinition = {
  name: 'build-swarm',
  description: 'Drives a swarm of machines that compile binary packages into a staging binhost and promote them.',
  commands: (cli, bind) =>
    cli.command(
      'simulate',
      'Schedule a cycle on simulated drones (no Redis): makespan, lower bound, their ratio',
      (command) =>
        command
          .option('plan', { type: 'string', describe: 'emerge -pv output listing the packages to build (with --md5-cache)' })
          .option('md5-cache', { type: 'string', describe: "the repository's metadata/md5-cache folder (entries CATEGORY/PF)" })
          .option('packages-index', { type: 'string', describe: 'a binhost Packages index: rebuild every package it lists' })
          .option('history', { type: 'string', array: true, default: [] as string[], describe: 'emerge.log files for expected durations (repeatable)' })
          .option('drones', { type: 'string', demandOption: true, describe: 'drone speeds in cores, comma-separated: 16,8,14,24,8' })
          .option('sweepers', { type: 'number', default: 1, describe: 'how many of the fastest drones are sweepers (take heavy packages first)' })
          .option('policy', { type: 'string', choices: SCHEDULING_POLICIES, default: 'critical-path', describe: 'scheduling policy' })
          .option('schedule-out', { type: 'string', describe: 'write every package\'s { cpv, drone, start, end, deps } here (JSON)' }),
      bind<SwarmSimulateArgs>(runSwarmSimulateCommand),
    )
      .command('orchestrator', 'Run an orchestrator: leads the swarm when it holds the lease, else stands by', swarmConfigOptions, bind<SwarmConfigArgs>(runOrchestratorCommand))
      .command(
        'drone [action] [drone-id]',
        'Run a build drone (SIGTERM drains: running builds finish or are handed back); or ground, unground or restart one: drone ground ID',
        (command) =>
          confirmOption(swarmConfigOptions(command))
            .positional('action', { type: 'string', choices: ['ground', 'unground', 'restart'] as const, describe: 'act on a drone of the swarm through the gateway instead of running one' })
            .positional('drone-id', { type: 'string', describe: 'the drone to act on' })
            .option('minutes', { type: 'number', describe: 'ground: for how long (default 60)' })
            .option('reason', { type: 'string', describe: 'ground: why (kept with the drone)' })
            .option('gateway', { type: 'string', describe: 'where binary packages go: https://GATEWAY:PORT, or file:///path of a folder shared with the gateway' })
            .option('token-file', { type: 'string', describe: 'a root-only file holding the drone-scope token for an HTTP gateway (env ARGO_SWARM_TOKEN_FILE)' })
            .option('cores', { type: 'number', describe: 'its speed (default: this machine\'s CPUs)' })
            .option('slots', { type: 'number', describe: 'builds at a time (default 1)' })
            .option('sweeper', { type: 'boolean', describe: 'take the heavy class (LLVM, Rust, GCC, …) first' })
            .option('profile', { type: 'string', array: true, describe: 'profiles it builds (repeatable; default: all); each in <--root>/<profile>' }),
        bind<SwarmDroneArgs & Partial<SwarmDroneActionArgs>>(async (args, context) => {
          if (args.action === undefined) return runDroneCommand(args, context);
          if (args.droneId === undefined) throw new ArgoError('ARGO_USAGE', `build-swarm drone ${args.action} needs the drone's id`, { hint: `build-swarm drone ${args.action} ID (build-swarm status lists them).` });
          return runSwarmDroneActionCommand(args as SwarmDroneActionArgs, context);
        }),
      )
      .command(
        'fresh',
        'Start a build cycle for a profile (idempotent: the same packages while their cycle runs start nothing new)',
        (command) =>
          swarmConfigOptions(command)
            .option('profile', { type: 'string', demandOption: true, describe: 'the profile the cycle builds' })
            .option('plan', { type: 'string', describe: 'emerge -pv output listing the packages to build (with --md5-cache)' })
            .option('md5-cache', { type: 'string', describe: "the repository's metadata/md5-cache folder" })
            .option('packages-index', { type: 'string', describe: 'a binhost Packages index: rebuild every package it lists' })
            .option('history', { type: 'string', array: true, default: [] as string[], describe: 'emerge.log files for expected durations (repeatable)' })
            .option('policy', { type: 'string', choices: SCHEDULING_POLICIES, default: 'critical-path', describe: 'scheduling policy' })
            .option('reference-speed', { type: 'number', describe: 'cores of the machine the emerge.log history comes from (default: the fastest drone of the profile)' })
            .option('allow-incomplete', { type: 'boolean', default: false, describe: 'start the cycle even when packages or dependencies could not be read (they are listed)' })
            .option('sync', { type: 'boolean', default: false, describe: 'run emerge --sync on every online drone of the profile first; no cycle unless each succeeds' })
            .option('sync-budget', { type: 'number', default: 1800, describe: 'seconds each drone may take to sync' }),
        bind<SwarmFreshArgs>(runSwarmFreshCommand),
      )
      .command('status', 'Show the swarm: drones, queue, cycle progress, ETA, and what to do next (read-only)', (command) => gatewayClientOptions(swarmConfigOptions(command)), bind<SwarmStatusArgs>(runSwarmStatusCommand))
      .command(
        'gateway',
        'Run the gateway: the binhosts, the API, live events and /metrics (SIGTERM stops it)',
        (command) =>
          swarmConfigOptions(command)
            .option('data', { type: 'string', demandOption: true, describe: 'its data folder: staging/, releases/, production/, logs/' })
            .option('listen', { type: 'string', default: '127.0.0.1:8470', describe: 'HOST:PORT to listen on' })
            .option('tokens', { type: 'string', default: DEFAULT_TOKENS_FILE, describe: 'bearer tokens, one per line: NAME SCOPES TOKEN (a root-only file)' })
            .option('tls-cert', { type: 'string', describe: 'TLS certificate (PEM), with --tls-key' })
            .option('tls-key', { type: 'string', describe: 'TLS private key (PEM)' })
            .option('public-binhost', { type: 'boolean', default: false, describe: 'serve /binhost/ and /staging/ without a token' })
            .option('public-metrics', { type: 'boolean', default: false, describe: 'serve /metrics without a token' })
            .option('public-read', { type: 'boolean', default: false, describe: 'serve every read (status, events, logs, verify, the dashboard\'s data) without a token; writes still need one' })
            .option('max-package-mb', { type: 'number', describe: 'largest binary package accepted (default 1024)' })
            .option('keep-releases', { type: 'number', default: 3, describe: 'production releases kept for rollback' })
            .option('world', { type: 'string', describe: 'a world file verify measures coverage against' })
            .option('pin', { type: 'string', array: true, default: [] as string[], describe: "USE pins of critical packages verify checks, package.use syntax: 'sys-libs/libxcrypt compat system'" })
            .option('md5-cache', { type: 'string', describe: "the repository's metadata/md5-cache the swarm builds from: lets clients start cycles (apkg update --request-builds)" })
            .option('history', { type: 'string', array: true, default: [] as string[], describe: 'emerge.log files for expected durations of cycles started here (repeatable)' }),
        bind<SwarmGatewayArgs>(runSwarmGatewayCommand),
      )
      .command('verify', 'Verify the staging binhost before promotion (risk score 0-100; exit 3 when not safe)', (command) => swarmVerifyOptions(swarmConfigOptions(command)), bind<SwarmVerifyArgs>(runSwarmVerifyCommand))
      .command(
        'finalize',
        'Promote staging to production atomically, if verify passes (exit 3 when refused)',
        (command) =>
          confirmOption(gatewayClientOptions(command))
            .option('profile', { type: 'string', demandOption: true, describe: 'the profile to publish' })
            .option('force', { type: 'string', describe: 'publish although verify says not safe; the reason is kept in the release' })
            .option('threshold', { type: 'number', describe: 'safe when the score is below this (default 15)' }),
        bind<SwarmFinalizeArgs>(runSwarmFinalizeCommand),
      )
      .command(
        'rollback',
        'Switch production back to the previous release (or --to RELEASE)',
        (command) =>
          confirmOption(gatewayClientOptions(command))
            .option('profile', { type: 'string', demandOption: true, describe: 'the profile' })
            .option('to', { type: 'string', describe: 'the release to switch to' })
            .option('pretend', { alias: 'p', type: 'boolean', default: false, describe: 'say which release production would switch to; change nothing' })
            .option('ask', { alias: 'a', type: 'boolean', default: false, describe: 'say it, then ask before switching (emerge --ask); refuses without a terminal' })
            .example('$0 rollback --profile desktop --ask', 'show from which release to which, and ask'),
        bind<SwarmRollbackArgs>(runSwarmRollbackCommand),
      )
      .command('monitor', 'The interactive monitor: drones, queue, failures, live logs (read-only; q quits)', (command) => swarmMonitorOptions(gatewayClientOptions(command)), bind<SwarmMonitorArgs>(runSwarmMonitorCommand))
      .command('fix-blocked', 'Explain blocked and failed packages, each with the command that fixes it (read-only)', (command) => swarmFixBlockedOptions(gatewayClientOptions(command)), bind<SwarmFixBlockedArgs>(runSwarmFixBlockedCommand))
      .command('up', 'Run a whole swarm on this machine: redis-server, gateway, two orchestrators, drones (Ctrl-C stops it)', (command) => swarmUpOptions(command), bind<SwarmUpArgs>(runSwarmUpCommand))
      .command('sync', 'Run emerge --sync on every drone in parallel, within a budget; a result per drone', (command) => swarmSyncOptions(gatewayClientOptions(command)), bind<SwarmSyncArgs>(runSwarmSyncCommand))
      .command('reset', 'Take every dispatched build back to the ready queue and stop its emerge; nothing built is deleted', (command) => confirmOption(gatewayClientOptions(command)), bind<SwarmResetArgs>(runSwarmResetCommand))
      .command(
        'cancel <cpv>',
        'Cancel one package of a running cycle: it is skipped, what needs it blocked',
        (command) => confirmOption(gatewayClientOptions(command)).positional('cpv', { type: 'string', demandOption: true, describe: 'category/name-version' }).option('cycle', { type: 'string', describe: 'the cycle (default: the running one that has the package)' }),
        bind<SwarmCancelArgs>(runSwarmCancelCommand),
      )
      .command(
        'logs <cpv>',
        "A package's build output: the kept log of an attempt, or a running build's output (--follow: live until it ends)",
        (command) =>
          gatewayClientOptions(command)
            .positional('cpv', { type: 'string', demandOption: true, describe: 'category/name-version' })
            .option('cycle', { type: 'string', describe: 'the cycle (default: the newest that has the package)' })
            .option('attempt', { type: 'number', describe: 'the attempt (default: the newest)' })
            .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'keep printing until the build ends' }),
        bind<SwarmLogsArgs>(runSwarmLogsCommand),
      )
      .command('releases', 'List the production releases of a profile', (command) => gatewayClientOptions(command).option('profile', { type: 'string', demandOption: true, describe: 'the profile' }), bind<SwarmReleasesArgs>(runSwarmReleasesCommand)),
};

function swarmConfigOptions<T>(command: Argv<T>) {
  return command
    .option('config', { type: 'string', describe: 'the swarm configuration (default /etc/argo/swarm.toml or .json; env ARGO_SWARM_CONFIG)' })
    .option('redis', { type: 'string', describe: 'Redis URL, without a password (default from the configuration)' })
    .option('id', { type: 'string', describe: 'this orchestrator\'s or drone\'s id (default: the host name)' });
}

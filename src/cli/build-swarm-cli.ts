import { notLanded } from './commands/not-landed.ts';
import { runSwarmFreshCommand, type SwarmFreshArgs } from './commands/swarm-fresh.ts';
import { runDroneCommand, runOrchestratorCommand, type SwarmConfigArgs, type SwarmDroneArgs } from './commands/swarm-roles.ts';
import { runSwarmStatusCommand } from './commands/swarm-status.ts';
import { gatewayClientOptions, runSwarmFinalizeCommand, runSwarmReleasesCommand, runSwarmRollbackCommand, type SwarmFinalizeArgs, type SwarmReleasesArgs, type SwarmRollbackArgs } from './commands/swarm-publish.ts';
import { runSwarmVerifyCommand, swarmVerifyOptions, type SwarmVerifyArgs } from './commands/swarm-verify.ts';
import { DEFAULT_TOKENS_FILE, runSwarmGatewayCommand, type SwarmGatewayArgs } from './commands/swarm-gateway.ts';
import { runSwarmMonitorCommand, swarmMonitorOptions, type SwarmMonitorArgs } from './commands/swarm-monitor.ts';
import { runSwarmUpCommand, swarmUpOptions, type SwarmUpArgs } from './commands/swarm-up.ts';
import { runSwarmFixBlockedCommand, swarmFixBlockedOptions, type SwarmFixBlockedArgs } from './commands/swarm-fix-blocked.ts';
import { runSwarmSimulateCommand, type SwarmSimulateArgs } from './commands/swarm-simulate.ts';
import { SCHEDULING_POLICIES } from '../core/swarm/simulate-swarm.ts';
import type { Argv } from 'yargs';
import type { CliDefinition } from './run-cli.ts';

const COMMANDS: readonly (readonly [string, string])[] = [
  ['sync', 'Sync the repository on every drone'],
  ['reset', 'Reset failed or stuck work'],
];

export const buildSwarmCli: CliDefinition = {
  name: 'build-swarm',
  description: 'Drives a swarm of machines that compile binary packages into a staging binhost and promote them.',
  commands: (cli, bind) =>
    COMMANDS.reduce((next, [name, describe]) => next.command(name, describe, {}, bind(notLanded(`build-swarm ${name}`, 'the build swarm issue'))), cli).command(
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
        'drone',
        'Run a build drone (SIGTERM drains: running builds finish or are handed back)',
        (command) =>
          swarmConfigOptions(command)
            .option('gateway', { type: 'string', describe: 'where binary packages go: https://GATEWAY:PORT, or file:///path of a folder shared with the gateway' })
            .option('token-file', { type: 'string', describe: 'a root-only file holding the drone-scope token for an HTTP gateway (env ARGO_SWARM_TOKEN_FILE)' })
            .option('cores', { type: 'number', describe: 'its speed (default: this machine\'s CPUs)' })
            .option('slots', { type: 'number', describe: 'builds at a time (default 1)' })
            .option('sweeper', { type: 'boolean', describe: 'take the heavy class (LLVM, Rust, GCC, …) first' })
            .option('profile', { type: 'string', array: true, describe: 'profiles it builds (repeatable; default: all); each in <--root>/<profile>' }),
        bind<SwarmDroneArgs>(runDroneCommand),
      )
      .command(
        'fresh',
        'Start a fresh build cycle for a profile',
        (command) =>
          swarmConfigOptions(command)
            .option('profile', { type: 'string', demandOption: true, describe: 'the profile the cycle builds' })
            .option('plan', { type: 'string', describe: 'emerge -pv output listing the packages to build (with --md5-cache)' })
            .option('md5-cache', { type: 'string', describe: "the repository's metadata/md5-cache folder" })
            .option('packages-index', { type: 'string', describe: 'a binhost Packages index: rebuild every package it lists' })
            .option('history', { type: 'string', array: true, default: [] as string[], describe: 'emerge.log files for expected durations (repeatable)' })
            .option('policy', { type: 'string', choices: SCHEDULING_POLICIES, default: 'critical-path', describe: 'scheduling policy' })
            .option('reference-speed', { type: 'number', describe: 'cores of the machine the emerge.log history comes from (default: the fastest drone of the profile)' })
            .option('allow-incomplete', { type: 'boolean', default: false, describe: 'start the cycle even when packages or dependencies could not be read (they are listed)' }),
        bind<SwarmFreshArgs>(runSwarmFreshCommand),
      )
      .command('status', 'Show the swarm: leader, drones, cycles', swarmConfigOptions, bind<SwarmConfigArgs>(runSwarmStatusCommand))
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
          gatewayClientOptions(command)
            .option('profile', { type: 'string', demandOption: true, describe: 'the profile to publish' })
            .option('force', { type: 'string', describe: 'publish although verify says not safe; the reason is kept in the release' })
            .option('threshold', { type: 'number', describe: 'safe when the score is below this (default 15)' }),
        bind<SwarmFinalizeArgs>(runSwarmFinalizeCommand),
      )
      .command(
        'rollback',
        'Switch production back to the previous release (or --to RELEASE)',
        (command) => gatewayClientOptions(command).option('profile', { type: 'string', demandOption: true, describe: 'the profile' }).option('to', { type: 'string', describe: 'the release to switch to' }),
        bind<SwarmRollbackArgs>(runSwarmRollbackCommand),
      )
      .command('monitor', 'The interactive monitor: drones, queue, failures, live logs (read-only; q quits)', (command) => swarmMonitorOptions(gatewayClientOptions(command)), bind<SwarmMonitorArgs>(runSwarmMonitorCommand))
      .command('fix-blocked', 'Explain blocked and failed packages, each with the command that fixes it (read-only)', (command) => swarmFixBlockedOptions(gatewayClientOptions(command)), bind<SwarmFixBlockedArgs>(runSwarmFixBlockedCommand))
      .command('up', 'Run a whole swarm on this machine: redis-server, gateway, two orchestrators, drones (Ctrl-C stops it)', (command) => swarmUpOptions(command), bind<SwarmUpArgs>(runSwarmUpCommand))
      .command('releases', 'List the production releases of a profile', (command) => gatewayClientOptions(command).option('profile', { type: 'string', demandOption: true, describe: 'the profile' }), bind<SwarmReleasesArgs>(runSwarmReleasesCommand)),
};

function swarmConfigOptions<T>(command: Argv<T>) {
  return command
    .option('config', { type: 'string', describe: 'the swarm configuration (default /etc/argo/swarm.toml or .json; env ARGO_SWARM_CONFIG)' })
    .option('redis', { type: 'string', describe: 'Redis URL, without a password (default from the configuration)' })
    .option('id', { type: 'string', describe: 'this orchestrator\'s or drone\'s id (default: the host name)' });
}

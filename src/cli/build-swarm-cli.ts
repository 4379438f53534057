import { notLanded } from './commands/not-landed.ts';
import { runSwarmSimulateCommand, type SwarmSimulateArgs } from './commands/swarm-simulate.ts';
import { SCHEDULING_POLICIES } from '../core/swarm/simulate-swarm.ts';
import type { CliDefinition } from './run-cli.ts';

const COMMANDS: readonly (readonly [string, string])[] = [
  ['status', 'Show the swarm: gateway, orchestrators, drones, queues, binhosts'],
  ['fresh', 'Start a fresh build run for a profile'],
  ['monitor', 'Follow live build events'],
  ['verify', 'Verify the staging binhost before promotion'],
  ['finalize', 'Promote staging to production atomically'],
  ['fix-blocked', 'Retry or reassign blocked builds'],
  ['sync', 'Sync the repository on every drone'],
  ['reset', 'Reset failed or stuck work'],
  ['gateway', 'Run the gateway (REST and live events)'],
  ['drone', 'Run a build drone'],
  ['local', 'Run gateway, orchestrator and one drone on this machine'],
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
    ),
};

import { notLanded } from './commands/not-landed.ts';
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
    COMMANDS.reduce((next, [name, describe]) => next.command(name, describe, {}, bind(notLanded(`build-swarm ${name}`, 'the build swarm issue'))), cli),
};

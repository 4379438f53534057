/**
 * `build-swarm monitor`: the interactive TUI (ink), live from the gateway.
 * (Placeholder wired into the CLI; its owner replaces this file whole.)
 */

import type { Argv } from 'yargs';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { notLanded } from './not-landed.ts';
import type { GatewayClientArgs } from './swarm-publish.ts';

export type SwarmMonitorArgs = GatewayClientArgs;

export function swarmMonitorOptions<T>(command: Argv<T>) {
  return command;
}

export async function runSwarmMonitorCommand(_args: SwarmMonitorArgs, _context: HandlerContext): Promise<CommandOutcome> {
  return notLanded('build-swarm monitor', 'issue 13')();
}

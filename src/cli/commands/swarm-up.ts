/**
 * `build-swarm up`: a local swarm on this machine.
 * (Placeholder wired into the CLI; its owner replaces this file whole.)
 */

import type { Argv } from 'yargs';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { notLanded } from './not-landed.ts';
import type { GatewayClientArgs } from './swarm-publish.ts';

export type SwarmUpArgs = GatewayClientArgs;

export function swarmUpOptions<T>(command: Argv<T>) {
  return command;
}

export async function runSwarmUpCommand(_args: SwarmUpArgs, _context: HandlerContext): Promise<CommandOutcome> {
  return notLanded('build-swarm up', 'issue 13')();
}

/**
 * `build-swarm fix-blocked`: blocked packages explained, each with the command that fixes it.
 * (Placeholder wired into the CLI; its owner replaces this file whole.)
 */

import type { Argv } from 'yargs';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { notLanded } from './not-landed.ts';
import type { GatewayClientArgs } from './swarm-publish.ts';

export type SwarmFixBlockedArgs = GatewayClientArgs;

export function swarmFixBlockedOptions<T>(command: Argv<T>) {
  return command;
}

export async function runSwarmFixBlockedCommand(_args: SwarmFixBlockedArgs, _context: HandlerContext): Promise<CommandOutcome> {
  return notLanded('build-swarm fix-blocked', 'issue 13')();
}

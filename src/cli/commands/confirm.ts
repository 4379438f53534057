/**
 * What a destructive command asks first: on a terminal it says what it will do and waits for a yes, unless
 * `--yes`; in a script (stdin or stderr not a terminal) it never asks.
 */

import type { Argv } from 'yargs';
import { ArgoError } from '../../core/errors.ts';
import { askOnTerminal } from '../../system/ask-terminal.ts';
import type { HandlerContext } from '../run-cli.ts';
import type { GatewayClientArgs } from './swarm-publish.ts';

export interface ConfirmArgs extends GatewayClientArgs {
  readonly yes: boolean;
}

export function confirmOption<T>(command: Argv<T>) {
  return command.option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'do not ask first (a terminal asks; a script never does)' });
}

/** On a terminal without --yes: says what will happen and asks; refuses with ARGO_NOT_CONFIRMED on anything but yes. */
export async function confirm(args: ConfirmArgs, context: HandlerContext, plan: string): Promise<void> {
  if (args.yes || !context.process.stdinIsTTY || context.process.stderr.isTTY !== true) return;
  context.process.stderr.write(`${plan}\n`);
  if (!(await askOnTerminal('Go ahead? [y/N] ', context.signal))) {
    throw new ArgoError('ARGO_NOT_CONFIRMED', 'Not confirmed; nothing was asked of the swarm', { hint: 'Run again and answer y, or pass --yes.' });
  }
}


/**
 * What a command that changes the system asks first.
 *
 * `--yes`-style confirmation (build-swarm's operator commands, apkg rollback): on a terminal it says what it
 * will do and waits for a yes, unless `--yes`; in a script (stdin or stderr not a terminal) it never asks.
 *
 * `-a/--ask`, as emerge's: show what will be done (the command's own --pretend output), then ask
 * "Would you like to …? [Yes/No]". Without a terminal it refuses at once (exit 2), as emerge does, instead of
 * waiting for an answer nobody can give; any answer but yes changes nothing (ARGO_NOT_CONFIRMED, exit 3).
 * Unlike emerge, Enter alone means No: a stray key press must not start a change to a system that may not boot.
 */

import type { Argv } from 'yargs';
import { ArgoError } from '../../core/errors.ts';
import { askOnTerminal } from '../../system/ask-terminal.ts';
import type { HandlerContext } from '../run-cli.ts';
import type { GatewayClientArgs } from './swarm-publish.ts';

export interface ConfirmArgs extends GatewayClientArgs {
  readonly yes: boolean;
}

export interface AskArgs {
  readonly ask: boolean;
  readonly pretend: boolean;
  readonly yes?: boolean;
}

/** The question's answerer: the terminal in the product, a scripted one in tests. */
export type Ask = (question: string, signal: AbortSignal) => Promise<boolean>;

export function confirmOption<T>(command: Argv<T>) {
  return command.option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'do not ask first (a terminal asks; a script never does)' });
}

/** On a terminal without --yes: says what will happen and asks; refuses with ARGO_NOT_CONFIRMED on anything but yes. */
export async function confirm(args: { readonly yes: boolean }, context: HandlerContext, plan: string): Promise<void> {
  if (args.yes || !context.process.stdinIsTTY || context.process.stderr.isTTY !== true) return;
  context.process.stderr.write(`${plan}\n`);
  if (!(await askOnTerminal('Go ahead? [y/N] ', context.signal))) {
    throw new ArgoError('ARGO_NOT_CONFIRMED', 'Not confirmed; nothing was asked of the swarm', { hint: 'Run again and answer y, or pass --yes.' });
  }
}

/** Whether --ask will ask: not with --pretend, which only shows (as emerge --pretend --ask). */
export function willAsk(args: AskArgs): boolean {
  return args.ask && !args.pretend;
}

/**
 * Checks --ask before anything is done: it needs a terminal (stdin and stderr), and it contradicts --yes.
 * Call it first in the handler, so that a script that passes --ask fails at once, having changed nothing.
 */
export function assertCanAsk(args: AskArgs, context: HandlerContext, command: string): void {
  if (!willAsk(args)) return;
  if (args.yes === true) {
    throw new ArgoError('ARGO_USAGE', `${command}: --ask and --yes contradict each other`, { hint: 'Give --ask to be asked, --yes never to be asked.' });
  }
  if (!context.process.stdinIsTTY || context.process.stderr.isTTY !== true) {
    throw new ArgoError('ARGO_USAGE', `${command} --ask needs a terminal to ask on; nothing was changed`, {
      hint: `In a script, look first with ${command} --pretend, then run ${command} without --ask.`,
    });
  }
}

/**
 * --ask: shows `plan` on stderr (what --pretend prints) and asks `Would you like to <action>? [Yes/No]` on the
 * terminal. Returns when the answer is yes; throws ARGO_NOT_CONFIRMED otherwise. Does nothing without --ask.
 */
export async function askFirst(args: AskArgs, context: HandlerContext, plan: string, action: string, ask: Ask = askOnTerminal): Promise<void> {
  if (!willAsk(args)) return;
  context.process.stderr.write(plan.endsWith('\n') ? plan : `${plan}\n`);
  if (!(await ask(`\nWould you like to ${action}? [Yes/No] `, context.signal))) {
    throw new ArgoError('ARGO_NOT_CONFIRMED', `Not confirmed: did not ${action}; nothing was changed`, { hint: 'Run it again and answer Yes, or run it without --ask.' });
  }
}

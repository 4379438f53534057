/**
 * `build-swarm monitor`: the interactive terminal monitor (src/monitor), live from the gateway's status and
 * events. Read-only. It needs a terminal on both ends; scripts use `build-swarm status --json`.
 */

import type { Argv } from 'yargs';
import { ArgoError, EXIT } from '../../core/errors.ts';
import type { MonitorClient } from '../../monitor/monitor-feed.ts';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { gatewayClient, type GatewayClientArgs } from './swarm-publish.ts';

export interface SwarmMonitorArgs extends GatewayClientArgs {
  readonly ascii: boolean | undefined;
}

export function swarmMonitorOptions<T>(command: Argv<T>) {
  return command.option('ascii', { type: 'boolean', describe: 'draw boxes with +-| (default: when TERM is linux or dumb, or the locale is not UTF-8)' });
}

export async function runSwarmMonitorCommand(args: SwarmMonitorArgs, context: HandlerContext): Promise<CommandOutcome> {
  if (args.json) {
    throw new ArgoError('ARGO_USAGE', 'The monitor has no --json output', { hint: 'For a machine-readable view run build-swarm status --json.' });
  }
  const stdoutIsTTY = context.process.stdout.isTTY === true;
  if (!context.process.stdinIsTTY || !stdoutIsTTY) {
    throw new ArgoError('ARGO_USAGE', `build-swarm monitor needs a terminal, and its ${context.process.stdinIsTTY ? 'output' : 'input'} is not one`, {
      hint: 'In a script or a pipe run build-swarm status --json (once, or in a loop for a follow-style view); over ssh use ssh -t.',
    });
  }
  const client = await gatewayClient(args, context);
  // Ink and its layout engine take most of a second to load: only for this command, not every build-swarm run.
  const [{ runMonitor }, { monitorTheme }] = await Promise.all([import('../../monitor/start-monitor.tsx'), import('../../monitor/monitor-theme.ts')]);
  await runMonitor({
    client: client satisfies MonitorClient,
    // Colour as the console decides it (--color, NO_COLOR, TERM=dumb, make.conf's NOCOLOR).
    theme: { ...monitorTheme({ isTTY: stdoutIsTTY }, context.process.env, args.ascii), ...(context.styleFor === undefined ? {} : { colour: context.styleFor({ isTTY: stdoutIsTTY }).colour }) },
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: context.signal,
  });
  return { exitCode: EXIT.ok };
}

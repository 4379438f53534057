/**
 * The operator's commands that change the swarm, all through the gateway (src/swarm-client): `sync`, `reset`,
 * `cancel CPV`, `drone ground|unground|restart ID`, and the read-only `logs CPV [--follow]`.
 *
 * Each change is queued for the leader (or, for sync, for every drone), and the command waits for the swarm to
 * say it happened (`command-applied`, `sync-result` events) within a budget, so "done" means done. A destructive
 * command says what it will do and asks on a terminal unless `--yes`; in a script (stdin not a terminal) it never
 * asks.
 */

import type { Argv } from 'yargs';
import { ArgoError, EXIT } from '../../core/errors.ts';
import type { SwarmStatus } from '../../core/swarm/swarm-status.ts';
import type { SwarmEvent } from '../../swarm-client/api.ts';
import type { SwarmClient } from '../../swarm-client/swarm-client.ts';
import { plainText } from '../../monitor/monitor-format.ts';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { confirm, confirmOption, type ConfirmArgs } from './confirm.ts';
import { gatewayClient, type GatewayClientArgs } from './swarm-publish.ts';

export { confirmOption, type ConfirmArgs } from './confirm.ts';

/**
 * Waits for the first event `match` accepts, from `since` on, within `budgetMs`. Undefined when none came: also
 * when the event stream could not be read (the gateway busy, say); the request itself was queued all the same.
 */
async function waitForEvent<T>(client: SwarmClient, since: string, budgetMs: number, context: HandlerContext, match: (event: SwarmEvent) => T | undefined): Promise<T | undefined> {
  const stop = AbortSignal.any([context.signal, AbortSignal.timeout(budgetMs)]);
  try {
    for await (const event of client.events({ since, signal: stop })) {
      const found = match(event);
      if (found !== undefined) return found;
    }
  } catch (error) {
    if (context.signal.aborted) throw error;
    if (!stop.aborted) context.logger.warn({ err: error }, 'could not follow the swarm\'s events');
  }
  return undefined;
}

/**
 * Where to read the swarm's events from to see the answer to a request: just before the request's own stream id.
 * Both streams live in one Redis, whose clock gives their ids, so no client clock is trusted.
 */
function justBefore(streamId: string): string {
  return `${Math.max(0, Number(streamId.split('-')[0]) - 1)}-0`;
}

const APPLY_BUDGET_MS = 30_000;

/** Queues a leader command and waits for its `command-applied` event; exit 3 when the leader says it could not. */
async function applied(client: SwarmClient, context: HandlerContext, queue: () => Promise<{ command: string; queued: string }>, describe: string): Promise<CommandOutcome> {
  const queued = await queue();
  const outcome = await waitForEvent(client, justBefore(queued.queued), APPLY_BUDGET_MS, context, (event) => (event.type === 'command-applied' && event.fields.commandId === queued.queued ? (event.fields.outcome ?? 'applied') : undefined));
  if (outcome === undefined) {
    return {
      exitCode: EXIT.failed,
      json: { ...queued, outcome: 'pending' },
      text: `${describe}: queued as ${queued.queued}, but no orchestrator said it applied it within ${APPLY_BUDGET_MS / 1000} s.\nIs one leading? build-swarm status says. A leader that starts within 5 min applies it; later, a reset or cancel expires unapplied.`,
    };
  }
  if (outcome !== 'applied') return { exitCode: EXIT.refused, json: { ...queued, outcome }, text: `${describe}: the leader did not apply it (${outcome}).` };
  return { exitCode: EXIT.ok, json: { ...queued, outcome }, text: `${describe}: done.` };
}

// --- sync ------------------------------------------------------------------------------------------------------

export interface SwarmSyncArgs extends ConfirmArgs {
  readonly profile: string | undefined;
  readonly budget: number;
  readonly force: boolean;
}

export function swarmSyncOptions<T>(command: Argv<T>) {
  return confirmOption(command)
    .option('profile', { type: 'string', describe: 'only the drones of this profile (default: every drone)' })
    .option('budget', { type: 'number', default: 1800, describe: 'seconds each drone may take' })
    .option('force', { type: 'boolean', default: false, describe: 'sync although a cycle is running (its builds would see the tree change)' });
}

export async function runSwarmSyncCommand(args: SwarmSyncArgs, context: HandlerContext): Promise<CommandOutcome> {
  const client = await gatewayClient(args, context);
  await confirm(args, context, `emerge --sync will run on every online drone${args.profile === undefined ? '' : ` of profile ${args.profile}`}, within ${args.budget} s each.`);
  const queued = await client.sync({ budgetSeconds: args.budget, force: args.force, ...(args.profile === undefined ? {} : { profile: args.profile }) });
  const results = new Map<string, { outcome: string; seconds: number; detail: string }>();
  const expected = new Set(queued.drones);
  if (expected.size > 0) {
    await waitForEvent(client, justBefore(queued.queued), (queued.budgetSeconds + 30) * 1000, context, (event) => {
      if (event.type !== 'sync-result' || event.fields.request !== queued.queued) return undefined;
      const drone = event.fields.drone ?? '?';
      results.set(drone, { outcome: event.fields.outcome ?? 'failed', seconds: Number(event.fields.seconds ?? 0), detail: event.fields.detail ?? '' });
      return [...expected].every((id) => results.has(id)) ? true : undefined;
    });
  }
  const rows = [...expected].sort().map((drone) => ({ drone, ...(results.get(drone) ?? { outcome: 'no answer', seconds: 0, detail: `no result within ${queued.budgetSeconds} s` }) }));
  const ok = rows.every((row) => row.outcome === 'ok');
  const text = rows.length === 0 ? 'No drone is online: nothing was synced.' : rows.map((row) => `${row.drone.padEnd(16)} ${row.outcome.padEnd(9)} ${row.seconds.toFixed(1).padStart(6)} s  ${plainText(row.detail)}`).join('\n');
  return { exitCode: ok && rows.length > 0 ? EXIT.ok : EXIT.failed, json: { request: queued.queued, drones: rows }, text };
}

// --- reset -----------------------------------------------------------------------------------------------------

export type SwarmResetArgs = ConfirmArgs;

export async function runSwarmResetCommand(args: SwarmResetArgs, context: HandlerContext): Promise<CommandOutcome> {
  const client = await gatewayClient(args, context);
  const status = await client.status();
  const inFlight = status.cycles.filter((cycle) => cycle.status === 'running').reduce((sum, cycle) => sum + cycle.packages.filter((pkg) => pkg.state === 'building' || (pkg.state === 'queued' && pkg.drone !== undefined)).length, 0);
  await confirm(args, context, `Reset: ${inFlight} dispatched build(s) go back to the ready queue and their emerges are stopped; nothing built is deleted.`);
  return applied(client, context, () => client.reset(), `Reset (${inFlight} build(s) taken back)`);
}

// --- cancel CPV ------------------------------------------------------------------------------------------------

export interface SwarmCancelArgs extends ConfirmArgs {
  readonly cpv: string;
  readonly cycle: string | undefined;
}

export async function runSwarmCancelCommand(args: SwarmCancelArgs, context: HandlerContext): Promise<CommandOutcome> {
  const client = await gatewayClient(args, context);
  const cycle = args.cycle ?? cycleWith(await client.status(), args.cpv, true);
  await confirm(args, context, `Cancel ${args.cpv} in cycle ${cycle}: it is skipped, and whatever needs it is blocked.`);
  return applied(client, context, () => client.cancelPackage(cycle, args.cpv), `Cancel ${args.cpv} in cycle ${cycle}`);
}

/** The newest cycle (running, when asked) that has the package. */
function cycleWith(status: SwarmStatus, cpv: string, running: boolean): string {
  const cycle = status.cycles.find((candidate) => (!running || candidate.status === 'running') && candidate.packages.some((pkg) => pkg.cpv === cpv));
  if (cycle === undefined) {
    throw new ArgoError('ARGO_FILE_NOT_FOUND', `No ${running ? 'running ' : ''}cycle has ${cpv}`, { hint: 'Name the package as build-swarm status shows it (category/name-version), or give --cycle.' });
  }
  return cycle.id;
}

// --- drone ground|unground|restart ID --------------------------------------------------------------------------

export interface SwarmDroneActionArgs extends ConfirmArgs {
  readonly action: 'ground' | 'unground' | 'restart';
  readonly droneId: string;
  readonly minutes: number | undefined;
  readonly reason: string | undefined;
}

export async function runSwarmDroneActionCommand(args: SwarmDroneActionArgs, context: HandlerContext): Promise<CommandOutcome> {
  const client = await gatewayClient(args, context);
  const id = args.droneId;
  switch (args.action) {
    case 'ground':
      await confirm(args, context, `Ground drone ${id} for ${args.minutes ?? 60} min: it takes no new build; its running builds finish.`);
      return applied(client, context, () => client.ground(id, { ...(args.minutes === undefined ? {} : { minutes: args.minutes }), ...(args.reason === undefined ? {} : { reason: args.reason }) }), `Ground ${id}`);
    case 'unground':
      return applied(client, context, () => client.unground(id), `Unground ${id}`);
    case 'restart':
      await confirm(args, context, `Run the restart command configured for drone ${id}.`);
      return applied(client, context, () => client.restart(id), `Restart ${id}`);
  }
}

// --- logs CPV [--attempt N] [--follow] -------------------------------------------------------------------------

export interface SwarmLogsArgs extends GatewayClientArgs {
  readonly cpv: string;
  readonly cycle: string | undefined;
  readonly attempt: number | undefined;
  readonly follow: boolean;
}

export async function runSwarmLogsCommand(args: SwarmLogsArgs, context: HandlerContext): Promise<CommandOutcome> {
  const client = await gatewayClient(args, context);
  const cycle = args.cycle ?? cycleWith(await client.status(), args.cpv, false);
  let state = 'unknown';
  let printed = 0;
  // A build prints what its ebuild likes: on a terminal, never an escape sequence (a title, the clipboard, a
  // cursor move hiding lines); into a pipe or a file, the lines as they are.
  const terminal = context.process.stdout.isTTY === true;
  const write = (line: string): void => {
    printed += 1;
    context.process.stdout.write(`${terminal ? plainText(line) : line}\n`);
  };
  try {
    for await (const message of client.output(cycle, args.cpv, { ...(args.attempt === undefined ? {} : { attempt: args.attempt }), follow: args.follow, signal: context.signal })) {
      if (message.type === 'lines') for (const line of message.lines) write(line);
      else state = message.state;
    }
  } catch (error) {
    if (!context.signal.aborted) throw error;
  }
  if (printed === 0) context.process.stderr.write(`No output of ${args.cpv} in cycle ${cycle}${args.attempt === undefined ? '' : ` (attempt ${args.attempt})`} yet (${state}).\n`);
  return { exitCode: EXIT.ok, json: { cycle, cpv: args.cpv, state, lines: printed } };
}

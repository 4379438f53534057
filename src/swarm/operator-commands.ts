/**
 * What an operator asks of the swarm (ground, unground or restart a drone; cancel a cycle) goes through a Redis
 * stream that only the leading orchestrator reads and applies (so do `cancel-package` and `reset`): the leader alone writes breakers and records
 * (each write fenced by its epoch), so a command never races the leader's own state. The leader keeps how far
 * it applied in a fenced hash; a new leader goes on from there. Applying a command twice (a leader killed
 * between applying it and recording so) does no harm: each is idempotent but restart, which only runs the
 * drone's restart command again.
 */

import type { Redis } from 'ioredis';
import { z } from 'zod';
import { CYCLE_ID_PATTERN } from '../core/swarm/cycle-model.ts';
import { SWARM_ID_PATTERN } from '../core/swarm/swarm-config.ts';
import type { SwarmKeys } from './swarm-keys.ts';
import { entryFields } from './swarm-events.ts';

/** Commands kept (approximately: Redis trims whole nodes). */
const KEEP_COMMANDS = 1_000;

const droneId = z.string().regex(SWARM_ID_PATTERN);
const cycleId = z.string().regex(CYCLE_ID_PATTERN);

export const operatorCommandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ground'), drone: droneId, minutes: z.number().int().min(1).max(7 * 24 * 60), reason: z.string().min(1).max(200) }),
  z.object({ type: z.literal('unground'), drone: droneId }),
  z.object({ type: z.literal('restart'), drone: droneId }),
  z.object({ type: z.literal('cancel-cycle'), cycle: cycleId }),
  z.object({ type: z.literal('cancel-package'), cycle: cycleId, cpv: z.string().min(3).max(256).regex(/^[A-Za-z0-9+_][A-Za-z0-9+_.-]*\/[A-Za-z0-9+_][A-Za-z0-9+_.-]*$/) }),
  z.object({ type: z.literal('reset') }),
]);
export type OperatorCommand = z.infer<typeof operatorCommandSchema>;

export interface QueuedCommand {
  readonly id: string;
  /** Who asked (the gateway's token name, or `cli`). */
  readonly by: string;
  readonly at: number;
  /** Undefined when the entry could not be read as a command (it is skipped, and logged by the leader). */
  readonly command: OperatorCommand | undefined;
}

export async function sendOperatorCommand(redis: Redis, keys: SwarmKeys, command: OperatorCommand, by: string): Promise<string> {
  const checked = operatorCommandSchema.parse(command);
  const id = await redis.xadd(keys.commands, 'MAXLEN', '~', String(KEEP_COMMANDS), '*', 'by', by, 'at', String(Date.now()), 'command', JSON.stringify(checked));
  return id as string;
}

/** Commands after `cursor` (a stream id; `0` for all kept), oldest first. */
export async function readOperatorCommands(redis: Redis, keys: SwarmKeys, cursor: string, count = 100): Promise<QueuedCommand[]> {
  const entries = await redis.xrange(keys.commands, cursor === '0' ? '-' : `(${cursor}`, '+', 'COUNT', count);
  return entries.map(([id, flat]) => {
    const fields = entryFields(flat);
    let command: OperatorCommand | undefined;
    try {
      const parsed = operatorCommandSchema.safeParse(JSON.parse(fields.get('command') ?? 'null'));
      command = parsed.success ? parsed.data : undefined;
    } catch {
      command = undefined;
    }
    return { id, by: fields.get('by') ?? '?', at: Number(fields.get('at') ?? 0), command };
  });
}

import { EXIT } from '../../core/errors.ts';
import { setUpCanaryAccount } from '../../login-path/canary-account.ts';
import { openSystem } from '../../system/open-system.ts';
import { enterTarget } from '../enter-target.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface CanaryArgs extends GlobalOptions {
  readonly action: 'setup';
}

/** `apkg canary setup`: the account whose login `apkg update` proves after every update. */
export async function runCanaryCommand(args: CanaryArgs, context: HandlerContext): Promise<CommandOutcome> {
  await using door = await enterTarget(args, { command: 'apkg canary setup', writable: true, lock: true }, context.logger);
  const system = openSystem({ root: door.root, logger: context.logger });
  try {
    const setup = await setUpCanaryAccount(system, context.signal);
    const text = [
      `${setup.created ? 'Created' : 'Re-keyed'} the canary account ${setup.user}; its password is in ${setup.passwordFile} (root only, inside ${system.root}).`,
      ...(setup.wasOpen ? ['It could log in outside the proof before; now it cannot.'] : []),
      `It is locked and expired in /etc/shadow: no service lets it in. Its login proof passed (login service: ${setup.proof.join(', ')}; ${setup.verifiedWith}).`,
    ].join('\n');
    return { exitCode: EXIT.ok, json: { root: system.root, ...setup }, text };
  } finally {
    await system.close();
  }
}

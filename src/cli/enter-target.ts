import type { Logger } from 'pino';
import { lockTarget } from '../system/target-lock.ts';
import { validateTargetRoot, type RootRequirements } from '../system/validate-root.ts';

export interface DoorRequirements extends RootRequirements {
  /** The command changes the target: take the target's lock (one run per root at a time). */
  readonly lock?: boolean;
}

/** A checked target root, held locked (when asked) until disposed: `await using door = await enterTarget(…)`. */
export interface TargetDoor extends AsyncDisposable {
  /** The root's real path. */
  readonly root: string;
}

/**
 * The door of every command that acts on a target root: checks `--root` (ARGO_ROOT_NOT_FOUND,
 * ARGO_NOT_A_LINUX_ROOT, ARGO_NOT_A_GENTOO_ROOT, ARGO_ROOT_READ_ONLY: exit 2) and takes the target's lock
 * (ARGO_TARGET_LOCKED: exit 3) before the command creates anything. Call it first in a handler.
 */
export async function enterTarget(args: { readonly root: string }, needs: DoorRequirements, logger: Logger): Promise<TargetDoor> {
  const root = await validateTargetRoot(args.root, needs);
  if (needs.lock !== true) return { root, [Symbol.asyncDispose]: async () => undefined };
  const lock = await lockTarget(root, needs.command, { logger });
  return { root, [Symbol.asyncDispose]: () => lock.release() };
}

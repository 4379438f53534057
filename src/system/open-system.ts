import * as path from 'node:path';
import type { Logger } from 'pino';
import { createChrootSession } from './chroot-session.ts';
import { systemClock, type Clock } from './clock.ts';
import { createRootedFs, type RootedFs } from './rooted-fs.ts';
import { createHostRunner, type CommandRunner } from './run-command.ts';

/**
 * The System port: everything that touches disk, processes and the clock, bound to one target root.
 * Logic takes a System and never imports node:fs or node:child_process itself.
 */
export interface System {
  /** Host path of the target root: `/` on a live system, `/mnt/gentoo` from a live USB. */
  readonly root: string;
  /** True when the target is not the running system (a chroot from a live USB, a fixture). */
  readonly isForeignRoot: boolean;
  /** Files of the target, resolved inside its root. */
  readonly target: RootedFs;
  /** Files of the machine argo runs on (--log-dir, --password-file): a RootedFs on `/`. */
  readonly host: RootedFs;
  /** Runs commands on the target: inside a chroot session when the root is not `/`. */
  readonly commands: CommandRunner;
  /** Runs commands on the machine argo runs on (mount, btrfs, snapper on the host's view). */
  readonly hostCommands: CommandRunner;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Tears down the chroot session, if one was opened. Idempotent; always call it (finally). */
  close(): Promise<void>;
}

export interface OpenSystemOptions {
  readonly root: string;
  readonly logger: Logger;
  readonly dryRun?: boolean;
  readonly clock?: Clock;
}

export function openSystem(options: OpenSystemOptions): System {
  const root = path.resolve(options.root);
  const hostCommands = createHostRunner({ logger: options.logger, dryRun: options.dryRun ?? false });
  const isForeignRoot = root !== '/';
  const session = isForeignRoot ? createChrootSession({ root, host: hostCommands, logger: options.logger }) : undefined;
  return {
    root,
    isForeignRoot,
    target: createRootedFs(root),
    host: createRootedFs('/'),
    commands: session ?? hostCommands,
    hostCommands,
    clock: options.clock ?? systemClock,
    logger: options.logger,
    close: async () => session?.close(),
  };
}

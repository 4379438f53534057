import { ArgoError, EXIT } from '../../core/errors.ts';
import * as path from 'node:path';
import { openSystem } from '../../system/open-system.ts';
import type { RootedFs } from '../../system/rooted-fs.ts';
import { enterTarget } from '../enter-target.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface ChrootArgs extends GlobalOptions {
  readonly command: readonly string[];
  /** What followed `--` (yargs' populate--). */
  readonly '--'?: readonly (string | number)[];
  readonly budget: number;
  /** A host file whose content becomes the command's stdin (never logged). */
  readonly input: string | undefined;
}

/**
 * `argo chroot --root DIR -- CMD ARGS…`: runs one command inside a mounted Gentoo install the way the
 * Handbook's chroot instructions set it up, and takes every mount down afterwards, also on Ctrl-C.
 * Stdin is not passed through (a dead terminal must not block it): this is for commands, not for an
 * interactive shell. `--input FILE` feeds a file instead, e.g. a password; its content is never logged.
 */
export async function runChrootCommand(args: ChrootArgs, context: HandlerContext): Promise<CommandOutcome> {
  const [file, ...rest] = [...args.command, ...(args['--'] ?? []).map(String)];
  if (file === undefined) {
    throw new ArgoError('ARGO_USAGE', 'No command given to run inside the target', {
      hint: 'Put the command after --, e.g. argo chroot --root /mnt/gentoo -- emerge --info',
    });
  }
  // The command may change the target, so it holds the target's lock; a read-only root is fine (emerge --info).
  await using door = await enterTarget(args, { command: 'argo chroot', lock: true }, context.logger);
  // The real path: --root /tmp/.. is the host too, and a command run there would not be in a chroot at all.
  if (door.root === '/') {
    throw new ArgoError('ARGO_USAGE', 'argo chroot needs --root: the folder where the system to enter is mounted', {
      hint: 'e.g. argo chroot --root /mnt/gentoo -- emerge --info',
    });
  }
  const system = openSystem({ root: door.root, logger: context.logger });
  const { stdout, stderr } = context.process;
  try {
    const input = args.input === undefined ? undefined : await readInput(system.host, args.input);
    const result = await system.commands.run(file, rest, {
      input,
      signal: context.signal,
      budgetMs: args.budget * 1000,
      // Its output is printed as it comes (onLine): in the log at debug, so that --verbose does not print it twice.
      outputLevel: 'debug',
      onLine: args.json ? undefined : (line, stream) => (stream === 'stdout' ? stdout : stderr).write(`${line}\n`),
    });
    return { exitCode: EXIT.ok, json: { root: system.root, argv: result.argv, exitCode: result.exitCode, durationMs: result.durationMs, stdout: result.stdout } };
  } finally {
    await system.close();
  }
}

async function readInput(host: RootedFs, file: string): Promise<string> {
  const text = await host.readTextIfExists(path.resolve(file));
  if (text === undefined) {
    throw new ArgoError('ARGO_FILE_NOT_FOUND', `The input file ${file} does not exist`, { hint: 'Pass an existing file to --input.' });
  }
  return text;
}

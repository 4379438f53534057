import { ArgoError, EXIT } from '../../core/errors.ts';
import { openSystem } from '../../system/open-system.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface ChrootArgs extends GlobalOptions {
  readonly command: readonly string[];
  /** What followed `--` (yargs' populate--). */
  readonly '--'?: readonly (string | number)[];
  readonly budget: number;
}

/**
 * `argo chroot --root DIR -- CMD ARGS…`: runs one command inside a mounted Gentoo install the way the
 * Handbook's chroot instructions set it up, and takes every mount down afterwards, also on Ctrl-C.
 * Stdin is not passed through: this is for commands, not for an interactive shell.
 */
export async function runChrootCommand(args: ChrootArgs, context: HandlerContext): Promise<CommandOutcome> {
  const [file, ...rest] = [...args.command, ...(args['--'] ?? []).map(String)];
  if (file === undefined) {
    throw new ArgoError('ARGO_USAGE', 'No command given to run inside the target', {
      hint: 'Put the command after --, e.g. argo chroot --root /mnt/gentoo -- emerge --info',
    });
  }
  if (args.root === '/') {
    throw new ArgoError('ARGO_USAGE', 'argo chroot needs --root: the folder where the system to enter is mounted', {
      hint: 'e.g. argo chroot --root /mnt/gentoo -- emerge --info',
    });
  }
  const system = openSystem({ root: args.root, logger: context.logger });
  const { stdout, stderr } = context.process;
  try {
    const result = await system.commands.run(file, rest, {
      signal: context.signal,
      budgetMs: args.budget * 1000,
      outputLevel: 'info',
      onLine: args.json ? undefined : (line, stream) => (stream === 'stdout' ? stdout : stderr).write(`${line}\n`),
    });
    return { exitCode: EXIT.ok, json: { root: system.root, argv: result.argv, exitCode: result.exitCode, durationMs: result.durationMs, stdout: result.stdout } };
  } finally {
    await system.close();
  }
}

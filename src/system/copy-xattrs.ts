import { ArgoError } from '../core/errors.ts';
import { CommandError, type CommandRunner } from './run-command.ts';

export interface CopiedXattrs {
  /** How: attr's getfattr/setfattr, or coreutils' `cp --attributes-only` where attr is not installed. */
  readonly method: 'setfattr' | 'cp';
  /** Names copied (`security.selinux`, `system.posix_acl_access`, `user.*`, …); values are never reported. Unknown with cp. */
  readonly names: readonly string[] | undefined;
}

/** Integrity hashes of the old *content* (IMA/EVM): the kernel computes the new file's own; copying them would be wrong. */
const KERNEL_MAINTAINED: ReadonlySet<string> = new Set(['security.ima', 'security.evm']);

/** One `name=0s<base64>` line of `getfattr -d -e base64`. */
const DUMP_LINE = /^([^=#][^=]*)=(0s[A-Za-z0-9+/=]*)$/;

/**
 * Copies every extended attribute of `from` onto `to` (both host paths, neither followed if a symlink):
 * the SELinux label (`security.selinux`), POSIX ACLs (`system.posix_acl_access`), IMA/capability and user
 * attributes. Node has no xattr calls, so this uses attr's getfattr/setfattr, each value passed as base64 in
 * an argument (never through a shell). A file that has none copies nothing.
 */
export async function copyXattrs(commands: CommandRunner, from: string, to: string, signal?: AbortSignal): Promise<CopiedXattrs> {
  let dump: string;
  try {
    // -m - : every namespace, including security.* and system.* that getfattr hides by default.
    const result = await commands.run('getfattr', ['--dump', '--match=-', '--encoding=base64', '--no-dereference', '--absolute-names', '--', from], { signal, budgetMs: 30_000, mutates: false, okExitCodes: [0] });
    dump = result.stdout;
  } catch (error) {
    if (error instanceof CommandError && error.code === 'ARGO_COMMAND_NOT_FOUND') return copyWithCp(commands, from, to, signal);
    throw error;
  }
  const names: string[] = [];
  for (const line of dump.split('\n')) {
    const match = DUMP_LINE.exec(line);
    if (match === null) continue;
    const [, name, value] = match as unknown as [string, string, string];
    if (KERNEL_MAINTAINED.has(name)) continue;
    await commands.run('setfattr', ['--no-dereference', `--name=${name}`, `--value=${value}`, '--', to], { signal, budgetMs: 30_000 });
    names.push(name);
  }
  return { method: 'setfattr', names };
}

/** GNU cp copies xattrs (SELinux label included) and ACLs onto an existing file without touching its data. */
async function copyWithCp(commands: CommandRunner, from: string, to: string, signal?: AbortSignal): Promise<CopiedXattrs> {
  try {
    await commands.run('cp', ['--attributes-only', '--no-dereference', '--preserve=mode,ownership,xattr', '--', from, to], { signal, budgetMs: 30_000 });
  } catch (error) {
    throw new ArgoError('ARGO_COMMAND_FAILED', `The extended attributes (SELinux label, ACLs) of ${from} could not be copied: neither getfattr nor GNU cp --attributes-only works`, {
      cause: error,
      hint: 'Install attr (sys-apps/attr on Gentoo, attr on Debian) on the machine argo runs on.',
      details: { path: from },
    });
  }
  return { method: 'cp', names: undefined };
}

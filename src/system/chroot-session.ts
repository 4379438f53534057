import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { ArgoError } from '../core/errors.ts';
import { parseMountinfo } from '../core/system-state/parse-mountinfo.ts';
import { logEvent } from '../core/log-events.ts';
import { CHROOT_MOUNT_FAILED, chrootArgv, type ChrootMountPoints, type ChrootOverlay } from './chroot-argv.ts';
import { resolveOverlayMountPoint } from './overlay-mount-points.ts';
import { createRootedFs, type RootedFs } from './rooted-fs.ts';
import { CommandError, type CommandRecord, type CommandResult, type CommandRunner, type RunOptions } from './run-command.ts';

/** The environment commands see inside the target: a login-like root environment, nothing from the host. */
export const CHROOT_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  USER: 'root',
  LOGNAME: 'root',
  SHELL: '/bin/sh',
  TERM: 'dumb',
  LC_ALL: 'C',
};

/**
 * A command runner whose commands run inside the target root, each in a mount and PID namespace of its own
 * with the Handbook's mounts (proc; sys and dev rbind + rslave; run bind + slave; the host's resolv.conf bound
 * read-only over the target's). Nothing is mounted in the host's mount table and the target's files are not
 * touched, so a dry run, a crash or a SIGKILL leaves nothing behind; every process a command started dies
 * with its namespace.
 */
export interface ChrootSession extends CommandRunner {
  readonly root: string;
  /** Checks the root and resolves the mount points inside it; also done on the first run(). */
  open(): Promise<void>;
  /** Ends the session: later runs are refused. Idempotent; there is nothing to unmount. */
  close(): Promise<void>;
}

export interface ChrootSessionOptions {
  /** Host path of the target root. */
  readonly root: string;
  /** Runs setpriv, unshare and chroot on the host. */
  readonly host: CommandRunner;
  readonly logger: Logger;
  /** Where the host's mount table is read; injectable for tests. */
  readonly mountinfoPath?: string;
  /** Where setpriv and unshare are looked up; default the host's PATH. */
  readonly searchPath?: string;
}

/** The host's root and its own mount table: a session for `/` would mount the host onto itself. */
async function assertLinuxRoot(root: string, target: RootedFs): Promise<void> {
  let real: string;
  try {
    real = await fs.realpath(root);
  } catch (error) {
    throw new ArgoError('ARGO_NOT_A_LINUX_ROOT', `The target root ${root} does not exist`, {
      cause: error,
      hint: 'Mount the installed system first (e.g. mount /dev/sdXN /mnt/gentoo) and pass that folder as --root.',
      details: { root },
    });
  }
  if (real === '/') {
    throw new ArgoError('ARGO_NOT_A_LINUX_ROOT', 'A chroot session into / is not needed', { details: { root } });
  }
  const missing: string[] = [];
  for (const required of ['/etc', '/proc', '/sys', '/dev', '/run']) {
    if (!(await target.isDirectory(required))) missing.push(required);
  }
  if (!(await target.exists('/bin/sh'))) missing.push('/bin/sh');
  if (missing.length > 0) {
    throw new ArgoError('ARGO_NOT_A_LINUX_ROOT', `${root} does not look like a Linux root: missing ${missing.join(', ')}`, {
      hint: 'Pass the folder where the installed system\'s root partition is mounted (the one holding etc/, usr/, proc/).',
      details: { root, missing },
    });
  }
}

/**
 * The mount points as the kernel would find them after chroot: `/run -> /somewhere` in the target means
 * `<root>/somewhere`, never the host's `/somewhere`.
 */
async function resolveMountPoints(target: RootedFs): Promise<ChrootMountPoints> {
  const directory = async (inside: string): Promise<string> => {
    const host = await target.resolve(inside);
    const stats = await fs.lstat(host);
    if (!stats.isDirectory()) {
      throw new ArgoError('ARGO_NOT_A_LINUX_ROOT', `${inside} in ${target.root} is not a directory`, { details: { root: target.root, path: inside } });
    }
    return host;
  };
  const resolvConf = await target.resolve('/etc/resolv.conf');
  const resolvStats = await fs.lstat(resolvConf).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  return {
    proc: await directory('/proc'),
    sys: await directory('/sys'),
    dev: await directory('/dev'),
    run: await directory('/run'),
    // A link into /run (systemd-resolved, netifrc) already reaches the host's file through the /run bind.
    resolvConf: resolvStats?.isFile() ? resolvConf : undefined,
  };
}

/** Whether `program` is an executable file in one of the absolute folders of `searchPath`. */
export async function isOnPath(program: string, searchPath: string): Promise<boolean> {
  for (const dir of searchPath.split(':').filter((entry) => entry.startsWith('/'))) {
    try {
      await fs.access(path.join(dir, program), fsConstants.X_OK);
      return true;
    } catch {
      // not in this folder
    }
  }
  return false;
}

export function createChrootSession(options: ChrootSessionOptions): ChrootSession {
  const root = path.resolve(options.root);
  const target = createRootedFs(root);
  const host = options.host;
  const logger = options.logger;
  const mountinfoPath = options.mountinfoPath ?? '/proc/self/mountinfo';
  const searchPath = options.searchPath ?? process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin';
  const history: CommandRecord[] = [];
  let opening: Promise<{ mounts: ChrootMountPoints; deathSignal: boolean }> | undefined;
  let closed = false;

  const prepare = async (): Promise<{ mounts: ChrootMountPoints; deathSignal: boolean }> => {
    await assertLinuxRoot(root, target);
    const mounts = await resolveMountPoints(target);
    if (!(await isOnPath('unshare', searchPath))) {
      throw new ArgoError('ARGO_COMMAND_NOT_FOUND', 'unshare (util-linux) is not installed on this system', {
        hint: 'Install util-linux on the system argo runs on (every live USB has it).',
        details: { root },
      });
    }
    const deathSignal = await isOnPath('setpriv', searchPath);
    if (!deathSignal) logger.warn({ root }, 'setpriv is missing: a killed argo leaves its last command running until it ends');
    // Mounts under the target from elsewhere (the admin's own, or an older argo killed mid-run) are left as
    // they are: argo cannot tell whose they are, and it no longer needs them.
    const foreign = parseMountinfo(await fs.readFile(mountinfoPath, 'utf8'))
      .map((entry) => entry.mountPoint)
      .filter((point) => point.startsWith(`${root}/`));
    if (foreign.length > 0) logEvent(logger, 'chroot.foreign-mounts', { root, mounts: foreign });
    logEvent(logger, 'chroot.opened', { root, mounts: [mounts.proc, mounts.sys, mounts.dev, mounts.run, ...(mounts.resolvConf ? [mounts.resolvConf] : [])] });
    return { mounts, deathSignal };
  };

  const session: ChrootSession = {
    root,
    history,
    dryRun: host.dryRun,
    async open() {
      if (closed) throw new Error('chroot session already closed');
      opening ??= prepare();
      await opening;
    },
    async run(file: string, args: readonly string[], runOptions: RunOptions = {}): Promise<CommandResult> {
      if (closed) throw new Error('chroot session already closed');
      const command = [file, ...args];
      opening ??= prepare();
      const { mounts, deathSignal } = await opening;
      // The overlays are bound inside this namespace, after the Handbook's mounts; the host runner must not bind them again.
      const { overlays = [], ...hostOptions } = runOptions;
      const binds: ChrootOverlay[] = [];
      for (const overlay of overlays) binds.push({ ...overlay, mountPoint: await resolveOverlayMountPoint(target, overlay) });
      const [wrapper, ...wrapperArgs] = chrootArgv(root, mounts, binds, command, deathSignal) as [string, ...string[]];
      if (host.dryRun && runOptions.mutates !== false) {
        history.push({ argv: command, ran: false, exitCode: undefined });
        return host.run(wrapper, wrapperArgs, hostOptions);
      }
      try {
        const result = await host.run(wrapper, wrapperArgs, { env: CHROOT_ENV, ...hostOptions });
        history.push({ argv: command, ran: true, exitCode: result.exitCode });
        return result;
      } catch (error) {
        const result = error instanceof CommandError ? error.result : undefined;
        history.push({ argv: command, ran: true, exitCode: result?.exitCode });
        // Only a mount that failed on its own: one killed by an interrupt or a budget keeps that error.
        const mountLine = result?.tail.find((line) => line.startsWith('argo-chroot: could not mount '));
        if (error instanceof CommandError && error.code === 'ARGO_COMMAND_FAILED' && result?.exitCode === CHROOT_MOUNT_FAILED && mountLine !== undefined) {
          const what = mountLine.slice('argo-chroot: '.length).replace(/ \(inside .*\)$/, '');
          throw new ArgoError('ARGO_MOUNT_FAILED', `Could not set up the mounts to run ${file} inside ${root}: ${what}`, {
            cause: error,
            hint: 'Run as root on a kernel that allows mount and PID namespaces and bind mounts; the reason is in the log.',
            details: { root, tail: result.tail },
          });
        }
        throw error;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await opening?.catch(() => undefined);
      logEvent(logger, 'chroot.closed', { root });
    },
  };
  return session;
}

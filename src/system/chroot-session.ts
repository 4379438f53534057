import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { ArgoError } from '../core/errors.ts';
import { isMountPoint, parseMountinfo } from '../core/system-state/parse-mountinfo.ts';
import { logEvent } from '../logging/events.ts';
import { createRootedFs, type RootedFs } from './rooted-fs.ts';
import type { CommandRecord, CommandResult, CommandRunner, RunOptions } from './run-command.ts';

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

/** A command runner whose commands run inside the target root, with the Handbook's mounts in place. */
export interface ChrootSession extends CommandRunner {
  readonly root: string;
  /** Mounts what the Handbook mounts; also done on the first run(). */
  open(): Promise<void>;
  /** Unmounts everything this session mounted, in reverse order, and restores resolv.conf. Idempotent. */
  close(): Promise<void>;
}

export interface ChrootSessionOptions {
  /** Host path of the target root. */
  readonly root: string;
  /** Runs the host's mount, umount and chroot. */
  readonly host: CommandRunner;
  readonly logger: Logger;
  /** Where the mount table is read; injectable for tests. */
  readonly mountinfoPath?: string;
  /** Budget for each mount and umount command. */
  readonly mountBudgetMs?: number;
}

interface MountStep {
  readonly name: 'proc' | 'sys' | 'dev' | 'run';
  readonly kind: string;
  /** Commands run in order to create the mount (after the first, to make it a slave). */
  readonly commands: readonly (readonly string[])[];
  /** Recursive mounts are taken down with umount -R. */
  readonly recursive: boolean;
}

/**
 * The mounts of the Gentoo Handbook's "Entering the new environment", in its order. sys and dev are
 * recursive binds made slaves, so that unmounting them later never propagates back to the host's own.
 */
function handbookMounts(hostPath: (name: string) => string): MountStep[] {
  const proc = hostPath('proc');
  const sys = hostPath('sys');
  const dev = hostPath('dev');
  const run = hostPath('run');
  return [
    { name: 'proc', kind: 'proc', commands: [['mount', '--types', 'proc', '/proc', proc]], recursive: false },
    { name: 'sys', kind: 'rbind,rslave', commands: [['mount', '--rbind', '/sys', sys], ['mount', '--make-rslave', sys]], recursive: true },
    { name: 'dev', kind: 'rbind,rslave', commands: [['mount', '--rbind', '/dev', dev], ['mount', '--make-rslave', dev]], recursive: true },
    { name: 'run', kind: 'bind,slave', commands: [['mount', '--bind', '/run', run], ['mount', '--make-slave', run]], recursive: false },
  ];
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

export function createChrootSession(options: ChrootSessionOptions): ChrootSession {
  const root = path.resolve(options.root);
  const target = createRootedFs(root);
  const host = options.host;
  const logger = options.logger;
  const mountinfoPath = options.mountinfoPath ?? '/proc/self/mountinfo';
  const budgetMs = options.mountBudgetMs ?? 60_000;
  const mounted: { step: MountStep; mountPoint: string }[] = [];
  const history: CommandRecord[] = [];
  let resolvConf: { saved: string | undefined } | undefined;
  let opening: Promise<void> | undefined;
  let closed = false;

  const hostPathOf = (name: string): string => path.join(root, name);

  const readMounts = async () => parseMountinfo(await fs.readFile(mountinfoPath, 'utf8'));

  const mountAll = async (): Promise<void> => {
    await assertLinuxRoot(root, target);
    for (const step of handbookMounts(hostPathOf)) {
      const mountPoint = await fs.realpath(hostPathOf(step.name));
      if (isMountPoint(await readMounts(), mountPoint)) {
        logEvent(logger, 'mount.skipped', { target: mountPoint, reason: 'already mounted' });
        continue;
      }
      try {
        for (const [index, argv] of step.commands.entries()) {
          const [file, ...args] = argv as [string, ...string[]];
          await host.run(file, args, { budgetMs, mutates: false });
          if (index === 0) mounted.push({ step, mountPoint });
        }
      } catch (error) {
        throw new ArgoError('ARGO_MOUNT_FAILED', `Could not mount ${step.name} into ${root}`, {
          cause: error,
          hint: 'Run as root on a kernel that allows bind mounts; check dmesg for the reason.',
          details: { root, mount: step.name },
        });
      }
      logEvent(logger, 'mount.created', { source: `/${step.name}`, target: mountPoint, kind: step.kind });
    }
    await copyResolvConf();
    logEvent(logger, 'chroot.opened', { root });
  };

  /** Like the Handbook's `cp --dereference /etc/resolv.conf`, but the target's own file is put back at close. */
  const copyResolvConf = async (): Promise<void> => {
    const hostConf = await fs.readFile('/etc/resolv.conf', 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (hostConf === undefined) return;
    const stats = await target.lstat('/etc/resolv.conf').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    // A symlink (usually into /run) already resolves to the host's file through the /run bind mount.
    if (stats?.isSymbolicLink()) return;
    resolvConf = { saved: stats ? await target.readText('/etc/resolv.conf') : undefined };
    await target.writeFileAtomic('/etc/resolv.conf', hostConf, { mode: 0o644 });
  };

  const restoreResolvConf = async (): Promise<void> => {
    if (resolvConf === undefined) return;
    const { saved } = resolvConf;
    resolvConf = undefined;
    if (saved === undefined) await target.remove('/etc/resolv.conf');
    else await target.writeFileAtomic('/etc/resolv.conf', saved);
  };

  const unmount = async (step: MountStep, mountPoint: string): Promise<void> => {
    const recursive = step.recursive ? ['-R'] : [];
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      try {
        await host.run('umount', [...recursive, mountPoint], { budgetMs, mutates: false });
        logEvent(logger, 'mount.removed', { target: mountPoint });
        return;
      } catch (error) {
        if (!isMountPoint(await readMounts(), mountPoint)) return;
        if (attempt < 3) await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        else {
          // Busy after retries (a process inside still holds it): detach it lazily so nothing stays visible.
          logEvent(logger, 'mount.remove-failed', { target: mountPoint, reason: 'busy; detaching lazily' }, { err: error, level: 'warn' });
          await host.run('umount', [...recursive, '--lazy', mountPoint], { budgetMs, mutates: false });
          logEvent(logger, 'mount.removed', { target: mountPoint });
        }
      }
    }
  };

  const session: ChrootSession = {
    root,
    history,
    dryRun: host.dryRun,
    open() {
      if (closed) return Promise.reject(new Error('chroot session already closed'));
      opening ??= mountAll();
      return opening;
    },
    async run(file: string, args: readonly string[], runOptions: RunOptions = {}): Promise<CommandResult> {
      const argv = [file, ...args];
      if (host.dryRun && runOptions.mutates !== false) {
        history.push({ argv, ran: false, exitCode: undefined });
        return host.run('chroot', [root, ...argv], runOptions);
      }
      await session.open();
      try {
        const result = await host.run('chroot', [root, ...argv], { env: CHROOT_ENV, ...runOptions });
        history.push({ argv, ran: true, exitCode: result.exitCode });
        return result;
      } catch (error) {
        history.push({ argv, ran: true, exitCode: (error as { result?: CommandResult }).result?.exitCode });
        throw error;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      // Wait for a mount in progress, but tear down whatever it got to even if it failed.
      await opening?.catch(() => undefined);
      const failures: unknown[] = [];
      try {
        await restoreResolvConf();
      } catch (error) {
        failures.push(error);
      }
      const ours = mounted.splice(0).reverse();
      for (const { step, mountPoint } of ours) {
        try {
          await unmount(step, mountPoint);
        } catch (error) {
          failures.push(error);
        }
      }
      const table = await readMounts();
      const remaining = ours.filter(({ mountPoint }) => isMountPoint(table, mountPoint)).length;
      logEvent(logger, 'chroot.closed', { root, remaining });
      if (failures.length > 0 || remaining > 0) {
        throw new ArgoError('ARGO_UNMOUNT_FAILED', `Could not fully tear down the chroot session in ${root}`, {
          cause: failures[0],
          hint: `Check with: findmnt -R ${root}; then umount -R what is left.`,
          details: { root, failures: failures.length },
        });
      }
    },
  };
  return session;
}

import { runChrootCommand, type ChrootArgs } from './commands/chroot.ts';
import { runPreflightCommand, type PreflightArgs } from './commands/preflight.ts';
import { runRecoverCommand, type RecoverArgs } from './commands/recover.ts';
import { runRescueCommand, type RescueArgs } from './commands/rescue.ts';
import { runSnapshotCommand, type SnapshotArgs } from './commands/snapshot.ts';
import { preflightOptions } from './preflight-options.ts';
import { ArgoError } from '../core/errors.ts';
import type { CliDefinition } from './run-cli.ts';

/** --build-budget and --build-inactivity are seconds: a positive number, not 0, a negative number or a word. */
function positiveBudgets(argv: { readonly [key: string]: unknown }): true {
  for (const [name, value] of [['--build-budget', argv['buildBudget']], ['--build-inactivity', argv['buildInactivity']]] as const) {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new ArgoError('ARGO_USAGE', `${name} must be a number of seconds above 0, not ${String(value)}`, { hint: `e.g. ${name} 3600` });
    }
  }
  return true;
}

export const argoCli: CliDefinition = {
  name: 'argo',
  description: 'Keeps a Gentoo system bootable and loginable: recovery, pre-update checks, snapshots.',
  commands: (cli, bind) =>
    cli
      .command(
        'recover',
        'Repair a system nobody can log in to (nine logged phases, resumable), or put back what a recovery changed (--undo RUN)',
        (sub) =>
          sub
            .option('user', { type: 'string', describe: 'the account that must be able to log in again (required unless --undo)' })
            .option('password-file', { type: 'string', describe: 'file (on this machine) holding the new password on its first line' })
            .option('password-hash', { type: 'string', describe: 'a crypt(3) hash to set as it is (e.g. from openssl passwd -6)' })
            .option('password-hash-file', { type: 'string', describe: 'root-only file (on this machine) holding the crypt(3) hash to set; unlike --password-hash it is not visible in ps' })
            .option('generate-password', { type: 'boolean', default: false, describe: 'generate a password, print it once and keep it in a root-only file' })
            .option('log-dir', { type: 'string', describe: 'folder (on this machine) for the run logs; default <root>/var/log/argo, else /tmp/argo' })
            .option('binhost', { type: 'string', describe: 'binhost URL for the binary-package rebuild (PORTAGE_BINHOST)' })
            .option('resume', { type: 'boolean', default: false, describe: 'continue the last interrupted recovery, skipping what succeeded' })
            .option('pretend', { alias: ['p', 'dry-run'], type: 'boolean', default: false, describe: 'diagnose and show what would be done; change nothing' })
            .option('ask', { alias: 'a', type: 'boolean', default: false, describe: 'diagnose and show what would be done (as --pretend), ask, then do it; refuses without a terminal' })
            .option('skip', { type: 'string', array: true, default: [], describe: 'skip a phase (repeatable)' })
            .option('build-budget', { type: 'number', default: 3600, describe: 'seconds a source or manual libxcrypt build may take' })
            .option('build-inactivity', { type: 'number', default: 1200, describe: 'seconds a build may print nothing before it is killed' })
            .option('undo', { type: 'string', describe: 'put back every file recovery run RUN changed (its log folder name, e.g. recovery-20261129T163000Z)' })
            .option('force', { type: 'boolean', default: false, describe: '--undo: put files back even when they changed after the recovery' })
            .option('proc-root', { type: 'string', hidden: true, describe: 'where to read running processes (tests)' })
            .check((argv) => {
              if (argv.undo === undefined && argv.user === undefined) {
                throw new ArgoError('ARGO_USAGE', 'Missing required argument: user', { hint: 'Name the account to repair: argo recover --root /mnt/gentoo --user alice --password-file /root/pw' });
              }
              if (argv.resume === true && (argv.ask === true || argv.pretend === true)) {
                // A preview is a dry run, which reads and writes no state in the target: nothing to continue.
                throw new ArgoError('ARGO_USAGE', '--resume cannot be previewed (--ask, -p)', { hint: 'Run argo recover with the same options and --resume, without --ask and -p.' });
              }
              return positiveBudgets(argv);
            })
            .example('$0 recover --root /mnt/gentoo --user alice --password-file /root/pw', 'repair a mounted install from a live USB')
            .example('$0 recover --root /mnt/gentoo --user alice --password-file /root/pw --ask', 'diagnose, show the plan, and ask before repairing')
            .example('$0 recover --root /mnt/gentoo --undo recovery-20261129T163000Z', 'put back every file that recovery changed'),
        bind<RecoverArgs>(runRecoverCommand),
      )
      .command('preflight', 'The pre-update checklist: go or no-go for an update (exit 3 for no-go)', preflightOptions, bind<PreflightArgs>(runPreflightCommand))
      .command(
        'snapshot <action> [from] [to]',
        'Create, list, diff, restore or delete snapshots (snapper where configured, plain btrfs otherwise)',
        (sub) =>
          sub
            .positional('action', { choices: ['create', 'list', 'diff', 'restore', 'delete'] as const, describe: 'what to do' })
            .positional('from', { type: 'number', describe: 'diff/restore: the older snapshot; delete: the snapshot' })
            .positional('to', { type: 'number', describe: 'diff/restore: the newer snapshot (default: the current system)' })
            .option('type', { choices: ['single', 'pre', 'post'] as const, describe: 'create: snapshot type' })
            .option('pre-number', { type: 'number', describe: 'create --type post: its pre snapshot' })
            .option('description', { type: 'string', describe: 'create: description' })
            .option('userdata', { type: 'string', array: true, describe: 'create: key=value (repeatable)' })
            .option('min-free', { type: 'number', describe: 'create: refuse below this many free bytes' })
            .option('paths', { type: 'string', array: true, describe: 'restore: only these paths (inside --root)' })
            .option('update', { type: 'string', describe: 'list/diff/restore: the pre/post pair of this update id' })
            .option('all-changes', { type: 'boolean', default: false, describe: 'restore against the live system (no TO): revert every change since FROM, /home and databases included' })
            .option('pretend', { alias: 'p', type: 'boolean', default: false, describe: 'restore: list what would be restored; change nothing' })
            .option('ask', { alias: 'a', type: 'boolean', default: false, describe: 'restore: list what would be restored, then ask before restoring it (emerge --ask); refuses without a terminal' })
            .option('budget', { type: 'number', describe: 'seconds before the command is stopped (default: create 600, list 120, diff 1800, restore 3600, delete 600)' })
            .example('$0 snapshot create --type pre --description "before update"', 'take a pre snapshot')
            .example('$0 snapshot restore 12 --paths /usr/lib64/libcrypt.so.1.1.0', 'put one file back as it was in snapshot 12')
            .example('$0 snapshot restore 12 --pretend', 'list every change since snapshot 12 that --all-changes would revert'),
        bind<SnapshotArgs>(runSnapshotCommand),
      )
      .command(
        'chroot [command..]',
        'Run one command inside the system at --root with the Handbook mounts, unmounting everything afterwards',
        (sub) =>
          sub
            .positional('command', { type: 'string', array: true, default: [], describe: 'the command and its arguments, after --' })
            .option('budget', { type: 'number', default: 3600, describe: 'seconds before the command is killed' })
            .option('input', { type: 'string', describe: 'feed this file to the command\'s stdin (its content is never logged)' })
            .example('$0 chroot --root /mnt/gentoo -- emerge --info', 'run emerge --info inside the mounted install'),
        bind<ChrootArgs>(runChrootCommand),
      )
      .command(
        'rescue',
        'From a live USB: find the Gentoo root on the disks, mount it (and the /usr, /var, /boot its fstab names), repair the login, unmount everything',
        (sub) =>
          sub
            .option('user', { type: 'string', demandOption: true, describe: 'the account that must be able to log in again' })
            .option('device', { type: 'string', describe: 'the device holding the root (when several hold one); an opened LUKS container is /dev/mapper/NAME' })
            .option('subvolume', { type: 'string', describe: 'btrfs: the subvolume holding the root (when several do), e.g. @' })
            .option('scan', { type: 'string', array: true, default: [], describe: 'look only at these disks or partitions (repeatable); default: every block device' })
            .option('mount-point', { type: 'string', default: '/mnt/gentoo', describe: 'where to mount the root (created if missing; must be empty)' })
            .option('password-file', { type: 'string', describe: 'file (on this machine or the stick) holding the new password on its first line' })
            .option('password-hash-file', { type: 'string', describe: 'root-only file holding the crypt(3) hash to set' })
            .option('generate-password', { type: 'boolean', default: false, describe: 'generate a password, print it once and keep it in a root-only file' })
            .option('pretend', { alias: 'p', type: 'boolean', default: false, describe: 'show what was found and what would be done (read-only mounts, the repair as a dry run); change nothing' })
            .option('binhost', { type: 'string', describe: 'binhost URL for the binary-package rebuild (PORTAGE_BINHOST)' })
            .option('log-dir', { type: 'string', describe: 'folder (on this machine) for the run logs; default <root>/var/log/argo' })
            .option('build-budget', { type: 'number', default: 3600, describe: 'seconds a source or manual libxcrypt build may take' })
            .option('build-inactivity', { type: 'number', default: 1200, describe: 'seconds a build may print nothing before it is killed' })
            .check(positiveBudgets)
            .example('$0 rescue --user alice --password-file /run/archiso/bootmnt/argo/password', 'find the Gentoo root, repair it, unmount')
            .example('$0 rescue --user alice --generate-password --pretend', 'show what it finds and would do; change nothing'),
        bind<RescueArgs>(runRescueCommand),
      ),
};

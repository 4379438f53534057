import { runChrootCommand, type ChrootArgs } from './commands/chroot.ts';
import { notLanded } from './commands/not-landed.ts';
import type { CliDefinition } from './run-cli.ts';

export const argoCli: CliDefinition = {
  name: 'argo',
  description: 'Keeps a Gentoo system bootable and loginable: recovery, pre-update checks, snapshots.',
  commands: (cli, bind) =>
    cli
      .command('recover', 'Repair a system nobody can log in to (eight logged phases, resumable)', {}, bind(notLanded('argo recover', 'issue #4')))
      .command('preflight', 'The pre-update checklist: go or no-go for an update', {}, bind(notLanded('argo preflight', 'issue #5')))
      .command('snapshot <action>', 'Create, list, diff, restore or delete snapshots (snapper or btrfs)', (sub) =>
        sub.positional('action', { choices: ['create', 'list', 'diff', 'restore', 'delete'] as const, describe: 'what to do' }),
        bind(notLanded('argo snapshot', 'issue #5')),
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
      ),
};

import { runCanaryCommand, type CanaryArgs } from './commands/canary.ts';
import { runPreflightCommand, type PreflightArgs } from './commands/preflight.ts';
import { runRollbackCommand, runUpdateCommand, type RollbackArgs, type UpdateArgs } from './commands/update.ts';
import { preflightOptions } from './preflight-options.ts';
import type { CliDefinition } from './run-cli.ts';

export const apkgCli: CliDefinition = {
  name: 'apkg',
  description: 'Updates a Gentoo system without locking you out: preflight gate, snapshots, verified login.',
  commands: (cli, bind) =>
    cli
      .command(
        'update',
        'Preflight gate, snapshot, critical packages first, emerge from the binhost with progress, verify the login path, snapshot, report',
        (sub) =>
          sub
            .option('yes', { type: 'boolean', default: false, describe: 'accepted for scripts; apkg update never prompts' })
            .option('dry-run', { type: 'boolean', default: false, describe: 'run the gate and show what would be run; change nothing' })
            .option('allow-compile', { type: 'string', array: true, default: [] as string[], describe: 'a critical package that may be compiled in place (repeatable)' })
            .option('force', { type: 'string', describe: 'go on past a no-go checklist; the REASON is logged and reported' })
            .option('binhost', { type: 'string', describe: 'binhost URL (PORTAGE_BINHOST) or local PKGDIR' })
            .option('emerge-inactivity', { type: 'number', default: 1800, describe: 'seconds emerge may print nothing before it is stopped' })
            .option('proc-root', { type: 'string', hidden: true }),
        bind<UpdateArgs>(runUpdateCommand),
      )
      .command(
        'rollback',
        'Undo an update (the last one by default) from its pre-update snapshot, file by file',
        (sub) =>
          sub
            .option('update', { type: 'string', describe: 'the update id (from the report or argo snapshot list)' })
            .option('files-only', { type: 'boolean', default: true, describe: 'restore the files in the running system (the only mode of this version)' }),
        bind<RollbackArgs>(runRollbackCommand),
      )
      .command('preflight', 'The pre-update checklist (same as argo preflight; exit 3 for no-go)', preflightOptions, bind<PreflightArgs>(runPreflightCommand))
      .command('canary <action>', 'Manage the login canary account used to verify PAM after updates', (sub) =>
        sub.positional('action', { choices: ['setup'] as const, describe: 'setup: create or re-key the account and prove it logs in' }),
        bind<CanaryArgs>(runCanaryCommand),
      ),
};

import { runCanaryCommand, type CanaryArgs } from './commands/canary.ts';
import { notLanded } from './commands/not-landed.ts';
import { runPreflightCommand, type PreflightArgs } from './commands/preflight.ts';
import { preflightOptions } from './preflight-options.ts';
import type { CliDefinition } from './run-cli.ts';

export const apkgCli: CliDefinition = {
  name: 'apkg',
  description: 'Updates a Gentoo system without locking you out: preflight gate, snapshots, verified login.',
  commands: (cli, bind) =>
    cli
      .command('update', 'Preflight, snapshot, emerge from the binhost, verify the login path, snapshot, report', {}, bind(notLanded('apkg update', 'issue #6')))
      .command('rollback', 'Undo the last update from its pre-update snapshot', {}, bind(notLanded('apkg rollback', 'issue #6')))
      .command('preflight', 'The pre-update checklist (same as argo preflight; exit 3 for no-go)', preflightOptions, bind<PreflightArgs>(runPreflightCommand))
      .command('canary <action>', 'Manage the login canary account used to verify PAM after updates', (sub) =>
        sub.positional('action', { choices: ['setup'] as const, describe: 'setup: create or re-key the account and prove it logs in' }),
        bind<CanaryArgs>(runCanaryCommand),
      ),
};

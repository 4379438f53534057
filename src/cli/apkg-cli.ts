import { runCanaryCommand, type CanaryArgs } from './commands/canary.ts';
import { runPreflightCommand, type PreflightArgs } from './commands/preflight.ts';
import { runRollbackCommand, runUpdateCommand, type RollbackArgs, type UpdateArgs } from './commands/update.ts';
import { preflightOptions, swarmOptions } from './preflight-options.ts';
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
          swarmOptions(sub)
            .option('pretend', { alias: ['p', 'dry-run'], type: 'boolean', default: false, describe: 'run the gate and show what would be merged; change nothing' })
            .option('ask', { alias: 'a', type: 'boolean', default: false, describe: 'show what would be merged (as --pretend), ask, then update exactly that; refuses without a terminal' })
            .option('allow-compile', { type: 'string', array: true, default: [] as string[], describe: 'a critical package that may be compiled in place (repeatable)' })
            .option('force', { type: 'string', describe: 'go on past a no-go checklist; the REASON is logged and reported' })
            .option('binhost', { type: 'string', describe: 'binhost URL (PORTAGE_BINHOST) or local PKGDIR' })
            .option('emerge-inactivity', { type: 'number', default: 1800, describe: 'seconds emerge may print nothing before it is stopped' })
            .option('request-builds', { type: 'boolean', default: false, describe: 'first ask the build swarm (--swarm) to build what its production binhost lacks, wait, publish through its verify, then update from it' })
            .option('request-budget', { type: 'number', default: 4 * 3600, describe: 'seconds --request-builds waits for the swarm before giving up (the swarm goes on building)' })
            .option('swarm-request-token-file', { type: 'string', describe: 'with --request-builds: a root-only file holding a token of the request scope (start a cycle, publish through verify); never put in a URL (env ARGO_SWARM_REQUEST_TOKEN_FILE)' })
            .option('request-poll', { type: 'number', default: 3, hidden: true, describe: 'seconds between two looks at the swarm\'s cycle' })
            .option('proc-root', { type: 'string', hidden: true })
            .example('$0 update --ask', 'show what would be merged, ask, then update')
            .example('$0 update --request-builds --swarm https://swarm.lan:8470 --swarm-token-file /root/swarm-read.token --swarm-request-token-file /root/swarm-request.token', 'have the swarm build what is missing, then update from its binaries'),
        bind<UpdateArgs>(runUpdateCommand),
      )
      .command(
        'rollback',
        'Undo an update (the last one by default): put back, from its pre-update snapshot, only what the update changed',
        (sub) =>
          sub
            .option('update', { type: 'string', describe: 'the update id (from the report or argo snapshot list)' })
            .option('pretend', { alias: 'p', type: 'boolean', default: false, describe: 'show what would be put back and what stays; change nothing' })
            .option('ask', { alias: 'a', type: 'boolean', default: false, describe: 'always show the plan and ask, as emerge --ask (without it only a terminal without --yes is asked); refuses without a terminal' })
            .option('yes', { type: 'boolean', default: false, describe: 'do not ask first; on a terminal apkg rollback shows its plan and asks, elsewhere it never asks' })
            .option('keep-changed', { type: 'boolean', default: false, describe: 'files of the update changed again after it: keep them, roll back the rest' })
            .option('overwrite-changed', { type: 'boolean', default: false, describe: 'files of the update changed again after it: put them back too (default: refuse)' })
            .option('budget', { type: 'number', default: 3600, describe: 'seconds the rollback may take before it is stopped' })
            .epilog(
              'What is rolled back: the files of the packages the update merged (their CONTENTS before and after), their /var/db/pkg entries, ' +
                'config files Portage set aside for them (._cfg0000_*) and Portage\'s own state (world, ld.so.cache, /var/cache/edb), as far as they ' +
                'changed between the pre and the post snapshot (or the live system, for an update cut off before its post snapshot). ' +
                'Nothing else: /home, databases, /etc edits of your own stay. A safety snapshot is taken first. ' +
                'Not covered: other filesystems (/boot, an ESP) and nested subvolumes.',
            )
            .example('$0 rollback --pretend', 'show what rolling back the last update would do')
            .example('$0 rollback --update 20261122T040228Z --yes', 'roll back that update without asking'),
        bind<RollbackArgs>(runRollbackCommand),
      )
      .command('preflight', 'The pre-update checklist (same as argo preflight; exit 3 for no-go)', preflightOptions, bind<PreflightArgs>(runPreflightCommand))
      .command(
        'canary <action>',
        'Manage the login canary account used to verify PAM after updates',
        (sub) =>
          sub
            .positional('action', { choices: ['setup'] as const, describe: 'setup: create or re-key the account (locked) and prove its login' })
            .epilog(
              'What argo-canary is: a system account whose only use is the proof, after apkg update, that a login still works ' +
                '(the login service: auth, account, session, through the target\'s own PAM and crypt). Its random password is ' +
                'readable by root only, in /var/lib/argo/canary-password.\n\n' +
                'What it is not: a login. In /etc/shadow it is always locked (!) and expired, its shell is nologin and it has no ' +
                'home (/var/empty), so sshd, su, login, display managers and every other service refuse it, even with the password. ' +
                'The proof unlocks it only inside a private mount namespace, for the seconds of the check: a copy of /etc/shadow ' +
                'with the canary open is bound over /etc/shadow for the proving command alone. The real /etc/shadow never holds ' +
                'an open canary, so a killed run leaves no door behind. An older canary that could log in is locked by setup.',
            ),
        bind<CanaryArgs>(runCanaryCommand),
      ),
};

import { ArgoError } from '../core/errors.ts';
import { CommandError, type CommandRunner } from '../system/run-command.ts';

export type CanaryMethod = 'unix_chkpwd' | 'pamtester' | 'su';

export interface CanaryAttempt {
  readonly method: CanaryMethod;
  readonly budgetMs: number;
  /** Resolves when the target's PAM accepted the password; throws with the reason otherwise. */
  run(commands: CommandRunner, user: string, password: string, signal: AbortSignal): Promise<void>;
}

function refused(method: CanaryMethod, user: string, error: unknown): never {
  if (error instanceof CommandError && error.code === 'ARGO_COMMAND_FAILED') {
    throw new ArgoError('ARGO_COMMAND_FAILED', `${method} refused ${user}'s password (exit ${error.result.exitCode ?? '?'})`, {
      cause: error,
      hint: 'The login path is still broken: see the diagnostics and the crypt test.',
    });
  }
  throw error;
}

/**
 * The canary methods, in order: pam_unix's own helper (a real check against /etc/shadow through the
 * target's libcrypt), then a full PAM conversation for the `login` service, then su as an unprivileged
 * user. Each reads the password from a pipe: none of them ever sees a terminal.
 */
export const CANARY_ATTEMPTS: readonly CanaryAttempt[] = [
  {
    method: 'unix_chkpwd',
    budgetMs: 30_000,
    async run(commands, user, password, signal) {
      // unix_chkpwd reads the password up to a NUL byte and refuses to work on a terminal.
      await commands.run('unix_chkpwd', [user, 'nullok'], { input: `${password}\0`, signal, budgetMs: 30_000, mutates: false }).catch((error: unknown) => refused('unix_chkpwd', user, error));
    },
  },
  {
    method: 'pamtester',
    budgetMs: 60_000,
    async run(commands, user, password, signal) {
      await commands.run('pamtester', ['login', user, 'authenticate'], { input: `${password}\n`, signal, budgetMs: 60_000, mutates: false }).catch((error: unknown) => refused('pamtester', user, error));
    },
  },
  {
    method: 'su',
    budgetMs: 60_000,
    async run(commands, user, password, signal) {
      // As root su would not ask for a password at all: drop to nobody first so that PAM really checks it.
      await commands
        .run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'su', user, '-c', 'true'], { input: `${password}\n`, signal, budgetMs: 60_000, mutates: false })
        .catch((error: unknown) => refused('su', user, error));
    },
  },
];

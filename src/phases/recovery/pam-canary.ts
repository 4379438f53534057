import { ArgoError } from '../../core/errors.ts';
import { CANARY_ATTEMPTS, type CanaryMethod } from '../../login-path/authenticate.ts';
import type { Attempt, Phase } from '../types.ts';
import type { RecoveryDeps } from './recovery-deps.ts';

export interface CanaryOutput {
  readonly user: string;
  readonly method: CanaryMethod;
}

const attempts: Attempt<RecoveryDeps>[] = CANARY_ATTEMPTS.map((canary) => ({
  id: canary.method,
  budgetMs: canary.budgetMs,
  async run(context): Promise<CanaryOutput> {
    const { system, options, secrets } = context.deps;
    if (secrets.password === undefined) {
      throw new ArgoError('ARGO_INVALID_INPUT', 'No plaintext password to prove the login with (--password-hash was given)', {
        hint: 'Log in on a console to confirm, or run again with --password-file.',
      });
    }
    await canary.run(system.commands, options.user, secrets.password, context.signal);
    return { user: options.user, method: canary.method };
  },
}));

/** Phase 5: prove that a real login works, through the target's own PAM. */
export const pamCanaryPhase: Phase<RecoveryDeps> = {
  id: 'pam-canary',
  skip: (context) =>
    context.deps.options.skip.has('pam-canary') ? 'skipped with --skip' : context.dryRun ? 'dry run: nothing was changed, so there is no new login to prove' : undefined,
  steps: [{ id: 'authenticate', budgetMs: 60_000, attempts }],
};

import { ArgoError } from '../../core/errors.ts';
import { proveLogin, type LoginProofResult } from '../../login-path/prove-login.ts';
import type { Phase } from '../types.ts';
import type { DiagnosticsOutput, RecoveryDeps } from './recovery-deps.ts';

export interface CanaryOutput {
  readonly user: string;
  readonly method: LoginProofResult['method'];
  /** Each check that passed: `auth`, `account`, `session`, `shell`, `dm:<service>`, `su`. */
  readonly proof: readonly string[];
  readonly failed?: LoginProofResult['failed'];
  readonly warnings: readonly string[];
}

/** The PAM service of each display manager's password login (its /etc/pam.d file). */
const DM_SERVICES: Readonly<Record<string, string>> = {
  lightdm: 'lightdm',
  sddm: 'sddm',
  gdm: 'gdm-password',
  lxdm: 'lxdm',
  slim: 'slim',
  xdm: 'xdm',
  greetd: 'greetd',
  entrance: 'entrance',
};

/** Phase 6: prove a real login, as a person at the console and at the display manager goes through it. */
export const pamCanaryPhase: Phase<RecoveryDeps> = {
  id: 'pam-canary',
  skip: (context) =>
    context.deps.options.skip.has('pam-canary') ? 'skipped with --skip' : context.dryRun ? 'dry run: nothing was changed, so there is no new login to prove' : undefined,
  steps: [
    {
      id: 'prove',
      budgetMs: 5 * 60_000,
      attempts: [
        {
          id: 'target-pam',
          async run(context): Promise<CanaryOutput> {
            const { system, options, secrets } = context.deps;
            if (secrets.password === undefined) {
              throw new ArgoError('ARGO_LOGIN_UNPROVEN', 'No plaintext password to prove the login with (--password-hash was given): the login is not proven', {
                hint: 'Log in on a console to confirm, or run again with --password-file or --generate-password.',
              });
            }
            const warnings: string[] = [];
            const services = ['login'];
            const configured = context.outputOf<DiagnosticsOutput>('diagnostics/collect')?.before.displayManager.configured;
            const dmService = configured === undefined ? undefined : DM_SERVICES[configured];
            if (dmService !== undefined) {
              // Proven under its own name even without /etc/pam.d/<service>: PAM then runs `other` for it, as it
              // will for the display manager (on Gentoo that denies, and the run must say so).
              services.push(dmService);
              if (!(await system.target.exists(`/etc/pam.d/${dmService}`))) warnings.push(`DISPLAYMANAGER=${configured} has no /etc/pam.d/${dmService}: its logins go through the "other" stack`);
            }
            const result = await proveLogin(system, { user: options.user, password: secrets.password, services, signal: context.signal });
            return { user: options.user, method: result.method, proof: result.proof, ...(result.failed ? { failed: result.failed } : {}), warnings: [...warnings, ...result.warnings] };
          },
        },
      ],
    },
    {
      id: 'judge',
      budgetMs: 10_000,
      attempts: [
        {
          id: 'judge',
          run(context): Promise<void> {
            const proof = context.outputOf<CanaryOutput>('pam-canary/prove');
            if (proof?.failed !== undefined) {
              const where = proof.failed.service === undefined ? proof.failed.step : `${proof.failed.service} ${proof.failed.step}`;
              return Promise.reject(
                new ArgoError('ARGO_LOGIN_REFUSED', `The login of ${proof.user} is still refused at ${where}: ${proof.failed.reason}`, {
                  hint: 'See the causes in the summary and main.log (event login-proof.finished); repair what is named, then run again.',
                  details: { proof: proof.proof, step: proof.failed.step },
                }),
              );
            }
            return Promise.resolve();
          },
        },
      ],
    },
  ],
};

import { decideVerdict } from '../../core/recovery/verdict.ts';
import { diagnoseLogin } from '../../login-path/diagnose-login.ts';
import { readLoginState } from '../../login-path/read-login-state.ts';
import { renderLoginState } from './render-state.ts';
import type { Phase } from '../types.ts';
import type { DiagnosticsOutput, RecoveryDeps } from './recovery-deps.ts';

/** Phase 1: the before-picture, taken before anything changes, and the verdict on what to repair. */
export const diagnosticsPhase: Phase<RecoveryDeps> = {
  id: 'diagnostics',
  steps: [
    {
      id: 'collect',
      budgetMs: 5 * 60_000,
      attempts: [
        {
          id: 'collect',
          async run(context): Promise<DiagnosticsOutput> {
            const { system, options, logs } = context.deps;
            const [before, doctor] = await Promise.all([readLoginState(system, options.user, context.signal), diagnoseLogin(system, { user: options.user, signal: context.signal })]);
            const verdict = decideVerdict(before, { liveSystem: !system.isForeignRoot });
            const causeLines = doctor.causes.map((cause) => `${cause.severity === 'blocks' ? 'BLOCKS' : 'warns '} ${cause.id}: ${cause.summary}\n       repair: ${cause.repair}`);
            const text = [renderLoginState('Diagnostics (before any change)', system.root, before, verdict), '## login causes (login doctor)', ...(causeLines.length === 0 ? ['none'] : causeLines), ''].join('\n');
            await logs.write('diagnostics', text);
            context.logger.info({ causes: [...verdict.causes.map((cause) => cause.id), ...doctor.causes.map((cause) => cause.id)] }, 'Diagnostics verdict');
            return { before, verdict, loginCauses: doctor.causes, doctorMs: doctor.durationMs };
          },
        },
      ],
    },
  ],
};

import { decideVerdict } from '../../core/recovery/verdict.ts';
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
            const before = await readLoginState(system, options.user, context.signal);
            const verdict = decideVerdict(before, { liveSystem: !system.isForeignRoot });
            await logs.write('diagnostics', renderLoginState('Diagnostics (before any change)', system.root, before, verdict));
            context.logger.info({ causes: verdict.causes.map((cause) => cause.id) }, 'Diagnostics verdict');
            return { before, verdict };
          },
        },
      ],
    },
  ],
};

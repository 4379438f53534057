import * as path from 'node:path';
import { logEvent } from '../../core/log-events.ts';
import { repairLoginCauses, type RepairOutcome } from '../../login-path/repair-login.ts';
import type { Phase } from '../types.ts';
import type { DiagnosticsOutput, RecoveryDeps } from './recovery-deps.ts';

export interface LoginRepairOutput {
  readonly outcomes: readonly RepairOutcome[];
}

/**
 * Phase 4: the login doctor's causes, each repaired with the smallest change (or said why not), every change
 * backed up beside its file and recorded in changes.json before it is made. A dry run computes the same
 * changes, diffs included, and writes nothing.
 */
export const loginRepairPhase: Phase<RecoveryDeps> = {
  id: 'login-repair',
  dependsOn: ['diagnostics'],
  skip(context) {
    if (context.deps.options.skip.has('login-repair')) return 'skipped with --skip';
    const causes = context.outputOf<DiagnosticsOutput>('diagnostics/collect')?.loginCauses ?? [];
    return causes.length === 0 ? 'the login doctor found nothing in the way of the login' : undefined;
  },
  steps: [
    {
      id: 'repair-causes',
      budgetMs: 5 * 60_000,
      attempts: [
        {
          id: 'smallest-change',
          async run(context): Promise<LoginRepairOutput> {
            const { system, options, journal, processes } = context.deps;
            const causes = context.outputOf<DiagnosticsOutput>('diagnostics/collect')?.loginCauses ?? [];
            const emergeRunning = system.isForeignRoot ? false : (await processes.list()).some((process) => process.comm === 'emerge' || process.comm === 'ebuild.sh');
            const outcomes = await repairLoginCauses(system, causes, {
              user: options.user,
              runId: path.basename(context.deps.logs.dir),
              journal,
              passwordWillBeReset: !options.skip.has('password-reset'),
              liveSystem: !system.isForeignRoot,
              emergeRunning,
              signal: context.signal,
            });
            for (const outcome of outcomes) logEvent(context.logger, 'login-repair.cause', { cause: outcome.cause, status: outcome.status, note: outcome.note, changes: outcome.changes.length });
            return { outcomes };
          },
        },
      ],
    },
  ],
};

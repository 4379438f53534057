import { planProcessCleanup, type ProcessInfo } from '../../core/system-state/processes.ts';
import type { Clock } from '../../system/clock.ts';
import type { Phase } from '../types.ts';
import { skipUnlessNeeded, type RecoveryDeps } from './recovery-deps.ts';

export interface ProcessCleanupOutput {
  readonly killed: readonly { readonly pid: number; readonly comm: string; readonly reason: string; readonly signal: string }[];
  readonly unkillable: readonly { readonly pid: number; readonly comm: string; readonly wchan: string | undefined }[];
  /** Services on replaced libraries: they need a restart by their service manager, not a kill. */
  readonly needRestart: readonly { readonly pid: number; readonly comm: string; readonly libraries: readonly string[] }[];
}

const TERM_GRACE_MS = 5_000;
const KILL_GRACE_MS = 2_000;

/** Phase 2: stop what hangs (D state) and the frozen graphical session; report what cannot be stopped. */
export const processCleanupPhase: Phase<RecoveryDeps> = {
  id: 'process-cleanup',
  skip: skipUnlessNeeded('process-cleanup'),
  steps: [
    {
      id: 'stop-stuck-processes',
      budgetMs: 60_000,
      attempts: [
        {
          id: 'signal',
          async run(context): Promise<ProcessCleanupOutput> {
            const { processes } = context.deps;
            const plan = planProcessCleanup(await processes.list(), await processes.ownAncestry());
            const toKill = plan.filter((entry) => entry.decision.action === 'kill');
            const killed: { pid: number; comm: string; reason: string; signal: string }[] = [];
            const pending = new Map<number, { process: ProcessInfo; reason: string }>();
            for (const { process, decision } of toKill) {
              if (context.dryRun) continue;
              if (processes.signal(process.pid, 'SIGTERM')) pending.set(process.pid, { process, reason: decision.reason });
            }
            await waitForExit(pending, processes, context.deps.system.clock, TERM_GRACE_MS, (pid, entry) => killed.push({ pid, comm: entry.process.comm, reason: entry.reason, signal: 'SIGTERM' }));
            for (const pid of pending.keys()) processes.signal(pid, 'SIGKILL');
            await waitForExit(pending, processes, context.deps.system.clock, KILL_GRACE_MS, (pid, entry) => killed.push({ pid, comm: entry.process.comm, reason: entry.reason, signal: 'SIGKILL' }));
            const unkillable = [...pending.values()].map(({ process }) => ({ pid: process.pid, comm: process.comm, wchan: process.wchan }));
            for (const entry of unkillable) {
              context.notePivot({
                attempt: `kill ${entry.pid} (${entry.comm})`,
                outcome: 'failed',
                reason: `still alive after SIGKILL, in uninterruptible sleep${entry.wchan ? ` in ${entry.wchan}` : ''}`,
                next: 'leaving it; it ends when its I/O completes or at the next reboot',
              });
            }
            const needRestart = plan
              .filter((entry) => entry.decision.action === 'report' && entry.decision.reason === 'deleted-libraries')
              .map(({ process }) => ({ pid: process.pid, comm: process.comm, libraries: process.deletedLibraries }));
            return { killed, unkillable, needRestart };
          },
        },
      ],
    },
  ],
};

async function waitForExit<T>(
  pending: Map<number, T>,
  processes: { isAlive(pid: number): Promise<boolean> },
  clock: Clock,
  ms: number,
  onExit: (pid: number, entry: T) => void,
): Promise<void> {
  const deadline = clock.monotonicMs() + ms;
  while (pending.size > 0) {
    for (const [pid, entry] of [...pending]) {
      if (!(await processes.isAlive(pid))) {
        pending.delete(pid);
        onExit(pid, entry);
      }
    }
    if (pending.size === 0 || clock.monotonicMs() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

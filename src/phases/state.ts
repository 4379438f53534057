import { z } from 'zod';

/** The state file: what --resume needs to skip the steps that already succeeded. */
export const RunStateSchema = z.object({
  version: z.literal(1),
  runId: z.string().min(1),
  /** Identity of the run's inputs (root, user, options): a different run must not resume from this file. */
  runKey: z.string(),
  startedAt: z.string(),
  updatedAt: z.string(),
  steps: z.record(
    z.string(),
    z.object({
      status: z.literal('succeeded'),
      attempt: z.string(),
      finishedAt: z.string(),
      output: z.unknown().optional(),
    }),
  ),
});

export type RunState = z.infer<typeof RunStateSchema>;

/** Loads and saves the state file; src/system/state-file.ts is the implementation (it writes atomically). */
export interface StateStore {
  readonly path: string;
  load(): Promise<unknown>;
  save(state: RunState): Promise<void>;
}

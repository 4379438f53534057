import type { ParsedEmergePlan } from '../core/gentoo/parse-emerge-plan.ts';
import type { UpdateProgress } from '../core/update/progress.ts';
import type { RunLogDir } from '../logging/run-log-dir.ts';
import type { TerminalInfo } from '../preflight/types.ts';
import type { SnapshotBackend } from '../snapshot/types.ts';
import type { System } from '../system/open-system.ts';
import type { ProcessTable } from '../system/process-table.ts';

export interface UpdateOptions {
  readonly updateId: string;
  readonly binhost: string | undefined;
  /** Critical packages the user allows to compile in place. */
  readonly allowCompile: ReadonlySet<string>;
  /** --force REASON: go on despite a no-go, with the reason in the log and the report. */
  readonly force: string | undefined;
  readonly criticalPackages: readonly string[];
  /** Budget of the whole emerge run, and how long it may print nothing. */
  readonly emergeBudgetMs: number;
  readonly emergeInactivityMs: number;
}

/** Shared, mutable record of the run, read by the always-phases even when the update step failed. */
export interface UpdateRecord {
  plan: ParsedEmergePlan | undefined;
  progress: UpdateProgress | undefined;
  preSnapshot: number | undefined;
  postSnapshot: number | undefined;
  /** The checks that failed the gate. */
  gateFailures: readonly { readonly id: string; readonly summary: string }[];
}

export interface UpdateDeps {
  readonly system: System;
  readonly processes: ProcessTable;
  readonly terminal: TerminalInfo;
  readonly options: UpdateOptions;
  readonly logs: RunLogDir;
  readonly snapshots: () => Promise<SnapshotBackend>;
  /** Draws the progress bar for people (stderr); a no-op with --json. */
  readonly showProgress: (line: string, final: boolean) => void;
  readonly record: UpdateRecord;
}

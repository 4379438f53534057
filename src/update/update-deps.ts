import type { ParsedEmergePlan } from '../core/gentoo/parse-emerge-plan.ts';
import type { UpdateProgress } from '../core/update/progress.ts';
import type { RunLogDir } from '../logging/run-log-dir.ts';
import type { SwarmAccess, TerminalInfo } from '../preflight/types.ts';
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
  /** --request-builds: ask the swarm for what its production binhost lacks, then update from that binhost. */
  readonly requestBuilds: RequestBuildsOptions | undefined;
  /** --ask: the CPVs shown and agreed to; the gate refuses another plan. */
  readonly expectedPlan?: readonly string[] | undefined;
}

export interface RequestBuildsOptions {
  readonly swarm: SwarmAccess;
  /** --request-budget: how long to wait for the swarm (a busy profile's cycle, then ours) before giving up. */
  readonly budgetMs: number;
  /** How often to ask the gateway how the cycle is going. */
  readonly pollMs: number;
}

/** What was asked of the swarm and how it ended, for the report even when the request failed or was stopped. */
export interface BuildRequestRecord {
  readonly gateway: string;
  profile: string | undefined;
  /** The planned packages production lacked, asked for as one cycle. */
  requested: readonly string[];
  cycle: string | undefined;
  outcome: 'asking' | 'nothing-missing' | 'dry-run' | 'published' | 'refused' | 'stopped-waiting';
  /** The verify finalize ran (refused: why). */
  verify: { readonly score: number; readonly threshold: number; readonly safe: boolean; readonly components: readonly { readonly id: string; readonly points: number; readonly packages: readonly string[]; readonly detail: string }[] } | undefined;
  /** The production release the builds were published as. */
  release: string | undefined;
}

/** Shared, mutable record of the run, read by the always-phases even when the update step failed. */
export interface UpdateRecord {
  plan: ParsedEmergePlan | undefined;
  progress: UpdateProgress | undefined;
  preSnapshot: number | undefined;
  postSnapshot: number | undefined;
  /** The checks that failed the gate. */
  gateFailures: readonly { readonly id: string; readonly summary: string }[];
  /** --request-builds: the request to the swarm. */
  builds: BuildRequestRecord | undefined;
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

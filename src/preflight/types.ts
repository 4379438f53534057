import type { ParsedEmergePlan } from '../core/gentoo/parse-emerge-plan.ts';
import type { SwarmClient } from '../swarm-client/swarm-client.ts';
import type { System } from '../system/open-system.ts';
import type { ProcessTable } from '../system/process-table.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** Stable ids: they are the contract of `--json` and of the update gate. */
export const CHECK_IDS = [
  'snapshot',
  'binhost-coverage',
  'gui-session',
  'console',
  'libcrypt',
  'pam-stack',
  'glibc',
  'libxcrypt-pin',
  'fstab',
  'disk-space',
  'news',
  'config-updates',
  'preserved-libs',
  'boot-fallback',
  'canary',
  'swarm',
] as const;

export type CheckId = (typeof CHECK_IDS)[number];

export interface CheckOutcome {
  readonly status: CheckStatus;
  /** One line a person reads at a glance. */
  readonly summary: string;
  readonly details: Readonly<Record<string, unknown>>;
  /** What to do about a warning or a failure. */
  readonly advice?: string;
}

export interface CheckResult extends CheckOutcome {
  readonly id: CheckId;
  readonly durationMs: number;
}

/**
 * The build swarm a client takes its binaries from (`--swarm URL`): its gateway's client, the profile whose
 * production binhost the target uses, and the token (for the binhost URL emerge is given; never logged).
 */
export interface SwarmAccess {
  /** With the read token (which also goes into the binhost URL emerge is given). */
  readonly client: SwarmClient;
  /**
   * With the request token (start a cycle, finalize through verify), for apkg update --request-builds. Never
   * put in a URL: Portage hands binhost URLs to wget on its command line, which every local user can read.
   */
  readonly requester?: SwarmClient | undefined;
  /** Undefined: the gateway's only profile (a gateway with several asks for --swarm-profile). */
  readonly profile: string | undefined;
  readonly token: string | undefined;
}

export interface PreflightOptions {
  readonly binhost: string | undefined;
  /** With a swarm, coverage is measured against its production binhost and the `swarm` check runs. */
  readonly swarm?: SwarmAccess | undefined;
  /** Take the pre-update snapshot when it is possible. */
  readonly takeSnapshot: boolean;
  /** Stop the display manager (only from a console, only after the snapshot). */
  readonly stopGui: boolean;
  /** Packages that must never be compiled in place during an update. */
  readonly criticalPackages: readonly string[];
}

/** Where argo itself runs: its controlling terminal and what it runs under. Read once, from /proc/self. */
export interface TerminalInfo {
  /** `tty_nr` of /proc/self/stat: 0 = no controlling terminal. */
  readonly ttyNr: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Command names of argo's ancestors, nearest first. */
  readonly ancestors: readonly string[];
}

export interface CheckContext {
  readonly system: System;
  readonly processes: ProcessTable;
  readonly options: PreflightOptions;
  readonly signal: AbortSignal;
  readonly terminal: TerminalInfo;
  /** The update plan (`emerge -pv --update --deep --newuse @world`), computed once on first use. */
  plan(): Promise<ParsedEmergePlan>;
}

export interface Check {
  readonly id: CheckId;
  readonly budgetMs: number;
  run(context: CheckContext): Promise<CheckOutcome>;
}

export interface PreflightReport {
  readonly verdict: 'go' | 'no-go';
  readonly root: string;
  readonly checks: readonly CheckResult[];
}

/** The default of --critical: see src/core/update/critical-packages.ts. */
export { CRITICAL_PACKAGES as DEFAULT_CRITICAL_PACKAGES } from '../core/update/critical-packages.ts';

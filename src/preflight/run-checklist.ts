import type { Logger } from 'pino';
import { parseEmergePlan, type ParsedEmergePlan } from '../core/gentoo/parse-emerge-plan.ts';
import { CHROOT_ENV } from '../system/chroot-session.ts';
import type { System } from '../system/open-system.ts';
import type { ProcessTable } from '../system/process-table.ts';
import { libcryptCheck, pamStackCheck, glibcCheck } from './checks/login-checks.ts';
import { consoleCheck, guiSessionCheck } from './checks/session-checks.ts';
import { bootFallbackCheck, configUpdatesCheck, fstabCheck, newsCheck, preservedLibsCheck } from './checks/file-checks.ts';
import { binhostCoverageCheck, diskSpaceCheck, libxcryptPinCheck } from './checks/update-checks.ts';
import { runPreflight } from './run-preflight.ts';
import type { Check, PreflightOptions, PreflightReport, TerminalInfo } from './types.ts';

/** Every check but `snapshot`, whose backend is passed in by the caller (it owns the snapshot it may take). */
export const CHECKS: readonly Check[] = [
  binhostCoverageCheck,
  guiSessionCheck,
  consoleCheck,
  libcryptCheck,
  pamStackCheck,
  glibcCheck,
  libxcryptPinCheck,
  fstabCheck,
  diskSpaceCheck,
  newsCheck,
  configUpdatesCheck,
  preservedLibsCheck,
  bootFallbackCheck,
];

export interface ChecklistInput {
  readonly system: System;
  readonly processes: ProcessTable;
  readonly options: PreflightOptions;
  readonly terminal: TerminalInfo;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly checks?: readonly Check[];
}

/** The update plan, from emerge inside the target; computed once however many checks ask for it. */
function planProvider(system: System, signal: AbortSignal): () => Promise<ParsedEmergePlan> {
  let plan: Promise<ParsedEmergePlan> | undefined;
  return () => {
    plan ??= system.commands
      .run('emerge', ['--pretend', '--verbose', '--update', '--deep', '--newuse', '--color=n', '@world'], {
        signal,
        budgetMs: 30 * 60_000,
        mutates: false,
        env: { ...CHROOT_ENV, NOCOLOR: 'true' },
      })
      .then((result) => parseEmergePlan(result.stdout));
    return plan;
  };
}

export async function runChecklist(input: ChecklistInput): Promise<PreflightReport> {
  return runPreflight(input.checks ?? CHECKS, {
    system: input.system,
    processes: input.processes,
    options: input.options,
    terminal: input.terminal,
    signal: input.signal,
    plan: planProvider(input.system, input.signal),
  });
}

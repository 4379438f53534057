import type { Logger } from 'pino';
import { parseEmergePlan, type ParsedEmergePlan } from '../core/gentoo/parse-emerge-plan.ts';
import { CHROOT_ENV } from '../system/chroot-session.ts';
import type { System } from '../system/open-system.ts';
import type { ProcessTable } from '../system/process-table.ts';
import { canaryCheck, libcryptCheck, pamStackCheck, glibcCheck } from './checks/login-checks.ts';
import { consoleCheck, guiSessionCheck } from './checks/session-checks.ts';
import { bootFallbackCheck, configUpdatesCheck, fstabCheck, newsCheck, preservedLibsCheck } from './checks/file-checks.ts';
import { binhostCoverageCheck, diskSpaceCheck, libxcryptPinCheck } from './checks/update-checks.ts';
import { snapshotCheck } from './checks/snapshot-check.ts';
import { swarmCheck } from './checks/swarm-check.ts';
import { runPreflight } from './run-preflight.ts';
import type { Check, PreflightOptions, PreflightReport, TerminalInfo } from './types.ts';

export const CHECKS: readonly Check[] = [
  snapshotCheck,
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
  canaryCheck,
];

/** The checklist for these options: the `swarm` check joins only when a swarm is given, it has nothing to say without one. */
export function checksFor(options: PreflightOptions): readonly Check[] {
  return options.swarm === undefined ? CHECKS : [...CHECKS, swarmCheck];
}

export interface ChecklistInput {
  readonly system: System;
  readonly processes: ProcessTable;
  readonly options: PreflightOptions;
  readonly terminal: TerminalInfo;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly checks?: readonly Check[];
  /** The update plan, when the caller computes it itself (apkg update reuses it after the gate). */
  readonly plan?: () => Promise<ParsedEmergePlan>;
}

/** The update plan as emerge printed it (apkg update --request-builds sends its lines to the swarm) and parsed. */
export interface UpdatePlan {
  readonly text: string;
  readonly parsed: ParsedEmergePlan;
}

/** `emerge -pv --update --deep --newuse @world` inside the target. */
export async function readUpdatePlan(system: System, signal: AbortSignal): Promise<UpdatePlan> {
  const result = await system.commands.run('emerge', ['--pretend', '--verbose', '--update', '--deep', '--newuse', '--color=n', '@world'], {
    signal,
    budgetMs: 30 * 60_000,
    mutates: false,
    env: { ...CHROOT_ENV, NOCOLOR: 'true' },
  });
  return { text: result.stdout, parsed: parseEmergePlan(result.stdout) };
}

/** The update plan, from emerge inside the target; computed once however many checks ask for it. */
export function planProvider(system: System, signal: AbortSignal): () => Promise<ParsedEmergePlan> {
  let plan: Promise<ParsedEmergePlan> | undefined;
  return () => {
    plan ??= readUpdatePlan(system, signal).then((read) => read.parsed);
    return plan;
  };
}

export async function runChecklist(input: ChecklistInput): Promise<PreflightReport> {
  const context = {
    system: input.system,
    processes: input.processes,
    options: input.options,
    terminal: input.terminal,
    signal: input.signal,
    plan: input.plan ?? planProvider(input.system, input.signal),
  };
  const report = await runPreflight(input.checks ?? checksFor(input.options), context);
  return input.options.stopGui ? stopGuiIfSafe(report, context, input.logger) : report;
}

/**
 * --stop-gui: stop the display manager, but only from a console (never from a terminal inside the session
 * it would kill) and only once the snapshot is taken; then look at the graphical session again.
 */
async function stopGuiIfSafe(report: PreflightReport, context: Parameters<typeof runPreflight>[1], logger: Logger): Promise<PreflightReport> {
  const status = (id: string) => report.checks.find((check) => check.id === id);
  const snapshotTaken = status('snapshot')?.status === 'pass' && status('snapshot')?.details['snapshot'] !== undefined;
  if (status('gui-session')?.status !== 'fail' || status('console')?.status !== 'pass' || !snapshotTaken || context.system.isForeignRoot) {
    logger.warn({ snapshotTaken, console: status('console')?.status }, 'Not stopping the display manager: it needs a console and a snapshot first');
    return report;
  }
  const systemd = (await context.system.target.readlink('/sbin/init').catch(() => '')).includes('systemd');
  await context.system.commands.run(systemd ? 'systemctl' : 'rc-service', systemd ? ['stop', 'display-manager'] : ['display-manager', 'stop'], { signal: context.signal, budgetMs: 120_000 });
  const again = await runPreflight([guiSessionCheck], context);
  const checks = report.checks.map((check) => (check.id === 'gui-session' ? (again.checks[0] ?? check) : check));
  return { ...report, checks, verdict: checks.some((check) => check.status === 'fail') ? 'no-go' : 'go' };
}

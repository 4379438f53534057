import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { DestinationStream, Level } from 'pino';
import { hashPrefixOf } from '../../core/auth/crypt-vectors.ts';
import { isValidUserName } from '../../core/auth/passwd.ts';
import { ArgoError } from '../../core/errors.ts';
import { createLogger } from '../../logging/create-logger.ts';
import { logEvent } from '../../core/log-events.ts';
import { createPivotLog, openRunLogDir, type RunLogDir } from '../../logging/run-log-dir.ts';
import { ChangeJournal } from '../../login-path/change-journal.ts';
import { generatePassword, readPasswordFile } from '../../login-path/password-hash.ts';
import { openSystem } from '../../system/open-system.ts';
import { createProcessTable } from '../../system/process-table.ts';
import { createRootedFs } from '../../system/rooted-fs.ts';
import { createStateFile } from '../../system/state-file.ts';
import type { Clock } from '../../system/clock.ts';
import { systemClock } from '../../system/clock.ts';
import { runPhases, type RunProgress } from '../run-phases.ts';
import type { Phase, PhaseResult, RunResult } from '../types.ts';
import { diagnosticsPhase } from './diagnostics.ts';
import { displayManagerPhase } from './display-manager.ts';
import { libxcryptRebuildPhase } from './libxcrypt-rebuild.ts';
import { loginRepairPhase } from './login-repair.ts';
import { pamCanaryPhase } from './pam-canary.ts';
import { passwordResetFromHashPhase, passwordResetPhase } from './password-reset.ts';
import { processCleanupPhase } from './process-cleanup.ts';
import { RECOVERY_PHASES, type PasswordSource, type RecoveryDeps, type RecoverySecrets } from './recovery-deps.ts';
import { summaryPhase, undoCommand, type RecoveryOutcome, type SummaryOutput } from './summary.ts';
import { systemStatePhase } from './system-state.ts';
import { compactTimestamp } from '../../core/compact-timestamp.ts';

export interface RecoverInput {
  readonly root: string;
  readonly user: string;
  readonly password: PasswordSource;
  readonly binhost?: string | undefined;
  readonly skip?: readonly string[];
  /** Budget and inactivity limit of a source or manual libxcrypt build; defaults 1 h and 20 min. */
  readonly buildBudgetMs?: number;
  readonly buildInactivityMs?: number;
  /** Base folder on the host for the run's log folder; default <root>/var/log/argo, then /tmp/argo. */
  readonly logDir?: string | undefined;
  readonly resume?: boolean;
  /** Default `recover`; `rescue` when argo rescue runs the recovery (the next steps differ). */
  readonly via?: 'recover' | 'rescue';
  readonly dryRun?: boolean;
  /** Where the running processes are read (tests inject a tree). */
  readonly procRoot?: string;
  readonly signal: AbortSignal;
  /** Console destinations (the CLI's renderer); the run's own files are added here. */
  readonly streams?: readonly { readonly stream: DestinationStream; readonly level: Level }[];
  /** Prints a line for the person at the console (the generated password, once). Never logged. */
  readonly tellUser: (text: string) => void;
  readonly clock?: Clock;
  /** A read-only view of where the run is (the CLI shows it on a second Ctrl-C). */
  readonly onProgress?: (progress: RunProgress) => void;
}

export interface RecoveryReport {
  readonly version: 1;
  readonly runId: string;
  readonly root: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly dryRun: boolean;
  readonly resumed: boolean;
  readonly interrupted: boolean;
  readonly outcome: RecoveryOutcome;
  readonly login: SummaryOutput['login'];
  readonly logDir: string;
  readonly generatedPasswordFile?: string;
  readonly phases: readonly {
    readonly id: string;
    readonly status: string;
    readonly durationMs: number;
    readonly reason?: string;
    readonly pivots: readonly { readonly attempt: string; readonly outcome: string; readonly reason?: string }[];
    readonly error?: { readonly code: string; readonly message: string; readonly hint?: string };
  }[];
  readonly causes: SummaryOutput['causes'];
  /** Every file changed (in a dry run: that would change), with its backup and diff; also in changes.json. */
  readonly changes: SummaryOutput['changes'];
  /** The command that puts every changed file back, when something changed. */
  readonly undo?: string;
  readonly nextSteps: readonly string[];
}

const GENERATED_PASSWORD_FILE = 'generated-password';
/** The longest crypt(3) hashes (sha512crypt with rounds=, yescrypt, scrypt) are under 200 characters. */
const MAX_HASH_LENGTH = 512;

/** The arguments of a recovery, checked before anything is read or created. */
export function validateRecoverInput(input: Pick<RecoverInput, 'user' | 'skip' | 'password'>): void {
  if (!isValidUserName(input.user)) {
    throw new ArgoError('ARGO_USAGE', `"${input.user}" is not a valid user name`, { hint: 'Give the login name as in /etc/passwd, e.g. --user alice.' });
  }
  for (const phase of input.skip ?? []) {
    if (!(RECOVERY_PHASES as readonly string[]).includes(phase)) {
      throw new ArgoError('ARGO_USAGE', `--skip ${phase}: there is no such phase`, { hint: `Phases: ${RECOVERY_PHASES.join(', ')}.` });
    }
  }
  if (input.password.kind === 'hash') {
    const hash = input.password.hash;
    if (hash.length > MAX_HASH_LENGTH || hashPrefixOf(hash) === undefined || /[:\s]/.test(hash)) {
      throw new ArgoError('ARGO_USAGE', '--password-hash is not a crypt(3) hash', { hint: "Make one with: openssl passwd -6 (quote it: '$6$…')." });
    }
  }
}

function runKeyOf(input: RecoverInput): string {
  const identity = { root: path.resolve(input.root), user: input.user, password: input.password.kind, file: input.password.kind === 'file' ? input.password.path : undefined, binhost: input.binhost };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}


/** The newest earlier run folder under the bases whose state file exists: where --resume continues. */
async function findResumableRun(bases: readonly string[]): Promise<{ base: string; name: string } | undefined> {
  const host = createRootedFs('/');
  let newest: { base: string; name: string } | undefined;
  for (const base of bases) {
    if (!(await host.isDirectory(base))) continue;
    for (const entry of await host.readdir(base)) {
      if (!entry.name.startsWith('recovery-') || !(await host.exists(path.join(base, entry.name, 'state.json')))) continue;
      if (newest === undefined || entry.name > newest.name) newest = { base, name: entry.name };
    }
  }
  return newest;
}

/**
 * The secret given on the command line (a password file or a hash), read and checked before anything is
 * created: a bad password file must not leave a log folder behind. A generated password needs the log
 * folder, so it is made later (generateSecret).
 */
async function readGivenSecret(input: RecoverInput): Promise<RecoverySecrets | undefined> {
  switch (input.password.kind) {
    case 'file':
      return { password: await readPasswordFile(path.resolve(input.password.path)), hash: undefined };
    case 'hash':
      return { password: undefined, hash: input.password.hash };
    case 'generate':
      return undefined;
  }
}

async function generateSecret(input: RecoverInput, logs: RunLogDir, tellUser: (text: string) => void): Promise<{ secrets: RecoverySecrets; generatedFile: string }> {
  const host = createRootedFs('/');
  const file = path.join(logs.dir, GENERATED_PASSWORD_FILE);
  const earlier = await host.readTextIfExists(file);
  if (earlier !== undefined) return { secrets: { password: earlier.trim(), hash: undefined }, generatedFile: file };
  const password = generatePassword();
  await host.writeFileAtomic(file, `${password}\n`, { mode: 0o600 });
  tellUser(`New password for ${input.user}: ${password}\n(shown once; also in ${file}, readable by root only)\n`);
  return { secrets: { password, hash: undefined }, generatedFile: file };
}

/**
 * `argo recover`: the nine phases against one root, with their own log folder, state file and report.
 * Everything mounted for the chroot is unmounted before this returns, whatever happened.
 */
export async function runRecovery(input: RecoverInput): Promise<RecoveryReport> {
  validateRecoverInput(input);
  const given = await readGivenSecret(input);
  const clock = input.clock ?? systemClock;
  const root = path.resolve(input.root);
  // The target's /var/log may be a symlink (to another disk, say): resolve it inside the target, never on the host.
  // A dry run writes nothing into the target, not even its logs: they go to the host's /tmp/argo.
  const bases = input.logDir !== undefined ? [path.resolve(input.logDir)] : input.dryRun ? ['/tmp/argo'] : [await createRootedFs(root).resolve('/var/log/argo'), '/tmp/argo'];
  const previous = input.resume ? await findResumableRun(bases) : undefined;
  if (input.resume && previous === undefined) {
    throw new ArgoError('ARGO_STATE_FILE_INVALID', `There is no interrupted recovery to resume under ${bases.join(' or ')}`, { hint: 'Run without --resume (with the same --log-dir, if you gave one).' });
  }
  const logs = previous ? openRunLogDir([previous.base], previous.name, { reuse: true }) : openRunLogDir(bases, `recovery-${compactTimestamp(clock.now())}`);
  const runId = path.basename(logs.dir);
  const closable = createLogger({
    file: logs.path('main'),
    streams: [...(input.streams ?? []), { stream: createPivotLog(logs.path('pivots')), level: 'warn' }],
  });
  const logger = closable.logger;
  try {
    for (const pivot of logs.pivotedFrom) logEvent(logger, 'log-dir.pivot', { from: pivot.dir, to: logs.dir, reason: pivot.reason });
    const { secrets, generatedFile } = given !== undefined ? { secrets: given, generatedFile: undefined } : await generateSecret(input, logs, input.tellUser);
    const system = openSystem({ root, logger, dryRun: input.dryRun ?? false, clock });
    const journal = await ChangeJournal.open({ system, runId, journalFile: input.dryRun ? undefined : logs.path('changes'), dryRun: input.dryRun ?? false, logger, signal: input.signal });
    const deps: RecoveryDeps = {
      journal,
      system,
      processes: createProcessTable(input.procRoot ?? '/proc'),
      options: {
        user: input.user,
        password: input.password,
        binhost: input.binhost,
        skip: new Set(input.skip ?? []),
        buildBudgetMs: input.buildBudgetMs ?? 60 * 60_000,
        buildInactivityMs: input.buildInactivityMs ?? 20 * 60_000,
        via: input.via ?? 'recover',
      },
      secrets,
      logs,
    };
    const phases: Phase<RecoveryDeps>[] = [
      diagnosticsPhase,
      processCleanupPhase,
      libxcryptRebuildPhase,
      loginRepairPhase,
      input.password.kind === 'hash' ? passwordResetFromHashPhase : passwordResetPhase,
      pamCanaryPhase,
      displayManagerPhase,
      systemStatePhase,
      summaryPhase,
    ];
    let result: RunResult;
    try {
      result = await runPhases({
        runId,
        root,
        phases,
        deps,
        logger,
        clock,
        signal: input.signal,
        dryRun: input.dryRun ?? false,
        stateStore: createStateFile(logs.path('state')),
        resume: previous !== undefined,
        runKey: runKeyOf(input),
        ...(input.onProgress === undefined ? {} : { onProgress: input.onProgress }),
      });
    } finally {
      await system.close();
    }
    const summary = summaryOf(result, input.user);
    const report: RecoveryReport = {
      version: 1,
      runId,
      root,
      startedAt: result.startedAt,
      finishedAt: clock.now().toISOString(),
      durationMs: result.durationMs,
      dryRun: input.dryRun ?? false,
      resumed: result.resumed,
      interrupted: result.interrupted,
      outcome: summary.outcome,
      login: summary.login,
      logDir: logs.dir,
      ...(generatedFile === undefined ? {} : { generatedPasswordFile: generatedFile }),
      phases: result.phases.map(toReportPhase),
      causes: summary.causes,
      changes: summary.changes,
      ...(summary.changes.length > 0 && !(input.dryRun ?? false) ? { undo: undoCommand(runId, root, logs.dir) } : {}),
      nextSteps: summary.nextSteps,
    };
    await logs.write('report', `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    closable.close();
  }
}

/** The summary phase's output, or, when it could not run, the verdict that the login was not proven. */
function summaryOf(result: RunResult, user: string): SummaryOutput {
  const summary = result.outputs.get('summary/write') as SummaryOutput | undefined;
  if (summary !== undefined && result.phases.find((phase) => phase.id === 'summary')?.status === 'succeeded') return summary;
  return { outcome: 'failed', login: { user, ok: false, method: undefined, proof: [], warnings: [] }, causes: [], changes: [], nextSteps: ['Read main.log: the summary phase itself failed.'], dryRun: false };
}

function toReportPhase(phase: PhaseResult): RecoveryReport['phases'][number] {
  return {
    id: phase.id,
    status: phase.status,
    durationMs: phase.durationMs,
    ...(phase.reason === undefined ? {} : { reason: phase.reason }),
    pivots: phase.pivots.map((pivot) => ({ attempt: pivot.attempt, outcome: pivot.outcome, ...(pivot.reason === undefined ? {} : { reason: pivot.reason }) })),
    ...(phase.error === undefined ? {} : { error: { code: phase.error.code, message: phase.error.message, ...(phase.error.hint === undefined ? {} : { hint: phase.error.hint }) } }),
  };
}

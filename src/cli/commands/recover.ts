import * as path from 'node:path';
import { ArgoError, EXIT, type ExitCode } from '../../core/errors.ts';
import { runRecovery } from '../../phases/recovery/run-recovery.ts';
import type { PasswordSource } from '../../phases/recovery/recovery-deps.ts';
import { createRootedFs } from '../../system/rooted-fs.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface RecoverArgs extends GlobalOptions {
  readonly user: string;
  readonly passwordFile: string | undefined;
  readonly passwordHash: string | undefined;
  readonly generatePassword: boolean;
  readonly logDir: string | undefined;
  readonly binhost: string | undefined;
  readonly resume: boolean;
  readonly dryRun: boolean;
  readonly skip: readonly string[];
  readonly procRoot: string | undefined;
  readonly buildBudget: number;
  readonly buildInactivity: number;
}

function passwordSourceOf(args: RecoverArgs): PasswordSource {
  const given = [args.passwordFile !== undefined, args.passwordHash !== undefined, args.generatePassword].filter(Boolean).length;
  if (given !== 1) {
    throw new ArgoError('ARGO_USAGE', 'Give exactly one of --password-file, --password-hash and --generate-password', {
      hint: 'e.g. argo recover --root /mnt/gentoo --user alice --password-file /root/new-password',
    });
  }
  if (args.passwordFile !== undefined) return { kind: 'file', path: path.resolve(args.passwordFile) };
  if (args.passwordHash !== undefined) return { kind: 'hash', hash: args.passwordHash };
  return { kind: 'generate' };
}

/** `argo recover`: runs the eight phases and prints the summary (or the report with --json). */
export async function runRecoverCommand(args: RecoverArgs, context: HandlerContext): Promise<CommandOutcome> {
  const report = await runRecovery({
    root: args.root,
    user: args.user,
    password: passwordSourceOf(args),
    binhost: args.binhost,
    skip: args.skip,
    buildBudgetMs: args.buildBudget * 1000,
    buildInactivityMs: args.buildInactivity * 1000,
    logDir: args.logDir,
    resume: args.resume,
    dryRun: args.dryRun,
    ...(args.procRoot === undefined ? {} : { procRoot: args.procRoot }),
    signal: context.signal,
    streams: context.consoleStreams,
    tellUser: (text) => context.process.stderr.write(text),
  });
  const summary = await createRootedFs('/').readTextIfExists(path.join(report.logDir, 'summary.txt'));
  const phaseFailed = report.phases.some((phase) => phase.status === 'failed' || phase.status === 'timed-out');
  const exitCode: ExitCode = report.interrupted ? EXIT.interrupted : report.dryRun ? (phaseFailed ? EXIT.failed : EXIT.ok) : report.login.ok ? EXIT.ok : EXIT.failed;
  return { exitCode, json: report, text: `${summary ?? ''}\nLogs: ${report.logDir}\n` };
}

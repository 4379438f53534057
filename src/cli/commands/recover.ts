import * as path from 'node:path';
import { ArgoError, EXIT, type ExitCode } from '../../core/errors.ts';
import { readPasswordFile, readPasswordHashFile } from '../../login-path/password-hash.ts';
import { runRecovery, validateRecoverInput } from '../../phases/recovery/run-recovery.ts';
import type { PasswordSource } from '../../phases/recovery/recovery-deps.ts';
import { createRootedFs } from '../../system/rooted-fs.ts';
import { enterTarget } from '../enter-target.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface RecoverArgs extends GlobalOptions {
  readonly user: string;
  readonly passwordFile: string | undefined;
  readonly passwordHash: string | undefined;
  /** A root-only file holding the hash, so that it is not in `ps` as --password-hash is. */
  readonly passwordHashFile: string | undefined;
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

/** The one password option given, its file read and checked here, at the door. */
async function passwordSourceOf(args: RecoverArgs): Promise<PasswordSource> {
  const given = [args.passwordFile !== undefined, args.passwordHash !== undefined, args.passwordHashFile !== undefined, args.generatePassword].filter(Boolean).length;
  if (given !== 1) {
    throw new ArgoError('ARGO_USAGE', 'Give exactly one of --password-file, --password-hash, --password-hash-file and --generate-password', {
      hint: 'e.g. argo recover --root /mnt/gentoo --user alice --password-file /root/new-password',
    });
  }
  if (args.passwordFile !== undefined) return { kind: 'file', path: path.resolve(args.passwordFile) };
  if (args.passwordHash !== undefined) return { kind: 'hash', hash: args.passwordHash };
  if (args.passwordHashFile !== undefined) return { kind: 'hash', hash: await readPasswordHashFile(path.resolve(args.passwordHashFile)) };
  return { kind: 'generate' };
}

/** `argo recover`: runs the eight phases and prints the summary (or the report with --json). */
export async function runRecoverCommand(args: RecoverArgs, context: HandlerContext): Promise<CommandOutcome> {
  const password = await passwordSourceOf(args);
  validateRecoverInput({ user: args.user, skip: args.skip, password });
  // Checked here too, so that a bad password file is refused before the lock is taken.
  if (password.kind === 'file') await readPasswordFile(password.path);
  await using door = await enterTarget(args, { command: 'argo recover', gentoo: true, writable: !args.dryRun, lock: !args.dryRun }, context.logger);
  const report = await runRecovery({
    root: door.root,
    user: args.user,
    password,
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
    onProgress: context.reportProgress,
  });
  const summary = await createRootedFs('/').readTextIfExists(path.join(report.logDir, 'summary.txt'));
  const phaseFailed = report.phases.some((phase) => phase.status === 'failed' || phase.status === 'timed-out');
  const exitCode: ExitCode = report.interrupted ? EXIT.interrupted : report.dryRun ? (phaseFailed ? EXIT.failed : EXIT.ok) : report.login.ok ? EXIT.ok : EXIT.failed;
  return { exitCode, json: report, text: `${summary ?? ''}\nLogs: ${report.logDir}\n` };
}

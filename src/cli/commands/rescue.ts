import { ArgoError, EXIT, type ExitCode } from '../../core/errors.ts';
import { candidateName } from '../../core/rescue/rescue-plan.ts';
import { runRescue, shown, type RescueReport } from '../../rescue/run-rescue.ts';
import { inPrivateMountNamespace, ownCommandLine, runInPrivateMountNamespace } from '../../system/private-namespace.ts';
import { createHostRunner } from '../../system/run-command.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';
import { runRecoverCommand, type RecoverArgs } from './recover.ts';

export interface RescueArgs extends GlobalOptions {
  readonly user: string;
  readonly device: string | undefined;
  readonly subvolume: string | undefined;
  readonly scan: readonly string[];
  readonly mountPoint: string;
  readonly passwordFile: string | undefined;
  readonly passwordHashFile: string | undefined;
  readonly generatePassword: boolean;
  readonly pretend: boolean;
  readonly binhost: string | undefined;
  readonly logDir: string | undefined;
  readonly buildBudget: number;
  readonly buildInactivity: number;
}

/**
 * `argo rescue`: finds the Gentoo root on the machine's disks, mounts it, runs `argo recover` on it, and
 * unmounts everything. The work runs in a second argo inside a private mount namespace (started here), so
 * no mount outlives it.
 */
export async function runRescueCommand(args: RescueArgs, context: HandlerContext): Promise<CommandOutcome> {
  if (args.root !== '/') {
    throw new ArgoError('ARGO_USAGE', 'argo rescue finds the root itself; --root does not apply', {
      hint: 'Leave out --root (or use --device DEV to name the disk); for a root you mounted yourself, run argo recover --root.',
    });
  }
  const passwords = [args.passwordFile !== undefined, args.passwordHashFile !== undefined, args.generatePassword].filter(Boolean).length;
  if (passwords !== 1) {
    throw new ArgoError('ARGO_USAGE', 'Give exactly one of --password-file, --password-hash-file and --generate-password', {
      hint: 'e.g. argo rescue --user alice --password-file /run/archiso/bootmnt/argo/password',
    });
  }
  if (!(await inPrivateMountNamespace(process.env))) {
    const code = await runInPrivateMountNamespace(await ownCommandLine(process.argv), context.process.env, context.signal);
    // The inner argo printed its own result and log; only its exit code is passed on.
    return { exitCode: code as ExitCode };
  }

  const runner = createHostRunner({ logger: context.logger, dryRun: args.pretend });
  const report = await runRescue({
    runner,
    logger: context.logger,
    signal: context.signal,
    device: args.device,
    subvolume: args.subvolume,
    scan: args.scan,
    mountPoint: args.mountPoint,
    pretend: args.pretend,
    repair: async (root, pretend) => {
      // The global options (--json, --log-file, -v/-q, colour) as given; the rest is the recovery's own.
      const recoverArgs: RecoverArgs = {
        ...args,
        root,
        user: args.user,
        undo: undefined,
        force: false,
        passwordFile: args.passwordFile,
        passwordHash: undefined,
        passwordHashFile: args.passwordHashFile,
        generatePassword: args.generatePassword,
        logDir: args.logDir,
        binhost: args.binhost,
        resume: false,
        via: 'rescue',
        pretend,
        dryRun: pretend,
        ask: false,
        skip: [],
        procRoot: undefined,
        buildBudget: args.buildBudget,
        buildInactivity: args.buildInactivity,
      };
      const outcome = await runRecoverCommand(recoverArgs, context);
      return { ok: outcome.exitCode === EXIT.ok, exitCode: outcome.exitCode, summary: outcome.text ?? '', report: outcome.json };
    },
  });
  const exitCode = (report.repair?.exitCode ?? EXIT.failed) as ExitCode;
  return { exitCode, json: report, text: renderRescue(report) };
}

export function renderRescue(report: RescueReport): string {
  const lines: string[] = [report.pretend ? 'PRETEND: nothing was changed; this is what argo rescue found and would do.' : 'argo rescue', '', 'Block devices:'];
  for (const finding of report.devices) {
    const inside = report.candidates.filter((candidate) => candidate.device === finding.device);
    if (inside.length === 0) {
      lines.push(`  ${shown(finding.description)}: ${finding.verdict === 'locked' ? `LOCKED, ${shown(finding.detail)}` : shown(finding.detail)}`);
      continue;
    }
    lines.push(`  ${shown(finding.description)}:`);
    for (const candidate of inside) {
      const osName = candidate.evidence.osName === undefined ? undefined : shown(candidate.evidence.osName);
      const what = candidate.gentoo ? `Gentoo root (${osName ?? 'no os-release'})` : candidate.evidence.looksLikeLinuxRoot ? `${osName ?? 'Linux'}, not Gentoo: ignored` : 'not a root';
      const mark = report.chosen !== undefined && candidateName(report.chosen) === candidateName(candidate) ? '  <- repaired' : '';
      lines.push(`    ${candidate.subvolume === undefined ? (candidate.fsType === 'btrfs' ? 'top level' : 'filesystem') : `subvol=${candidate.subvolume}`}: ${what}${mark}`);
    }
  }
  lines.push('', report.pretend ? `Mounts (read-only, in a private folder; without --pretend the root goes to ${report.mountPoint}):` : `Mounts (at ${report.mountPoint}):`);
  for (const mount of report.mounts) {
    const state = mount.status === 'mounted' ? `mounted (${mount.options.join(',')}), then ${mount.unmounted ?? 'left'}` : `${mount.status}: ${shown(mount.detail ?? '')}`;
    lines.push(`  ${mount.from.padEnd(9)} ${shown(mount.device)} on ${shown(mount.at)}: ${state}`);
  }
  if (report.pretend && report.repair !== undefined) lines.push('', 'The repair as a dry run (the root is mounted read-only for --pretend: a root-read-only finding below is that, not a fault):');
  if (report.repair !== undefined) lines.push('', report.repair.summary.trimEnd());
  return `${lines.join('\n')}\n`;
}

import { EXIT } from '../../core/errors.ts';
import { consoleStyleFor } from '../../logging/console-renderer.ts';
import { renderPreflight } from '../../preflight/render-report.ts';
import { runChecklist } from '../../preflight/run-checklist.ts';
import { DEFAULT_CRITICAL_PACKAGES } from '../../preflight/types.ts';
import { openSystem } from '../../system/open-system.ts';
import { createProcessTable } from '../../system/process-table.ts';
import { readTerminal } from '../../system/read-terminal.ts';
import { enterTarget } from '../enter-target.ts';
import { resolveSwarm, type SwarmArgs } from '../preflight-options.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';

export interface PreflightArgs extends GlobalOptions, SwarmArgs {
  readonly binhost: string | undefined;
  readonly snapshot: boolean;
  readonly stopGui: boolean;
  readonly critical: readonly string[];
  readonly procRoot: string | undefined;
}

/** `argo preflight` / `apkg preflight`: exit 0 for go, 3 for no-go. */
export async function runPreflightCommand(args: PreflightArgs, context: HandlerContext): Promise<CommandOutcome> {
  // A checklist that reports: it runs on any Linux root and says no-go where Portage is missing. It changes the
  // target only when asked to take the snapshot or stop the display manager.
  const changes = args.snapshot || args.stopGui;
  await using door = await enterTarget(args, { command: 'preflight', writable: changes, lock: changes }, context.logger);
  const swarm = await resolveSwarm(args, context.process.env);
  const system = openSystem({ root: door.root, logger: context.logger });
  try {
    const report = await runChecklist({
      system,
      processes: createProcessTable(args.procRoot ?? '/proc'),
      options: {
        binhost: args.binhost,
        swarm,
        takeSnapshot: args.snapshot,
        stopGui: args.stopGui,
        criticalPackages: args.critical.length > 0 ? args.critical : DEFAULT_CRITICAL_PACKAGES,
      },
      terminal: await readTerminal(context.process.env),
      signal: context.signal,
      logger: context.logger,
    });
    // As the console decides (--color, NO_COLOR, TERM, make.conf's NOCOLOR), for stdout.
    const style = context.styleFor?.(context.process.stdout) ?? consoleStyleFor(context.process.stdout, context.process.env);
    return { exitCode: report.verdict === 'go' ? EXIT.ok : EXIT.refused, json: report, text: renderPreflight(report, style) };
  } finally {
    await system.close();
  }
}

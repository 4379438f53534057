import { ArgoError } from '../../core/errors.ts';
import { logEvent } from '../../core/log-events.ts';
import type { Phase } from '../types.ts';
import { skipUnlessNeeded, type DiagnosticsOutput, type RecoveryDeps } from './recovery-deps.ts';

export interface DisplayManagerOutput {
  readonly init: string;
  readonly manager: string;
  readonly changedConfig: boolean;
}

/** Phase 6: re-enable the display manager at boot. It is never started here (no session, maybe a chroot). */
export const displayManagerPhase: Phase<RecoveryDeps> = {
  id: 'display-manager',
  skip: skipUnlessNeeded('display-manager'),
  steps: [
    {
      id: 'enable',
      budgetMs: 60_000,
      attempts: [
        {
          id: 'enable',
          async run(context): Promise<DisplayManagerOutput> {
            const { system } = context.deps;
            const before = context.outputOf<DiagnosticsOutput>('diagnostics/collect')?.before;
            const dm = before?.displayManager;
            if (before === undefined || dm === undefined) throw new ArgoError('ARGO_STEP_FAILED', 'diagnostics did not run');
            const manager = dm.configured !== undefined && dm.installed.includes(dm.configured) ? dm.configured : (dm.installed[0] as string);
            if (before.init === 'systemd') {
              await system.commands.run('systemctl', ['enable', `${manager}.service`], { signal: context.signal, budgetMs: 60_000 });
              return { init: 'systemd', manager, changedConfig: false };
            }
            let changedConfig = false;
            if (dm.configured !== manager) {
              // One line of /etc/conf.d/display-manager changes; everything else stays as the admin wrote it.
              const file = '/etc/conf.d/display-manager';
              const text = (await system.target.readTextIfExists(file)) ?? '';
              const line = `DISPLAYMANAGER="${manager}"`;
              const updated = /^\s*DISPLAYMANAGER=.*$/m.test(text) ? text.replace(/^\s*DISPLAYMANAGER=.*$/m, line) : `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${line}\n`;
              if (!context.dryRun) {
                await system.target.writeFileAtomic(file, updated, { mode: 0o644 });
                logEvent(context.logger, 'file.replaced', { path: file, backup: undefined, bytes: Buffer.byteLength(updated) });
              }
              changedConfig = true;
            }
            await system.commands.run('rc-update', ['add', 'display-manager', 'default'], { signal: context.signal, budgetMs: 60_000 });
            return { init: 'openrc', manager, changedConfig };
          },
        },
      ],
    },
  ],
};

import { readLoginState, type LoginState } from '../../login-path/read-login-state.ts';
import type { Phase } from '../types.ts';
import type { DiagnosticsOutput, RecoveryDeps } from './recovery-deps.ts';
import { renderLoginState } from './render-state.ts';

export interface StateChange {
  readonly what: string;
  readonly before: string;
  readonly after: string;
}

export interface SystemStateOutput {
  readonly after: LoginState;
  readonly changes: readonly StateChange[];
}

/** What differs between the before- and after-pictures, in words. */
export function compareStates(before: LoginState, after: LoginState): StateChange[] {
  const changes: StateChange[] = [];
  const add = (what: string, a: unknown, b: unknown): void => {
    const left = typeof a === 'string' ? a : JSON.stringify(a);
    const right = typeof b === 'string' ? b : JSON.stringify(b);
    if (left !== right) changes.push({ what, before: left ?? '-', after: right ?? '-' });
  };
  for (const result of after.crypt.results) {
    const old = before.crypt.results.find((candidate) => candidate.prefix === result.prefix);
    add(`crypt ${result.prefix}`, old ? (old.ok ? 'verifies' : old.got) : 'untested', result.ok ? 'verifies' : result.got);
  }
  add('crypt tool', before.crypt.tool ?? 'none', after.crypt.tool ?? 'none');
  add(`${after.user.name}'s password`, before.user.shadow?.state ?? 'none', after.user.shadow?.state ?? 'none');
  add(`${after.user.name}'s hash method`, before.user.shadow?.prefix ?? '-', after.user.shadow?.prefix ?? '-');
  add(`${after.user.name}'s last password change (day)`, String(before.user.shadow?.lastChange ?? '-'), String(after.user.shadow?.lastChange ?? '-'));
  add('libxcrypt', before.packages.libxcrypt?.cpv ?? '-', after.packages.libxcrypt?.cpv ?? '-');
  add('libxcrypt EXTRA_ECONF', before.packages.libxcrypt?.extraEconf ?? '-', after.packages.libxcrypt?.extraEconf ?? '-');
  add('PAM stack complete', String(before.pam.complete), String(after.pam.complete));
  add('display manager enabled', String(before.displayManager.enabled), String(after.displayManager.enabled));
  add('display manager configured', before.displayManager.configured ?? '-', after.displayManager.configured ?? '-');
  add('/etc/nologin', String(before.nologin), String(after.nologin));
  return changes;
}

/** Phase 7: the after-picture, compared with the before-picture of phase 1. */
export const systemStatePhase: Phase<RecoveryDeps> = {
  id: 'system-state',
  always: true,
  steps: [
    {
      id: 'collect',
      budgetMs: 5 * 60_000,
      attempts: [
        {
          id: 'collect',
          async run(context): Promise<SystemStateOutput> {
            const { system, options, logs } = context.deps;
            const after = await readLoginState(system, options.user, context.signal);
            const before = context.outputOf<DiagnosticsOutput>('diagnostics/collect')?.before;
            const changes = before === undefined ? [] : compareStates(before, after);
            const text = [
              renderLoginState('System state (after the repair)', system.root, after),
              '## changes since diagnostics',
              ...(changes.length === 0 ? ['none'] : changes.map((change) => `${change.what}: ${change.before} -> ${change.after}`)),
              '',
            ].join('\n');
            await logs.write('systemState', text);
            return { after, changes };
          },
        },
      ],
    },
  ],
};

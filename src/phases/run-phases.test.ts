import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArgoError } from '../core/errors.ts';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { systemClock } from '../system/clock.ts';
import { createHostRunner, type CommandRunner } from '../system/run-command.ts';
import { createStateFile } from '../system/state-file.ts';
import { runPhases, type RunPhasesOptions, type RunProgress } from './run-phases.ts';
import type { Phase } from './types.ts';

interface Deps {
  readonly runner: CommandRunner;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'argo-phases-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function setup(phases: Phase<Deps>[], extra: Partial<RunPhasesOptions<Deps>> = {}) {
  const log = createMemoryLogger();
  const runner = createHostRunner({ logger: log.logger, dryRun: extra.dryRun ?? false });
  const options: RunPhasesOptions<Deps> = {
    runId: 'test-run',
    root: '/',
    phases,
    deps: { runner },
    logger: log.logger,
    clock: systemClock,
    signal: new AbortController().signal,
    ...extra,
  };
  return { log, runner, run: () => runPhases(options) };
}

const ok = (id: string, output?: unknown) => ({ id, run: async () => output });
const fail = (id: string, message: string) => ({
  id,
  run: async () => {
    throw new ArgoError('ARGO_COMMAND_FAILED', message);
  },
});

describe('runPhases', () => {
  it('runs phases and steps in order and reports each', async () => {
    const order: string[] = [];
    const step = (id: string) => ({ id, budgetMs: 1000, attempts: [{ id: 'plan', run: async () => void order.push(id) }] });
    const { run } = setup([
      { id: 'a', steps: [step('a1'), step('a2')] },
      { id: 'b', steps: [step('b1')] },
    ]);
    const result = await run();
    expect(order).toEqual(['a1', 'a2', 'b1']);
    expect(result.phases.map((phase) => [phase.id, phase.status])).toEqual([['a', 'succeeded'], ['b', 'succeeded']]);
    expect(result.interrupted).toBe(false);
  });

  it('logs every failed attempt as a pivot and succeeds on a fallback', async () => {
    const { run, log } = setup([
      {
        id: 'libxcrypt-rebuild',
        steps: [{ id: 'rebuild', budgetMs: 1000, attempts: [fail('binary-package', 'no binary on the binhost'), fail('source-build', 'compile failed'), ok('snapshot-restore', 'restored')] }],
      },
    ]);
    const result = await run();
    const [phase] = result.phases;
    expect(phase?.status).toBe('succeeded');
    expect(phase?.pivots.map((pivot) => [pivot.attempt, pivot.outcome])).toEqual([
      ['binary-package', 'failed'],
      ['source-build', 'failed'],
      ['snapshot-restore', 'succeeded'],
    ]);
    expect(log.events('pivot').map((record) => [record['attempt'], record['reason'], record['next']])).toEqual([
      ['binary-package', 'no binary on the binhost', 'source-build'],
      ['source-build', 'compile failed', 'snapshot-restore'],
    ]);
  });

  it('ends a step over budget timed-out, kills its command, runs its pivot, and still runs the next phase', async () => {
    const { run, log } = setup([
      {
        id: 'slow',
        steps: [
          {
            id: 'build',
            budgetMs: 400,
            attempts: [
              { id: 'source-build', run: async (ctx) => ctx.deps.runner.run('sleep', ['30'], { signal: ctx.signal, graceMs: 200 }) },
              { id: 'manual-build', run: async (ctx) => ctx.deps.runner.run('sleep', ['30'], { signal: ctx.signal, graceMs: 200 }) },
            ],
          },
        ],
      },
      { id: 'next', steps: [{ id: 'after', budgetMs: 1000, attempts: [ok('plan')] }] },
    ]);
    const started = Date.now();
    const result = await run();
    // Far below the 30 s the commands would sleep: they were killed, however slow this machine is.
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(result.phases.map((phase) => [phase.id, phase.status])).toEqual([['slow', 'timed-out'], ['next', 'succeeded']]);
    expect(result.phases[0]?.pivots.map((pivot) => [pivot.attempt, pivot.outcome])).toEqual([
      ['source-build', 'timed-out'],
      ['manual-build', 'timed-out'],
    ]);
    expect(log.events('command.killed')).toHaveLength(2);
    expect(log.events('step.timed-out')).toHaveLength(2);
  });

  it('moves on from an attempt that ignores its signal after the settle time', async () => {
    const { run } = setup(
      [
        { id: 'stuck', steps: [{ id: 'hang', budgetMs: 200, attempts: [{ id: 'plan', run: () => new Promise(() => undefined) }] }] },
        { id: 'next', steps: [{ id: 'after', budgetMs: 1000, attempts: [ok('plan')] }] },
      ],
      { settleMs: 100 },
    );
    const result = await run();
    expect(result.phases.map((phase) => phase.status)).toEqual(['timed-out', 'succeeded']);
  });

  it('moves on after the settle time from an attempt that ignores an interrupt, and calls it interrupted', async () => {
    const controller = new AbortController();
    const { run } = setup(
      [
        {
          id: 'stuck',
          steps: [
            {
              id: 'hang',
              budgetMs: 60_000,
              attempts: [
                {
                  id: 'plan',
                  run: () => {
                    controller.abort(new ArgoError('ARGO_INTERRUPTED', 'Interrupted by SIGINT'));
                    return new Promise(() => undefined);
                  },
                },
              ],
            },
          ],
        },
      ],
      { settleMs: 100, signal: controller.signal },
    );
    const result = await run();
    expect(result.interrupted).toBe(true);
    expect(result.phases[0]?.steps[0]?.attempts.map((attempt) => attempt.outcome)).toEqual(['interrupted']);
    expect(result.phases[0]?.steps[0]?.durationMs).toBeLessThan(30_000);
  });

  it('skips only the phases that depend on a failed one, saying why', async () => {
    const { run } = setup([
      { id: 'libxcrypt-rebuild', steps: [{ id: 'rebuild', budgetMs: 1000, attempts: [fail('plan', 'nothing worked')] }] },
      { id: 'password-reset', dependsOn: ['libxcrypt-rebuild'], steps: [{ id: 'write', budgetMs: 1000, attempts: [ok('plan')] }] },
      { id: 'pam-canary', dependsOn: ['password-reset'], steps: [{ id: 'login', budgetMs: 1000, attempts: [ok('plan')] }] },
      { id: 'summary', steps: [{ id: 'report', budgetMs: 1000, attempts: [ok('plan')] }] },
    ]);
    const result = await run();
    expect(result.phases.map((phase) => [phase.id, phase.status, phase.blockedBy])).toEqual([
      ['libxcrypt-rebuild', 'failed', undefined],
      ['password-reset', 'skipped', 'libxcrypt-rebuild'],
      ['pam-canary', 'skipped', 'password-reset'],
      ['summary', 'succeeded', undefined],
    ]);
    expect(result.phases[0]?.error).toMatchObject({ code: 'ARGO_COMMAND_FAILED', message: 'nothing worked' });
    expect(result.phases[1]?.reason).toContain('libxcrypt-rebuild');
  });

  it('runs the skip predicates of phases and steps with the outputs of earlier steps', async () => {
    const { run, log } = setup([
      { id: 'diagnostics', steps: [{ id: 'collect', budgetMs: 1000, attempts: [ok('plan', { libcryptOk: true })] }] },
      {
        id: 'libxcrypt-rebuild',
        skip: (ctx) => (ctx.outputOf<{ libcryptOk: boolean }>('diagnostics/collect')?.libcryptOk ? 'libcrypt verifies every hash in use' : undefined),
        steps: [{ id: 'rebuild', budgetMs: 1000, attempts: [fail('plan', 'must not run')] }],
      },
      { id: 'display-manager', steps: [{ id: 'enable', budgetMs: 1000, skip: () => 'systemd is not the init system', attempts: [fail('plan', 'must not run')] }] },
    ]);
    const result = await run();
    expect(result.phases.map((phase) => [phase.id, phase.status])).toEqual([
      ['diagnostics', 'succeeded'],
      ['libxcrypt-rebuild', 'skipped'],
      ['display-manager', 'skipped'],
    ]);
    expect(log.events('phase.skipped')[0]).toMatchObject({ phase: 'libxcrypt-rebuild', reason: 'libcrypt verifies every hash in use' });
  });

  it('stops at an interrupt, skips what follows, but runs the phases marked always', async () => {
    const controller = new AbortController();
    const { run } = setup(
      [
        {
          id: 'update',
          steps: [
            {
              id: 'emerge',
              budgetMs: 60_000,
              attempts: [
                {
                  id: 'plan',
                  run: async (ctx) => {
                    // The interrupt comes while the command runs, whenever that is on this machine.
                    const running = ctx.deps.runner.run('sleep', ['30'], { signal: ctx.signal, graceMs: 200 });
                    controller.abort(new ArgoError('ARGO_INTERRUPTED', 'Interrupted by SIGINT'));
                    return running;
                  },
                },
                ok('never'),
              ],
            },
          ],
        },
        { id: 'verify', steps: [{ id: 'check', budgetMs: 1000, attempts: [ok('plan')] }] },
        { id: 'report', always: true, steps: [{ id: 'write', budgetMs: 1000, attempts: [ok('plan')] }] },
      ],
      { signal: controller.signal },
    );
    const result = await run();
    expect(result.interrupted).toBe(true);
    expect(result.phases.map((phase) => [phase.id, phase.status])).toEqual([['update', 'failed'], ['verify', 'skipped'], ['report', 'succeeded']]);
    expect(result.phases[0]?.steps[0]?.attempts.map((attempt) => attempt.outcome)).toEqual(['interrupted']);
    expect(result.phases[0]?.error?.code).toBe('ARGO_INTERRUPTED');
  });

  it('tells a phase marked always that the run was interrupted, though its own signal is not aborted', async () => {
    const controller = new AbortController();
    const seen: [boolean, boolean][] = [];
    const look = (id: string) => ({ id, run: async (ctx: { signal: AbortSignal; runInterrupted(): boolean }) => void seen.push([ctx.runInterrupted(), ctx.signal.aborted]) });
    const { run } = setup(
      [
        { id: 'before', always: true, steps: [{ id: 'look', budgetMs: 1000, attempts: [look('plan')] }] },
        // The last phase that can be interrupted is interrupted itself: no later phase is skipped.
        { id: 'last', always: true, steps: [{ id: 'work', budgetMs: 1000, attempts: [{ id: 'plan', run: async () => void controller.abort(new ArgoError('ARGO_INTERRUPTED', 'Interrupted by SIGINT')) }] }] },
        { id: 'report', always: true, steps: [{ id: 'look', budgetMs: 1000, attempts: [look('plan')] }] },
      ],
      { signal: controller.signal },
    );
    const result = await run();
    expect(result.phases.every((phase) => phase.status === 'succeeded')).toBe(true);
    expect(seen).toEqual([
      [false, false],
      [true, false],
    ]);
  });

  it('tells a read-only observer what runs and what is left, also after an interrupt', async () => {
    const controller = new AbortController();
    const seen: RunProgress[] = [];
    const { run } = setup(
      [
        { id: 'update', steps: [{ id: 'emerge', budgetMs: 1000, attempts: [{ id: 'plan', run: async () => controller.abort(new ArgoError('ARGO_INTERRUPTED', 'Interrupted by SIGINT')) }] }] },
        { id: 'verify', steps: [{ id: 'check', budgetMs: 1000, attempts: [ok('plan')] }] },
        { id: 'report', always: true, steps: [{ id: 'write', budgetMs: 1000, attempts: [ok('plan')] }, { id: 'send', budgetMs: 1000, attempts: [ok('plan')] }] },
        { id: 'post-snapshot', always: true, steps: [{ id: 'take', budgetMs: 1000, attempts: [ok('plan')] }] },
      ],
      { signal: controller.signal, onProgress: (progress) => seen.push(progress) },
    );
    await run();
    expect(seen).toEqual([
      { phase: 'update', step: undefined, remaining: ['verify', 'report', 'post-snapshot'] },
      { phase: 'update', step: 'emerge', remaining: ['verify', 'report', 'post-snapshot'] },
      { phase: 'report', step: undefined, remaining: ['post-snapshot'] },
      { phase: 'report', step: 'write', remaining: ['post-snapshot'] },
      { phase: 'report', step: 'send', remaining: ['post-snapshot'] },
      { phase: 'post-snapshot', step: undefined, remaining: [] },
      { phase: 'post-snapshot', step: 'take', remaining: [] },
    ]);
  });

  it('lets a step note a pivot of its own and a summary phase see the phases before it', async () => {
    let seen: string[] = [];
    const { run, log } = setup([
      {
        id: 'process-cleanup',
        steps: [{ id: 'kill', budgetMs: 1000, attempts: [{ id: 'plan', run: async (ctx) => ctx.notePivot({ attempt: 'kill 4711', outcome: 'failed', reason: 'still in D state after SIGKILL', next: 'leave it for the reboot' }) }] }],
      },
      { id: 'summary', steps: [{ id: 'write', budgetMs: 1000, attempts: [{ id: 'plan', run: async (ctx) => void (seen = ctx.finishedPhases().map((phase) => `${phase.id}:${phase.status}`)) }] }] },
    ]);
    const result = await run();
    expect(seen).toEqual(['process-cleanup:succeeded']);
    expect(result.phases[0]?.pivots).toEqual([{ step: 'kill', attempt: 'kill 4711', outcome: 'failed', reason: 'still in D state after SIGKILL' }]);
    expect(log.events('pivot')[0]).toMatchObject({ phase: 'process-cleanup', step: 'kill', next: 'leave it for the reboot' });
  });

  it('records the commands of a dry run without running those that change the system', async () => {
    const marker = join(dir, 'written');
    const { run, runner } = setup(
      [{ id: 'p', steps: [{ id: 's', budgetMs: 1000, attempts: [{ id: 'plan', run: async (ctx) => ctx.deps.runner.run('touch', [marker], { signal: ctx.signal }) }] }] }],
      { dryRun: true },
    );
    const result = await run();
    expect(result.phases[0]?.status).toBe('succeeded');
    expect(runner.history).toEqual([{ argv: ['touch', marker], ran: false, exitCode: undefined }]);
    await expect(readFile(marker)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to resume from a state file of another run or a damaged one', async () => {
    const file = join(dir, 'state.json');
    const phases: Phase<Deps>[] = [{ id: 'p', steps: [{ id: 's', budgetMs: 1000, attempts: [ok('plan')] }] }];
    await setup(phases, { stateStore: createStateFile(file), runKey: 'alice@/mnt/gentoo' }).run();
    const other = setup(phases, { stateStore: createStateFile(file), runKey: 'bob@/mnt/gentoo', resume: true });
    await expect(other.run()).rejects.toMatchObject({ code: 'ARGO_STATE_FILE_INVALID', message: expect.stringContaining('other inputs') });
    await writeFile(file, '{"version": 1, "runId": ');
    const damaged = setup(phases, { stateStore: createStateFile(file), runKey: 'alice@/mnt/gentoo', resume: true });
    await expect(damaged.run()).rejects.toMatchObject({ code: 'ARGO_STATE_FILE_INVALID' });
  });

  it('resumes after the runner process is killed with SIGKILL, skipping completed steps', async () => {
    const script = new URL('../../test/support/resumable-run.ts', import.meta.url).pathname;
    const stateFile = join(dir, 'state.json');
    const first = spawn(process.execPath, [script, stateFile, dir], { stdio: 'ignore', env: { ...process.env, ARGO_TEST_SLEEP: '30' } });
    // Wait until step two is running (its marker is written), then kill the runner without warning.
    while (!(await readFile(join(dir, 'ran'), 'utf8').catch(() => '')).includes('two')) await new Promise((resolve) => setTimeout(resolve, 20));
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { steps: Record<string, unknown> };
    expect(Object.keys(saved.steps)).toEqual(['first/one']);

    const second = spawn(process.execPath, [script, stateFile, dir, '--resume'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    second.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise((resolve) => second.once('exit', resolve));
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { resumed: boolean; phases: { steps: { id: string; resumed?: boolean; status: string }[] }[] };
    expect(result.resumed).toBe(true);
    expect(result.phases.flatMap((phase) => phase.steps.map((step) => [step.id, step.status, step.resumed ?? false]))).toEqual([
      ['one', 'succeeded', true],
      ['two', 'succeeded', false],
      ['three', 'succeeded', false],
    ]);
    expect((await readFile(join(dir, 'ran'), 'utf8')).trim().split('\n')).toEqual(['one', 'two', 'two', 'three']);
    const log = await readFile(join(dir, 'main.log'), 'utf8');
    expect(log).toContain('"event":"step.already-done"');
  });
});

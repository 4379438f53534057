/**
 * A phased run in its own process, for the SIGKILL/--resume test: three steps, the second sleeps in a real
 * command. Usage: node resumable-run.ts STATE_FILE MARKER_DIR [--resume]
 * Each step appends its id to MARKER_DIR/ran when it runs; the result is printed as JSON on stdout.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../src/logging/create-logger.ts';
import { runPhases } from '../../src/phases/run-phases.ts';
import { systemClock } from '../../src/system/clock.ts';
import { createHostRunner } from '../../src/system/run-command.ts';
import { createStateFile } from '../../src/system/state-file.ts';

const [stateFile, markerDir, flag] = process.argv.slice(2) as [string, string, string | undefined];
const { logger } = createLogger({ file: join(markerDir, 'main.log') });
const runner = createHostRunner({ logger });
const mark = (id: string) => appendFile(join(markerDir, 'ran'), `${id}\n`);

const result = await runPhases({
  runId: 'resumable',
  root: '/',
  runKey: 'fixed-inputs',
  logger,
  clock: systemClock,
  signal: new AbortController().signal,
  stateStore: createStateFile(stateFile),
  resume: flag === '--resume',
  deps: { runner },
  phases: [
    { id: 'first', steps: [{ id: 'one', budgetMs: 5000, attempts: [{ id: 'plan', run: async () => { await mark('one'); return { answer: 42 }; } }] }] },
    {
      id: 'second',
      steps: [
        {
          id: 'two',
          budgetMs: 60_000,
          attempts: [{ id: 'plan', run: async (ctx) => { await mark('two'); await ctx.deps.runner.run('sleep', [process.env['ARGO_TEST_SLEEP'] ?? '0'], { signal: ctx.signal }); return ctx.outputOf('first/one'); } }],
        },
        { id: 'three', budgetMs: 5000, attempts: [{ id: 'plan', run: async () => { await mark('three'); } }] },
      ],
    },
  ],
});
process.stdout.write(JSON.stringify(result));

import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../test/support/memory-logger.ts';
import { systemClock } from '../../system/clock.ts';
import { openSystem } from '../../system/open-system.ts';
import { createProcessTable } from '../../system/process-table.ts';
import { runPhases } from '../run-phases.ts';
import { processCleanupPhase, type ProcessCleanupOutput } from './process-cleanup.ts';
import type { RecoveryDeps } from './recovery-deps.ts';

let dir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'argo-procs-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** A real process named `name` (a copy of sleep) that maps a shared library whose file was then deleted. */
async function startOnDeletedLibrary(name: string): Promise<number> {
  const program = join(dir, name);
  const library = join(dir, `libargo-${name}.so.1`);
  await copyFile('/bin/sleep', program);
  await copyFile('/lib/x86_64-linux-gnu/libz.so.1', library);
  const child = spawn(program, ['300'], { env: { LD_PRELOAD: library }, stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await rm(library);
  return child.pid as number;
}

describe('process-cleanup', () => {
  it('stops the frozen desktop, leaves services for a restart, and notes what cannot be killed', async () => {
    const xorg = await startOnDeletedLibrary('Xorg');
    const cupsd = await startOnDeletedLibrary('cupsd');
    const stuck = spawn('sleep', ['300'], { stdio: 'ignore' });
    children.push(stuck);
    // The proc root shows only this test's processes: the real entries of two of them, and a third that
    // reports uninterruptible sleep forever (a process in D state cannot be made on purpose).
    const procRoot = join(dir, 'proc');
    await mkdir(procRoot);
    await symlink(`/proc/${xorg}`, join(procRoot, String(xorg)));
    await symlink(`/proc/${cupsd}`, join(procRoot, String(cupsd)));
    await mkdir(join(procRoot, String(stuck.pid)));
    await writeFile(join(procRoot, String(stuck.pid), 'stat'), `${stuck.pid} (rsync) D 1 ${stuck.pid} ${stuck.pid} 0 -1 0\n`);
    await writeFile(join(procRoot, String(stuck.pid), 'wchan'), 'nfs_wait_bit_killable');

    const { logger, events } = createMemoryLogger();
    const system = openSystem({ root: '/', logger });
    const deps = { system, processes: createProcessTable(procRoot), options: { skip: new Set<string>() } } as unknown as RecoveryDeps;
    const result = await runPhases({ runId: 't', root: '/', phases: [processCleanupPhase], deps, logger, clock: systemClock, signal: new AbortController().signal });
    const output = result.outputs.get('process-cleanup/stop-stuck-processes') as ProcessCleanupOutput;

    expect(output.killed).toEqual([{ pid: xorg, comm: 'Xorg', reason: 'graphical-session-with-deleted-libraries', signal: 'SIGTERM' }]);
    expect(output.needRestart).toEqual([{ pid: cupsd, comm: 'cupsd', libraries: [join(dir, 'libargo-cupsd.so.1')] }]);
    expect(output.unkillable).toEqual([{ pid: stuck.pid, comm: 'rsync', wchan: 'nfs_wait_bit_killable' }]);
    expect(result.phases[0]?.status).toBe('succeeded');
    expect(result.phases[0]?.pivots).toEqual([expect.objectContaining({ attempt: `kill ${stuck.pid} (rsync)`, outcome: 'failed' })]);
    expect(events('pivot')[0]?.['reason']).toContain('nfs_wait_bit_killable');
    expect(() => process.kill(cupsd, 0)).not.toThrow();
  });
});

/**
 * The cost of one command inside a target: argo's chroot session (its own mount and PID namespace with the
 * Handbook's mounts, see src/system/chroot-argv.ts) against a plain `chroot ROOT true` on mounts made once.
 * Needs the fixtures: bash scripts/setup.sh --fixtures.
 */
import { spawnSync } from 'node:child_process';
import { createChrootSession } from '../../src/system/chroot-session.ts';
import { createHostRunner } from '../../src/system/run-command.ts';
import { createLogger } from '../../src/logging/create-logger.ts';

const cache = process.env['ARGO_FIXTURE_CACHE'] ?? '/var/cache/argo-fixtures';
const root = `${cache}/debian-base`;
const runs = Number(process.env['ARGO_BENCH_RUNS'] ?? 7);
const perRun = 20;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const { logger, close } = createLogger({ streams: [] });
const host = createHostRunner({ logger });
const chroot = createChrootSession({ root, host, logger });
await chroot.run('true', [], { mutates: false });
const session: number[] = [];
const plain: number[] = [];
for (let run = 0; run < runs; run += 1) {
  let started = performance.now();
  for (let index = 0; index < perRun; index += 1) await chroot.run('true', [], { mutates: false });
  session.push((performance.now() - started) / perRun);
  started = performance.now();
  for (let index = 0; index < perRun; index += 1) spawnSync('chroot', [root, 'true']);
  plain.push((performance.now() - started) / perRun);
}
await chroot.close();
close();
console.log('| case | runs | median | target | ok |');
console.log('|---|---|---|---|---|');
console.log(`| one command in argo's chroot session (namespace, mounts, chroot) | ${runs}×${perRun} | ${median(session).toFixed(1)} ms | < 100 ms | ${median(session) < 100 ? 'yes' : 'NO'} |`);
console.log(`| plain chroot ROOT true (no mounts) | ${runs}×${perRun} | ${median(plain).toFixed(1)} ms | - | - |`);

/**
 * zx's `$` as the project's scripts use it (the fixture builders, the demos, the benchmarks; never src/).
 * Arguments interpolated into `$` are quoted by zx, arrays one word per element: a path or a user name can
 * never become shell syntax. Defaults that differ from zx's:
 * - stdin is closed (`ignore`): nothing a script runs may wait for a terminal; a command that needs input gets
 *   it with `input(...)`, which opens the pipe.
 * - commands run with `bash -c` exactly as zx does, but without passing an empty argument list next to
 *   `shell`, which Node.js 24 reports as a deprecation (DEP0190) on every call.
 */
import { spawn, spawnSync, type SpawnOptions, type SpawnSyncOptions } from 'node:child_process';
import { $, type Options, type ProcessPromise } from 'zx';

$.stdio = ['ignore', 'pipe', 'pipe'];
$.spawn = ((command: string, args: readonly string[], options: SpawnOptions) =>
  args.length === 0 ? spawn(command, options) : spawn(command, args, options)) as typeof spawn;
$.spawnSync = ((command: string, args: readonly string[], options: SpawnSyncOptions) =>
  args.length === 0 ? spawnSync(command, options) : spawnSync(command, args, options)) as typeof spawnSync;

export { $ };
export type { ProcessPromise };

/** `$` with `text` on the command's stdin (zx writes it, then closes the pipe); a given stdio must open stdin as a pipe. */
export function input(text: string | Buffer, options: Partial<Options> = {}) {
  return $({ stdio: ['pipe', 'pipe', 'pipe'], ...options, input: text });
}

/** Seconds since `started` (a performance.now() value), one decimal, as the scripts print them. */
export function secondsSince(started: number, digits = 1): string {
  return ((performance.now() - started) / 1000).toFixed(digits);
}

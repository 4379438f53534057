/**
 * Entry point of the fake `emerge` for build-swarm drones (`bin/emerge` imports this file): wires the process
 * (argv, environment, stdout/stderr, signals, exit code) to `runEmerge`. See README.md for the contract.
 *
 * On SIGTERM or SIGINT it does what Portage does (`Exiting on signal N` on stderr, ` *** terminating.` in
 * emerge.log, exit 128+N) after removing every temp file and lock the run holds.
 */

import { Cleanup } from './fake-emerge/cleanup.ts';
import type { EmergeLog } from './fake-emerge/emerge-log.ts';
import { runEmerge } from './fake-emerge/run-emerge.ts';

const cleanup = new Cleanup();
let log: EmergeLog | undefined;

for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15]] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n\nExiting on signal ${number}\n`);
    cleanup.removeAll();
    log?.writeNow(' *** terminating.');
    process.exit(128 + number);
  });
}

try {
  process.exitCode = await runEmerge({
    argv: process.argv.slice(2),
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    cleanup,
    onLogOpened: (opened) => {
      log = opened;
    },
  });
} catch (error) {
  cleanup.removeAll();
  process.stderr.write(`!!! argo fake emerge: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
}

/**
 * Everything a run must remove when a signal ends it: temp files and directories it is writing and the lock files
 * it holds. Removal is synchronous because it runs in the signal handler, right before the process exits.
 */

import { rmSync } from 'node:fs';

export class Cleanup {
  private readonly paths = new Set<string>();

  add(path: string): void {
    this.paths.add(path);
  }

  /** The path is finished (renamed into place or removed): a signal must leave it alone. */
  forget(path: string): void {
    this.paths.delete(path);
  }

  /** Removes every registered path; runs every removal even when one fails. */
  removeAll(): void {
    for (const path of [...this.paths].reverse()) {
      try {
        rmSync(path, { recursive: true, force: true });
      } catch {
        // Best effort on the way out: the process is exiting on a signal and has nowhere to report to.
      }
      this.paths.delete(path);
    }
  }
}

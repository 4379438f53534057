/**
 * `$ROOT/var/log/emerge.log`, appended one record at a time under a lock as emergelog.py does (each record
 * stamped when it is written), and `$ROOT/var/log/argo-fake-emerge.jsonl`, one JSON line per merged package
 * with millisecond start and end times for tests that compare builds across drones.
 */

import { appendFileSync, mkdirSync } from 'node:fs';
import { posix } from 'node:path';
import type { Cleanup } from './cleanup.ts';
import { withFileLock } from './file-lock.ts';
import { emergeLogRecord } from './portage-messages.ts';

export interface MergeRecord {
  readonly cpv: string;
  readonly kind: 'source' | 'binary';
  /** Epoch milliseconds of the `>>> emerge` record. */
  readonly start: number;
  /** Epoch milliseconds of the `::: completed emerge` record. */
  readonly end: number;
  readonly buildId?: number;
  /** For binaries: the BUILD_TIME the binhost index listed. */
  readonly binhostBuildTime?: number;
  readonly pid: number;
}

export class EmergeLog {
  readonly path: string;
  readonly jsonlPath: string;
  private readonly lockPath: string;
  private readonly cleanup: Cleanup;
  private madeDir = false;

  constructor(root: string, cleanup: Cleanup) {
    this.cleanup = cleanup;
    const dir = posix.join(root, 'var/log');
    this.path = posix.join(dir, 'emerge.log');
    this.jsonlPath = posix.join(dir, 'argo-fake-emerge.jsonl');
    this.lockPath = posix.join(dir, '.emerge.log.argo-fake-emerge.lock');
  }

  private makeDir(): void {
    if (this.madeDir) return;
    mkdirSync(posix.dirname(this.path), { recursive: true });
    this.madeDir = true;
  }

  /** Appends `<epoch>: <message>`; returns the epoch milliseconds it was stamped with. */
  async write(message: string): Promise<number> {
    this.makeDir();
    return withFileLock(this.lockPath, this.cleanup, async () => {
      const now = Date.now();
      appendFileSync(this.path, emergeLogRecord(now / 1000, message), { mode: 0o660 });
      return now;
    });
  }

  async record(merge: MergeRecord): Promise<void> {
    this.makeDir();
    await withFileLock(this.lockPath, this.cleanup, async () => appendFileSync(this.jsonlPath, `${JSON.stringify(merge)}\n`));
  }

  /** For the signal handler: one short O_APPEND write, which the kernel keeps whole, so no lock is taken. */
  writeNow(message: string): void {
    try {
      appendFileSync(this.path, emergeLogRecord(Date.now() / 1000, message));
    } catch {
      // The process is exiting on a signal; a missing log folder is not worth reporting then.
    }
  }
}

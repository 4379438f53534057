/**
 * Whether a process with this pid exists (signal 0). EPERM means it exists under another user. A reused pid
 * answers true: callers that sweep what a dead run left keep its leftovers for a later sweep then.
 */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The host's mount points, one per line as in /proc/self/mountinfo, leaving out the scratch mounts that
 * other test files create at the same time under their own temporary folders (/tmp/argo-*, /var/tmp/argo-*), but keeping everything
 * under `ownRoot`. Comparing two of these shows whether a test left a mount behind or touched the host's.
 */
export async function mountSnapshot(ownRoot: string): Promise<string[]> {
  const scratch = [join(tmpdir(), 'argo-'), '/var/tmp/argo-'];
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .filter((line) => {
      const point = line.split(' ')[4] ?? '';
      return !scratch.some((prefix) => point.startsWith(prefix)) || point === ownRoot || point.startsWith(`${ownRoot}/`);
    });
}

export async function mountPointsUnder(root: string): Promise<string[]> {
  return (await mountSnapshot(root)).map((line) => line.split(' ')[4] ?? '').filter((point) => point === root || point.startsWith(`${root}/`));
}

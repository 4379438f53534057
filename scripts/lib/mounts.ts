/**
 * Mount points below a folder, read from /proc/self/mountinfo, and their removal: what a script checks before
 * it deletes a tree and takes down after an interrupted run. Synchronous, so that exit handlers can use it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Mount points at or below `top`, deepest first (mountinfo's field 5, octal escapes such as \040 decoded). */
export function mountsBelow(top: string): string[] {
  const points: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    if (point === top || point.startsWith(`${top}/`)) points.push(point);
  }
  return points.sort().reverse();
}

/** Unmounts everything at or below `top` (lazily when a plain umount fails); returns what it found. */
export function unmountBelow(top: string, log: (message: string) => void = () => undefined): string[] {
  const points = mountsBelow(top);
  for (const point of points) {
    log(`unmounting leftover mount ${point}`);
    try {
      execFileSync('umount', [point], { stdio: 'ignore' });
    } catch {
      try {
        execFileSync('umount', ['-l', point], { stdio: 'ignore' });
      } catch {
        // What is still mounted is reported by the caller's next mountsBelow().
      }
    }
  }
  return points;
}

/** rm -rf that never crosses into another filesystem and refuses a tree with something still mounted in it. */
export function removeTree(path: string, log: (message: string) => void = () => undefined): void {
  unmountBelow(path, log);
  const left = mountsBelow(path);
  if (left.length > 0) throw new Error(`something is still mounted below ${path} (${left.join(', ')}); not removing it`);
  execFileSync('rm', ['-rf', '--one-file-system', '--', path], { stdio: 'inherit' });
}

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT } from './run-cli.ts';

const run = promisify(execFile);
export const FIXTURE_CACHE = process.env['ARGO_FIXTURE_CACHE'] ?? '/var/cache/argo-fixtures';

/** The fixture builder's summary (paths, versions); fails loudly when the fixtures were not built. */
export async function fixtureEnv(): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(join(FIXTURE_CACHE, 'argo-fixture.env'), 'utf8');
  } catch {
    throw new Error(`The Debian fixture roots are missing under ${FIXTURE_CACHE}: run bash scripts/setup.sh --fixtures`);
  }
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) env[match[1] as string] = (match[2] as string).replace(/^'(.*)'$/, '$1');
  }
  return env;
}

export interface TargetCopy {
  /** A scratch folder holding the root and whatever else the test needs (password files, logs). */
  readonly dir: string;
  readonly root: string;
  /** Takes down whatever is still mounted under the root (after a run that was killed with SIGKILL). */
  unmountAll(): Promise<void>;
  remove(): Promise<void>;
}

/**
 * A private copy of a cached fixture root: tests change it freely, the cache is never touched. The copy is
 * an overlay mount (the cached root read-only below, the test's changes in its own folder above): instant,
 * where copying the 400 MB root took seconds per test.
 */
export async function copyTarget(kind: 'base' | 'broken', options: { readonly smallDiskMiB?: number } = {}): Promise<TargetCopy> {
  const env = await fixtureEnv();
  const source = kind === 'base' ? env['ARGO_FIXTURE_BASE'] : env['ARGO_FIXTURE_BROKEN'];
  const dir = await mkdtemp(options.smallDiskMiB === undefined ? '/var/tmp/argo-target-' : '/var/tmp/argo-full-');
  const root = join(dir, 'root');
  // The overlay's writable layer: a folder beside the root, or a small tmpfs that fills up quickly.
  const space = options.smallDiskMiB === undefined ? dir : join(dir, 'space');
  await mkdir(root);
  if (options.smallDiskMiB !== undefined) {
    await mkdir(space);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${options.smallDiskMiB}m`, 'argo-full', space]);
  }
  for (const name of ['upper', 'work']) await mkdir(join(space, name));
  await run('mount', ['-t', 'overlay', 'argo-target', '-o', `lowerdir=${source as string},upperdir=${join(space, 'upper')},workdir=${join(space, 'work')}`, root]);
  const unmountAll = async (): Promise<void> => {
    const { stdout } = await run('findmnt', ['-rn', '-o', 'TARGET']);
    const points = stdout.split('\n').filter((point) => point.startsWith(`${root}/`)).sort().reverse();
    for (const point of points) await run('umount', ['-R', '--lazy', point]).catch(() => undefined);
  };
  return {
    dir,
    root,
    unmountAll,
    async remove() {
      // A killed run may have left mounts behind: take them down before deleting anything.
      await unmountAll();
      await run('umount', [root]);
      if (space !== dir) await run('umount', [space]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Installs the faithful fake emerge into a copied root, configured with KEY=VALUE settings. */
export async function installFakeEmerge(root: string, settings: Record<string, string>): Promise<void> {
  const args = [join(PROJECT, 'test/chroot-fixtures/install-fake-emerge.ts'), root, ...Object.entries(settings).map(([key, value]) => `${key}=${value}`)];
  await run(process.execPath, args);
}

/**
 * A copy of a fixture root whose writes land on a small tmpfs (`sizeMiB`): the way to a full root filesystem
 * without filling the host's disk.
 */
export function copyTargetOnSmallDisk(kind: 'base' | 'broken', sizeMiB: number): Promise<TargetCopy> {
  return copyTarget(kind, { smallDiskMiB: sizeMiB });
}

import { mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dirSync } from 'tmp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePackagesIndex } from '../core/gentoo/parse-packages-index.ts';
import { rebuildStagingIndex, sweepStagingTemporaries } from './staging-store.ts';

let root: string;
beforeEach(() => {
  root = dirSync({ prefix: 'argo-staging-', unsafeCleanup: true }).name;
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the staging store', () => {
  it('sweeps the temporaries of uploads that never finished, once they are old, and nothing else', async () => {
    const folder = join(root, 'staging/desktop/app-misc/foo');
    await mkdir(folder, { recursive: true });
    const old = join(folder, '.foo-1.0.gpkg.tar.argo-0123456789ab');
    const young = join(folder, '.foo-1.0.gpkg.tar.argo-ba9876543210');
    const kept = [join(folder, 'foo-1.0.gpkg.tar'), join(folder, '.foo-1.0.gpkg.tar.argo-notours'), young];
    for (const file of [old, ...kept]) await writeFile(file, 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const file of [old, kept[0] as string, kept[1] as string]) await utimes(file, twoHoursAgo, twoHoursAgo);
    expect(await sweepStagingTemporaries(root, 3600_000)).toEqual([old]);
    for (const file of kept) expect(await readFile(file, 'utf8')).toBe('x');
    expect(await sweepStagingTemporaries(join(root, 'nowhere'), 0)).toEqual([]);
  });

  it('lists a stanza only while its package is there, in PATH order', async () => {
    const binhost = join(root, 'staging/desktop');
    for (const [path, cpv] of [['app-misc/foo/foo-1.0.gpkg.tar', 'app-misc/foo-1.0'], ['app-misc/bar/bar-2.gpkg.tar', 'app-misc/bar-2']] as const) {
      await mkdir(join(binhost, path, '..'), { recursive: true });
      await writeFile(join(binhost, path), 'gpkg');
      await writeFile(join(binhost, `${path}.stanza.json`), JSON.stringify({ CPV: cpv, PATH: path, SIZE: '4' }));
    }
    await rebuildStagingIndex(binhost);
    expect(parsePackagesIndex(await readFile(join(binhost, 'Packages'), 'utf8')).packages.map((entry) => entry.fields.PATH)).toEqual(['app-misc/bar/bar-2.gpkg.tar', 'app-misc/foo/foo-1.0.gpkg.tar']);
    await rm(join(binhost, 'app-misc/foo/foo-1.0.gpkg.tar'));
    await rebuildStagingIndex(binhost);
    expect(parsePackagesIndex(await readFile(join(binhost, 'Packages'), 'utf8')).packages.map((entry) => entry.fields.CPV)).toEqual(['app-misc/bar-2']);
  });
});

import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { openSystem } from '../system/open-system.ts';
import { restoreChanges } from './restore-changes.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'argo-restore-'));
  await mkdir(join(root, 'snap/srv/app'), { recursive: true });
  await writeFile(join(root, 'snap/srv/app/config'), 'old\n');
  await mkdir(join(root, 'srv/app'), { recursive: true });
  await writeFile(join(root, 'srv/app/config'), 'new\n');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function restore(): Promise<unknown> {
  const system = openSystem({ root, logger: createMemoryLogger().logger });
  try {
    await restoreChanges(system, { snapshotTree: '/snap', subvolume: '/', changes: [{ path: '/srv/app/config', status: 'modified' }] });
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await system.close();
  }
}

describe('restoreChanges', () => {
  it('puts a changed file back from the snapshot', async () => {
    expect(await restore()).toBeUndefined();
    expect(await readFile(join(root, 'srv/app/config'), 'utf8')).toBe('old\n');
  });

  it.each([
    ['owned by another user', async (dir: string) => chown(dir, 65534, 65534)],
    ['writable by its group', async (dir: string) => chmod(dir, 0o775)],
  ])('restores nothing below a folder %s, which could swap an entry for a symlink mid-restore', async (_name, loosen) => {
    await loosen(join(root, 'srv/app'));
    expect(await restore()).toMatchObject({ code: 'ARGO_UNSAFE_PATH', details: { folders: ['/srv/app'] } });
    expect(await readFile(join(root, 'srv/app/config'), 'utf8')).toBe('new\n');
  });
});

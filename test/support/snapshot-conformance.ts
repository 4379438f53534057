import { chmod, chown, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { System } from '../../src/system/open-system.ts';
import { applyRetention, findUpdateSnapshots } from '../../src/snapshot/retention.ts';
import type { SnapshotBackend } from '../../src/snapshot/types.ts';

export interface ConformanceTarget {
  readonly system: System;
  readonly backend: SnapshotBackend;
  /** Host path of the snapshotted subvolume, to change files in it directly. */
  readonly hostTree: string;
  /** Builds a backend with another minimum free space, for the guard. */
  readonly withMinFree: (bytes: number) => SnapshotBackend;
}

/**
 * The behaviour every SnapshotBackend must have, run against a real btrfs subvolume. Tests in one suite
 * share the subvolume and run in order; each uses its own file names.
 */
export function describeSnapshotBackend(name: string, target: () => ConformanceTarget): void {
  describe(`snapshot backend conformance: ${name}`, () => {
    const inTarget = (hostTree: string, backend: SnapshotBackend, file: string): string =>
      backend.subvolume === '/' ? file : join(backend.subvolume, file);

    it('creates single, pre and post snapshots with userdata, and lists them', async () => {
      const { backend } = target();
      const single = await backend.create({ kind: 'single', description: 'by hand', cleanup: 'number' });
      const pre = await backend.create({ kind: 'pre', description: 'apkg pre-update', userdata: { 'argo-update': 'u1', 'argo-status': 'running' }, cleanup: 'number' });
      const post = await backend.create({ kind: 'post', preId: pre.id, description: 'apkg post-update', userdata: { 'argo-update': 'u1', 'argo-status': 'failed' }, cleanup: 'number' });
      expect(pre.id).toBeGreaterThan(single.id);
      expect(post).toMatchObject({ kind: 'post', preId: pre.id, description: 'apkg post-update', userdata: { 'argo-update': 'u1', 'argo-status': 'failed' } });
      expect(post.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const listed = await backend.list();
      expect(listed.map((s) => s.id)).toEqual(expect.arrayContaining([single.id, pre.id, post.id]));
      expect(listed.find((s) => s.id === pre.id)).toEqual(pre);
      expect((await findUpdateSnapshots(backend, 'u1')).post?.id).toBe(post.id);
    });

    it('diffs created, deleted and modified files, and restores ONE file', async () => {
      const { backend, hostTree } = target();
      await mkdir(join(hostTree, 'etc/diff'), { recursive: true });
      await writeFile(join(hostTree, 'etc/diff/keep'), 'original\n');
      await writeFile(join(hostTree, 'etc/diff/gone'), 'will be deleted\n');
      await writeFile(join(hostTree, 'etc/diff/shadow'), 'root:$6$old:19000::::::\n');
      await chmod(join(hostTree, 'etc/diff/shadow'), 0o640);
      await chown(join(hostTree, 'etc/diff/shadow'), 0, 42);
      const before = await backend.create({ kind: 'pre', description: 'diff before', userdata: { 'argo-update': 'diff' } });
      await writeFile(join(hostTree, 'etc/diff/keep'), 'changed\n');
      await rm(join(hostTree, 'etc/diff/gone'));
      await writeFile(join(hostTree, 'etc/diff/new'), 'created\n');
      await symlink('keep', join(hostTree, 'etc/diff/link'));
      await writeFile(join(hostTree, 'etc/diff/shadow.tmp'), 'root:*0:19000::::::\n');
      await rm(join(hostTree, 'etc/diff/shadow'));
      await writeFile(join(hostTree, 'etc/diff/shadow'), 'root:*0:19000::::::\n');
      const after = await backend.create({ kind: 'post', preId: before.id, description: 'diff after', userdata: { 'argo-update': 'diff' } });
      const p = (file: string): string => inTarget(hostTree, backend, file);
      expect((await backend.diff(before.id, after.id)).filter((c) => c.path.includes('/etc/diff/'))).toEqual([
        { path: p('/etc/diff/gone'), status: 'deleted' },
        { path: p('/etc/diff/keep'), status: 'modified' },
        { path: p('/etc/diff/link'), status: 'created' },
        { path: p('/etc/diff/new'), status: 'created' },
        { path: p('/etc/diff/shadow'), status: 'modified' },
        { path: p('/etc/diff/shadow.tmp'), status: 'created' },
      ]);

      const restored = await backend.restore(before.id, after.id, [p('/etc/diff/shadow')]);
      expect(restored).toEqual([{ path: p('/etc/diff/shadow'), status: 'modified' }]);
      expect(await readFile(join(hostTree, 'etc/diff/shadow'), 'utf8')).toBe('root:$6$old:19000::::::\n');
      const info = await stat(join(hostTree, 'etc/diff/shadow'));
      expect([info.mode & 0o7777, info.uid, info.gid]).toEqual([0o640, 0, 42]);
      // Only that one file: the other changes stay.
      expect(await readFile(join(hostTree, 'etc/diff/keep'), 'utf8')).toBe('changed\n');
      expect(await readFile(join(hostTree, 'etc/diff/new'), 'utf8')).toBe('created\n');

      const toCurrent = await backend.diff(before.id, 0);
      expect(toCurrent.filter((c) => c.path.includes('/etc/diff/')).map((c) => c.path)).not.toContain(p('/etc/diff/shadow'));
      await backend.restore(before.id, 0, [p('/etc/diff/gone'), p('/etc/diff/new')]);
      expect(await readFile(join(hostTree, 'etc/diff/gone'), 'utf8')).toBe('will be deleted\n');
      await expect(stat(join(hostTree, 'etc/diff/new'))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('deletes a snapshot and reports an unknown one', async () => {
      const { backend } = target();
      const doomed = await backend.create({ kind: 'single', description: 'to delete' });
      await backend.delete(doomed.id);
      expect((await backend.list()).map((s) => s.id)).not.toContain(doomed.id);
      const error = await backend.delete(doomed.id).catch((caught: unknown) => caught);
      expect((error as { code?: string }).code).toBe('ARGO_SNAPSHOT_NOT_FOUND');
    });

    it('refuses to create below the free-space minimum, naming the filesystem and the numbers', async () => {
      const { withMinFree } = target();
      const error = await withMinFree(2 ** 50).create({ kind: 'single', description: 'too big' }).catch((caught: unknown) => caught);
      expect((error as { code?: string }).code).toBe('ARGO_SNAPSHOT_NO_SPACE');
      expect((error as Error).message).toMatch(/free, 1024\.0 TiB needed/);
      expect((error as { hint?: string }).hint).toMatch(/Free space/);
    });

    it('keeps the last N update pairs and nothing untagged is touched', async () => {
      const { backend, system } = target();
      const ids: number[] = [];
      for (const update of ['r1', 'r2', 'r3']) {
        const pre = await backend.create({ kind: 'pre', description: 'pre', userdata: { 'argo-update': update }, cleanup: 'number' });
        const post = await backend.create({ kind: 'post', preId: pre.id, description: 'post', userdata: { 'argo-update': update }, cleanup: 'number' });
        ids.push(pre.id, post.id);
      }
      const untagged = (await backend.list()).filter((s) => s.userdata['argo-update'] === undefined).map((s) => s.id);
      const result = await applyRetention(system, backend, { keepPairs: 2 });
      expect(result.keptUpdates.slice(0, 2)).toEqual(['r3', 'r2']);
      const left = (await backend.list()).map((s) => s.id);
      expect(left).toEqual(expect.arrayContaining([...ids.slice(2), ...untagged]));
      expect(left).not.toContain(ids[0]);
      expect(left).not.toContain(ids[1]);
    });
  });
}

import { execFileSync } from 'node:child_process';
import { appendFile, chmod, chown, link, mkdir, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
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
  /** A backend on the same subvolume whose diff must give the very same change list (the tree walk, for btrfs send). */
  readonly reference?: SnapshotBackend | undefined;
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
      const { reference } = target();
      if (reference !== undefined) expect(await backend.diff(before.id, after.id)).toEqual(await reference.diff(before.id, after.id));
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
      if (reference !== undefined) expect(toCurrent).toEqual(await reference.diff(before.id, 0));
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

export interface ChangeListTarget {
  /** The backend whose change list is on trial (btrfs send, without its fallback). */
  readonly backend: SnapshotBackend;
  /** The same subvolume, compared by walking both trees. */
  readonly reference: SnapshotBackend;
  /** Host path of the snapshotted subvolume. */
  readonly hostTree: string;
}

const sh = (file: string, args: string[]): void => {
  execFileSync(file, args, { stdio: 'pipe' });
};
/** A name that is not UTF-8 (Latin-1 `café`, `new` + 0xFE): only a Buffer path reaches it. */
const raw = (dir: string, bytes: number[]): Buffer => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(bytes)]);

/**
 * A change list from another source (btrfs send) must be the tree walk's, path for path, on what makes such
 * lists hard: names with spaces, newlines, backslashes, control characters and bytes that are not UTF-8; hard
 * links; renamed folders with content; names swapped (which send does through temporary orphan names); a file
 * that became a folder and back; xattr-only, time-only, mode-only and owner-only changes; symlink retargeting;
 * device numbers; whole trees added and removed. Between two snapshots, both ways, and against the live system.
 */
export function describeChangeListParity(name: string, target: () => ChangeListTarget): void {
  describe(`change list parity: ${name}`, () => {
    it('gives the tree walk\'s change list on names and changes that stress a send stream', async () => {
      const { backend, reference, hostTree } = target();
      const dir = join(hostTree, 'stress');
      const at = (file: string): string => join(dir, file);
      for (const folder of ['moving/sub', 'becomes-file', 'deep/a/b/c', 'swapdir-1', 'swapdir-2']) await mkdir(at(folder), { recursive: true });
      const files: Record<string, string> = {
        'with space': 'one\n', 'new\nline': 'nl\n', 'back\\slash': 'bs\n', 'tab\tand\x01ctrl': 'ctrl\n', 'café': 'utf-8\n',
        'linked-a': 'shared\n', 'moving/sub/file': 'deep\n', 'moving/top': 'top\n', 'becomes-dir': 'file\n', 'becomes-file/child': 'child\n',
        'xattr-only': 'x\n', 'mode-only': 'm\n', 'owner-only': 'o\n', 'same-content': 'same\n', touched: 't\n', 'deep/a/b/c/file': 'd\n',
        'swap-1': 'one\n', 'swap-2': 'two\n', 'swapdir-1/x': 'x\n', 'swapdir-2/y': 'y\n',
      };
      for (const [file, content] of Object.entries(files)) await writeFile(at(file), content);
      await writeFile(raw(dir, [0x63, 0x61, 0x66, 0xe9]), 'latin-1\n');
      await mkdir(raw(dir, [0x64, 0xff]));
      await writeFile(Buffer.concat([raw(dir, [0x64, 0xff]), Buffer.from('/inner')]), 'inner\n');
      await link(at('linked-a'), at('linked-b'));
      await symlink('target-1', at('link'));
      sh('mkfifo', [at('fifo')]);
      sh('mknod', [at('null'), 'c', '1', '3']);
      const a = await backend.create({ kind: 'pre', description: 'stress before' });

      await writeFile(at('with space'), 'two\n');
      await rename(at('new\nline'), at('new\nline 2'));
      await chmod(at('back\\slash'), 0o600);
      await writeFile(at('tab\tand\x01ctrl'), 'changed\n');
      await rm(at('café'));
      await writeFile(raw(dir, [0x63, 0x61, 0x66, 0xe9]), 'latin-1, changed\n');
      await writeFile(raw(dir, [0x6e, 0x65, 0x77, 0xfe]), 'new, not UTF-8\n');
      await appendFile(at('linked-a'), 'changed in place\n');
      await link(at('linked-a'), at('linked-c'));
      await rename(at('moving'), at('moved'));
      await writeFile(at('moved/sub/file'), 'deeper\n');
      await rm(at('becomes-dir'));
      await mkdir(at('becomes-dir'));
      await writeFile(at('becomes-dir/child'), 'child\n');
      await rm(at('becomes-file'), { recursive: true });
      await writeFile(at('becomes-file'), 'file\n');
      // A value with a newline: `btrfs receive --dump` prints it raw, which makes the rest of the line look like a command.
      sh('setfattr', ['-n', 'user.argo', '-v', 'a\nrename          ./snapshot/stress dest=./snapshot/elsewhere', at('xattr-only')]);
      await chmod(at('mode-only'), 0o600);
      await chown(at('owner-only'), 1000, 1000);
      await rm(at('link'));
      await symlink('target-2', at('link'));
      await writeFile(at('same-content.new'), 'same\n');
      await rename(at('same-content.new'), at('same-content'));
      await utimes(at('touched'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
      await rm(at('deep'), { recursive: true });
      await rename(at('swap-1'), at('swap-tmp'));
      await rename(at('swap-2'), at('swap-1'));
      await rename(at('swap-tmp'), at('swap-2'));
      await rename(at('swapdir-1'), at('swapdir-tmp'));
      await rename(at('swapdir-2'), at('swapdir-1'));
      await rename(at('swapdir-tmp'), at('swapdir-2'));
      await rm(at('fifo'));
      await writeFile(at('fifo'), 'no longer a fifo\n');
      await rm(at('null'));
      sh('mknod', [at('null'), 'c', '1', '5']);
      await mkdir(at('fresh/a/b'), { recursive: true });
      await writeFile(at('fresh/a/b/file'), 'fresh\n');
      const b = await backend.create({ kind: 'post', preId: a.id, description: 'stress after' });

      const p = (file: string): string => join(backend.subvolume, '/stress', file);
      const changes = await backend.diff(a.id, b.id);
      expect(changes.filter((change) => change.path.startsWith(p('')))).toEqual([
        { path: p('back\\slash'), status: 'modified' },
        { path: p('becomes-dir'), status: 'modified' },
        { path: p('becomes-dir/child'), status: 'created' },
        { path: p('becomes-file'), status: 'modified' },
        { path: p('becomes-file/child'), status: 'deleted' },
        { path: p('café'), status: 'deleted' },
        { path: p('deep'), status: 'deleted' },
        { path: p('deep/a'), status: 'deleted' },
        { path: p('deep/a/b'), status: 'deleted' },
        { path: p('deep/a/b/c'), status: 'deleted' },
        { path: p('deep/a/b/c/file'), status: 'deleted' },
        { path: p('fifo'), status: 'modified' },
        { path: p('fresh'), status: 'created' },
        { path: p('fresh/a'), status: 'created' },
        { path: p('fresh/a/b'), status: 'created' },
        { path: p('fresh/a/b/file'), status: 'created' },
        { path: p('link'), status: 'modified' },
        { path: p('linked-a'), status: 'modified' },
        { path: p('linked-b'), status: 'modified' },
        { path: p('linked-c'), status: 'created' },
        { path: p('mode-only'), status: 'modified' },
        { path: p('moved'), status: 'created' },
        { path: p('moved/sub'), status: 'created' },
        { path: p('moved/sub/file'), status: 'created' },
        { path: p('moved/top'), status: 'created' },
        { path: p('moving'), status: 'deleted' },
        { path: p('moving/sub'), status: 'deleted' },
        { path: p('moving/sub/file'), status: 'deleted' },
        { path: p('moving/top'), status: 'deleted' },
        { path: p('new\nline'), status: 'deleted' },
        { path: p('new\nline 2'), status: 'created' },
        { path: p('null'), status: 'modified' },
        { path: p('owner-only'), status: 'modified' },
        { path: p('swap-1'), status: 'modified' },
        { path: p('swap-2'), status: 'modified' },
        { path: p('swapdir-1/x'), status: 'deleted' },
        { path: p('swapdir-1/y'), status: 'created' },
        { path: p('swapdir-2/x'), status: 'created' },
        { path: p('swapdir-2/y'), status: 'deleted' },
        { path: p('tab\tand\x01ctrl'), status: 'modified' },
        { path: p('with space'), status: 'modified' },
      ]);
      expect(changes).toEqual(await reference.diff(a.id, b.id));
      expect(await backend.diff(b.id, a.id)).toEqual(await reference.diff(b.id, a.id));

      await writeFile(at('with space'), 'three\n');
      await writeFile(at('after'), 'after\n');
      await rm(at('moved'), { recursive: true });
      for (const [from, to] of [[a.id, 0], [b.id, 0], [0, a.id]] as const) {
        expect(await backend.diff(from, to)).toEqual(await reference.diff(from, to));
      }
      // The temporary snapshots of the live system are gone.
      expect((await readdir(join(hostTree, '.snapshots'))).filter((entry) => entry.startsWith('argo-diff-'))).toEqual([]);
    });
  });
}

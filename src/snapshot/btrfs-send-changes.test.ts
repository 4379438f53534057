import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyUpdateLikeChange, useBtrfsDisk } from '../../test/support/btrfs-target.ts';
import { createMemoryLogger } from '../../test/support/memory-logger.ts';
import { openSystem } from '../system/open-system.ts';
import { createBtrfsBackend } from './btrfs-backend.ts';

describe('btrfs send on the Debian fixture root', () => {
  const disk = useBtrfsDisk();

  it("gives the tree walk's change list after an update-sized change, between snapshots and against the live system", async () => {
    const root = await disk().makeRoot('update');
    const system = openSystem({ root, logger: createMemoryLogger().logger });
    try {
      const send = createBtrfsBackend({ system, diffMethod: 'send', minFreeBytes: 1 });
      const walk = createBtrfsBackend({ system, diffMethod: 'walk', minFreeBytes: 1 });
      const pre = await send.create({ kind: 'pre', description: 'fixture pre' });
      applyUpdateLikeChange(root);
      const post = await send.create({ kind: 'post', preId: pre.id, description: 'fixture post' });
      await writeFile(join(root, 'etc/motd'), 'changed after the update\n');

      const changes = await send.diff(pre.id, post.id);
      expect(changes.length).toBeGreaterThan(250);
      expect(changes).toEqual(expect.arrayContaining([
        { path: '/usr/bin/gunzip', status: 'modified' },
        // The other name of the file changed in place: send names only one of them.
        { path: '/usr/bin/uncompress', status: 'modified' },
        { path: '/etc/hostname.bak', status: 'created' },
        { path: '/usr/lib/x86_64-linux-gnu/libz.so.1', status: 'modified' },
        { path: '/usr/lib/x86_64-linux-gnu/libz.so.1.2.13', status: 'deleted' },
        { path: '/usr/share/zoneinfo/Europa/Berlin', status: 'created' },
        { path: '/usr/share/zoneinfo/Europe/Berlin', status: 'deleted' },
      ]));
      // Files rewritten with the same bytes are no change.
      expect(changes.map((change) => change.path)).not.toContain('/usr/lib/python3.11/collections/__init__.py');
      expect(changes).toEqual(await walk.diff(pre.id, post.id));
      const live = await send.diff(pre.id, 0);
      expect(live).toContainEqual({ path: '/etc/motd', status: 'modified' });
      expect(live).toEqual(await walk.diff(pre.id, 0));
    } finally {
      await system.close();
    }
  }, 900_000);
});

import { describe, expect, it } from 'vitest';
import { planRollback, selectUpdateChanges, type PathChange, type UpdatePaths } from './rollback-plan.ts';

const c = (path: string, status: PathChange['status'] = 'modified'): PathChange => ({ path, status });

/** An interrupted update seen from the pre snapshot: nano new, libxcrypt reinstalled, plus everybody else's changes. */
const CHANGES: PathChange[] = [
  c('/etc/hostname'),
  c('/etc/ld.so.cache'),
  c('/etc/nanorc'),
  c('/etc/._cfg0000_nanorc', 'created'),
  c('/etc/._cfg0000_fstab', 'created'),
  c('/home/alice/notes.txt', 'created'),
  c('/usr/bin/nano', 'created'),
  c('/usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0'),
  c('/usr/share/nano', 'created'),
  c('/usr/share/nano/c.nanorc', 'created'),
  c('/usr/share/nano/mine.nanorc', 'created'),
  c('/var/cache/edb/counter'),
  c('/var/db/pkg/app-editors', 'created'),
  c('/var/db/pkg/app-editors/nano-8.2', 'created'),
  c('/var/db/pkg/app-editors/nano-8.2/CONTENTS', 'created'),
  c('/var/db/pkg/sys-libs/libxcrypt-4.4.36/COUNTER'),
  c('/var/lib/mysql/ibdata1'),
  c('/var/log/argo/update-1/main.log', 'created'),
  c('/var/log/emerge.log'),
];
const PATHS: UpdatePaths = {
  owned: new Set(['/usr/bin/nano', '/etc/nanorc', '/usr/share/nano/c.nanorc', '/usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0']),
  vdbEntries: ['/var/db/pkg/app-editors/nano-8.2', '/var/db/pkg/sys-libs/libxcrypt-4.4.36'],
};
const paths = (changes: readonly PathChange[]) => changes.map((change) => change.path);

describe('selectUpdateChanges', () => {
  const selection = selectUpdateChanges(CHANGES, PATHS);

  it('takes the merged packages\' files, their VDB entries, ._cfg files of their configs and Portage\'s own state', () => {
    expect(paths(selection.update)).toEqual([
      '/etc/ld.so.cache',
      '/etc/nanorc',
      '/etc/._cfg0000_nanorc',
      '/usr/bin/nano',
      '/usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0',
      '/usr/share/nano',
      '/usr/share/nano/c.nanorc',
      '/var/cache/edb/counter',
      '/var/db/pkg/app-editors',
      '/var/db/pkg/app-editors/nano-8.2',
      '/var/db/pkg/app-editors/nano-8.2/CONTENTS',
      '/var/db/pkg/sys-libs/libxcrypt-4.4.36/COUNTER',
    ]);
  });

  it('leaves /home, databases, /etc edits nobody merged, other ._cfg files and every log alone', () => {
    expect(paths(selection.other)).toEqual([
      '/etc/hostname',
      '/etc/._cfg0000_fstab',
      '/home/alice/notes.txt',
      '/usr/share/nano/mine.nanorc',
      '/var/lib/mysql/ibdata1',
      '/var/log/argo/update-1/main.log',
      '/var/log/emerge.log',
    ]);
  });

  it('never takes argo\'s logs, even when a package claims them', () => {
    const claimed = selectUpdateChanges([c('/var/log/argo', 'created'), c('/var/log/argo/x', 'created')], { owned: new Set(['/var/log/argo/x']), vdbEntries: [] });
    expect(claimed.update).toEqual([]);
  });
});

describe('planRollback', () => {
  const selection = selectUpdateChanges(CHANGES, PATHS);

  it('keeps a created folder that holds something not rolled back, and every folder above it', () => {
    const plan = planRollback(selection, new Set(), 'refuse');
    expect(plan.keptFolders).toEqual(['/usr/share/nano']);
    expect(paths(plan.restore)).toContain('/usr/share/nano/c.nanorc');
    expect(paths(plan.restore)).not.toContain('/usr/share/nano');
    expect(plan.refused).toBe(false);
  });

  it.each([
    ['refuse', true, false, true],
    ['keep', false, false, true],
    ['overwrite', false, true, false],
  ] as const)('a file changed after the update, mode %s: refused %s, restored %s, its folder kept %s', (mode, refused, restored, folderKept) => {
    const plan = planRollback(selection, new Set(['/var/db/pkg/app-editors/nano-8.2/CONTENTS']), mode);
    expect(plan.refused).toBe(refused);
    expect(paths(plan.changedAfter)).toEqual(['/var/db/pkg/app-editors/nano-8.2/CONTENTS']);
    expect(paths(plan.restore).includes('/var/db/pkg/app-editors/nano-8.2/CONTENTS')).toBe(restored);
    expect(plan.keptFolders.includes('/var/db/pkg/app-editors/nano-8.2')).toBe(folderKept);
    expect(plan.keptFolders.includes('/var/db/pkg/app-editors')).toBe(folderKept);
  });

  it('restores in path order', () => {
    const plan = planRollback(selection, new Set(), 'refuse');
    expect(paths(plan.restore)).toEqual([...paths(plan.restore)].sort());
  });
});

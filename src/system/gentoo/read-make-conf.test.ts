import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLUSTERHQ_ROOT } from '../../../test/support/gentoo-fixtures.ts';
import { createRootedFs } from '../rooted-fs.ts';
import { readMakeConf } from './read-make-conf.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'argo-make-conf-'));
  await mkdir(join(root, 'etc/portage/make.conf'), { recursive: true });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readMakeConf', () => {
  it('reads the real Prefix make.conf', async () => {
    const result = await readMakeConf(createRootedFs(CLUSTERHQ_ROOT), { env: { CFLAGS: '-O2 -pipe' } });
    expect(result.diagnostics).toEqual([]);
    expect(result.files).toEqual(['/etc/portage/make.conf']);
    expect(result.vars).toMatchObject({ USE: 'unicode nls', CXXFLAGS: '-O2 -pipe -O2 -pipe', FEATURES: 'parallel-install' });
  });

  it('reads a make.conf directory in order, each file seeing the earlier ones, with nested source files', async () => {
    await writeFile(join(root, 'etc/portage/make.conf/00-base'), 'USE="a"\nsource ../extra.conf\n');
    await writeFile(join(root, 'etc/portage/make.conf/10-more'), 'USE="${USE} c"\nsource /etc/portage/${NEXT}\n');
    await writeFile(join(root, 'etc/portage/extra.conf'), 'USE="${USE} b"\nNEXT=deep.conf\n');
    await writeFile(join(root, 'etc/portage/deep.conf'), 'DEEP=1\nsource /etc/portage/missing.conf\n');
    const result = await readMakeConf(createRootedFs(root));
    expect(result.vars).toEqual({ USE: 'a b c', NEXT: 'deep.conf', DEEP: '1' });
    expect(result.files).toEqual([
      '/etc/portage/make.conf/00-base',
      '/etc/portage/extra.conf',
      '/etc/portage/make.conf/10-more',
      '/etc/portage/deep.conf',
    ]);
    expect(result.origins.USE).toEqual({ file: '/etc/portage/make.conf/10-more', line: 1 });
    expect(result.diagnostics).toEqual([expect.objectContaining({ field: '/etc/portage/missing.conf', message: 'a sourced file does not exist' })]);
  });

  it('treats a sourced directory as a missing file', async () => {
    await writeFile(join(root, 'etc/portage/make.conf/00'), 'source /etc\nA=1\n');
    const result = await readMakeConf(createRootedFs(root));
    expect(result.vars).toEqual({ A: '1' });
    expect(result.diagnostics).toHaveLength(1);
  });
});

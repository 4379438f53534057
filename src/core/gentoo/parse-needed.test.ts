import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASH_VDB_ENTRY, CLUSTERHQ_VDB, readFixtureVdb } from '../../../test/support/gentoo-fixtures.ts';
import { parseNeeded, parseNeededElf2 } from './parse-needed.ts';

describe('parseNeededElf2', () => {
  it('reads the six-field lines of current Portage', () => {
    expect(parseNeededElf2(readFileSync(join(BASH_VDB_ENTRY, 'NEEDED.ELF.2'), 'utf8'))).toEqual({
      entries: [{ arch: 'X86_64', path: '/bin/bash', soname: '', runpaths: [], needed: ['libreadline.so.7', 'libc.so.6'], multilibCategory: 'x86_64' }],
      diagnostics: [],
    });
  });

  it.each([
    ['X86_64;/lib/libdl-2.19.so;libdl.so.2;;libc.so.6,ld-linux-x86-64.so.2', { soname: 'libdl.so.2', runpaths: [], needed: ['libc.so.6', 'ld-linux-x86-64.so.2'] }],
    ['X86_64;/usr/bin/x;;/opt/lib:$ORIGIN/../lib:;libz.so.1;x86_64;future', { soname: '', runpaths: ['/opt/lib', '$ORIGIN/../lib'], needed: ['libz.so.1'], multilibCategory: 'x86_64' }],
    ['ARM;/usr/lib/libempty.so;libempty.so;;;', { soname: 'libempty.so', runpaths: [], needed: [] }],
  ])('reads %j', (line, expected) => {
    expect(parseNeededElf2(line).entries).toEqual([expect.objectContaining(expected)]);
  });

  it('reports lines with fewer than five fields and keeps the rest', () => {
    const result = parseNeededElf2('X86_64;/a;;;libc.so.6\nbroken;line\n', { file: 'NEEDED.ELF.2' });
    expect(result.entries).toHaveLength(1);
    expect(result.diagnostics).toEqual([expect.objectContaining({ file: 'NEEDED.ELF.2', line: 2, action: 'ignored' })]);
  });

  it('reads all 946 lines of the real Prefix VDB (written before the multilib category existed)', () => {
    let count = 0;
    for (const { files } of readFixtureVdb(CLUSTERHQ_VDB)) {
      const result = parseNeededElf2(files['NEEDED.ELF.2'] ?? '');
      expect(result.diagnostics).toEqual([]);
      for (const entry of result.entries) expect(entry.multilibCategory).toBeUndefined();
      count += result.entries.length;
    }
    expect(count).toBe(946);
  });
});

describe('parseNeeded', () => {
  it('splits each line at its last space', () => {
    expect(parseNeeded('/bin/bash libreadline.so.7,libc.so.6\n/opt/my app/bin libc.so.6\n/lib/ld.so\n')).toEqual([
      { path: '/bin/bash', needed: ['libreadline.so.7', 'libc.so.6'] },
      { path: '/opt/my app/bin', needed: ['libc.so.6'] },
      { path: '/lib/ld.so', needed: [] },
    ]);
  });
});

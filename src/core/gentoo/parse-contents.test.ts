import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASH_VDB_ENTRY, CLUSTERHQ_VDB, readFixtureVdb } from '../../../test/support/gentoo-fixtures.ts';
import { parseContents, type ContentsEntry } from './parse-contents.ts';

function formatEntry(entry: ContentsEntry): string {
  switch (entry.type) {
    case 'obj':
      return `obj ${entry.path} ${entry.md5} ${entry.mtime}`;
    case 'sym':
      return `sym ${entry.path} -> ${entry.target} ${entry.mtime}`;
    default:
      return `${entry.type} ${entry.path}`;
  }
}

describe('parseContents', () => {
  it.each<[string, ContentsEntry]>([
    ['dir /usr/bin', { type: 'dir', path: '/usr/bin' }],
    ['dev /dev/null', { type: 'dev', path: '/dev/null' }],
    ['fif /run/initctl', { type: 'fif', path: '/run/initctl' }],
    ['obj /usr/bin/bashbug 9b20c085e9d7f3646f3b4b45e74f70ca 1547713704', { type: 'obj', path: '/usr/bin/bashbug', md5: '9b20c085e9d7f3646f3b4b45e74f70ca', mtime: 1547713704 }],
    ['obj /usr/share/My Documents/a b.txt d41d8cd98f00b204e9800998ecf8427e 1', { type: 'obj', path: '/usr/share/My Documents/a b.txt', md5: 'd41d8cd98f00b204e9800998ecf8427e', mtime: 1 }],
    ['sym /usr/share/info/bashref.info.bz2 -> bash.info.bz2 1547713709', { type: 'sym', path: '/usr/share/info/bashref.info.bz2', target: 'bash.info.bz2', mtime: 1547713709 }],
    ['sym /a b/c -> ../d e/f 42', { type: 'sym', path: '/a b/c', target: '../d e/f', mtime: 42 }],
    ['sym /odd -> name -> target 7', { type: 'sym', path: '/odd -> name', target: 'target', mtime: 7 }],
    ['sym /lib -> lib64 (1, 2L, 3L, 4, 5, 6, 7L, 8, 1234567890, 10)', { type: 'sym', path: '/lib', target: 'lib64', mtime: 1234567890 }],
  ])('reads %j', (line, entry) => {
    expect(parseContents(`${line}\n`)).toEqual({ entries: [entry], diagnostics: [] });
  });

  it.each([
    ['file /etc/x'],
    ['dir'],
    ['dir '],
    ['obj /usr/bin/x 123'],
    ['obj /usr/bin/x md5 notanumber'],
    ['obj /usr/bin/x md5 12 '],
    ['sym /a 12'],
    ['sym /a ->  12'],
    ['sym /a -> b'],
    ['obj /a\0b md5 1'],
    [''],
    ['DIR /usr'],
  ])('reports %j as a line Portage skips, and keeps the others', (line) => {
    const result = parseContents(`dir /usr\n${line}\ndir /etc\n`, { file: '/var/db/pkg/a/b-1/CONTENTS' });
    expect(result.entries).toEqual([
      { type: 'dir', path: '/usr' },
      { type: 'dir', path: '/etc' },
    ]);
    expect(result.diagnostics).toEqual([expect.objectContaining({ file: '/var/db/pkg/a/b-1/CONTENTS', line: 2, action: 'ignored' })]);
  });

  it('reads the real bash CONTENTS completely', () => {
    const text = readFileSync(join(BASH_VDB_ENTRY, 'CONTENTS'), 'utf8');
    const result = parseContents(text);
    expect(result.diagnostics).toEqual([]);
    expect(result.entries).toHaveLength(text.trimEnd().split('\n').length);
    expect(result.entries).toContainEqual({ type: 'obj', path: '/bin/bash', md5: expect.stringMatching(/^[0-9a-f]{32}$/), mtime: expect.any(Number) });
    expect(result.entries.map(formatEntry).join('\n')).toBe(text.trimEnd());
  });

  it('reads all 30,906 CONTENTS lines of the real Prefix VDB without a diagnostic, paths under EPREFIX', () => {
    let lines = 0;
    for (const { category, pf, files } of readFixtureVdb(CLUSTERHQ_VDB)) {
      const result = parseContents(files.CONTENTS ?? '', { file: `${category}/${pf}` });
      expect(result.diagnostics).toEqual([]);
      lines += result.entries.length;
      for (const entry of result.entries) expect(entry.path.startsWith('/home/core/gentoo')).toBe(true);
    }
    expect(lines).toBe(30_906);
  });

  it('round-trips generated entries, spaces and arrows in paths included', () => {
    const path = fc.stringMatching(/^\/[a-zA-Z0-9 ._>-]{1,20}$/).filter((p) => !p.endsWith(' ') && !p.includes('  '));
    const entry = fc.oneof(
      fc.record({ type: fc.constantFrom<'dir' | 'dev' | 'fif'>('dir', 'dev', 'fif'), path }),
      fc.record({ type: fc.constant<'obj'>('obj'), path, md5: fc.stringMatching(/^[0-9a-f]{32}$/), mtime: fc.nat() }),
      fc.record({ type: fc.constant<'sym'>('sym'), path, target: fc.stringMatching(/^[a-z0-9./]{1,12}$/), mtime: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), (entries) => {
        const text = entries.map((item) => formatEntry(item as ContentsEntry)).join('\n');
        expect(parseContents(text).entries).toEqual(entries);
      }),
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(fc.property(fc.string(), (text) => void parseContents(text)), { numRuns: 2000 });
  });
});

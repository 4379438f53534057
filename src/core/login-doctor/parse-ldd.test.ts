import { describe, expect, it } from 'vitest';
import { parseLddNotFound } from './parse-ldd.ts';

describe('parseLddNotFound', () => {
  it.each([
    ['one file, no heading', '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibcrypt.so.1 => not found\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f)\n', ['/a.so'], { '/a.so': ['libcrypt.so.1'] }],
    [
      'several files with headings',
      '/a.so:\n\tlibpam.so.0 => /lib/libpam.so.0 (0x7f)\n/b.so:\n\tlibcrypt.so.1 => not found\n\tlibaudit.so.1 => not found\n/c.so:\n\tstatically linked\n',
      ['/a.so', '/b.so', '/c.so'],
      { '/a.so': [], '/b.so': ['libcrypt.so.1', 'libaudit.so.1'], '/c.so': [] },
    ],
  ])('%s', (_, stdout, files, expected) => {
    expect(Object.fromEntries(parseLddNotFound(stdout, files))).toEqual(expected);
  });
});

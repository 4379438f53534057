import { describe, expect, it } from 'vitest';
import { parseSonameDeps } from './parse-soname-deps.ts';

describe('parseSonameDeps', () => {
  it.each([
    ['x86_64: libc.so.6 libreadline.so.7\n', { x86_64: ['libc.so.6', 'libreadline.so.7'] }],
    ['x86_32: libcrypt.so.1 libcrypt.so.2 x86_64: libcrypt.so.1 libcrypt.so.2', { x86_32: ['libcrypt.so.1', 'libcrypt.so.2'], x86_64: ['libcrypt.so.1', 'libcrypt.so.2'] }],
    ['', {}],
    ['   \n', {}],
  ])('reads %j', (text, byCategory) => {
    expect(parseSonameDeps(text)).toEqual({ byCategory, diagnostics: [] });
  });

  it.each([
    ['libc.so.6 x86_64: libm.so.6', { x86_64: ['libm.so.6'] }, 'a soname comes before any category'],
    ['x86_64: x86_32: libc.so.6', { x86_64: [], x86_32: ['libc.so.6'] }, 'a soname category lists no soname'],
    ['x86_64:', { x86_64: [] }, 'a soname category lists no soname'],
    ['x86_64: a.so x86_64: b.so', { x86_64: ['a.so', 'b.so'] }, 'a soname category appears twice'],
  ])('reports %j as Portage would refuse it, keeping the rest', (text, byCategory, message) => {
    const result = parseSonameDeps(text, { field: 'REQUIRES' });
    expect(result.byCategory).toEqual(byCategory);
    expect(result.diagnostics).toEqual([expect.objectContaining({ message, field: expect.stringMatching(/^REQUIRES: /) })]);
  });
});

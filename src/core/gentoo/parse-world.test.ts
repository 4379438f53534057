import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLUSTERHQ_ROOT } from '../../../test/support/gentoo-fixtures.ts';
import { formatAtom } from './format-atom.ts';
import { PORTAGE_SETS, parseSetReference, parseWorldFile, parseWorldSets } from './parse-world.ts';

describe('parseWorldFile', () => {
  it('reads the real world file', () => {
    const result = parseWorldFile(readFileSync(join(CLUSTERHQ_ROOT, 'var/lib/portage/world'), 'utf8'));
    expect(result.diagnostics).toEqual([]);
    expect(result.atoms.map((entry) => entry.text)).toEqual([
      'app-arch/lz4',
      'app-misc/tmux',
      'app-portage/gentoolkit',
      'app-shells/bash',
      'dev-util/patchelf',
      'dev-util/strace',
      'sys-apps/kmod',
      'sys-devel/bc',
      'sys-fs/zfs',
      'sys-libs/glibc',
      'sys-libs/nss-usrfiles',
      'sys-process/htop',
    ]);
    expect(result.atoms[11]?.line).toBe(12);
  });

  it('keeps slots and repositories, the first word only, and skips comments and blank lines', () => {
    const result = parseWorldFile('# selected\n\n  sys-kernel/gentoo-sources:6.6  trailing words\ndev-lang/rust::gentoo\n');
    expect(result.atoms.map((entry) => [formatAtom(entry.atom), entry.line])).toEqual([
      ['sys-kernel/gentoo-sources:6.6', 3],
      ['dev-lang/rust::gentoo', 4],
    ]);
  });

  it.each([
    ['@kde-plasma', 'a set in the world file belongs in world_sets; Portage ignores it here'],
    ['!sys-libs/glibc', 'a blocker cannot be selected'],
    ['glibc', 'invalid atom: an atom needs a category: category/name'],
    ['sys-libs/*', 'invalid atom: the package name is empty or has characters PMS does not allow'],
  ])('reports and drops %j', (line, message) => {
    const result = parseWorldFile(`app-misc/tmux\n${line}\n`, { file: '/var/lib/portage/world' });
    expect(result.atoms).toHaveLength(1);
    expect(result.diagnostics).toEqual([{ file: '/var/lib/portage/world', line: 2, field: line, message, action: 'dropped' }]);
  });
});

describe('parseWorldSets', () => {
  it('reads set names and reports other lines', () => {
    expect(parseWorldSets(readFileSync(join(CLUSTERHQ_ROOT, 'var/lib/portage/world_sets'), 'utf8'))).toEqual({ sets: [], diagnostics: [] });
    const result = parseWorldSets('@kde-plasma\n# x\n@rust-rebuild\nsys-libs/glibc\n');
    expect(result.sets).toEqual([
      { name: 'kde-plasma', line: 1 },
      { name: 'rust-rebuild', line: 3 },
    ]);
    expect(result.diagnostics).toEqual([expect.objectContaining({ line: 4, field: 'sys-libs/glibc', action: 'dropped' })]);
  });

  it.each([
    ['@world', 'world'],
    ['@selected', 'selected'],
    ['@system', 'system'],
    ['@preserved-rebuild', 'preserved-rebuild'],
    ['world', undefined],
    ['@', undefined],
    ['@a b', undefined],
  ])('parseSetReference(%j) is %j', (text, name) => {
    expect(parseSetReference(text)).toBe(name);
  });

  it('describes the sets Portage defines', () => {
    expect(Object.keys(PORTAGE_SETS)).toEqual(expect.arrayContaining(['world', 'selected', 'system', 'profile', 'installed', 'preserved-rebuild']));
  });
});

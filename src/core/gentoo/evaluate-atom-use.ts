/**
 * Resolves the conditional USE dependencies of an atom against the USE flags of the package that carries the
 * dependency, as Portage's `_use_dep.evaluate_conditionals` does:
 *
 * | written | parent has flag | parent lacks flag |
 * |---------|-----------------|-------------------|
 * | `x?`    | `x`             | (dropped)         |
 * | `!x?`   | (dropped)       | `-x`              |
 * | `x=`    | `x`             | `-x`              |
 * | `!x=`   | `-x`            | `x`               |
 *
 * Defaults (`(+)`, `(-)`) are kept on the resulting tokens. Plain `[x]` and `[-x]` are unchanged.
 */

import type { Atom, UseDep } from './parse-atom.ts';

function resolve(dep: UseDep, parentHas: boolean): UseDep | undefined {
  const keep = (kind: 'enabled' | 'disabled'): UseDep =>
    dep.missing === undefined ? { flag: dep.flag, kind } : { flag: dep.flag, kind, missing: dep.missing };
  switch (dep.kind) {
    case 'enabled':
    case 'disabled':
      return dep;
    case 'if-enabled':
      return parentHas ? keep('enabled') : undefined;
    case 'if-disabled':
      return parentHas ? undefined : keep('disabled');
    case 'equal':
      return keep(parentHas ? 'enabled' : 'disabled');
    case 'not-equal':
      return keep(parentHas ? 'disabled' : 'enabled');
  }
}

export function evaluateAtomUse(atom: Atom, parentUse: ReadonlySet<string>): Atom {
  if (!atom.use.some((dep) => dep.kind !== 'enabled' && dep.kind !== 'disabled')) return atom;
  const use: UseDep[] = [];
  for (const dep of atom.use) {
    const resolved = resolve(dep, parentUse.has(dep.flag));
    if (resolved !== undefined) use.push(resolved);
  }
  return { ...atom, use };
}

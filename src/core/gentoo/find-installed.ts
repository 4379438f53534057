/**
 * Looks packages up in an installed-package database read by `readVdb`: `findInstalled(vdb, 'sys-libs/libxcrypt')`,
 * `findInstalled(vdb, '>=sys-libs/pam-1.5:0')`. Matching is `matchAtom` with the package's slot, USE, IUSE and
 * repository, so USE dependencies work too (`sys-libs/glibc[-crypt(-)]`). Results keep the database order.
 */

import { findMatches } from './match-atom.ts';
import { parseAtom, type Atom } from './parse-atom.ts';
import type { VdbPackage } from './parse-vdb-entry.ts';

export interface InstalledPackages {
  readonly packages: readonly VdbPackage[];
}

/** Throws ARGO_ATOM_INVALID when `atom` is a string that is not an atom (wildcards are allowed). */
export function findInstalled(vdb: InstalledPackages, atom: string | Atom): VdbPackage[] {
  const wanted = typeof atom === 'string' ? parseAtom(atom, { allowWildcard: true }) : atom;
  const candidates = wanted.wildcard ? vdb.packages : vdb.packages.filter((pkg) => pkg.cp === wanted.cp);
  return findMatches(wanted, candidates);
}

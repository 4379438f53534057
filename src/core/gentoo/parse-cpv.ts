/**
 * Package names with versions: `PF` (`bash-4.4_p23-r1`) and `CPV` (`app-shells/bash-4.4_p23-r1`), split the way
 * Portage's `pkgsplit`/`catpkgsplit` do (lib/portage/versions.py): the version starts at the first hyphen whose
 * remainder is a valid version, and a package name may not itself end in a hyphen and a version (PMS 3.1.2), so
 * `foo-1-2` is refused rather than read as `foo-1` version `2`.
 */

import { ArgoError } from '../errors.ts';
import { accept, refuse, type ParseResult } from './parse-result.ts';
import { stripRevision, tryParseVersion, type Version } from './parse-version.ts';

/** PMS 3.1.1: `[A-Za-z0-9+_.-]`, not starting with a hyphen, a dot or a plus sign; ASCII only. */
const CATEGORY_NAME = /^[A-Za-z0-9_][A-Za-z0-9_+.-]*$/;
/** PMS 3.1.2: `[A-Za-z0-9+_-]`, not starting with a hyphen or a plus sign; ASCII only. */
const PACKAGE_NAME_CHARS = /^[A-Za-z0-9_][A-Za-z0-9_+-]*$/;

/** A `PF` taken apart. Field names follow the ebuild variables PN, PV, PR and PVR. */
export interface PackageVersion {
  /** `bash` */
  readonly pn: string;
  /** PV, the version without revision: `4.4_p23`. */
  readonly version: string;
  /** PR as Portage reports it: `r1`, and `r0` when the name has no revision. */
  readonly revision: string;
  /** PVR, version and revision as written: `4.4_p23-r1` (`-r0` only when written). */
  readonly pvr: string;
  readonly parsed: Version;
}

export interface Cpv extends PackageVersion {
  readonly category: string;
  /** `app-shells/bash` */
  readonly cp: string;
  /** `app-shells/bash-4.4_p23-r1` as given. */
  readonly cpv: string;
  /** `bash-4.4_p23-r1` */
  readonly pf: string;
}

export function isValidCategory(name: string): boolean {
  return CATEGORY_NAME.test(name);
}

/** True when `name` is a package name without version (PN), as PMS 3.1.2 restricts it. */
export function isValidPackageName(name: string): boolean {
  return PACKAGE_NAME_CHARS.test(name) && !endsWithVersion(name);
}

/** True when some hyphen in `name` is followed by nothing but a valid version (with optional revision). */
export function endsWithVersion(name: string): boolean {
  for (let index = name.indexOf('-'); index !== -1; index = name.indexOf('-', index + 1)) {
    if (tryParseVersion(name.slice(index + 1)).ok) return true;
  }
  return false;
}

export function trySplitPackageVersion(pf: string): ParseResult<PackageVersion> {
  for (let index = pf.indexOf('-'); index !== -1; index = pf.indexOf('-', index + 1)) {
    const version = tryParseVersion(pf.slice(index + 1));
    if (!version.ok) continue;
    const pn = pf.slice(0, index);
    if (endsWithVersion(pn)) return refuse('the package name ends in a hyphen and a version');
    if (!PACKAGE_NAME_CHARS.test(pn)) return refuse('the package name has characters PMS does not allow');
    const parsed = version.value;
    return accept({
      pn,
      version: stripRevision(parsed),
      revision: `r${parsed.revision || '0'}`,
      pvr: parsed.text,
      parsed,
    });
  }
  return refuse('no hyphen is followed by a valid version');
}

/** Throws ARGO_VERSION_INVALID, naming the text, when `pf` is not `name-version`. */
export function splitPackageVersion(pf: string): PackageVersion {
  const result = trySplitPackageVersion(pf);
  if (!result.ok) {
    throw new ArgoError('ARGO_VERSION_INVALID', `Invalid package name and version "${pf}": ${result.reason}`, {
      hint: 'Expected NAME-VERSION as in a /var/db/pkg directory name, e.g. bash-4.4_p23-r1.',
      details: { pf },
    });
  }
  return result.value;
}

export function tryParseCpv(text: string): ParseResult<Cpv> {
  const slash = text.indexOf('/');
  if (slash === -1) return refuse('a package needs a category: CATEGORY/NAME-VERSION');
  const category = text.slice(0, slash);
  const pf = text.slice(slash + 1);
  if (!CATEGORY_NAME.test(category)) return refuse('the category has characters PMS does not allow');
  const split = trySplitPackageVersion(pf);
  if (!split.ok) return split;
  return accept({ ...split.value, category, cp: `${category}/${split.value.pn}`, cpv: text, pf });
}

/** Throws ARGO_ATOM_INVALID, naming the text, when `text` is not `category/name-version`. */
export function parseCpv(text: string): Cpv {
  const result = tryParseCpv(text);
  if (!result.ok) {
    throw new ArgoError('ARGO_ATOM_INVALID', `Invalid package "${text}": ${result.reason}`, {
      hint: 'Expected CATEGORY/NAME-VERSION, e.g. sys-libs/libxcrypt-4.4.33.',
      details: { cpv: text },
    });
  }
  return result.value;
}

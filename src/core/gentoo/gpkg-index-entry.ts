/**
 * The Packages stanza of a binary package, taken from the package's own metadata the way Portage's
 * `binarytree._pkgindex_entry` takes it (the aux keys, `DESCRIPTION` as `DESC`, `repository` as `REPO`), plus
 * the facts of the file as it was received. A gateway builds the index from what is inside each GPKG, never
 * from what a drone says about it: verify judges USE and dependencies from this stanza.
 */

import { ArgoError } from '../errors.ts';
import { tryParseCpv } from './parse-cpv.ts';

/** Metadata file → index key, in Portage's `_pkgindex_aux_keys` (plus the keys the index always carries). */
const METADATA_KEYS: readonly (readonly [file: string, key: string])[] = [
  ['BDEPEND', 'BDEPEND'],
  ['BUILD_ID', 'BUILD_ID'],
  ['BUILD_TIME', 'BUILD_TIME'],
  ['CHOST', 'CHOST'],
  ['DEFINED_PHASES', 'DEFINED_PHASES'],
  ['DEPEND', 'DEPEND'],
  ['DESCRIPTION', 'DESC'],
  ['EAPI', 'EAPI'],
  ['IDEPEND', 'IDEPEND'],
  ['IUSE', 'IUSE'],
  ['KEYWORDS', 'KEYWORDS'],
  ['LICENSE', 'LICENSE'],
  ['PDEPEND', 'PDEPEND'],
  ['PROPERTIES', 'PROPERTIES'],
  ['PROVIDES', 'PROVIDES'],
  ['RDEPEND', 'RDEPEND'],
  ['repository', 'REPO'],
  ['REQUIRES', 'REQUIRES'],
  ['RESTRICT', 'RESTRICT'],
  ['SLOT', 'SLOT'],
  ['USE', 'USE'],
];

export interface BinpkgFileFacts {
  /** Relative to the binhost's root. */
  readonly path: string;
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
  /** Epoch seconds. */
  readonly mtime: number;
  /** The instance number the file was published under (binpkg-multi-instance), if any. */
  readonly buildId?: number;
}

export interface GpkgIndexEntry {
  readonly cpv: string;
  readonly fields: Record<string, string>;
}

/** `CATEGORY` + `PF` of the metadata, checked as a CPV; ARGO_GPKG_INVALID when either is missing or malformed. */
export function cpvOfMetadata(metadata: ReadonlyMap<string, string | Uint8Array>, file: string): string {
  const category = textOf(metadata, 'CATEGORY');
  const pf = textOf(metadata, 'PF');
  const cpv = `${category}/${pf}`;
  if (category === '' || pf === '' || !tryParseCpv(cpv).ok) {
    throw new ArgoError('ARGO_GPKG_INVALID', `${file}: its metadata names no valid package (CATEGORY ${JSON.stringify(category)}, PF ${JSON.stringify(pf)})`, {
      hint: 'The file is not a binary package Portage wrote; rebuild it with emerge --buildpkg.',
    });
  }
  return cpv;
}

export function gpkgIndexEntry(metadata: ReadonlyMap<string, string | Uint8Array>, file: BinpkgFileFacts, name = file.path): GpkgIndexEntry {
  const cpv = cpvOfMetadata(metadata, name);
  const fields: Record<string, string> = { CPV: cpv };
  for (const [source, key] of METADATA_KEYS) {
    const text = textOf(metadata, source);
    if (text !== '') fields[key] = text;
  }
  if (file.buildId === undefined) delete fields.BUILD_ID;
  else fields.BUILD_ID = String(file.buildId);
  fields.MD5 = file.md5;
  fields.SHA1 = file.sha1;
  fields.SHA256 = file.sha256;
  fields.PATH = file.path;
  fields.SIZE = String(file.size);
  fields.MTIME = String(file.mtime);
  return { cpv, fields };
}

/** A metadata file's text on one line: Portage's files end in a newline, multi-line values are joined by spaces. */
function textOf(metadata: ReadonlyMap<string, string | Uint8Array>, name: string): string {
  const value = metadata.get(name);
  if (typeof value !== 'string') return '';
  return value.split(/\s+/).filter((word) => word !== '').join(' ');
}

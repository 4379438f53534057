/**
 * `Packages.gz`, which clients fetch before `Packages` (Portage 3.0.69+). Portage writes it with Python's
 * `GzipFile(filename="", mtime=TIMESTAMP)` next to the plain file (`bintree._pkgindex_write`), so a publisher must
 * keep the two in step.
 */

import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { ArgoError } from '../errors.ts';

export interface GzipPackagesIndexOptions {
  /** Stored in the gzip header as Portage does (the index TIMESTAMP); 0 when absent. */
  readonly mtime?: number;
}

/** Gzip member header offsets (RFC 1952): MTIME is bytes 4..7 little-endian, OS byte 9. */
const MTIME_OFFSET = 4;
const OS_OFFSET = 9;
/** CPython's gzip module writes OS = 255 ("unknown"); zlib writes 3 (Unix). */
const OS_UNKNOWN = 255;

export function gzipPackagesIndex(text: string, options: GzipPackagesIndexOptions = {}): Uint8Array {
  const bytes = gzipSync(Buffer.from(text, 'utf8'), { level: constants.Z_BEST_COMPRESSION });
  const mtime = Math.floor(options.mtime ?? 0);
  // The header carries no CRC (FHCRC unset), so MTIME and OS can be set after compressing.
  bytes.writeUInt32LE(Number.isFinite(mtime) && mtime >= 0 && mtime <= 0xffffffff ? mtime : 0, MTIME_OFFSET);
  bytes[OS_OFFSET] = OS_UNKNOWN;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The text of a `Packages.gz`, decoded as UTF-8 with replacement characters (Portage reads with
 * `errors="replace"`). Throws ARGO_INDEX_INVALID when the bytes are not a complete gzip stream.
 */
export function gunzipPackagesIndex(bytes: Uint8Array, options: { readonly file?: string } = {}): string {
  let plain: Buffer;
  try {
    plain = gunzipSync(bytes);
  } catch (error) {
    const name = options.file ?? 'Packages.gz';
    throw new ArgoError('ARGO_INDEX_INVALID', `${name} is not a complete gzip stream`, {
      hint: 'fetch the index again, or read the uncompressed Packages instead',
      cause: error,
      details: { file: name },
    });
  }
  return new TextDecoder('utf-8').decode(plain);
}

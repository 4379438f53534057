/**
 * Compression of binary package parts. GPKG names it in the member suffix (`image.tar.zst`, GLEP 78; Portage's
 * `gpkg.ext_list`); an XPAK's tar part is told apart by its magic bytes (lib/portage/util/compression_probe.py).
 * This build reads and writes gzip and zstd through node:zlib; other compressions are recognised and refused.
 */

import { constants, gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { ArgoError } from '../errors.ts';

/** Compressions this build can read and write. */
export type MemberCompression = 'none' | 'gz' | 'zst';

/** Every suffix Portage can write (`BINPKG_COMPRESS`), by suffix. */
const KNOWN_SUFFIXES: ReadonlyMap<string, string> = new Map([
  ['', 'none'],
  ['.gz', 'gzip'],
  ['.zst', 'zstd'],
  ['.bz2', 'bzip2'],
  ['.xz', 'xz'],
  ['.lz4', 'lz4'],
  ['.lz', 'lzip'],
  ['.lzo', 'lzop'],
]);

const SUPPORTED: ReadonlyMap<string, MemberCompression> = new Map([
  ['', 'none'],
  ['.gz', 'gz'],
  ['.zst', 'zst'],
]);

export const COMPRESSION_SUFFIX: Readonly<Record<MemberCompression, string>> = { none: '', gz: '.gz', zst: '.zst' };

/**
 * The compression of a GPKG data member named `<base>.tar<suffix>`. Throws ARGO_COMPRESSION_UNSUPPORTED for a
 * suffix Portage knows but this build cannot read, and ARGO_GPKG_INVALID for one nobody knows.
 */
export function compressionOfMember(memberName: string, base: 'metadata' | 'image'): MemberCompression {
  const prefix = `${base}.tar`;
  const suffix = memberName.slice(prefix.length);
  const supported = SUPPORTED.get(suffix);
  if (supported !== undefined) return supported;
  const known = KNOWN_SUFFIXES.get(suffix);
  if (known !== undefined) {
    throw new ArgoError('ARGO_COMPRESSION_UNSUPPORTED', `GPKG member ${memberName} is compressed with ${known}, which this build cannot read`, {
      hint: 'rebuild the package with BINPKG_COMPRESS="zstd" (the Portage default) or "gzip"',
      details: { member: memberName, compression: known },
    });
  }
  throw new ArgoError('ARGO_GPKG_INVALID', `GPKG member ${memberName} has an unknown compression suffix`, {
    hint: 'GLEP 78 members are <name>.tar with an optional .gz, .zst, .bz2, .xz, .lz4, .lz or .lzo suffix',
    details: { member: memberName },
  });
}

export interface DecompressLimits {
  /** Largest decompressed size accepted, in bytes. */
  readonly maxBytes: number;
}

/** Throws ARGO_GPKG_INVALID naming the member when the data does not decompress (or exceeds the limit). */
export function decompressMember(data: Uint8Array, compression: MemberCompression, memberName: string, limits: DecompressLimits): Uint8Array {
  if (compression === 'none') return data;
  try {
    const options = { maxOutputLength: limits.maxBytes };
    return compression === 'gz' ? gunzipSync(data, options) : zstdDecompressSync(data, options);
  } catch (error) {
    const tooLarge = error instanceof RangeError || (error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new ArgoError(
      'ARGO_GPKG_INVALID',
      tooLarge
        ? `GPKG member ${memberName} decompresses to more than ${limits.maxBytes} bytes`
        : `GPKG member ${memberName} is not valid ${compression === 'gz' ? 'gzip' : 'zstd'} data`,
      {
        hint: tooLarge ? 'raise maxUnpackedBytes if the package is really that large' : 'the file is damaged or truncated; fetch it again',
        cause: error,
        details: { member: memberName, compression },
      },
    );
  }
}

export function compressMember(data: Uint8Array, compression: MemberCompression): Uint8Array {
  if (compression === 'none') return data;
  if (compression === 'gz') return gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
  return zstdCompressSync(data, { params: { [constants.ZSTD_c_checksumFlag]: 1 } });
}

/** Compression of a tar stream by its first bytes, as Portage's compression_probe does for XPAK packages. */
export function sniffCompression(data: Uint8Array): string {
  const starts = (...magic: number[]): boolean => magic.every((byte, index) => data[index] === byte);
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x04, 0x22, 0x4d, 0x18)) return 'lz4';
  if (starts(0x4c, 0x5a, 0x49, 0x50)) return 'lzip';
  if (starts(0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a)) return 'lzop';
  if (data.length >= 262 && String.fromCharCode(...data.subarray(257, 262)) === 'ustar') return 'none';
  return 'unknown';
}

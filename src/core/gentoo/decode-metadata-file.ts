/**
 * Contract for binary package metadata files (GPKG `metadata/*`, XPAK index items): text files come back as
 * strings exactly as stored (trailing newline included, as in the VDB); compressed files (`environment.bz2`) and
 * anything that is not valid UTF-8 come back as bytes.
 */

const COMPRESSED_SUFFIXES = ['.bz2', '.gz', '.xz', '.zst', '.lz4', '.lz', '.lzo'];

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeMetadataFile(name: string, data: Uint8Array): string | Uint8Array {
  if (COMPRESSED_SUFFIXES.some((suffix) => name.endsWith(suffix))) return Uint8Array.from(data);
  try {
    return strictUtf8.decode(data);
  } catch {
    return Uint8Array.from(data);
  }
}

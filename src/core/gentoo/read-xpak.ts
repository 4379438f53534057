/**
 * Reads the XPAK metadata of a legacy binary package (`.tbz2`/`.xpak`), per man xpak.5 and lib/portage/xpak.py:
 *
 *   binpkg := <compressed tar> <xpak> <xpak length: u32be> "STOP"
 *   xpak   := "XPAKPACK" <index length: u32be> <data length: u32be> <index> <data> "XPAKSTOP"
 *   index  := { <name length: u32be> <name> <data offset: u32be> <data length: u32be> }*
 *
 * Accepts a whole package or a bare xpak segment. Anything malformed throws ARGO_XPAK_INVALID saying what.
 */

import { ArgoError } from '../errors.ts';
import { sniffCompression } from './binpkg-compression.ts';
import { decodeMetadataFile } from './decode-metadata-file.ts';

export interface XpakIndexEntry {
  readonly name: string;
  /** Offset into the data segment. */
  readonly offset: number;
  readonly length: number;
}

export interface Xpak {
  /** Metadata files by name; see decodeMetadataFile for which come back as text. */
  readonly metadata: ReadonlyMap<string, string | Uint8Array>;
  /** The index in file order. */
  readonly entries: readonly XpakIndexEntry[];
  /** Byte offset of `XPAKPACK` in the input (0 for a bare segment). */
  readonly xpakOffset: number;
  /** Length of the compressed tar before the segment (0 for a bare segment). */
  readonly tarLength: number;
  /** Compression of the tar part by magic bytes (`zstd`, `bzip2`, ...), `none` for a plain tar, undefined without one. */
  readonly tarCompression: string | undefined;
}

const XPAKPACK = 'XPAKPACK';
const XPAKSTOP = 'XPAKSTOP';
const STOP = 'STOP';
/** "XPAKPACK" + index length + data length. */
const HEADER_LENGTH = 16;
const utf8 = new TextDecoder('utf-8');

export function readXpak(bytes: Uint8Array): Xpak {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start: number;
  let end: number;
  // A bare segment ends in "XPAKSTOP"; a package ends in "<length>STOP" (even when its tar part is empty).
  if (hasText(bytes, 0, XPAKPACK) && hasText(bytes, bytes.byteLength - XPAKSTOP.length, XPAKSTOP)) {
    start = 0;
    end = bytes.byteLength;
  } else {
    // Trailer: "XPAKSTOP" <u32 xpak length> "STOP" at the very end of the file.
    if (bytes.byteLength < HEADER_LENGTH || !hasText(bytes, bytes.byteLength - 4, STOP)) {
      invalid('the file does not end with the XPAK trailer "STOP"', 'it is not a .tbz2/.xpak binary package, or it is truncated');
    }
    if (!hasText(bytes, bytes.byteLength - 16, XPAKSTOP)) invalid('the XPAK trailer has no "XPAKSTOP" before its length');
    const length = view.getUint32(bytes.byteLength - 8);
    end = bytes.byteLength - 8;
    start = end - length;
    if (length < HEADER_LENGTH + XPAKSTOP.length || start < 0) {
      invalid(`the XPAK trailer gives a segment length of ${length} bytes, which does not fit the file`);
    }
    if (!hasText(bytes, start, XPAKPACK)) invalid(`no "XPAKPACK" where the trailer says the segment starts (byte ${start})`);
  }
  if (end - start < HEADER_LENGTH + XPAKSTOP.length) invalid('the XPAK segment is shorter than its header');
  if (!hasText(bytes, end - XPAKSTOP.length, XPAKSTOP)) invalid('the XPAK segment does not end with "XPAKSTOP"');

  const indexLength = view.getUint32(start + 8);
  const dataLength = view.getUint32(start + 12);
  const indexStart = start + HEADER_LENGTH;
  const dataStart = indexStart + indexLength;
  if (dataStart + dataLength + XPAKSTOP.length !== end) {
    invalid(`the XPAK header gives index ${indexLength} + data ${dataLength} bytes, which does not match the segment length ${end - start}`);
  }

  const entries: XpakIndexEntry[] = [];
  const metadata = new Map<string, string | Uint8Array>();
  let position = indexStart;
  while (position < dataStart) {
    if (position + 4 > dataStart) invalid(`XPAK index entry ${entries.length + 1} is truncated`);
    const nameLength = view.getUint32(position);
    const nameEnd = position + 4 + nameLength;
    if (nameEnd + 8 > dataStart) invalid(`XPAK index entry ${entries.length + 1} runs past the index`);
    const name = utf8.decode(bytes.subarray(position + 4, nameEnd));
    const offset = view.getUint32(nameEnd);
    const length = view.getUint32(nameEnd + 4);
    if (offset + length > dataLength) {
      invalid(`XPAK item ${name} points past the data segment (offset ${offset}, length ${length}, data ${dataLength})`);
    }
    entries.push({ name, offset, length });
    metadata.set(name, decodeMetadataFile(name, bytes.subarray(dataStart + offset, dataStart + offset + length)));
    position = nameEnd + 8;
  }

  const tarLength = start;
  return {
    metadata,
    entries,
    xpakOffset: start,
    tarLength,
    tarCompression: tarLength === 0 ? undefined : sniffCompression(bytes.subarray(0, tarLength)),
  };
}

function hasText(bytes: Uint8Array, offset: number, text: string): boolean {
  if (offset < 0 || offset + text.length > bytes.byteLength) return false;
  for (let index = 0; index < text.length; index += 1) {
    if (bytes[offset + index] !== text.charCodeAt(index)) return false;
  }
  return true;
}

function invalid(message: string, hint = 'the package is damaged or truncated; fetch or build it again'): never {
  throw new ArgoError('ARGO_XPAK_INVALID', message, { hint });
}

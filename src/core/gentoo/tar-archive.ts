/**
 * In-memory tar reading and writing on top of tar-stream, for the GPKG container and its inner archives.
 * Every failure comes out as an ArgoError with the caller's code; tar-stream's own errors never escape.
 */

import { extract, pack, type Header } from 'tar-stream';
import { ArgoError, type ErrorCode } from '../errors.ts';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'link' | 'other';

export interface TarEntry {
  readonly name: string;
  readonly type: TarEntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  readonly size: number;
  /** Epoch seconds. */
  readonly mtime: number;
  /** Target of a symlink or hard link. */
  readonly linkname: string | undefined;
  readonly data: Uint8Array;
}

export interface TarEntryInput {
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname?: string;
  readonly gname?: string;
  readonly mtime: number;
  readonly linkname?: string;
  readonly data?: Uint8Array;
}

/** Python's tarfile pads archives to whole records of 20 blocks; Portage's GPKGs are sized that way. */
const RECORD_SIZE = 10240;

export interface ReadTarContext {
  /** What the bytes are, for messages: "the GPKG container", "GPKG member image.tar.zst". */
  readonly what: string;
  readonly code: ErrorCode;
  readonly hint: string;
}

/** Reads every entry of an uncompressed tar archive held in memory. */
export async function readTarArchive(bytes: Uint8Array, context: ReadTarContext): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const extractor = extract();
  const reading = (async () => {
    for await (const entry of extractor) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      // tar-stream leaves fields it could not decode null or undefined whatever its typings say.
      const header = entry.header as Partial<Header> & { name: string; type?: Header['type'] | null };
      entries.push({
        name: header.name,
        type: entryType(header.type),
        mode: header.mode ?? 0,
        uid: header.uid ?? 0,
        gid: header.gid ?? 0,
        uname: header.uname ?? '',
        gname: header.gname ?? '',
        size: header.size ?? 0,
        mtime: Math.floor((header.mtime?.getTime() ?? 0) / 1000),
        linkname: header.linkname ?? undefined,
        data: asPlainBytes(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)),
      });
    }
  })();
  try {
    extractor.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    await reading;
  } catch (error) {
    // Settle the reader so a second rejection cannot surface as an unhandled one.
    await reading.catch(() => undefined);
    throw new ArgoError(context.code, `${context.what} is not a readable tar archive (${errorText(error)})`, {
      hint: context.hint,
      cause: error,
    });
  }
  return entries;
}

/** Writes a ustar archive (tar-stream switches to a PAX header for names ustar cannot hold), padded to 10 KiB. */
export async function writeTarArchive(entries: readonly TarEntryInput[]): Promise<Uint8Array> {
  const packer = pack();
  const chunks: Buffer[] = [];
  const collecting = (async () => {
    for await (const chunk of packer) chunks.push(chunk as Buffer);
  })();
  for (const entry of entries) {
    const header: Partial<Header> & Pick<Header, 'name'> = {
      // Python's tarfile (and so Portage) stores directory names with a trailing slash.
      name: entry.type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name,
      type: entry.type,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      uname: entry.uname ?? '',
      gname: entry.gname ?? '',
      mtime: new Date(entry.mtime * 1000),
      size: entry.type === 'file' ? (entry.data?.byteLength ?? 0) : 0,
      ...(entry.linkname === undefined ? {} : { linkname: entry.linkname }),
    };
    const body = entry.type === 'file' ? Buffer.from(entry.data ?? new Uint8Array()) : undefined;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null): void => (error ? reject(error) : resolve());
      if (body === undefined) packer.entry(header, done);
      else packer.entry(header, body, done);
    });
  }
  packer.finalize();
  await collecting;
  const archive = Buffer.concat(chunks);
  const padded = Math.ceil(archive.byteLength / RECORD_SIZE) * RECORD_SIZE;
  const output = new Uint8Array(padded);
  output.set(archive);
  return output;
}

function entryType(type: Header['type'] | null | undefined): TarEntryType {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
    case 'symlink':
    case 'link':
      return type;
    default:
      return 'other';
  }
}

/** A plain Uint8Array view: callers compare and serialise bytes, and a Buffer subclass gets in the way. */
function asPlainBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

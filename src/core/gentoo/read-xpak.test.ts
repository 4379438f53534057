import { readFileSync } from 'node:fs';
import { zstdCompressSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isArgoError } from '../errors.ts';
import { readGpkg } from './read-gpkg.ts';
import { readXpak } from './read-xpak.ts';

// No real .tbz2/.xpak small enough to embed was found (the search index holds text files only), so packages are
// built here byte by byte from man xpak.5, independently of the reader, from the metadata of a real GPKG.

const u32 = (value: number): Uint8Array => {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
};
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
};

/** xpak := "XPAKPACK" index_len data_len index data "XPAKSTOP"; index := (name_len name offset len)* */
function buildXpak(items: readonly (readonly [string, Uint8Array])[]): Uint8Array {
  const index: Uint8Array[] = [];
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const [name, value] of items) {
    const encoded = ascii(name);
    index.push(u32(encoded.byteLength), encoded, u32(offset), u32(value.byteLength));
    data.push(value);
    offset += value.byteLength;
  }
  const indexBytes = concat(...index);
  const dataBytes = concat(...data);
  return concat(ascii('XPAKPACK'), u32(indexBytes.byteLength), u32(dataBytes.byteLength), indexBytes, dataBytes, ascii('XPAKSTOP'));
}

/** binpkg := tar xpak xpak_len "STOP" */
const buildBinpkg = (tar: Uint8Array, xpak: Uint8Array): Uint8Array => concat(tar, xpak, u32(xpak.byteLength), ascii('STOP'));

const realMetadata = async (): Promise<[string, Uint8Array][]> => {
  const gpkg = await readGpkg(new Uint8Array(readFileSync(new URL('../../../test/fixtures/gentoo/joepasss-gpkg-binhost/gpkg/which-2.23-1.gpkg.tar', import.meta.url))));
  return [...gpkg.metadata].map(([name, value]) => [name, typeof value === 'string' ? ascii(value) : value]);
};

describe('readXpak', () => {
  it('reads the metadata of a whole .xpak package and sniffs its zstd tar', async () => {
    const items = await realMetadata();
    const tar = zstdCompressSync(new Uint8Array(10240));
    const xpak = buildXpak(items);
    const result = readXpak(buildBinpkg(tar, xpak));
    expect(result.xpakOffset).toBe(tar.byteLength);
    expect(result.tarLength).toBe(tar.byteLength);
    expect(result.tarCompression).toBe('zstd');
    expect(result.entries.map((entry) => entry.name)).toEqual(items.map(([name]) => name));
    expect(result.metadata.get('CATEGORY')).toBe('sys-apps\n');
    expect(result.metadata.get('PF')).toBe('which-2.23\n');
    expect(result.metadata.get('which-2.23.ebuild')).toMatch(/^# Copyright/);
    expect(result.metadata.get('environment.bz2')).toEqual(items.find(([name]) => name === 'environment.bz2')?.[1]);
    const second = result.entries[1];
    expect(second?.offset).toBe(items[0]?.[1].byteLength);
  });

  it.each([
    ['bzip2', new Uint8Array([0x42, 0x5a, 0x68, 0x39, 0x31])],
    ['gzip', new Uint8Array([0x1f, 0x8b, 0x08, 0x00])],
    ['xz', new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00])],
    ['none', concat(new Uint8Array(257), ascii('ustar\u000000'), new Uint8Array(247))],
    ['unknown', ascii('hello')],
  ])('tells a %s tar part by its magic bytes', (compression, tar) => {
    expect(readXpak(buildBinpkg(tar, buildXpak([['SLOT', ascii('0\n')]]))).tarCompression).toBe(compression);
  });

  it('reads a bare xpak segment, an empty one and non-UTF-8 items as bytes', () => {
    const bare = readXpak(buildXpak([['USE', ascii('a b\n')], ['BLOB', new Uint8Array([0xff, 0xfe])]]));
    expect(bare).toMatchObject({ xpakOffset: 0, tarLength: 0, tarCompression: undefined });
    expect(bare.metadata.get('USE')).toBe('a b\n');
    expect(bare.metadata.get('BLOB')).toEqual(new Uint8Array([0xff, 0xfe]));
    expect(readXpak(buildBinpkg(ascii('x'), buildXpak([]))).entries).toEqual([]);
    // A package whose tar part is empty starts with XPAKPACK too, but ends in the trailer.
    const headless = readXpak(buildBinpkg(new Uint8Array(), buildXpak([['SLOT', ascii('0\n')]])));
    expect([headless.tarLength, headless.tarCompression, headless.metadata.get('SLOT')]).toEqual([0, undefined, '0\n']);
  });

  const good = buildBinpkg(ascii('TAR'), buildXpak([['CATEGORY', ascii('app-misc\n')]]));
  const patched = (offset: number, bytes: Uint8Array): Uint8Array => {
    const copy = Uint8Array.from(good);
    copy.set(bytes, offset < 0 ? copy.byteLength + offset : offset);
    return copy;
  };
  it.each([
    ['empty input', new Uint8Array(), 'the file does not end with the XPAK trailer "STOP"'],
    ['no STOP', patched(-4, ascii('SPOT')), 'the file does not end with the XPAK trailer "STOP"'],
    ['no XPAKSTOP before the length', patched(-16, ascii('XPAKSTUP')), 'the XPAK trailer has no "XPAKSTOP" before its length'],
    ['a length larger than the file', patched(-8, u32(10_000)), 'the XPAK trailer gives a segment length of 10000 bytes, which does not fit the file'],
    ['a length pointing into the tar', patched(-8, u32(good.byteLength - 8 - 2)), 'no "XPAKPACK" where the trailer says the segment starts (byte 2)'],
    ['header lengths that disagree', patched(3 + 8, u32(999)), 'the XPAK header gives index 999 + data 9 bytes, which does not match the segment length 53'],
    ['an item past the data', patched(3 + 16 + 4 + 8 + 4, u32(10)), 'XPAK item CATEGORY points past the data segment (offset 0, length 10, data 9)'],
    ['a name past the index', patched(3 + 16, u32(50)), 'XPAK index entry 1 runs past the index'],
  ])('refuses %s with ARGO_XPAK_INVALID', (_, bytes, message) => {
    expect(() => readXpak(bytes)).toThrow(expect.objectContaining({ code: 'ARGO_XPAK_INVALID', message }));
  });

  it('throws only ArgoError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          readXpak(bytes);
        } catch (error) {
          expect(isArgoError(error, 'ARGO_XPAK_INVALID')).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('throws only ArgoError on arbitrary bytes that end like a package', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 300 }), (body, length) => {
        try {
          readXpak(concat(body, ascii('XPAKSTOP'), u32(length), ascii('STOP')));
        } catch (error) {
          expect(isArgoError(error, 'ARGO_XPAK_INVALID')).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('truncating the end always fails with ArgoError; cutting the tar front keeps the metadata', async () => {
    const whole = buildBinpkg(zstdCompressSync(new Uint8Array(4096)), buildXpak(await realMetadata()));
    const expected = readXpak(whole).metadata;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: whole.byteLength - 1 }), (cut) => {
        expect(() => readXpak(whole.subarray(0, whole.byteLength - cut))).toThrow(expect.objectContaining({ code: 'ARGO_XPAK_INVALID' }));
        const start = cut % (readXpak(whole).xpakOffset + 1);
        expect(readXpak(whole.subarray(start)).metadata).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

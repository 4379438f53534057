import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isArgoError } from '../errors.ts';
import { digestMember, formatGpkgManifest, parseGpkgManifest } from './gpkg-manifest.ts';
import { writeGpkg } from './write-gpkg.ts';
import { readGpkg } from './read-gpkg.ts';
import { writeTarArchive, type TarEntryInput } from './tar-archive.ts';

const realGpkg = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../../test/fixtures/gentoo/joepasss-gpkg-binhost/gpkg/${name}.gpkg.tar`, import.meta.url)));

const REAL = [
  {
    file: 'which-2.23-1',
    category: 'sys-apps\n',
    pf: 'which-2.23\n',
    metadataFiles: 30,
    imageEntries: 16,
    sizes: [0, 13653, 21835],
    hashOrder: ['SHA512', 'BLAKE2B'],
  },
  {
    file: 'dnsmasq-0-r3-1',
    category: 'acct-group\n',
    pf: 'dnsmasq-0-r3\n',
    metadataFiles: 24,
    imageEntries: 4,
    sizes: [0, 6495, 181],
    hashOrder: ['BLAKE2B', 'SHA512'],
  },
] as const;

/** A container whose members are given as-is, for malformed packages. */
async function container(members: readonly { name: string; data?: Uint8Array | string; type?: TarEntryInput['type'] }[]): Promise<Uint8Array> {
  return writeTarArchive(
    members.map((member) => ({
      name: member.name,
      type: member.type ?? 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: 1751028430,
      data: typeof member.data === 'string' ? new TextEncoder().encode(member.data) : member.data,
    })),
  );
}

/** A well-formed GPKG built from raw member contents, with a correct Manifest. */
async function gpkgWith(members: Readonly<Record<string, Uint8Array>>, directory = 'pkg-1-1'): Promise<Uint8Array> {
  const names = Object.keys(members);
  const manifest = formatGpkgManifest(names.map((name) => ({ name, size: members[name]?.byteLength ?? 0, hashes: digestMember(members[name] ?? new Uint8Array()) })));
  return container([
    ...names.map((name) => ({ name: `${directory}/${name}`, data: members[name] })),
    { name: `${directory}/Manifest`, data: manifest },
  ]);
}

const emptyTar = (): Promise<Uint8Array> => writeTarArchive([]);

describe('readGpkg on real Portage GPKGs', () => {
  it.each(REAL)('$file: members, metadata, image and every Manifest hash', async (expected) => {
    const gpkg = await readGpkg(realGpkg(expected.file));
    expect(gpkg.name).toBe(expected.file);
    expect(gpkg.members.map((member) => [member.name, member.size, member.mode])).toEqual([
      ['gpkg-1', expected.sizes[0], 0o644],
      ['metadata.tar.zst', expected.sizes[1], 0o644],
      ['image.tar.zst', expected.sizes[2], 0o644],
      ['Manifest', expect.any(Number), 0o644],
    ]);
    expect(gpkg.metadataCompression).toBe('zst');
    expect(gpkg.metadata.size).toBe(expected.metadataFiles);
    expect(gpkg.metadata.get('CATEGORY')).toBe(expected.category);
    expect(gpkg.metadata.get('PF')).toBe(expected.pf);
    expect(gpkg.metadata.get('BUILD_ID')).toBe('1');
    expect(gpkg.metadata.get('environment.bz2')).toBeInstanceOf(Uint8Array);
    expect((gpkg.metadata.get('environment.bz2') as Uint8Array).subarray(0, 3)).toEqual(new Uint8Array([0x42, 0x5a, 0x68]));
    expect(gpkg.image).toHaveLength(expected.imageEntries);
    expect(gpkg.signatures).toEqual([]);
    expect(gpkg.manifest.signed).toBe(false);
    expect(gpkg.verification.ok).toBe(true);
    expect(gpkg.verification.missingMembers).toEqual([]);
    expect(gpkg.verification.members.map((check) => [check.member, check.hashes.map((hash) => hash.algorithm), check.ok])).toEqual([
      ['gpkg-1', expected.hashOrder, true],
      ['metadata.tar.zst', expected.hashOrder, true],
      ['image.tar.zst', expected.hashOrder, true],
    ]);
  });

  it('lists image entries with installed paths, types, owners and, on request, contents', async () => {
    const gpkg = await readGpkg(realGpkg('which-2.23-1'), { imageData: true });
    const which = gpkg.image.find((entry) => entry.path === '/usr/bin/which');
    expect(which).toMatchObject({ type: 'file', mode: 0o755, uid: 0, gid: 0, uname: 'root', gname: 'root', size: 68304 });
    expect(which?.data?.subarray(0, 4)).toEqual(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]));
    expect(gpkg.image.slice(0, 3).map((entry) => [entry.path, entry.type])).toEqual([
      ['/usr', 'directory'],
      ['/usr/bin', 'directory'],
      ['/usr/bin/which', 'file'],
    ]);
    expect((await readGpkg(realGpkg('which-2.23-1'))).image.every((entry) => entry.data === undefined)).toBe(true);
  });

  it('reports a changed byte in the image archive against its Manifest hashes, and throws when strict', async () => {
    const bytes = realGpkg('dnsmasq-0-r3-1');
    // gpkg-1 header, metadata header and padded data, image header: the 181 image bytes start here.
    const imageData = 2 * 512 + Math.ceil(6495 / 512) * 512 + 512;
    const tampered = Uint8Array.from(bytes);
    tampered[imageData + 100] = (tampered[imageData + 100] ?? 0) ^ 0xff;
    const gpkg = await readGpkg(tampered).catch((error: unknown) => error);
    // A flipped byte may also break the zstd frame; either way nothing but an ArgoError or a failed check.
    if (isArgoError(gpkg)) {
      expect(gpkg.code).toBe('ARGO_GPKG_INVALID');
    } else {
      const result = gpkg as Awaited<ReturnType<typeof readGpkg>>;
      expect(result.verification.ok).toBe(false);
      expect(result.verification.members.find((check) => !check.ok)?.member).toBe('image.tar.zst');
    }
    await expect(readGpkg(tampered, { strict: true })).rejects.toMatchObject({ code: 'ARGO_GPKG_INVALID' });
    // Reading the metadata alone still checks the image by its Manifest hash, without unpacking it.
    await expect(readGpkg(tampered, { strict: true, image: false })).rejects.toMatchObject({ code: 'ARGO_GPKG_INVALID', message: expect.stringContaining('image.tar.zst') });
  });

  it('reads the metadata alone without unpacking the image: a decompression bomb is never inflated', async () => {
    const bomb = await writeGpkg({ basename: 'bomb-1', metadata: { CATEGORY: 'app-misc\n', PF: 'bomb-1\n' }, image: [{ path: '/zeros', mode: 0o644, data: new Uint8Array(256 * 1024 ** 2) }], compression: 'zst', mtime: 1_700_000_000 });
    expect(bomb.length).toBeLessThan(1024 ** 2);
    const gpkg = await readGpkg(bomb, { strict: true, image: false, maxUnpackedBytes: 1024 ** 2 });
    expect([gpkg.metadata.get('PF'), gpkg.image]).toEqual(['bomb-1\n', []]);
    await expect(readGpkg(bomb, { maxUnpackedBytes: 1024 ** 2 })).rejects.toMatchObject({ code: expect.stringMatching(/^ARGO_/) });
  });
});

describe('readGpkg refuses malformed containers', () => {
  it.each([
    {
      name: 'no gpkg-1',
      members: [{ name: 'p/Manifest', data: '' }],
      message: 'the tar archive has no p/gpkg-1, so it is not a GPKG',
    },
    {
      name: 'no Manifest',
      members: [{ name: 'p/gpkg-1', data: '' }],
      message: 'GPKG p has no Manifest',
    },
    {
      name: 'a directory entry',
      members: [{ name: 'p', type: 'directory' as const }, { name: 'p/gpkg-1', data: '' }],
      message: 'the GPKG container holds p/, which is not a regular file',
    },
    {
      name: 'a nested member',
      members: [{ name: 'p/gpkg-1', data: '' }, { name: 'p/sub/x', data: '' }],
      message: 'the GPKG container member p/sub/x is not <directory>/<file>',
    },
    {
      name: 'two directories',
      members: [{ name: 'p/gpkg-1', data: '' }, { name: 'q/Manifest', data: '' }],
      message: 'the GPKG container mixes directories p and q',
    },
    {
      name: 'a duplicate member',
      members: [{ name: 'p/gpkg-1', data: '' }, { name: 'p/gpkg-1', data: '' }],
      message: 'the GPKG container holds p/gpkg-1 twice',
    },
  ])('$name', async ({ members, message }) => {
    await expect(readGpkg(await container(members))).rejects.toMatchObject({ code: 'ARGO_GPKG_INVALID', message });
  });

  it('names the member and the compression it cannot read', async () => {
    const bytes = await gpkgWith({ 'gpkg-1': new Uint8Array(), 'metadata.tar.xz': new Uint8Array([0xfd, 0x37]), 'image.tar.zst': new Uint8Array() });
    await expect(readGpkg(bytes)).rejects.toMatchObject({
      code: 'ARGO_COMPRESSION_UNSUPPORTED',
      message: 'GPKG member metadata.tar.xz is compressed with xz, which this build cannot read',
      details: { member: 'metadata.tar.xz', compression: 'xz' },
    });
  });

  it('reads gzip and uncompressed members, which may differ from each other', async () => {
    const metadata = await writeTarArchive([{ name: 'metadata/CATEGORY', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: new TextEncoder().encode('app-misc\n') }]);
    const bytes = await gpkgWith({ 'gpkg-1': new Uint8Array(), 'metadata.tar.gz': gzipSync(metadata), 'image.tar': await emptyTar() });
    const gpkg = await readGpkg(bytes);
    expect([gpkg.metadataCompression, gpkg.imageCompression, gpkg.metadata.get('CATEGORY'), gpkg.image]).toEqual(['gz', 'none', 'app-misc\n', []]);
    expect(gpkg.verification.ok).toBe(true);
  });

  it('refuses image entries that would land outside image/', async () => {
    const image = await writeTarArchive([{ name: 'image/../etc/shadow', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: new Uint8Array(1) }]);
    const bytes = await gpkgWith({ 'gpkg-1': new Uint8Array(), 'metadata.tar': await emptyTar(), 'image.tar': image });
    await expect(readGpkg(bytes)).rejects.toMatchObject({ code: 'ARGO_GPKG_INVALID', message: 'GPKG member image.tar holds image/../etc/shadow, outside image/' });
  });

  it('reports members missing from the Manifest and Manifest lines for absent members', async () => {
    const members = { 'gpkg-1': new Uint8Array(), 'metadata.tar': await emptyTar(), 'image.tar': await emptyTar() };
    const manifest = formatGpkgManifest([
      { name: 'gpkg-1', size: 0, hashes: digestMember(new Uint8Array()) },
      { name: 'image.tar', size: 1, hashes: new Map([['SHA512', '00']]) },
      { name: 'image.tar.sig', size: 1, hashes: new Map([['SHA512', '00']]) },
    ]);
    const bytes = await container([
      ...Object.entries(members).map(([name, data]) => ({ name: `p/${name}`, data })),
      { name: 'p/Manifest', data: manifest },
    ]);
    const { verification } = await readGpkg(bytes);
    expect(verification.ok).toBe(false);
    expect(verification.missingMembers).toEqual(['image.tar.sig']);
    expect(verification.members.map((check) => [check.member, check.listed, check.sizeMatches, check.ok])).toEqual([
      ['gpkg-1', true, true, true],
      ['metadata.tar', false, false, false],
      ['image.tar', true, false, false],
    ]);
  });

  it('keeps detached signatures intact and reads a clear-signed Manifest', async () => {
    const members: Record<string, Uint8Array> = {
      'gpkg-1': new Uint8Array(),
      'metadata.tar': await emptyTar(),
      'metadata.tar.sig': new TextEncoder().encode('-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n'),
      'image.tar': await emptyTar(),
    };
    const body = formatGpkgManifest(Object.entries(members).map(([name, data]) => ({ name, size: data.byteLength, hashes: digestMember(data) })));
    const signed = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n${body}-----BEGIN PGP SIGNATURE-----\n\nwsB\n-----END PGP SIGNATURE-----\n`;
    const bytes = await container([...Object.entries(members).map(([name, data]) => ({ name: `p/${name}`, data })), { name: 'p/Manifest', data: signed }]);
    const gpkg = await readGpkg(bytes);
    expect(gpkg.manifest.signed).toBe(true);
    expect(gpkg.signatures).toEqual([{ member: 'metadata.tar.sig', signs: 'metadata.tar', data: members['metadata.tar.sig'] }]);
    expect(gpkg.verification.ok).toBe(true);
  });
});

describe('parseGpkgManifest', () => {
  it.each([
    ['MISC x 1 SHA512 00\n', 'GPKG Manifest line 1 does not start with DATA'],
    ['DATA x 1 SHA512 00\nDATA x 1 SHA512 00\n', 'GPKG Manifest line 2 lists x twice'],
    ['DATA x big SHA512 00\n', 'GPKG Manifest line 1 has no valid size for x'],
    ['DATA x 1 SHA512\n', 'GPKG Manifest line 1 has a hash name without a value for x'],
  ])('rejects %j like Portage _load_manifest', (text, message) => {
    expect(() => parseGpkgManifest(text)).toThrow(expect.objectContaining({ code: 'ARGO_GPKG_INVALID', message }));
  });
});

describe('readGpkg properties', () => {
  it('rejects arbitrary bytes with ArgoError only', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
        const outcome = await readGpkg(bytes).catch((error: unknown) => error);
        expect(isArgoError(outcome)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it.each(REAL)('$file: every truncation gives an ArgoError or a result, never another exception', async ({ file }) => {
    const bytes = realGpkg(file);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: bytes.byteLength - 1 }), async (cut) => {
        const outcome = await readGpkg(bytes.subarray(0, cut)).catch((error: unknown) => error);
        if (outcome instanceof Error) expect(isArgoError(outcome)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('a flipped byte anywhere is an ArgoError or a failed verification, never a silent pass of the changed member', async () => {
    const bytes = realGpkg('dnsmasq-0-r3-1');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4 * 512 + 6656 - 1 }), fc.integer({ min: 1, max: 255 }), async (offset, mask) => {
        const changed = Uint8Array.from(bytes);
        changed[offset] = (changed[offset] ?? 0) ^ mask;
        const outcome = await readGpkg(changed).catch((error: unknown) => error);
        if (outcome instanceof Error) {
          expect(isArgoError(outcome)).toBe(true);
        } else {
          // Header bytes like mtime or uname do not count for the Manifest; member data does.
          const inData = offset >= 2 * 512 && offset < 2 * 512 + 6495;
          if (inData) expect((outcome as Awaited<ReturnType<typeof readGpkg>>).verification.ok).toBe(false);
        }
      }),
      { numRuns: 150 },
    );
  });
});

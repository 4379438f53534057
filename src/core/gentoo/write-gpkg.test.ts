import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { isArgoError } from '../errors.ts';
import type { MemberCompression } from './binpkg-compression.ts';
import { readGpkg } from './read-gpkg.ts';
import { readTarArchive } from './tar-archive.ts';
import { writeGpkg, type WriteGpkgInput } from './write-gpkg.ts';

const MTIME = 1751028430;
const WHICH = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);

const input = (compression: MemberCompression): WriteGpkgInput => ({
  basename: 'which-2.23-1',
  compression,
  mtime: MTIME,
  metadata: new Map<string, string | Uint8Array>([
    ['CATEGORY', 'sys-apps\n'],
    ['PF', 'which-2.23\n'],
    ['SLOT', '0\n'],
    ['USE', 'arm64 elibc_glibc kernel_linux\n'],
    ['environment.bz2', new Uint8Array([0x42, 0x5a, 0x68, 0x39])],
  ]),
  image: [
    { path: '/usr/share/doc/which-2.23/README.bz2', mode: 0o644, data: 'doc' },
    { path: '/usr/bin/which', mode: 0o755, data: WHICH },
    { path: '/usr/bin/which-alias', mode: 0o777, symlink: 'which' },
    { path: '/var/lib/which', mode: 0o750, directory: true, uid: 250, gid: 250, uname: 'portage', gname: 'portage' },
  ],
});

let scratch: string | undefined;
afterEach(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
});
const scratchDir = (): string => {
  scratch = mkdtempSync(join(tmpdir(), 'argo-gpkg-'));
  return scratch;
};

describe('writeGpkg', () => {
  it.each(['zst', 'gz', 'none'] as const)('%s: reads back with matching Manifest hashes, metadata and image', async (compression) => {
    const bytes = await writeGpkg(input(compression));
    const gpkg = await readGpkg(bytes, { imageData: true, strict: true });
    const suffix = { zst: '.zst', gz: '.gz', none: '' }[compression];
    expect(gpkg.name).toBe('which-2.23-1');
    expect(gpkg.members.map((member) => [member.name, member.mode, member.mtime])).toEqual([
      ['gpkg-1', 0o644, MTIME],
      [`metadata.tar${suffix}`, 0o644, MTIME],
      [`image.tar${suffix}`, 0o644, MTIME],
      ['Manifest', 0o644, MTIME],
    ]);
    expect(gpkg.verification.ok).toBe(true);
    expect([...gpkg.metadata.keys()]).toEqual(['CATEGORY', 'PF', 'SLOT', 'USE', 'environment.bz2']);
    expect(gpkg.metadata.get('USE')).toBe('arm64 elibc_glibc kernel_linux\n');
    expect(gpkg.metadata.get('environment.bz2')).toEqual(new Uint8Array([0x42, 0x5a, 0x68, 0x39]));
    expect(gpkg.image.map((entry) => [entry.path, entry.type, entry.mode, entry.uid, entry.linkTarget])).toEqual([
      ['/usr', 'directory', 0o755, 0, undefined],
      ['/usr/bin', 'directory', 0o755, 0, undefined],
      ['/usr/bin/which', 'file', 0o755, 0, undefined],
      ['/usr/bin/which-alias', 'symlink', 0o777, 0, 'which'],
      ['/usr/share', 'directory', 0o755, 0, undefined],
      ['/usr/share/doc', 'directory', 0o755, 0, undefined],
      ['/usr/share/doc/which-2.23', 'directory', 0o755, 0, undefined],
      ['/usr/share/doc/which-2.23/README.bz2', 'file', 0o644, 0, undefined],
      ['/var', 'directory', 0o755, 0, undefined],
      ['/var/lib', 'directory', 0o755, 0, undefined],
      ['/var/lib/which', 'directory', 0o750, 250, undefined],
    ]);
    expect(gpkg.image.find((entry) => entry.path === '/usr/bin/which')?.data).toEqual(WHICH);
  });

  it('matches the layout of real Portage GPKGs: record-padded container, Manifest lines BLAKE2B then SHA512', async () => {
    const bytes = await writeGpkg(input('zst'));
    expect(bytes.byteLength % 10240).toBe(0);
    const outer = await readTarArchive(bytes, { what: 'test', code: 'ARGO_GPKG_INVALID', hint: '' });
    expect(outer.map((entry) => [entry.name, entry.type, entry.uid, entry.gid, entry.uname])).toEqual([
      ['which-2.23-1/gpkg-1', 'file', 0, 0, ''],
      ['which-2.23-1/metadata.tar.zst', 'file', 0, 0, ''],
      ['which-2.23-1/image.tar.zst', 'file', 0, 0, ''],
      ['which-2.23-1/Manifest', 'file', 0, 0, ''],
    ]);
    const manifest = new TextDecoder().decode(outer[3]?.data);
    expect(manifest.split('\n').map((line) => line.split(' ').filter((_, index) => index === 0 || index === 1 || index === 3 || index === 5))).toEqual([
      ['DATA', 'gpkg-1', 'BLAKE2B', 'SHA512'],
      ['DATA', 'metadata.tar.zst', 'BLAKE2B', 'SHA512'],
      ['DATA', 'image.tar.zst', 'BLAKE2B', 'SHA512'],
      [''],
    ]);
    expect(manifest.split('\n')[0]).toBe(
      'DATA gpkg-1 0 BLAKE2B 786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce SHA512 cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
    );
  });

  it('lists and extracts with plain tar, gzip inner archives with tar xzf', async () => {
    const dir = scratchDir();
    writeFileSync(join(dir, 'which-2.23-1.gpkg.tar'), await writeGpkg(input('gz')));
    const listing = execFileSync('tar', ['tf', 'which-2.23-1.gpkg.tar'], { cwd: dir, encoding: 'utf8' });
    expect(listing.trim().split('\n')).toEqual([
      'which-2.23-1/gpkg-1',
      'which-2.23-1/metadata.tar.gz',
      'which-2.23-1/image.tar.gz',
      'which-2.23-1/Manifest',
    ]);
    execFileSync('tar', ['xf', 'which-2.23-1.gpkg.tar'], { cwd: dir });
    execFileSync('tar', ['xzf', 'which-2.23-1/image.tar.gz'], { cwd: dir });
    execFileSync('tar', ['xzf', 'which-2.23-1/metadata.tar.gz'], { cwd: dir });
    expect(new Uint8Array(readFileSync(join(dir, 'image/usr/bin/which')))).toEqual(WHICH);
    expect(statSync(join(dir, 'image/usr/bin/which')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dir, 'image/usr/bin/which-alias'))).toBe('which');
    expect(readFileSync(join(dir, 'metadata/CATEGORY'), 'utf8')).toBe('sys-apps\n');
    const verbose = execFileSync('tar', ['tvf', 'which-2.23-1/image.tar.gz'], { cwd: dir, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    expect(verbose.split('\n')[0]).toMatch(/^drwxr-xr-x 0\/0 +0 2025-06-27 12:47 image\/$/);
  });

  // zstd comes from scripts/setup.sh: a missing program fails this test, it never skips it.
  it('zstd inner archives decompress with the zstd program', async () => {
    const dir = scratchDir();
    writeFileSync(join(dir, 'p.gpkg.tar'), await writeGpkg(input('zst')));
    execFileSync('tar', ['xf', 'p.gpkg.tar'], { cwd: dir });
    execFileSync('zstd', ['-q', '-d', 'which-2.23-1/image.tar.zst', '-o', 'image.tar'], { cwd: dir });
    execFileSync('tar', ['xf', 'image.tar'], { cwd: dir });
    expect(new Uint8Array(readFileSync(join(dir, 'image/usr/bin/which')))).toEqual(WHICH);
  });

  it.each([
    ['a basename with a slash', { basename: 'a/b' }, 'GPKG basename "a/b" is not a directory name'],
    ['a metadata key with a slash', { metadata: { '../x': 'y' } }, 'GPKG metadata key "../x" is not a file name'],
    ['a path with ..', { image: [{ path: '/usr/../etc/x', mode: 0o644, data: '' }] }, 'GPKG image path "/usr/../etc/x" is not a clean absolute path'],
    ['a path given twice', { image: [{ path: '/a', mode: 0o644 }, { path: 'a', mode: 0o644 }] }, 'GPKG image path a is given twice'],
    ['a file with children', { image: [{ path: '/a', mode: 0o644, data: 'x' }, { path: '/a/b', mode: 0o644 }] }, 'GPKG image path /a/b lies under a, which is not a directory'],
    ['a file and a symlink at once', { image: [{ path: '/a', mode: 0o644, data: 'x', symlink: 'b' }] }, 'GPKG image path /a is given as more than one of file, symlink and directory'],
  ])('refuses %s with ARGO_INVALID_INPUT', async (_, override, message) => {
    await expect(writeGpkg({ ...input('none'), ...override })).rejects.toMatchObject({ code: 'ARGO_INVALID_INPUT', message });
  });

  it('round-trips generated packages', async () => {
    const name = fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,12}$/).filter((part) => part !== '.' && part !== '..');
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.stringMatching(/^[A-Z_]{1,10}$/), fc.string({ maxLength: 40 }), { maxKeys: 6 }),
        fc.uniqueArray(fc.tuple(name, name, fc.uint8Array({ maxLength: 300 }), fc.constantFrom(0o644, 0o755, 0o600)), {
          selector: ([directory, file]) => `${directory}/${file}`,
          maxLength: 6,
        }),
        fc.constantFrom<MemberCompression>('zst', 'gz', 'none'),
        async (metadata, files, compression) => {
          // A file name that is also used as a directory would be refused; keep the two apart.
          const directories = new Set(files.map(([directory]) => directory));
          const usable = files.filter(([, file]) => !directories.has(file));
          const image = usable.map(([directory, file, data, mode]) => ({ path: `/opt/${directory}/${file}`, mode, data }));
          const gpkg = await readGpkg(await writeGpkg({ basename: 'x-1-1', metadata, image, compression, mtime: MTIME }), {
            imageData: true,
            strict: true,
          });
          expect(Object.fromEntries(gpkg.metadata)).toEqual(metadata);
          for (const item of image) {
            const entry = gpkg.image.find((candidate) => candidate.path === item.path);
            expect(entry?.data).toEqual(item.data);
            expect(entry?.mode).toBe(item.mode);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('throws only ArgoError for arbitrary image paths', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }), async (paths) => {
        const outcome = await writeGpkg({ ...input('none'), image: paths.map((path) => ({ path, mode: 0o644, data: 'x' })) }).catch(
          (error: unknown) => error,
        );
        if (outcome instanceof Error) expect(isArgoError(outcome)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatPackagesIndex } from './format-packages-index.ts';
import { gpkgIndexEntry } from './gpkg-index-entry.ts';
import { parsePackagesIndex } from './parse-packages-index.ts';

const FILE = { path: 'app-misc/foo/foo-1.0-1.gpkg.tar', size: 10_240, md5: 'a'.repeat(32), sha1: 'b'.repeat(40), sha256: 'c'.repeat(64), mtime: 1_700_000_000, buildId: 1 };

describe('gpkgIndexEntry', () => {
  it('takes the stanza from the package metadata as Portage does: DESCRIPTION as DESC, repository as REPO, values on one line', () => {
    const metadata = new Map<string, string | Uint8Array>([
      ['CATEGORY', 'app-misc\n'],
      ['PF', 'foo-1.0\n'],
      ['SLOT', '0/1\n'],
      ['USE', 'amd64 ssl\n'],
      ['IUSE', '+ssl test\n'],
      ['RDEPEND', 'ssl? (\n\tdev-libs/openssl:0/3=\n)\n'],
      ['DESCRIPTION', 'A  foo\n'],
      ['repository', 'gentoo\n'],
      ['environment.bz2', new Uint8Array([0x42, 0x5a, 0x68])],
      ['BUILD_ID', '7\n'],
    ]);
    const { cpv, fields } = gpkgIndexEntry(metadata, FILE);
    expect(cpv).toBe('app-misc/foo-1.0');
    expect(fields).toMatchObject({ CPV: 'app-misc/foo-1.0', SLOT: '0/1', USE: 'amd64 ssl', IUSE: '+ssl test', RDEPEND: 'ssl? ( dev-libs/openssl:0/3= )', DESC: 'A foo', REPO: 'gentoo', BUILD_ID: '1', PATH: FILE.path, SIZE: '10240', MD5: FILE.md5, SHA1: FILE.sha1 });
  });

  it('refuses metadata that names no valid package, naming the file', () => {
    expect(() => gpkgIndexEntry(new Map([['CATEGORY', 'app-misc\n']]), FILE)).toThrow(expect.objectContaining({ code: 'ARGO_GPKG_INVALID', message: expect.stringContaining(FILE.path) }));
    expect(() => gpkgIndexEntry(new Map([['CATEGORY', '../etc\n'], ['PF', 'passwd-1\n']]), FILE)).toThrow(expect.objectContaining({ code: 'ARGO_GPKG_INVALID' }));
  });

  it('always gives a stanza the index writer holds and the reader reads back as written, whatever the metadata says', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 60 });
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('SLOT', 'USE', 'IUSE', 'RDEPEND', 'DEPEND', 'DESCRIPTION', 'LICENSE', 'KEYWORDS', 'EAPI', 'repository', 'CHOST'), text), (values) => {
        const metadata = new Map<string, string>([['CATEGORY', 'app-misc\n'], ['PF', 'foo-1.0\n'], ...Object.entries(values)]);
        const { fields } = gpkgIndexEntry(metadata, FILE);
        for (const value of Object.values(fields)) expect(value).not.toMatch(/[\r\n]/);
        const written = formatPackagesIndex({ header: { VERSION: '0' }, packages: [{ fields, droppedFields: {} }] });
        const read = parsePackagesIndex(written);
        expect(read.packages).toHaveLength(1);
        expect(read.packages[0]?.fields.CPV).toBe('app-misc/foo-1.0');
        expect(read.packages[0]?.fields.PATH).toBe(FILE.path);
      }),
      { numRuns: 300 },
    );
  });
});

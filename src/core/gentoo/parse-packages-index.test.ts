import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isArgoError } from '../errors.ts';
import { formatPackagesIndex, refreshPackagesIndexHeader } from './format-packages-index.ts';
import { gunzipPackagesIndex, gzipPackagesIndex } from './packages-index-gzip.ts';
import type { PackagesIndex } from './packages-index.ts';
import { parsePackagesIndex } from './parse-packages-index.ts';

const fixture = (path: string): string =>
  readFileSync(new URL(`../../../test/fixtures/gentoo/${path}`, import.meta.url), 'utf8');

const REAL_INDEXES = [
  { arch: 'amd64', entries: 83, droppedAt: 1120 },
  { arch: 'aarch64', entries: 77, droppedAt: 282 },
] as const;

describe('parsePackagesIndex on the real Portage-written binhost indexes', () => {
  it.each(REAL_INDEXES)('$arch: read then write gives the input bytes back', ({ arch, entries }) => {
    const text = fixture(`joepasss-gpkg-binhost/${arch}/Packages`);
    const index = parsePackagesIndex(text);
    expect(index.packages).toHaveLength(entries);
    expect(index.header['PACKAGES']).toBe(String(entries));
    expect(formatPackagesIndex(index)).toBe(text);
  });

  it.each(REAL_INDEXES)('$arch: the one package REPO_REVISIONS line is dropped as Portage drops it', ({ arch, droppedAt }) => {
    const text = fixture(`joepasss-gpkg-binhost/${arch}/Packages`);
    const index = parsePackagesIndex(text, { file: `${arch}/Packages` });
    expect(index.diagnostics).toEqual([
      {
        file: `${arch}/Packages`,
        line: droppedAt,
        field: 'REPO_REVISIONS',
        message: 'key not allowed in a package stanza; Portage drops it on read',
        action: 'dropped',
      },
    ]);
    const withDropped = index.packages.filter((entry) => Object.keys(entry.droppedFields).length > 0);
    expect(withDropped).toHaveLength(1);
    expect(withDropped[0]?.fields['REPO_REVISIONS']).toBeUndefined();
    const portageRewrite = formatPackagesIndex(index, { keepDroppedFields: false });
    expect(text.length - portageRewrite.length).toBe('REPO_REVISIONS: {"gentoo": "ab3ee1a3bb6ef59410d474fedcbec3fccc352955"}\n'.length);
  });

  it('applies defaults and header inheritance on read (entries without SLOT get SLOT 0, CHOST from the header)', () => {
    const index = parsePackagesIndex(fixture('joepasss-gpkg-binhost/amd64/Packages'));
    const dnsmasq = index.packages.find((entry) => entry.fields['CPV'] === 'acct-group/dnsmasq-0-r3');
    expect(dnsmasq?.fields).toMatchObject({
      SLOT: '0',
      EAPI: '8',
      BDEPEND: '',
      CHOST: 'x86_64-pc-linux-gnu',
      REPO: 'gentoo',
      MTIME: '1751028431',
      PATH: 'acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar',
      SIZE: '20480',
    });
    expect(index.packages.filter((entry) => entry.fields['SLOT'] !== '0')).toHaveLength(
      fixture('joepasss-gpkg-binhost/amd64/Packages').split('\n').filter((line) => line.startsWith('SLOT: ')).length,
    );
  });

  it('keeps unknown header keys (Portage does) and the qmerge hand-written index is not a round-trip oracle', () => {
    const text = fixture('portage-utils-tests/tests/qmerge/packages/Packages');
    const index = parsePackagesIndex(text);
    expect(index.header['SYNC']).toBe('rsync://rsync.gentoo.org/gentoo-portage');
    expect(index.packages.map((entry) => entry.fields['REPO'])).toEqual(['local', 'local']);
    expect(index.packages.map((entry) => entry.fields['DESC'])).toEqual(['my desc', 'my desc']);
    // REPO sorts last as `repository`, so Portage moves the header's REPO line; the file is hand-written.
    expect(formatPackagesIndex(index)).not.toBe(text);
  });
});

describe('parsePackagesIndex follows Portage line by line', () => {
  const header = 'VERSION: 0\nCHOST: x86_64-pc-linux-gnu\n\n';

  it.each([
    {
      name: 'strips exactly one character after the colon',
      body: 'CPV: a/b-1\nUSE:  two spaces\nIUSE:x\n',
      fields: { USE: ' two spaces', IUSE: '' },
      messages: ['no space after the colon; Portage drops the first character of the value'],
    },
    {
      name: 'ignores lines without a colon',
      body: 'CPV: a/b-1\njust words\n',
      fields: { CPV: 'a/b-1' },
      messages: ['line without a colon; Portage ignores it'],
    },
    {
      name: 'lets the last of a repeated key win',
      body: 'CPV: a/b-1\nSLOT: 1\nSLOT: 2\n',
      fields: { SLOT: '2' },
      messages: ['key repeated in one stanza; the last value is used'],
    },
    {
      name: 'reads DESCRIPTION as DESC and repository as REPO',
      body: 'CPV: a/b-1\nDESCRIPTION: long\nrepository: overlay\n',
      fields: { DESC: 'long', REPO: 'overlay' },
      messages: [],
    },
    {
      name: 'keeps a package CHOST that differs from the header',
      body: 'CPV: a/b-1\nCHOST: aarch64-unknown-linux-gnu\n',
      fields: { CHOST: 'aarch64-unknown-linux-gnu', REPO: '' },
      messages: [],
    },
  ])('$name', ({ body, fields, messages }) => {
    const index = parsePackagesIndex(header + body + '\n');
    expect(index.packages).toHaveLength(1);
    expect(index.packages[0]?.fields).toMatchObject(fields);
    expect(index.diagnostics.map((diagnostic) => diagnostic.message)).toEqual(messages);
  });

  it('skips a stanza without CPV and carries on', () => {
    const index = parsePackagesIndex(`${header}SIZE: 1\n\nCPV: a/b-1\n\n`);
    expect(index.packages.map((entry) => entry.fields['CPV'])).toEqual(['a/b-1']);
    expect(index.diagnostics).toEqual([expect.objectContaining({ line: 4, field: 'CPV', action: 'ignored' })]);
  });

  it('stops at an empty stanza like readBody, ignoring everything after it', () => {
    const index = parsePackagesIndex(`${header}CPV: a/b-1\n\n\nCPV: a/c-1\n\n`);
    expect(index.packages.map((entry) => entry.fields['CPV'])).toEqual(['a/b-1']);
    expect(index.diagnostics).toEqual([expect.objectContaining({ line: 6, action: 'ignored' })]);
  });

  it('stops at a stanza holding only keys Portage drops', () => {
    const index = parsePackagesIndex(`${header}BOGUS: 1\n\nCPV: a/c-1\n\n`);
    expect(index.packages).toEqual([]);
    expect(index.diagnostics.map((diagnostic) => diagnostic.action)).toEqual(['dropped', 'ignored']);
  });

  it.each([
    ['missing', 'CHOST: x\n\n'],
    ['newer', 'VERSION: 1\n\n'],
    ['not a number', 'VERSION: zero\n\n'],
  ])('reports a VERSION Portage would refuse (%s)', (_, head) => {
    const index = parsePackagesIndex(head);
    expect(index.diagnostics).toEqual([expect.objectContaining({ field: 'VERSION', action: 'ignored' })]);
  });

  it('reads CRLF and lone CR line ends as Python universal newlines do', () => {
    const index = parsePackagesIndex('VERSION: 0\r\n\r\nCPV: a/b-1\rSLOT: 3\r\n\r\n');
    expect(index.packages[0]?.fields).toMatchObject({ CPV: 'a/b-1', SLOT: '3' });
  });
});

describe('formatPackagesIndex', () => {
  const entry = (fields: Record<string, string>, dropped: Record<string, string> = {}) => ({ fields, droppedFields: dropped });

  it('sorts stanzas by plain string comparison of CPV, keeping the order of equal CPVs', () => {
    const index: PackagesIndex = {
      header: { VERSION: '0' },
      packages: [
        entry({ CPV: 'sys-libs/pam-1.9', BUILD_ID: '1' }),
        entry({ CPV: 'sys-libs/pam-1.10', BUILD_ID: '2' }),
        entry({ CPV: 'sys-libs/pam-1.10', BUILD_ID: '1' }),
        entry({ CPV: 'app-misc/a-1' }),
      ],
    };
    const order = [...formatPackagesIndex(index).matchAll(/^CPV: (.*)$/gm)].map((match) => match[1]);
    expect(order).toEqual(['app-misc/a-1', 'sys-libs/pam-1.10', 'sys-libs/pam-1.10', 'sys-libs/pam-1.9']);
    expect(formatPackagesIndex(index)).toContain('BUILD_ID: 2\nCPV: sys-libs/pam-1.10\n\nBUILD_ID: 1\nCPV: sys-libs/pam-1.10\n');
  });

  it('writes keys by internal name (DESC as DESCRIPTION, MTIME and REPO last) and omits defaults and inherited values', () => {
    const index: PackagesIndex = {
      header: { VERSION: '0', CHOST: 'x86_64-pc-linux-gnu', REPO: 'gentoo' },
      packages: [
        entry({
          CPV: 'a/b-1',
          REPO: 'gentoo',
          MTIME: '5',
          DESC: 'd',
          DEFINED_PHASES: 'install',
          SLOT: '0',
          EAPI: '0',
          USE: '',
          CHOST: 'x86_64-pc-linux-gnu',
          SIZE: '9',
        }),
      ],
    };
    expect(formatPackagesIndex(index)).toBe(
      'CHOST: x86_64-pc-linux-gnu\nVERSION: 0\nREPO: gentoo\n\nCPV: a/b-1\nDEFINED_PHASES: install\nDESC: d\nSIZE: 9\nMTIME: 5\n\n',
    );
  });

  it('regenerates TIMESTAMP and PACKAGES only when asked, from the given time', () => {
    const index = parsePackagesIndex(fixture('joepasss-gpkg-binhost/amd64/Packages'));
    const trimmed: PackagesIndex = { header: index.header, packages: index.packages.slice(0, 5) };
    const refreshed = refreshPackagesIndexHeader(trimmed, new Date('2026-01-02T03:04:05.900Z'));
    expect(refreshed.header).toMatchObject({ TIMESTAMP: '1767323045', PACKAGES: '5', PROFILE: 'default/linux/amd64/23.0' });
    expect(index.header['TIMESTAMP']).toBe('1751030383');
    const text = formatPackagesIndex(trimmed, { refreshHeaderAt: 1767323045 });
    expect(text).toContain('\nPACKAGES: 5\n');
    expect(text).toContain('\nTIMESTAMP: 1767323045\n');
    expect(parsePackagesIndex(text).packages).toHaveLength(5);
  });

  it.each([
    ['a line break in a value', { CPV: 'a/b-1', USE: 'x\ny' }],
    ['a colon in a key', { CPV: 'a/b-1', 'BAD:KEY': 'x' }],
    ['no CPV', { SLOT: '1' }],
  ])('refuses to write %s with ARGO_INDEX_INVALID', (_, fields) => {
    const index: PackagesIndex = { header: { VERSION: '0' }, packages: [entry(fields)] };
    expect(() => formatPackagesIndex(index)).toThrow(expect.objectContaining({ code: 'ARGO_INDEX_INVALID' }));
  });
});

describe('copying stanzas that are already canonical', () => {
  const copies = (index: PackagesIndex): PackagesIndex => ({
    header: index.header,
    packages: index.packages.map((entry) => ({ fields: { ...entry.fields }, droppedFields: { ...entry.droppedFields } })),
  });

  it('freezes entries read from a file, so a copied stanza cannot go stale', () => {
    const index = parsePackagesIndex(fixture('joepasss-gpkg-binhost/amd64/Packages'));
    expect(Object.isFrozen(index.packages[0]?.fields)).toBe(true);
    expect(() => {
      (index.packages[0]?.fields as Record<string, string>)['SIZE'] = '1';
    }).toThrow(TypeError);
  });

  it('writes a replaced entry from its fields and the others as read', () => {
    const text = fixture('joepasss-gpkg-binhost/amd64/Packages');
    const index = parsePackagesIndex(text);
    const [first, ...rest] = index.packages;
    const changed: PackagesIndex = { header: index.header, packages: [{ fields: { ...first?.fields, SIZE: '20481' }, droppedFields: {} }, ...rest] };
    const written = formatPackagesIndex(changed);
    expect(written).toBe(text.replace('SIZE: 20480\n', 'SIZE: 20481\n'));
  });

  it('does not copy stanzas once the header REPO or CHOST they were read under changes', () => {
    const index = parsePackagesIndex(fixture('joepasss-gpkg-binhost/amd64/Packages'));
    const withRepo: PackagesIndex = { header: { ...index.header, REPO: 'gentoo' }, packages: index.packages };
    const written = formatPackagesIndex(withRepo);
    expect(written.match(/^REPO: gentoo$/gm)).toHaveLength(1);
    expect(written).toBe(formatPackagesIndex({ ...copies(index), header: withRepo.header }));
  });

  it('gives the same text as writing every entry from its fields, for any text read', () => {
    const line = fc.constantFrom('CPV: a/b-1', 'CPV: a/a-2', 'SLOT: 0', 'SLOT: 2', 'EAPI: 8', 'USE: x', 'USE:', 'REPO: gentoo', 'REPO: local', 'CHOST: c', 'CHOST: d', 'MTIME: 5', 'DESC: d', 'BOGUS: 1', 'MD5:x', 'junk', '');
    const headerLine = fc.constantFrom('VERSION: 0', 'CHOST: c', 'REPO: gentoo', 'PACKAGES: 2');
    fc.assert(
      fc.property(fc.array(headerLine, { maxLength: 4 }), fc.array(line, { maxLength: 40 }), fc.boolean(), (head, body, keepDropped) => {
        const index = parsePackagesIndex([...head, '', ...body].join('\n') + '\n');
        expect(formatPackagesIndex(index, { keepDroppedFields: keepDropped })).toBe(formatPackagesIndex(copies(index), { keepDroppedFields: keepDropped }));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('Packages.gz', () => {
  it('round-trips the real index and stores the TIMESTAMP and CPython OS byte in the gzip header', () => {
    const text = fixture('joepasss-gpkg-binhost/aarch64/Packages');
    const gz = gzipPackagesIndex(text, { mtime: 1751031271 });
    expect(new DataView(gz.buffer, gz.byteOffset).getUint32(4, true)).toBe(1751031271);
    expect(gz[9]).toBe(255);
    expect(gz.byteLength).toBeLessThan(text.length / 4);
    expect(gunzipPackagesIndex(gz)).toBe(text);
  });

  it('throws ARGO_INDEX_INVALID naming the file for a truncated stream', () => {
    const gz = gzipPackagesIndex('VERSION: 0\n\n');
    expect(() => gunzipPackagesIndex(gz.subarray(0, 12), { file: 'binhost/Packages.gz' })).toThrow(
      expect.objectContaining({ code: 'ARGO_INDEX_INVALID', message: 'binhost/Packages.gz is not a complete gzip stream' }),
    );
  });
});

describe('properties', () => {
  it('never throws on arbitrary text and reports only typed diagnostics', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 400 }), (text) => {
        const index = parsePackagesIndex(text);
        for (const diagnostic of index.diagnostics) expect(typeof diagnostic.message).toBe('string');
        for (const entry of index.packages) expect(entry.fields['CPV']).toBeTruthy();
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on truncations of the real index', () => {
    const text = fixture('joepasss-gpkg-binhost/amd64/Packages');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length }), (cut) => {
        const index = parsePackagesIndex(text.slice(0, cut));
        expect(index.packages.length).toBeLessThanOrEqual(83);
      }),
      { numRuns: 200 },
    );
  });

  it('format(parse(format(x))) is format(x) for generated indexes', () => {
    const value = fc.stringMatching(/^[a-z0-9 ./_:=-]{0,20}$/);
    const packageEntry = fc.record({
      CPV: fc.stringMatching(/^[a-z]{1,4}\/[a-z]{1,4}-[0-9]{1,2}$/),
      SLOT: value,
      USE: value,
      MTIME: fc.stringMatching(/^[0-9]{1,10}$/),
      REPO: fc.constantFrom('gentoo', 'local', ''),
      DESC: value,
    });
    fc.assert(
      fc.property(fc.array(packageEntry, { maxLength: 8 }), fc.constantFrom('gentoo', undefined), (packages, repo) => {
        const index: PackagesIndex = {
          header: { VERSION: '0', ...(repo === undefined ? {} : { REPO: repo }) },
          packages: packages.map((fields) => ({ fields, droppedFields: {} })),
        };
        const once = formatPackagesIndex(index);
        expect(formatPackagesIndex(parsePackagesIndex(once))).toBe(once);
      }),
      { numRuns: 300 },
    );
  });

  it('only ever throws ArgoError from the formatter', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })), (fields) => {
        try {
          formatPackagesIndex({ header: {}, packages: [{ fields, droppedFields: {} }] });
        } catch (error) {
          expect(isArgoError(error)).toBe(true);
        }
      }),
    );
  });
});

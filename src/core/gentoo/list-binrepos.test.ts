import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { listBinrepos } from './list-binrepos.ts';
import { parseBinreposConf } from './parse-binrepos-conf.ts';

/** /usr/share/portage/config/binrepos.conf as shipped since Portage 3.0.78. */
const SHIPPED_DEFAULTS = '[DEFAULT]\nverify-signature = true\n';

/** The example of man/portage.5. */
const MAN_PAGE_EXAMPLE = `[example-binhost]
priority = 9999
sync-uri = https://example.com/binhost
verify-signature = true
#location = /var/cache/binhost/example-binhost
`;

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

describe('parseBinreposConf', () => {
  it('reads the man page example', () => {
    const conf = parseBinreposConf(MAN_PAGE_EXAMPLE, { file: '/etc/portage/binrepos.conf' });
    expect(conf.valid).toBe(true);
    expect(conf.diagnostics).toEqual([]);
    expect(conf.sections.map((section) => section.name)).toEqual(['example-binhost']);
    expect(Object.fromEntries([...(conf.sections[0]?.options ?? [])].map(([key, { value }]) => [key, value]))).toEqual({
      priority: '9999',
      'sync-uri': 'https://example.com/binhost',
      'verify-signature': 'true',
    });
  });

  it.each([
    ['colon delimiter', '[a]\nsync-uri: https://x/\n', 'sync-uri', 'https://x/'],
    ['first delimiter wins', '[a]\nfetchcommand = wget -O "${DISTDIR}/${FILE}" ${URI}:x=y\n', 'fetchcommand', 'wget -O "${DISTDIR}/${FILE}" ${URI}:x=y'],
    ['keys are lower-cased', '[a]\nSYNC-URI = https://x\n', 'sync-uri', 'https://x'],
    ['no inline comments', '[a]\nlocation = /var/cache/x # not a comment\n', 'location', '/var/cache/x # not a comment'],
    ['semicolon comment lines', '[a]\n; priority = 1\n  # indented comment\npriority = 2\n', 'priority', '2'],
    ['continuation lines', '[a]\ngetbinpkg-include = sys-apps/a\n  sys-apps/b\n\n  sys-apps/c\n\n', 'getbinpkg-include', 'sys-apps/a\nsys-apps/b\n\nsys-apps/c'],
    ['empty value', '[a]\nlocation =\n', 'location', ''],
    ['text after the closing bracket of a header', '[a] trailing\npriority = 3\n', 'priority', '3'],
  ])('%s', (_, text, key, value) => {
    const conf = parseBinreposConf(text);
    expect(conf.valid).toBe(true);
    expect(conf.sections[0]?.options.get(key)?.value).toBe(value);
  });

  it.each([
    ['text before the first section', 'sync-uri = https://x\n[a]\n', 1],
    ['a section given twice', '[a]\nsync-uri = x\n[a]\npriority = 1\n', 3],
    ['a key given twice', '[a]\nsync-uri = x\nSync-Uri = y\n', 3],
    ['a line that is neither section nor option', '[a]\nsync-uri = x\njust words\n', 3],
    ['an option without a name', '[a]\n= x\n', 2],
  ])('rejects %s like configparser', (_, text, line) => {
    const conf = parseBinreposConf(text, { file: 'bad.conf' });
    expect(conf.valid).toBe(false);
    expect(conf.diagnostics[0]).toMatchObject({ file: 'bad.conf', line, action: 'ignored' });
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const conf = parseBinreposConf(text);
        expect(conf.valid || conf.diagnostics.length > 0).toBe(true);
        listBinrepos({ confs: [conf], portageBinhost: text.slice(0, 40) });
      }),
      { numRuns: 500 },
    );
  });
});

describe('listBinrepos', () => {
  it('applies the shipped [DEFAULT], the 3.0.77+ default location and the priority', () => {
    const list = listBinrepos({
      confs: [
        parseBinreposConf(SHIPPED_DEFAULTS, { file: '/usr/share/portage/config/binrepos.conf' }),
        parseBinreposConf('[gentoobinhost]\npriority = 1\nsync-uri = https://distfiles.gentoo.org/releases/amd64/binpackages/23.0/x86-64/\n'),
      ],
    });
    expect(list.diagnostics).toEqual([]);
    expect(list.repos).toEqual([
      {
        name: 'gentoobinhost',
        fromPortageBinhost: false,
        syncUri: 'https://distfiles.gentoo.org/releases/amd64/binpackages/23.0/x86-64',
        priority: 1,
        location: '/var/cache/binhost/gentoobinhost',
        frozen: false,
        verifySignature: true,
        fetchcommand: undefined,
        resumecommand: undefined,
        getbinpkgInclude: [],
        getbinpkgExclude: [],
        openpgpKeyPackage: undefined,
      },
    ]);
  });

  it('orders repositories highest priority first, ties by name descending, unset or bad priority as 0', () => {
    const conf = parseBinreposConf(
      ['[b]', 'sync-uri = https://b', '[a]', 'sync-uri = https://a', '[high]', 'priority = 9999', 'sync-uri = https://h', '[neg]', 'priority = -5', 'sync-uri = https://n', '[odd]', 'priority = ten', 'sync-uri = https://o', ''].join('\n'),
    );
    const list = listBinrepos({ confs: [conf] });
    expect(list.repos.map((repo) => [repo.name, repo.priority])).toEqual([
      ['high', 9999],
      ['odd', undefined],
      ['b', undefined],
      ['a', undefined],
      ['neg', -5],
    ]);
  });

  it('turns PORTAGE_BINHOST into repositories, the first URI preferred, skipping URIs binrepos.conf already has', () => {
    const conf = parseBinreposConf('[mine]\npriority = 10\nsync-uri = https://mine.example/binhost/\n');
    const list = listBinrepos({
      confs: [conf],
      portageBinhost: '  https://first.example/pkgs/  https://mine.example/binhost https://second.example/pkgs ',
    });
    expect(list.repos.map((repo) => [repo.name, repo.syncUri, repo.priority, repo.fromPortageBinhost])).toEqual([
      ['mine', 'https://mine.example/binhost', 10, false],
      [md5('https://first.example/pkgs'), 'https://first.example/pkgs', 2, true],
      [md5('https://second.example/pkgs'), 'https://second.example/pkgs', 1, true],
    ]);
    // With PORTAGE_BINHOST set Portage leaves location unset.
    expect(list.repos.map((repo) => repo.location)).toEqual([undefined, undefined, undefined]);
  });

  it('merges a section split over several files, later values winning', () => {
    const list = listBinrepos({
      confs: [
        parseBinreposConf('[x]\nsync-uri = https://old\nfrozen = yes\n', { file: 'binrepos.conf/a.conf' }),
        parseBinreposConf('[x]\nsync-uri = https://new\nverify-signature = False\n', { file: 'binrepos.conf/b.conf' }),
      ],
    });
    expect(list.repos).toEqual([expect.objectContaining({ name: 'x', syncUri: 'https://new', frozen: true, verifySignature: false })]);
  });

  it('interpolates %(EPREFIX)s and %% and splits include/exclude lists', () => {
    const conf = parseBinreposConf(
      [
        '[prefix]',
        'sync-uri = https://p/100%%',
        'location = %(EPREFIX)s/var/cache/binhost/%(name)s',
        'name = prefixed',
        'getbinpkg-include = sys-apps/*  dev-lang/python:3.12',
        'getbinpkg-exclude = www-client/firefox',
        'openpgp-key-package = sec-keys/openpgp-keys-gentoo-release',
        '',
      ].join('\n'),
    );
    const [repo] = listBinrepos({ confs: [conf], eprefix: '/home/core/gentoo' }).repos;
    expect(repo).toMatchObject({
      syncUri: 'https://p/100%',
      location: '/home/core/gentoo/var/cache/binhost/prefixed',
      getbinpkgInclude: ['sys-apps/*', 'dev-lang/python:3.12'],
      getbinpkgExclude: ['www-client/firefox'],
      openpgpKeyPackage: 'sec-keys/openpgp-keys-gentoo-release',
    });
  });

  it.each([
    ['a lone %', '[x]\nsync-uri = https://x/%zz\n', 'bad % in value (use %% for a percent sign); Portage fails on this value'],
    ['an unknown reference', '[x]\nsync-uri = %(nowhere)s\n', 'value refers to an option that does not exist; Portage fails on this value'],
    ['a reference loop', '[x]\nsync-uri = %(a)s\na = %(sync-uri)s\n', 'interpolation nested too deeply; Portage fails on this value'],
    ['no sync-uri', '[x]\npriority = 1\n', 'binrepo without sync-uri; Portage skips it'],
  ])('skips a repository with %s and says why', (_, text, message) => {
    const list = listBinrepos({ confs: [parseBinreposConf(text, { file: 'x.conf' })] });
    expect(list.repos).toEqual([]);
    expect(list.diagnostics).toEqual([expect.objectContaining({ file: 'x.conf', message })]);
  });

  it('ignores every file when one has a syntax error, as Portage does, keeping PORTAGE_BINHOST', () => {
    const list = listBinrepos({
      confs: [parseBinreposConf(MAN_PAGE_EXAMPLE), parseBinreposConf('oops\n', { file: 'broken.conf' })],
      portageBinhost: 'https://fallback.example',
    });
    expect(list.repos.map((repo) => repo.syncUri)).toEqual(['https://fallback.example']);
    expect(list.diagnostics).toEqual([expect.objectContaining({ file: 'broken.conf', action: 'ignored' })]);
  });
});

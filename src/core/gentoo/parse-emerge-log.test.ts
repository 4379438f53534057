import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEmergeLog } from './parse-emerge-log.ts';

const fixture = (path: string): string => readFileSync(new URL(`../../../test/fixtures/gentoo/${path}`, import.meta.url), 'utf8');
const CLUSTERHQ = 'clusterhq-prefix/var/log/emerge.log';
const qlop = (name: string): string => fixture(`portage-utils-tests/tests/qlop/${name}.log`);

describe('parseEmergeLog on the real ClusterHQ Prefix log (2014)', () => {
  const log = parseEmergeLog(fixture(CLUSTERHQ), { file: CLUSTERHQ });

  it('pairs 649 builds, 160 restarted before completing, 28 never completed', () => {
    expect([log.builds.length, log.aborted.length, log.unfinished.length, log.diagnostics]).toEqual([649, 160, 28, []]);
  });

  it('times each build from its start to its completion, keyed by CPV and ROOT', () => {
    expect(log.builds[0]).toEqual({
      cpv: 'sys-apps/sed-4.2.1-r1',
      root: '/home/core/gentoo/',
      start: 1410877865,
      end: 1410877881,
      seconds: 16,
      line: 3,
      index: 1,
      total: 1,
      binary: false,
    });
    const gcc = log.builds.filter((build) => build.cpv === 'sys-devel/gcc-4.7.3-r1').map((build) => build.seconds);
    expect(gcc).toEqual([764, 821, 808, 853, 807, 814, 823]);
    expect(log.builds.every((build) => build.seconds >= 0 && !build.binary)).toBe(true);
  });

  it('accounts for every start exactly once', () => {
    const starts = fixture(CLUSTERHQ).split('\n').filter((line) => line.includes(':  >>> emerge (')).length;
    expect(log.builds.length + log.aborted.length + log.unfinished.length).toBe(starts);
  });
});

describe('parseEmergeLog on the portage-utils qlop fixtures', () => {
  it('aborts.log: a restarted automake and an emerge terminated mid-compile', () => {
    const log = parseEmergeLog(qlop('aborts'));
    expect(log.builds.map((build) => [build.cpv, build.seconds])).toEqual([
      ['sys-devel/automake-1.11.6', 3232],
      ['app-arch/libarchive-3.1.2-r1', 133],
      ['app-emulation/winetricks-947', 5],
      ['dev-util/cmake-2.8.9', 581],
      ['sys-devel/automake-1.9.6-r3', 1447],
      ['app-mobilephone/obexftp-0.23-r1', 22],
    ]);
    expect(log.aborted.map((attempt) => [attempt.cpv, attempt.line, attempt.start, attempt.replacedAt])).toEqual([
      ['sys-devel/automake-1.9.6-r3', 10, 1364822881, 1368795519],
    ]);
    expect(log.unfinished.map((attempt) => [attempt.cpv, attempt.line, `${attempt.index} of ${attempt.total}`])).toEqual([
      ['sys-devel/automake-1.12.6', 68, '1 of 7'],
    ]);
  });

  it('parallel.log: interleaved runs pair by CPV, and the broken "XXX completed" line completes nothing', () => {
    const log = parseEmergeLog(qlop('parallel'));
    expect(log.builds.map((build) => [build.cpv, build.seconds, `${build.index} of ${build.total}`])).toEqual([
      ['kde-frameworks/qqc2-desktop-style-5.62.0', 34, '95 of 129'],
      ['kde-apps/kqtquickcharts-19.08.1', 72, '1 of 2'],
      ['kde-apps/ktouch-19.08.1', 134, '2 of 2'],
    ]);
    expect(log.unfinished.map((attempt) => attempt.cpv)).toEqual([
      'dev-qt/qtmultimedia-5.12.5',
      'kde-frameworks/kxmlgui-5.62.0',
      'net-analyzer/wireshark-3.0.4',
    ]);
    expect(log.aborted).toEqual([]);
  });

  it('sync.log: a binary merge is told apart, and unmerge-only runs in between do not disturb gcc', () => {
    const log = parseEmergeLog(qlop('sync'));
    expect(log.builds.map((build) => [build.cpv, build.seconds, build.binary])).toEqual([
      ['dev-util/ccache-2.3', 1, true],
      ['sys-devel/gcc-config-1.3.9', 11, false],
      ['sys-devel/gcc-3.4.3-r1', 1231, false],
    ]);
    expect([log.aborted, log.unfinished, log.diagnostics]).toEqual([[], [], []]);
  });
});

describe('parseEmergeLog pairing rules', () => {
  const line = (time: number, message: string): string => `${time}:  ${message}`;
  const start = (time: number, cpv: string, counter = '1 of 1', root = '/'): string => line(time, `>>> emerge (${counter}) ${cpv} to ${root}`);
  const done = (time: number, cpv: string, counter = '1 of 1', root = '/'): string => line(time, `::: completed emerge (${counter}) ${cpv} to ${root}`);

  it.each([
    {
      name: 'a newer start for the same CPV and ROOT replaces the pending one',
      lines: [start(10, 'a/b-1'), start(20, 'a/b-1'), done(25, 'a/b-1')],
      builds: [['a/b-1', 5, false]],
      aborted: [['a/b-1', 10]],
      unfinished: [],
    },
    {
      name: 'a new "*** emerge" run does not clear pending starts',
      lines: [start(10, 'a/b-1', '1 of 2'), line(11, '*** emerge --oneshot c/d'), start(12, 'c/d-1'), done(13, 'c/d-1'), done(40, 'a/b-1', '1 of 2')],
      builds: [['c/d-1', 1, false], ['a/b-1', 30, false]],
      aborted: [],
      unfinished: [],
    },
    {
      name: 'the same CPV to two roots is two builds',
      lines: [start(1, 'a/b-1', '1 of 1', '/'), start(2, 'a/b-1', '1 of 1', '/mnt/gentoo/'), done(5, 'a/b-1', '1 of 1', '/mnt/gentoo/'), done(9, 'a/b-1')],
      builds: [['a/b-1', 3, false], ['a/b-1', 8, false]],
      aborted: [],
      unfinished: [],
    },
    {
      name: 'Fetching Binary of the same (i of n) marks a binary merge',
      lines: [start(1, 'a/b-1', '3 of 9'), line(1, '--- (3 of 9) Fetching Binary (a/b-1::/var/cache/binpkgs/a/b/b-1-2.gpkg.tar)'), done(4, 'a/b-1', '3 of 9')],
      builds: [['a/b-1', 3, true]],
      aborted: [],
      unfinished: [],
    },
    {
      name: 'a binary line of another run (other i of n) does not mark it',
      lines: [start(1, 'a/b-1', '3 of 9'), line(2, '=== (1 of 1) Merging Binary (a/b-1::/pkgs/b-1.tbz2)'), done(4, 'a/b-1', '3 of 9')],
      builds: [['a/b-1', 3, false]],
      aborted: [],
      unfinished: [],
    },
    {
      name: 'a completion without a start is ignored',
      lines: [done(4, 'a/b-1'), start(5, 'c/d-1')],
      builds: [],
      aborted: [],
      unfinished: [['c/d-1', 2]],
    },
  ])('$name', ({ lines, builds, aborted, unfinished }) => {
    const log = parseEmergeLog(lines.join('\r\n'));
    expect(log.builds.map((build) => [build.cpv, build.seconds, build.binary])).toEqual(builds);
    expect(log.aborted.map((attempt) => [attempt.cpv, attempt.start])).toEqual(aborted);
    expect(log.unfinished.map((attempt) => [attempt.cpv, attempt.line])).toEqual(unfinished);
    expect(log.diagnostics).toEqual([]);
  });

  it.each([
    ['no epoch', 'Started emerge on: Sep 20, 2019', 'line does not start with "<epoch>: "; ignored'],
    ['a non-numeric epoch', '12x4:  >>> emerge (1 of 1) a/b-1 to /', 'line does not start with "<epoch>: "; ignored'],
    ['a start without a root', '1:  >>> emerge (1 of 1) a/b-1', 'malformed ">>> emerge" line; ignored'],
    ['a completion with a bad counter', '1:  ::: completed emerge (one of 1) a/b-1 to /', 'malformed "::: completed emerge" line; ignored'],
  ])('reports %s and carries on', (_, text, message) => {
    const log = parseEmergeLog(`${text}\n2:  >>> emerge (1 of 1) z/z-1 to /\n3:  ::: completed emerge (1 of 1) z/z-1 to /\n`, { file: 'emerge.log' });
    expect(log.diagnostics).toEqual([{ file: 'emerge.log', line: 1, message, action: 'ignored' }]);
    expect(log.builds).toHaveLength(1);
  });

  it('caps diagnostics and counts the rest', () => {
    const log = parseEmergeLog('junk\n'.repeat(30), { maxDiagnostics: 5 });
    expect(log.diagnostics).toHaveLength(6);
    expect(log.diagnostics[5]?.message).toBe('25 more malformed lines ignored');
  });
});

describe('parseEmergeLog properties and speed', () => {
  const startLines = (text: string): number => {
    const log = parseEmergeLog(text);
    return log.builds.length + log.aborted.length + log.unfinished.length;
  };

  it('every start of a truncated real log ends up in exactly one of builds, aborted, unfinished', () => {
    const text = fixture(CLUSTERHQ);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length }), (cut) => {
        const part = text.slice(0, cut);
        const starts = part.split('\n').filter((entry) => /^\d+:  >>> emerge \(\d+ of \d+\) \S+ to \S+/.test(entry)).length;
        expect(startLines(part)).toBe(starts);
      }),
      { numRuns: 50 },
    );
  });

  it('never throws on arbitrary text built from log fragments', () => {
    const fragment = fc.constantFrom('1:', ' ', '  >>> emerge (', '::: completed emerge (', '1 of 2) ', 'a/b-1', ' to /', '\n', '=== (', 'Merging Binary (', '::', ')', 'x');
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 80 }), (parts) => {
        const log = parseEmergeLog(parts.join(''));
        for (const build of log.builds) expect(Number.isFinite(build.seconds)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('parses well above 10 MB/s (the benchmark holds it to 50 MB/s)', () => {
    const text = fixture(CLUSTERHQ).repeat(15);
    const started = performance.now();
    const log = parseEmergeLog(text);
    const seconds = (performance.now() - started) / 1000;
    expect(log.builds.length).toBeGreaterThan(649);
    expect(text.length / 1e6 / seconds).toBeGreaterThan(10);
  });
});

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEmergeProgressLine, type EmergeProgressEvent } from './parse-emerge-progress.ts';

const events = (name: string): EmergeProgressEvent[] =>
  readFileSync(new URL(`../../../test/fixtures/emerge-output/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .flatMap((line) => parseEmergeProgressLine(line) ?? []);

describe('parseEmergeProgressLine', () => {
  it.each([
    ['>>> Emerging (3 of 45) cat/pkg-1.0::gentoo', { kind: 'emerging', binary: false, index: 3, total: 45, cpv: 'cat/pkg-1.0', repo: 'gentoo' }],
    ['>>> Emerging binary (3 of 45) cat/pkg-1.0-1::gentoo', { kind: 'emerging', binary: true, index: 3, total: 45, cpv: 'cat/pkg-1.0-1', repo: 'gentoo' }],
    ['>>> Emerging (1 of 2) sys-libs/glibc-2.40-r11::gentoo to /mnt/gentoo/', { kind: 'emerging', binary: false, index: 1, total: 2, cpv: 'sys-libs/glibc-2.40-r11', repo: 'gentoo', root: '/mnt/gentoo/' }],
    ['>>> Emerging (1 of 1) app-portage/portage-utils-0.10', { kind: 'emerging', binary: false, index: 1, total: 1, cpv: 'app-portage/portage-utils-0.10' }],
    ['>>> Fetching binary (2 of 9) dev-lang/rust-bin-1.83.0-1::gentoo', { kind: 'fetching', binary: true, index: 2, total: 9, cpv: 'dev-lang/rust-bin-1.83.0-1', repo: 'gentoo' }],
    ['>>> Installing (3 of 45) cat/pkg-1.0::gentoo', { kind: 'installing', index: 3, total: 45, cpv: 'cat/pkg-1.0', repo: 'gentoo' }],
    ['>>> Completed (3 of 45) cat/pkg-1.0::gentoo', { kind: 'completed', index: 3, total: 45, cpv: 'cat/pkg-1.0', repo: 'gentoo' }],
    ['>>> Jobs: 3 of 45 complete, 1 running                Load avg: 2.34, 1.85, 1.60', { kind: 'jobs', completed: 3, total: 45, running: 1, failed: 0, loadAverage: [2.34, 1.85, 1.6] }],
    ['>>> Jobs: 7 of 45 complete, glibc - 1 running, 2 failed  Load avg: 12.3, 11.0, 9.8', { kind: 'jobs', completed: 7, total: 45, running: 1, failed: 2, runningPackage: 'glibc', loadAverage: [12.3, 11, 9.8] }],
    ['>>> Jobs: 2 of 2 complete Load avg: unknown', { kind: 'jobs', completed: 2, total: 2, running: 0, failed: 0 }],
    ['>>> Failed to emerge cat/pkg-1.0, Log file:', { kind: 'failed', action: 'emerge', cpv: 'cat/pkg-1.0', logFileFollows: true }],
    ['>>> Failed to emerge cat/pkg-1.0 to /mnt/gentoo/, Log file:', { kind: 'failed', action: 'emerge', cpv: 'cat/pkg-1.0', root: '/mnt/gentoo/', logFileFollows: true }],
    ['>>> Failed to fetch cat/pkg-1.0', { kind: 'failed', action: 'fetch', cpv: 'cat/pkg-1.0', logFileFollows: false }],
    [">>>  '/var/tmp/portage/cat/pkg-1.0/temp/build.log'", { kind: 'log-file', path: '/var/tmp/portage/cat/pkg-1.0/temp/build.log' }],
    [' * ERROR: cat/pkg-1.0::gentoo failed (compile phase):', { kind: 'phase-failed', cpv: 'cat/pkg-1.0', repo: 'gentoo', phase: 'compile' }],
    [' * ERROR: cat/pkg-1.0 failed (unpack phase):', { kind: 'phase-failed', cpv: 'cat/pkg-1.0', phase: 'unpack' }],
    [" * The complete build log is located at '/var/tmp/portage/cat/pkg-1.0/temp/build.log'.", { kind: 'build-log', path: '/var/tmp/portage/cat/pkg-1.0/temp/build.log' }],
    ['\u001b[32m>>>\u001b[0m Emerging (\u001b[1m1\u001b[0m of \u001b[1m2\u001b[0m) \u001b[32ma/b-1\u001b[0m::gentoo', { kind: 'emerging', index: 1, total: 2, cpv: 'a/b-1' }],
    ['\r>>> Jobs: 0 of 2 complete, 1 running   Load avg: 0.50, 0.40, 0.30\u001b[K\r>>> Jobs: 1 of 2 complete, 1 running   Load avg: 0.60, 0.40, 0.30\r\n', { kind: 'jobs', completed: 1 }],
  ])('%j', (line, expected) => {
    expect(parseEmergeProgressLine(line)).toMatchObject(expected);
  });

  it.each([
    ['>>> Verifying ebuild manifests'],
    ['>>> Unpacking source...'],
    ['Calculating dependencies... done!'],
    [' * Package:    app-editors/visual-studio-code-1.50.0'],
    [''],
  ])('ignores %j', (line) => {
    expect(parseEmergeProgressLine(line)).toBeUndefined();
  });

  it('portage#987: every Emerging has its Installing and Completed, out of order under --jobs', () => {
    const seen = events('portage-pr-987-progress.txt');
    expect(seen.map((event) => (event.kind === 'emerging' || event.kind === 'installing' || event.kind === 'completed' ? `${event.kind} ${event.index}` : event.kind))).toEqual([
      'emerging 1',
      'emerging 2',
      'emerging 3',
      'installing 2',
      'completed 2',
      'installing 1',
      'completed 1',
      'installing 3',
      'completed 3',
    ]);
  });

  it('gentoo/dotnet#482: a failure reads as emerging, failed with a log file, jobs with one failed, the die banner', () => {
    expect(events('gentoo-dotnet-issue-482-setup-failure.txt')).toEqual([
      { kind: 'emerging', binary: false, index: 1, total: 1, cpv: 'app-editors/visual-studio-code-1.50.0', repo: 'dotnet' },
      { kind: 'failed', action: 'emerge', cpv: 'app-editors/visual-studio-code-1.50.0', logFileFollows: true },
      { kind: 'log-file', path: '/var/tmp/portage/app-editors/visual-studio-code-1.50.0/temp/build.log' },
      { kind: 'jobs', completed: 0, total: 1, running: 0, failed: 1, loadAverage: [1.6, 0.93, 0.92] },
      { kind: 'phase-failed', cpv: 'app-editors/visual-studio-code-1.50.0', repo: 'dotnet', phase: 'setup' },
      { kind: 'build-log', path: '/var/tmp/portage/app-editors/visual-studio-code-1.50.0/temp/build.log' },
    ]);
  });

  it('deepin-overlay#120: the compile-phase banner comes before the Failed line', () => {
    expect(events('deepin-overlay-issue-120-compile-failure.txt').map((event) => event.kind)).toEqual(['phase-failed', 'build-log', 'failed', 'log-file']);
  });

  it('never throws on arbitrary lines', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (line) => {
        const event = parseEmergeProgressLine(`>>> ${line}`);
        if (event !== undefined) expect(typeof event.kind).toBe('string');
      }),
      { numRuns: 1000 },
    );
  });
});

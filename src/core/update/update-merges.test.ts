import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEmergeSessions, selectUpdateMerges } from './update-merges.ts';

const PREFIX_LOG = readFileSync(new URL('../../../test/fixtures/gentoo/clusterhq-prefix/var/log/emerge.log', import.meta.url), 'utf8');

/** An emerge.log as Portage's emergelog writes it (`<epoch>: <message>`, two spaces before Portage's own). */
const log = (lines: readonly [number, string][]): string => lines.map(([time, message]) => `${time}: ${message}`).join('\n') + '\n';

const UPDATE = log([
  [1000, 'Started emerge on: Nov 22, 2026 04:02:30'],
  [1000, ' *** emerge --oneshot --usepkgonly --getbinpkg =sys-libs/libxcrypt-4.4.36'],
  [1001, ' >>> emerge (1 of 1) sys-libs/libxcrypt-4.4.36 to /'],
  [1005, ' ::: completed emerge (1 of 1) sys-libs/libxcrypt-4.4.36 to /'],
  [1005, ' *** exiting successfully.'],
  [1005, ' *** terminating.'],
  [1010, 'Started emerge on: Nov 22, 2026 04:02:40'],
  [1010, ' *** emerge --update --deep --newuse --getbinpkg --color=n @world'],
  [1011, ' >>> emerge (1 of 3) app-editors/nano-8.2 to /'],
  [1015, ' ::: completed emerge (1 of 3) app-editors/nano-8.2 to /'],
  [1016, ' >>> emerge (2 of 3) app-misc/tmux-3.5a to /'],
  // argo (and this emerge) killed here: no completion, no exiting line
  [2000, 'Started emerge on: Nov 22, 2026 04:19:20'],
  [2000, ' *** emerge --oneshot app-misc/screen'],
  [2001, ' >>> emerge (1 of 1) app-misc/screen-4.9.1 to /'],
  [2009, ' ::: completed emerge (1 of 1) app-misc/screen-4.9.1 to /'],
  [2009, ' *** exiting successfully.'],
  [2009, ' *** terminating.'],
]);

describe('parseEmergeSessions', () => {
  it('reads the real 2014 Prefix log: one session per emerge run, merges completed in it', () => {
    const sessions = parseEmergeSessions(PREFIX_LOG);
    expect(sessions[0]).toMatchObject({ start: 1410877865, end: 1410877881, command: '--oneshot --nodeps --verbose sys-apps/sed', completed: ['sys-apps/sed-4.2.1-r1'], unfinished: [] });
    expect(sessions[1]).toMatchObject({ start: 1410877881, command: '--oneshot --nodeps --verbose app-shells/bash', completed: ['app-shells/bash-4.2_p45-r1'] });
    const merged = sessions.flatMap((session) => session.completed).length;
    const completedLines = PREFIX_LOG.split('\n').filter((line) => line.includes('::: completed emerge (')).length;
    expect(merged).toBeGreaterThan(600);
    expect(merged).toBeLessThanOrEqual(completedLines);
  });

  it('keeps a killed session open-ended with its cut-off merge and its last line', () => {
    const [, world, later] = parseEmergeSessions(UPDATE);
    expect(world).toEqual({ start: 1010, end: undefined, last: 1016, command: '--update --deep --newuse --getbinpkg --color=n @world', completed: ['app-editors/nano-8.2'], unfinished: ['app-misc/tmux-3.5a'] });
    expect(later).toMatchObject({ start: 2000, end: 2009, completed: ['app-misc/screen-4.9.1'] });
  });

  it('starts a session at a bare *** emerge line when the Started line is missing', () => {
    const sessions = parseEmergeSessions(log([[5, ' *** emerge a/b'], [6, ' >>> emerge (1 of 1) a/b-1 to /'], [7, ' *** emerge c/d'], [8, ' ::: completed emerge (1 of 1) c/d-2 to /']]));
    expect(sessions.map((session) => [session.command, session.completed, session.unfinished])).toEqual([
      ['a/b', [], ['a/b-1']],
      ['c/d', ['c/d-2'], []],
    ]);
  });
});

describe('selectUpdateMerges', () => {
  it.each([
    ['an interrupted update (window ends at argo\'s last log line)', { from: 999, to: 1046 }, ['sys-libs/libxcrypt-4.4.36', 'app-editors/nano-8.2'], ['app-misc/tmux-3.5a']],
    ['a later emerge run by hand is not the update\'s', { from: 999, to: 1999 }, ['sys-libs/libxcrypt-4.4.36', 'app-editors/nano-8.2'], ['app-misc/tmux-3.5a']],
    ['sessions before the pre snapshot are not the update\'s', { from: 1008, to: 1500 }, ['app-editors/nano-8.2'], ['app-misc/tmux-3.5a']],
    ['an unbounded window takes everything after the pre snapshot', { from: 999, to: Number.POSITIVE_INFINITY }, ['sys-libs/libxcrypt-4.4.36', 'app-editors/nano-8.2', 'app-misc/screen-4.9.1'], ['app-misc/tmux-3.5a']],
  ])('%s', (_, window, completed, unfinished) => {
    const merges = selectUpdateMerges(parseEmergeSessions(UPDATE), window);
    expect(merges.completed).toEqual(completed);
    expect(merges.unfinished).toEqual(unfinished);
  });

  it('counts a merge cut off in one session and completed in a later one of the same update as merged', () => {
    const text = log([[10, ' *** emerge x/y'], [11, ' >>> emerge (1 of 1) x/y-1 to /'], [20, ' *** emerge --resume'], [21, ' >>> emerge (1 of 1) x/y-1 to /'], [22, ' ::: completed emerge (1 of 1) x/y-1 to /']]);
    expect(selectUpdateMerges(parseEmergeSessions(text), { from: 0, to: 100 })).toMatchObject({ completed: ['x/y-1'], unfinished: [] });
  });
});

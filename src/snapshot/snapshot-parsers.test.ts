import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDefaultSubvolume, snapshotIdOfSubvolume } from './booted-snapshot.ts';
import { parseSnapperConfig } from './parse-snapper-config.ts';
import { isoDate, parseSnapperList } from './parse-snapper-list.ts';
import { parseSnapperStatus } from './parse-snapper-status.ts';
import { formatSnapshotInfo, parseSnapshotInfo } from './snapshot-info.ts';
import type { Snapshot } from './types.ts';
import { findUpdatePair, planRetention } from './update-pairs.ts';

const fixture = (name: string): string => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');

describe('parseSnapperList (real snapper 0.10.4 --jsonout)', () => {
  it('drops snapshot 0 and reads type, pre number, date, userdata', () => {
    expect(parseSnapperList(fixture('snapper-0.10.4-list.json'), 'root')).toEqual([
      { id: 1, kind: 'pre', preId: undefined, date: '2026-11-22T04:02:28Z', description: 'before x', cleanup: 'number', userdata: { 'argo-status': 'running', 'argo-update': 'u1' } },
      { id: 3, kind: 'post', preId: 1, date: '2026-11-22T04:02:35Z', description: 'after x', cleanup: 'number', userdata: { 'argo-update': 'u1' } },
    ]);
  });
  it.each([['not json'], ['{"other": []}'], ['{"root": [{"number": 1, "type": "weird"}]}']])('rejects %s', (text) => {
    expect(() => parseSnapperList(text, 'root')).toThrow(/snapper/);
  });
  it.each([
    ['2026-11-22 04:02:28', '2026-11-22T04:02:28Z'],
    ['', ''],
  ])('isoDate(%j) = %j', (input, output) => expect(isoDate(input)).toBe(output));
});

describe('parseSnapperStatus (real snapper 0.10.4)', () => {
  it('maps the first flag column to created/deleted/modified, sorted by path', () => {
    expect(parseSnapperStatus(fixture('snapper-0.10.4-status.txt'))).toEqual([
      { path: '/etc/hostname', status: 'modified' },
      { path: '/etc/link', status: 'created' },
      { path: '/etc/newdir', status: 'deleted' },
      { path: '/etc/newfile', status: 'modified' },
      { path: '/sub2', status: 'created' },
    ]);
  });
  it.each([
    ['t..... /bin/sh', 'modified'],
    ['.p.... /etc/shadow', 'modified'],
    ['+..... /path with spaces', 'created'],
  ])('%s', (line, status) => expect(parseSnapperStatus(line)[0]?.status).toBe(status));
  it('ignores warnings', () => expect(parseSnapperStatus('not read-only snapshots\nspecial btrfs cmpDirs failed\n')).toEqual([]));
});

describe('parseSnapperConfig', () => {
  it('reads the real template with SUBVOLUME="/"', () => {
    const values = parseSnapperConfig(fixture('snapper-0.10.4-config-root'));
    expect(values['SUBVOLUME']).toBe('/');
    expect(values['FSTYPE']).toBe('btrfs');
    expect(values['NUMBER_CLEANUP']).toBe('yes');
  });
  it.each([
    ["SUBVOLUME='/home'", '/home'],
    ['SUBVOLUME=/srv', '/srv'],
    ['  SUBVOLUME="/a \\"b\\""', '/a "b"'],
  ])('%s', (line, value) => expect(parseSnapperConfig(`# c\n${line}\n`)['SUBVOLUME']).toBe(value));
});

describe('booted snapshot', () => {
  it.each([
    ['/@/.snapshots/12/snapshot', 12],
    ['@/.snapshots/5/snapshot', 5],
    ['/.snapshots/7/snapshot/', 7],
    ['/@', undefined],
    ['/', undefined],
  ])('snapshotIdOfSubvolume(%s)', (input, id) => expect(snapshotIdOfSubvolume(input)).toBe(id));
  it.each([
    ['ID 5 (FS_TREE)\n', '/'],
    ['ID 260 gen 11 top level 256 path @/.snapshots/5/snapshot\n', '@/.snapshots/5/snapshot'],
    ['', undefined],
  ])('parseDefaultSubvolume(%j)', (input, output) => expect(parseDefaultSubvolume(input)).toBe(output));
});

const snap = (id: number, kind: Snapshot['kind'], update?: string, preId?: number): Snapshot => ({
  id,
  kind,
  preId,
  date: '',
  description: '',
  cleanup: 'number',
  userdata: update === undefined ? {} : { 'argo-update': update },
});

describe('update pairs and retention', () => {
  const snapshots = [snap(1, 'pre', 'a'), snap(2, 'post', 'a', 1), snap(3, 'single'), snap(4, 'pre', 'b'), snap(5, 'post', 'b', 4), snap(6, 'pre', 'c')];
  it('finds the pair of an update', () => {
    expect(findUpdatePair(snapshots, 'b')).toEqual({ updateId: 'b', pre: snapshots[3], post: snapshots[4] });
    expect(findUpdatePair(snapshots, 'c').post).toBeUndefined();
    expect(findUpdatePair(snapshots, 'zzz')).toEqual({ updateId: 'zzz', pre: undefined, post: undefined });
  });
  it('keeps the newest N updates, never untagged or protected snapshots', () => {
    const plan = planRetention(snapshots, { keepPairs: 1, protectedIds: new Set([2]) });
    expect(plan.keptUpdates).toEqual(['c']);
    expect(plan.delete.map((s) => s.id)).toEqual([1, 4, 5]);
    expect(plan.protected.map((s) => s.id)).toEqual([2]);
  });
  it('keepPairs 0 deletes every tagged snapshot', () => {
    expect(planRetention(snapshots, { keepPairs: 0, protectedIds: new Set() }).delete.map((s) => s.id)).toEqual([1, 2, 4, 5, 6]);
  });
});

describe('info.json', () => {
  it('round-trips', () => {
    const snapshot = { ...snap(4, 'post', 'u', 3), date: '2026-11-22T04:02:28Z', description: 'after' };
    expect(parseSnapshotInfo(formatSnapshotInfo(snapshot), 4)).toEqual(snapshot);
  });
});

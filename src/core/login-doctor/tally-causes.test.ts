import { describe, expect, it } from 'vitest';
import { checkFaillock, checkTally2, FAILLOCK_DEFAULTS, faillockSettings, judgeFaillock, parseFaillockTally, readTallylogRecord, tally2Settings } from './tally-causes.ts';

/** Records as pam_faillock writes them: source[52], reserved u16, status u16, time u64 (little-endian). */
function tally(records: { source?: string; status?: number; time: number }[]): Uint8Array {
  const bytes = new Uint8Array(records.length * 64);
  const view = new DataView(bytes.buffer);
  records.forEach((record, index) => {
    bytes.set(new TextEncoder().encode(record.source ?? 'tty1'), index * 64);
    view.setUint16(index * 64 + 54, record.status ?? 0x5, true);
    view.setBigUint64(index * 64 + 56, BigInt(record.time), true);
  });
  return bytes;
}

const NOW = 1_800_000_000;

describe('parseFaillockTally', () => {
  it('reads 64-byte records and ignores a trailing partial one', () => {
    const bytes = new Uint8Array([...tally([{ source: 'tty1', time: NOW - 5 }, { source: '10.0.0.1', status: 0x3, time: NOW }]), 1, 2, 3]);
    expect(parseFaillockTally(bytes)).toEqual([
      { source: 'tty1', status: 5, time: NOW - 5 },
      { source: '10.0.0.1', status: 3, time: NOW },
    ]);
  });
});

describe('faillockSettings', () => {
  it.each([
    [undefined, [], FAILLOCK_DEFAULTS],
    ['# comment\ndeny = 5\nunlock_time = never\neven_deny_root\n', [], { ...FAILLOCK_DEFAULTS, deny: 5, unlockTime: 0, rootUnlockTime: 0, evenDenyRoot: true }],
    ['deny = 5\n', ['deny=2', 'dir=/var/lib/faillock', 'root_unlock_time=60'], { ...FAILLOCK_DEFAULTS, deny: 2, dir: '/var/lib/faillock', rootUnlockTime: 60 }],
  ])('%j with %j', (conf, args, expected) => {
    expect(faillockSettings(conf, args)).toEqual(expected);
  });
});

describe('judgeFaillock (pam_faillock check_tally)', () => {
  it.each([
    ['three recent failures', [NOW - 30, NOW - 20, NOW - 10], FAILLOCK_DEFAULTS, false, true],
    ['two failures', [NOW - 20, NOW - 10], FAILLOCK_DEFAULTS, false, false],
    ['three failures spread over more than fail_interval', [NOW - 2000, NOW - 20, NOW - 10], FAILLOCK_DEFAULTS, false, false],
    ['a lock past unlock_time', [NOW - 700, NOW - 690, NOW - 680], FAILLOCK_DEFAULTS, false, false],
    ['unlock_time=never', [NOW - 7000, NOW - 6990, NOW - 6980], { ...FAILLOCK_DEFAULTS, unlockTime: 0 }, false, true],
    ['root without even_deny_root', [NOW - 30, NOW - 20, NOW - 10], FAILLOCK_DEFAULTS, true, false],
    ['root with even_deny_root', [NOW - 30, NOW - 20, NOW - 10], { ...FAILLOCK_DEFAULTS, evenDenyRoot: true }, true, true],
  ])('%s', (_, times, settings, isRoot, locked) => {
    expect(judgeFaillock(parseFaillockTally(tally(times.map((time) => ({ time })))), settings, NOW, isRoot).locked).toBe(locked);
  });

  it('does not count records without the VALID status bit (reset entries)', () => {
    const records = parseFaillockTally(tally([{ time: NOW - 3, status: 0 }, { time: NOW - 2, status: 0 }, { time: NOW - 1 }]));
    expect(judgeFaillock(records, FAILLOCK_DEFAULTS, NOW, false)).toMatchObject({ failures: 1, locked: false });
  });

  it.each([
    [true, true, 'blocks'],
    [true, false, 'warns'],
  ])('locked %s with pam_faillock in the stack %s → %s', (locked, inStack, severity) => {
    const state = { failures: 3, latest: NOW, locked, unlocksAt: NOW + 600 };
    expect(checkFaillock('alice', '/run/faillock/alice', state, FAILLOCK_DEFAULTS, inStack)).toMatchObject([{ id: 'faillock-tally', severity }]);
  });
});

describe('pam_tally2', () => {
  const tallylog = (uid: number, count: number, time: number): Uint8Array => {
    const bytes = new Uint8Array((uid + 1) * 64);
    const view = new DataView(bytes.buffer);
    view.setUint16(uid * 64 + 54, count, true);
    view.setBigUint64(uid * 64 + 56, BigInt(time), true);
    return bytes;
  };

  it('reads the record at uid × 64', () => {
    expect(readTallylogRecord(tallylog(1000, 4, NOW), 1000)).toMatchObject({ failCount: 4, failTime: NOW });
    expect(readTallylogRecord(tallylog(10, 4, NOW), 1000)).toBeUndefined();
  });

  it.each([
    [5, ['deny=3'], true, 'blocks'],
    [5, ['deny=3', 'unlock_time=60'], true, 'warns'],
    [5, [], true, 'warns'],
    [5, ['deny=3'], false, 'warns'],
    [2, ['deny=3'], true, undefined],
  ])('%i failures, args %j, in stack %s → %s', (count, args, inStack, severity) => {
    const record = { failCount: count, failTime: NOW - 120, line: 'tty1' };
    expect(checkTally2('alice', 1000, record, tally2Settings(args), inStack, NOW)[0]?.severity).toBe(severity);
  });
});

import { describe, expect, it } from 'vitest';
import { canaryAccess, closeCanaryEntry, openCanaryEntry } from './canary-shadow.ts';

const HASH = '$6$salt$hash';
const shadow = (canary: string) => `root:$6$r$r:19000:0:99999:7:::\n${canary}\nalice:$6$a$a:19000:0:99999:7:::\n`;

describe('closeCanaryEntry', () => {
  it.each([
    ['a fresh useradd entry', 'argo-canary:!:19000::::::'],
    ['an older argo canary, open', 'argo-canary:$6$old$old:19000:0:99999:7:::'],
    ['an entry with aging and an expiry day', 'argo-canary:!$6$old$old:19000:1:90:7:30:30000:'],
    ['an entry with fewer than nine fields', 'argo-canary:*:19000'],
  ])('locks and expires %s around the new hash, and changes no other line', (_name, line) => {
    const closed = closeCanaryEntry(shadow(line), 'argo-canary', HASH, 20500);
    expect(closed).toBe(shadow(`argo-canary:!${HASH}:20500:::::1:`));
  });

  it('keeps the reserved field', () => {
    expect(closeCanaryEntry('argo-canary:!:1::::::x', 'argo-canary', HASH, 2)).toBe(`argo-canary:!${HASH}:2:::::1:x`);
  });

  it.each([
    ['a locked hash', `!${HASH}`, 'not a locked one'],
    ['a colon', '$6$a:b', 'cannot contain'],
  ])('refuses %s as the new hash', (_name, hash, message) => {
    expect(() => closeCanaryEntry(shadow('argo-canary:!:1::::::'), 'argo-canary', hash, 2)).toThrow(message);
  });

  it('refuses a file without the canary, or with two', () => {
    expect(() => closeCanaryEntry(shadow(''), 'argo-canary', HASH, 2)).toThrow('There is no entry for argo-canary');
    expect(() => closeCanaryEntry(shadow('argo-canary:!:1::::::\nargo-canary:!:1::::::'), 'argo-canary', HASH, 2)).toThrow('has 2 entries');
  });
});

describe('openCanaryEntry', () => {
  it('unlocks and unexpires the canary only, byte for byte elsewhere', () => {
    expect(openCanaryEntry(shadow(`argo-canary:!${HASH}:20500:::::1:`), 'argo-canary')).toBe(shadow(`argo-canary:${HASH}:20500::::::`));
  });

  it('is the inverse of closing', () => {
    const text = shadow('argo-canary:!:19000::::::');
    expect(canaryAccess(openCanaryEntry(closeCanaryEntry(text, 'argo-canary', HASH, 20500), 'argo-canary'), 'argo-canary', 20500)).toBe('open');
  });

  it.each([
    ['no hash at all', 'argo-canary:!:19000:::::1:'],
    ['an empty password', 'argo-canary::19000:::::1:'],
    ['a doubly locked hash', `argo-canary:!!${HASH}:19000:::::1:`],
    ['a star-locked hash', `argo-canary:*${HASH}:19000:::::1:`],
  ])('refuses %s: there is no password to prove', (_name, line) => {
    expect(() => openCanaryEntry(shadow(line), 'argo-canary')).toThrow('holds no password hash to prove');
  });

  it('refuses a missing canary', () => {
    expect(() => openCanaryEntry(shadow('bob:!:1::::::'), 'argo-canary')).toThrow('There is no entry for argo-canary');
  });
});

describe('canaryAccess', () => {
  it.each([
    [`argo-canary:!${HASH}:20500:::::1:`, 'closed'],
    ['argo-canary:!:20500:::::1:', 'closed'],
    [`argo-canary:${HASH}:20500::::::`, 'open'],
    [`argo-canary:!${HASH}:20500::::::`, 'open'],
    [`argo-canary:${HASH}:20500:::::1:`, 'open'],
    [`argo-canary:!${HASH}:20500:::::30000:`, 'open'],
    ['argo-canary::20500:::::1:', 'open'],
    ['bob:!:1::::::', 'missing'],
  ])('%s is %s', (line, access) => {
    expect(canaryAccess(shadow(line), 'argo-canary', 20600)).toBe(access);
  });

  it('calls two entries open when either is', () => {
    expect(canaryAccess(shadow(`argo-canary:!${HASH}:1:::::1:\nargo-canary:${HASH}:1::::::`), 'argo-canary', 20600)).toBe('open');
  });
});

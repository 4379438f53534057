import { describe, expect, it } from 'vitest';
import { describeCleanup } from './start-cli.ts';

describe('the line a second Ctrl-C prints', () => {
  it.each([
    [{ phase: 'summary', step: 'write', remaining: [] }, 'still cleaning up: running summary/write; left: nothing after it'],
    [{ phase: 'verify', step: 'login', remaining: ['post-snapshot', 'report'] }, 'still cleaning up: running verify/login; left: post-snapshot, report'],
    [{ phase: 'system-state', step: undefined, remaining: ['summary'] }, 'still cleaning up: running system-state; left: summary'],
    [undefined, 'still cleaning up (unmounting, saving state); this takes seconds'],
  ] as const)('%j', (progress, line) => {
    expect(describeCleanup(progress)).toBe(line);
  });
});

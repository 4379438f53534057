import { describe, expect, it } from 'vitest';
import { deletedLibrariesIn, parseProcStat, planProcessCleanup, type ProcessInfo } from './processes.ts';

const process = (overrides: Partial<ProcessInfo>): ProcessInfo => ({ pid: 100, ppid: 1, comm: 'x', state: 'S', wchan: undefined, deletedLibraries: [], uid: 0, ...overrides });

describe('parseProcStat', () => {
  it('reads a comm with spaces and parentheses', () => {
    expect(parseProcStat('4711 (my (odd) prog) D 1 4711 4711 0 -1 4194560')).toEqual({ pid: 4711, comm: 'my (odd) prog', state: 'D', ppid: 1 });
  });
  it('refuses garbage', () => {
    expect(parseProcStat('nonsense')).toBeUndefined();
  });
});

describe('deletedLibrariesIn', () => {
  it('lists replaced shared objects once, ignoring deleted non-libraries', () => {
    const maps = [
      '7f00-7f01 r--p 00000000 fe:00 123 /usr/lib64/libX11.so.6.4.0 (deleted)',
      '7f01-7f02 r-xp 00001000 fe:00 123 /usr/lib64/libX11.so.6.4.0 (deleted)',
      '7f03-7f04 rw-s 00000000 00:05 9 /memfd:wayland-shm (deleted)',
      '7f05-7f06 r-xp 00000000 fe:00 77 /usr/lib64/libc.so.6',
    ].join('\n');
    expect(deletedLibrariesIn(maps)).toEqual(['/usr/lib64/libX11.so.6.4.0']);
  });
});

describe('planProcessCleanup', () => {
  it('kills stuck and frozen-desktop processes, reports services, protects init, sshd and our ancestry', () => {
    const plan = planProcessCleanup(
      [
        process({ pid: 1, comm: 'init', deletedLibraries: ['/lib64/libc.so.6'] }),
        process({ pid: 2, ppid: 0, comm: 'kthreadd', state: 'D' }),
        process({ pid: 50, ppid: 2, comm: 'kworker/0:1', state: 'D' }),
        process({ pid: 300, comm: 'sshd', deletedLibraries: ['/usr/lib64/libcrypt.so.1'] }),
        process({ pid: 400, comm: 'Xorg', deletedLibraries: ['/usr/lib64/libX11.so.6'] }),
        process({ pid: 401, comm: 'plasmashell', state: 'D', wchan: 'fuse_wait' }),
        process({ pid: 500, comm: 'cupsd', deletedLibraries: ['/usr/lib64/libssl.so.3'] }),
        process({ pid: 600, comm: 'bash', state: 'D' }),
        process({ pid: 700, comm: 'vim' }),
      ],
      new Set([1, 600]),
    );
    expect(plan.map((entry) => [entry.process.pid, entry.decision.action, entry.decision.reason])).toEqual([
      [1, 'report', 'protected'],
      [300, 'report', 'protected'],
      [400, 'kill', 'graphical-session-with-deleted-libraries'],
      [401, 'kill', 'uninterruptible-sleep'],
      [500, 'report', 'deleted-libraries'],
      [600, 'report', 'protected'],
    ]);
  });
});

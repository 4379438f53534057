import { describe, expect, it } from 'vitest';
import { classifyTerminal } from './terminal.ts';

const tty = (major: number, minor: number): number => (major << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);

describe('classifyTerminal', () => {
  it.each([
    ['tty2 (a virtual console)', tty(4, 2), {}, ['login', 'init'], 'virtual-console'],
    ['ttyS0 (a serial line)', tty(4, 64), {}, ['agetty'], 'serial'],
    ['pts over ssh', tty(136, 3), { SSH_CONNECTION: '10.0.0.2 5 10.0.0.1 22' }, ['bash', 'sshd', 'sshd'], 'ssh'],
    ['pts in konsole', tty(136, 1), { DISPLAY: ':0' }, ['bash', 'konsole', 'plasmashell'], 'pseudo-terminal-in-gui'],
    ['pts in a Wayland terminal', tty(136, 7), { WAYLAND_DISPLAY: 'wayland-0' }, ['zsh', 'foot'], 'pseudo-terminal-in-gui'],
    ['ssh started from a desktop terminal', tty(136, 9), { DISPLAY: ':0', SSH_CONNECTION: 'x' }, ['bash', 'sshd', 'sshd', 'ssh', 'bash', 'konsole'], 'ssh'],
    ['tmux on a console', tty(136, 2), {}, ['bash', 'tmux: server'], 'pseudo-terminal'],
    ['cron', 0, {}, ['crond'], 'none'],
  ] as const)('%s', (_name, ttyNr, env, ancestors, expected) => {
    expect(classifyTerminal({ ttyNr, env, ancestors })).toBe(expected);
  });
});

/**
 * Where a command runs from, decided from the controlling terminal's device number (tty_nr of
 * /proc/self/stat), the environment and the names of the parent processes.
 */
export type TerminalKind = 'virtual-console' | 'serial' | 'ssh' | 'pseudo-terminal-in-gui' | 'pseudo-terminal' | 'none';

const TERMINAL_EMULATORS = new Set([
  'konsole', 'gnome-terminal-', 'gnome-terminal', 'xterm', 'urxvt', 'rxvt', 'alacritty', 'kitty', 'foot', 'wezterm-gui',
  'xfce4-terminal', 'terminator', 'tilix', 'lxterminal', 'qterminal', 'st', 'yakuake', 'guake', 'terminology', 'sakura',
]);

/** Linux device numbers: major 4 minors 1–63 are virtual consoles, 64–255 serial; majors 136–143 are pts. */
function decodeTty(ttyNr: number): { major: number; minor: number } {
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  return { major, minor };
}

export function classifyTerminal(info: { ttyNr: number; env: Readonly<Record<string, string | undefined>>; ancestors: readonly string[] }): TerminalKind {
  if (info.ttyNr === 0) return 'none';
  const { major, minor } = decodeTty(info.ttyNr);
  if (major === 4 && minor >= 1 && minor < 64) return 'virtual-console';
  if (major === 4 || major === 204 || major === 188 || major === 166) return 'serial';
  const viaSsh = info.ancestors.includes('sshd') || info.env['SSH_CONNECTION'] !== undefined || info.env['SSH_TTY'] !== undefined;
  // An ssh session started from inside a desktop terminal still updates from outside the graphical session.
  const nearestSsh = info.ancestors.indexOf('sshd');
  const nearestEmulator = info.ancestors.findIndex((name) => TERMINAL_EMULATORS.has(name));
  if (viaSsh && (nearestEmulator < 0 || (nearestSsh >= 0 && nearestSsh < nearestEmulator))) return 'ssh';
  const inGui = nearestEmulator >= 0 || info.env['DISPLAY'] !== undefined || info.env['WAYLAND_DISPLAY'] !== undefined;
  return inGui ? 'pseudo-terminal-in-gui' : 'pseudo-terminal';
}

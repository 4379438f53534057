/** What process-cleanup knows of one process, read from /proc/<pid>. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** The state letter of /proc/<pid>/stat: R S D Z T t X I. */
  readonly state: string;
  /** Kernel function a sleeping process waits in (/proc/<pid>/wchan), e.g. `nfs_wait_bit_killable`. */
  readonly wchan: string | undefined;
  /** Shared libraries it maps whose file was replaced or removed (`… (deleted)` in /proc/<pid>/maps). */
  readonly deletedLibraries: readonly string[];
  readonly uid: number | undefined;
}

/** Parses /proc/<pid>/stat: `pid (comm) state ppid …`; comm may itself contain spaces and parentheses. */
export function parseProcStat(text: string): { pid: number; comm: string; state: string; ppid: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  const pid = Number(text.slice(0, open).trim());
  const ppid = Number(rest[1]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || rest[0] === undefined) return undefined;
  return { pid, comm: text.slice(open + 1, close), state: rest[0], ppid };
}

/** Shared objects in /proc/<pid>/maps whose backing file is gone: `/usr/lib64/libX11.so.6.4.0 (deleted)`. */
export function deletedLibrariesIn(maps: string): string[] {
  const found = new Set<string>();
  for (const line of maps.split('\n')) {
    if (!line.endsWith(' (deleted)')) continue;
    const start = line.indexOf('/');
    if (start < 0) continue;
    const file = line.slice(start, -' (deleted)'.length);
    if (/\.so(\.|$)/.test(file)) found.add(file);
  }
  return [...found].sort();
}

/** Processes of a graphical session: after their libraries were replaced under them they are what hangs. */
export const GRAPHICAL_PROCESSES: readonly string[] = [
  'Xorg', 'X', 'Xwayland', 'kwin_x11', 'kwin_wayland', 'plasmashell', 'ksmserver', 'kded5', 'kded6', 'gnome-shell',
  'mutter', 'sway', 'Hyprland', 'weston', 'xfwm4', 'xfce4-session', 'lxqt-session', 'openbox', 'i3', 'sddm-greeter',
  'sddm', 'gdm', 'lightdm', 'xdm', 'startplasma-x11', 'startplasma-wayland',
];

/**
 * Processes that must never be killed by a cleanup, whatever they map: init, kernel threads, our own
 * ancestry (the shell the admin typed into), and what keeps the admin connected or able to log in.
 */
const PROTECTED_COMMANDS = new Set(['init', 'systemd', 'openrc-init', 'runit', 's6-svscan', 'sshd', 'agetty', 'getty', 'login', 'mingetty', 'udevd', 'systemd-udevd', 'systemd-journal', 'dbus-daemon', 'elogind', 'syslog-ng', 'rsyslogd', 'metalog']);

export type CleanupDecision =
  | { readonly action: 'kill'; readonly reason: 'uninterruptible-sleep' | 'graphical-session-with-deleted-libraries' }
  | { readonly action: 'report'; readonly reason: 'deleted-libraries' | 'protected' };

export interface CleanupPlanEntry {
  readonly process: ProcessInfo;
  readonly decision: CleanupDecision;
}

/**
 * Which processes to stop and which only to report. Killed: processes stuck in D state, and graphical-session
 * processes still running on replaced libraries (the frozen desktop). Reported only: services on deleted
 * libraries (they need a restart by their service manager, not a kill) and anything protected.
 */
export function planProcessCleanup(processes: readonly ProcessInfo[], protectedPids: ReadonlySet<number>): CleanupPlanEntry[] {
  const plan: CleanupPlanEntry[] = [];
  for (const process of processes) {
    const isKernelThread = process.pid === 2 || process.ppid === 2;
    const stuck = process.state === 'D';
    const onDeletedLibraries = process.deletedLibraries.length > 0;
    if (!stuck && !onDeletedLibraries) continue;
    if (isKernelThread) continue;
    if (process.pid === 1 || protectedPids.has(process.pid) || PROTECTED_COMMANDS.has(process.comm)) {
      plan.push({ process, decision: { action: 'report', reason: 'protected' } });
    } else if (stuck) {
      plan.push({ process, decision: { action: 'kill', reason: 'uninterruptible-sleep' } });
    } else if (GRAPHICAL_PROCESSES.includes(process.comm)) {
      plan.push({ process, decision: { action: 'kill', reason: 'graphical-session-with-deleted-libraries' } });
    } else {
      plan.push({ process, decision: { action: 'report', reason: 'deleted-libraries' } });
    }
  }
  return plan;
}

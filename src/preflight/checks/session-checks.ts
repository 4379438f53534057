import { GRAPHICAL_PROCESSES } from '../../core/system-state/processes.ts';
import { classifyTerminal } from '../../core/system-state/terminal.ts';
import type { Check } from '../types.ts';

/** Console, serial line or ssh: the update's terminal must survive the desktop going away. */
export const consoleCheck: Check = {
  id: 'console',
  budgetMs: 5_000,
  async run({ terminal }) {
    const kind = classifyTerminal(terminal);
    const details = { kind, ttyNr: terminal.ttyNr, ancestors: terminal.ancestors.slice(0, 8) };
    switch (kind) {
      case 'virtual-console':
        return { status: 'pass', summary: 'running on a virtual console', details };
      case 'serial':
        return { status: 'pass', summary: 'running on a serial console', details };
      case 'ssh':
        return { status: 'pass', summary: 'running over ssh', details };
      case 'none':
        return { status: 'pass', summary: 'no controlling terminal (a script, cron or ssh without a tty)', details };
      case 'pseudo-terminal':
        return { status: 'warn', summary: 'running in a pseudo-terminal outside a graphical session (screen/tmux?)', details, advice: 'Prefer a virtual console (Ctrl-Alt-F2) for a large update.' };
      case 'pseudo-terminal-in-gui':
        return {
          status: 'fail',
          summary: 'running in a terminal inside the graphical session: the update would replace the libraries under it',
          details,
          advice: 'Log out of the desktop, switch to a text console (Ctrl-Alt-F2), log in as root and run the update there.',
        };
    }
  },
};

/** No display manager and no X/Wayland session running while libraries are replaced. */
export const guiSessionCheck: Check = {
  id: 'gui-session',
  budgetMs: 15_000,
  async run({ system, processes }) {
    if (system.isForeignRoot) {
      return { status: 'skip', summary: "the target's processes are not running (--root is not /)", details: {} };
    }
    const graphical = (await processes.list()).filter((process) => GRAPHICAL_PROCESSES.includes(process.comm) && process.state !== 'Z');
    const started = (await system.target.lstat('/run/openrc/started/display-manager').catch(() => undefined)) !== undefined;
    const details = { displayManagerStarted: started, processes: graphical.map((process) => ({ pid: process.pid, comm: process.comm })) };
    if (started || graphical.length > 0) {
      const names = [...new Set(graphical.map((process) => process.comm))];
      return {
        status: 'fail',
        summary: `a graphical session is running (${[started ? 'display-manager service started' : undefined, ...names].filter(Boolean).join(', ')})`,
        details,
        advice: 'From a text console: take the snapshot, then rc-service display-manager stop (or run with --snapshot --stop-gui).',
      };
    }
    return { status: 'pass', summary: 'no display manager or graphical session running', details };
  },
};

/**
 * Runs the monitor on a terminal until the operator quits (q, Ctrl-C) or `signal` aborts. Ink puts the terminal
 * in raw mode on the alternate screen and gives both back when it unmounts, which happens on every way out,
 * an error included.
 */

import { render } from 'ink';
import { MonitorApp } from './monitor-app.tsx';
import type { FeedTiming, MonitorClient } from './monitor-feed.ts';
import type { MonitorTheme } from './monitor-theme.ts';

export interface StartMonitorOptions {
  readonly client: MonitorClient;
  readonly theme: MonitorTheme;
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly signal: AbortSignal;
  readonly timing?: FeedTiming;
}

export async function runMonitor(options: StartMonitorOptions): Promise<void> {
  const instance = render(<MonitorApp client={options.client} theme={options.theme} {...(options.timing === undefined ? {} : { timing: options.timing })} />, {
    stdin: options.stdin,
    stdout: options.stdout,
    stderr: options.stderr,
    alternateScreen: true,
    exitOnCtrlC: false,
    patchConsole: true,
    interactive: true,
  });
  const stop = (): void => instance.unmount();
  options.signal.addEventListener('abort', stop, { once: true });
  try {
    await instance.waitUntilExit();
  } finally {
    options.signal.removeEventListener('abort', stop);
    instance.unmount();
    if (options.stdin.isTTY && options.stdin.isRaw) options.stdin.setRawMode(false);
  }
}

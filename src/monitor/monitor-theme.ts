/**
 * How the monitor draws: colour or none (NO_COLOR, TERM=dumb, not a terminal), Unicode or ASCII box drawing
 * (the Linux console and dumb terminals get `+-|`). Every state is also written as a word, so nothing is told
 * by colour alone.
 */

import { consoleStyleFor } from '../logging/console-renderer.ts';

export interface MonitorTheme {
  readonly colour: boolean;
  readonly ascii: boolean;
}

export function monitorTheme(stdout: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>, ascii?: boolean): MonitorTheme {
  const style = consoleStyleFor(stdout, env);
  const term = env['TERM'] ?? '';
  return { colour: style.colour, ascii: ascii ?? (!style.unicode || term === 'linux' || term === 'dumb' || term === '') };
}

export type Tone = 'good' | 'bad' | 'warn' | 'busy' | 'dim' | 'accent';

const COLOURS: Readonly<Record<Tone, string>> = { good: 'green', bad: 'red', warn: 'yellow', busy: 'cyan', dim: 'gray', accent: 'cyan' };

/** The props that colour a `<Text>` in this theme: none at all without colour. */
export function tone(theme: MonitorTheme, which: Tone | undefined): { color?: string } {
  return theme.colour && which !== undefined ? { color: COLOURS[which] } : {};
}

export function stateTone(state: string): Tone | undefined {
  switch (state) {
    case 'building':
      return 'busy';
    case 'built':
    case 'ready':
    case 'ok':
      return 'good';
    case 'failed':
    case 'offline':
    case 'timeout':
      return 'bad';
    case 'grounded':
    case 'retrying':
    case 'blocked':
      return 'warn';
    default:
      return undefined;
  }
}

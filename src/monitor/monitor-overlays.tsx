/** What replaces the panes for a while: a package's live build output (`l`) and the help (`?`). */

import { Box, Text } from 'ink';
import { fit } from './monitor-format.ts';
import type { LogView } from './monitor-model.ts';
import { stateTone, tone, type MonitorTheme } from './monitor-theme.ts';

interface OverlayProps {
  readonly theme: MonitorTheme;
  readonly width: number;
  /** Rows it has in all, border included. */
  readonly height: number;
}

function Frame({ theme, width, height, title, children }: OverlayProps & { readonly title: string; readonly children: React.ReactNode }) {
  return (
    <Box flexDirection="column" width={width} height={height} borderStyle={theme.ascii ? 'classic' : 'single'} {...(theme.colour ? { borderColor: 'cyan' } : {})} paddingX={1} flexShrink={0}>
      <Text wrap="truncate" {...(theme.colour ? { bold: true } : {})}>
        {fit(title, width - 4)}
      </Text>
      {children}
    </Box>
  );
}

/** The newest lines that fit (or older ones when scrolled back), then how the attempt ended. */
export function LogOverlay({ log, theme, width, height }: OverlayProps & { readonly log: LogView }) {
  const inner = width - 4;
  const rows = Math.max(1, height - 3);
  const trailer: { text: string; state?: string }[] = [];
  if (log.error !== undefined) trailer.push({ text: `Could not read the output: ${log.error}`, state: 'failed' });
  else if (log.ended !== undefined) trailer.push({ text: `-- the attempt is over: ${log.ended} --`, state: log.ended });
  else if (log.lines.length === 0) trailer.push({ text: '(waiting for output)' });
  const room = Math.max(0, rows - trailer.length);
  const end = log.lines.length - log.scroll;
  const shown = log.lines.slice(Math.max(0, end - room), end);
  const where = [`cycle ${log.cycle}`, ...(log.attempt === undefined ? [] : [`attempt ${log.attempt}`]), ...(log.drone === undefined ? [] : [`on ${log.drone}`])].join(', ');
  const position = log.scroll === 0 ? '' : `  (${log.scroll} lines back; End follows)`;
  return (
    <Frame theme={theme} width={width} height={height} title={`Log of ${log.cpv} (${where})${position}  Esc closes`}>
      {shown.map((line, index) => (
        <Text key={`${end - shown.length + index}`} wrap="truncate">
          {fit(line, inner)}
        </Text>
      ))}
      {log.scroll === 0
        ? trailer.map((line) => (
            <Text key={line.text} wrap="truncate" {...tone(theme, line.state === undefined ? 'dim' : stateTone(line.state))}>
              {fit(line.text, inner)}
            </Text>
          ))
        : null}
    </Frame>
  );
}

const HELP: readonly string[] = [
  'Tab, Shift-Tab, Left, Right   move between the panes (drones, queue, failures)',
  'Up, Down (j, k), PgUp, PgDn   move within the pane; Home, End: first, last',
  'l or Enter                    live build output of the selected package',
  'Esc                           close the output or this help',
  '?                             this help',
  'q or Ctrl-C                   quit (the swarm goes on; the monitor only reads)',
  '',
  'Drones: state, what it builds, progress against the time the build is',
  '  expected to take on that drone, and how long it has been at it.',
  'Cycle: packages finished, elapsed time, ETA, and makespan/lower bound:',
  '  1.00 is the best any schedule can do on these drones; 1.20 is 20% slower.',
  'The selected pane is shown as [Name]; the selected row starts with >.',
];

export function HelpOverlay({ theme, width, height }: OverlayProps) {
  const inner = width - 4;
  return (
    <Frame theme={theme} width={width} height={height} title="Help  (Esc or ? closes)">
      {HELP.slice(0, Math.max(0, height - 3)).map((line, index) => (
        <Text key={index} wrap="truncate">
          {fit(line, inner)}
        </Text>
      ))}
    </Frame>
  );
}

/**
 * The monitor's screen: a header, the cycle's progress, the three panes (or the log or help), a status line
 * saying whether the gateway answers, and the keys. It fills the terminal exactly and follows its size.
 */

import { Box, Text, useApp, useInput, useWindowSize } from 'ink';
import { useEffect, useReducer, useState } from 'react';
import { clockTime, fit, fitRight, formatDuration, percent, progressBar } from './monitor-format.ts';
import { followOutput, startMonitorFeed, type FeedTiming, type MonitorClient } from './monitor-feed.ts';
import {
  currentCycle,
  cycleSummary,
  droneRows,
  failureRows,
  INITIAL_STATE,
  keyCommand,
  monitorReducer,
  queueRows,
  queueSummary,
  selectedLogTarget,
  type MonitorState,
} from './monitor-model.ts';
import { HelpOverlay, LogOverlay } from './monitor-overlays.tsx';
import { DronesPane, FailuresPane, QueuePane } from './monitor-panes.tsx';
import { tone, type MonitorTheme } from './monitor-theme.ts';

export interface MonitorAppProps {
  readonly client: MonitorClient;
  readonly theme: MonitorTheme;
  readonly timing?: FeedTiming;
  /** The local clock (epoch ms); the gateway's is derived from each status. */
  readonly clock?: () => number;
  /** How often the progress bars and the clock move without news (default 1 s). */
  readonly tickMs?: number;
}

/** Rows of the header, the cycle lines, the status line and the keys line. */
const CHROME_ROWS = 5;
/** Per pane: its border and its title line. */
const PANE_CHROME = 3;

export function MonitorApp({ client, theme, timing, clock = Date.now, tickMs = 1000 }: MonitorAppProps) {
  const [state, dispatch] = useReducer(monitorReducer, INITIAL_STATE);
  const [localNow, setLocalNow] = useState(clock);
  const { columns, rows } = useWindowSize();
  const { exit } = useApp();

  useEffect(() => {
    const controller = new AbortController();
    startMonitorFeed(client, dispatch, controller.signal, { clock, ...timing });
    return () => controller.abort();
  }, [client, timing, clock]);

  useEffect(() => {
    const timer = setInterval(() => setLocalNow(clock()), tickMs);
    return () => clearInterval(timer);
  }, [clock, tickMs]);

  const log = state.overlay === 'log' ? state.log : undefined;
  const logKey = log === undefined ? undefined : `${log.cycle} ${log.cpv} ${log.attempt ?? ''}`;
  useEffect(() => {
    if (log === undefined) return undefined;
    const controller = new AbortController();
    void followOutput(client, log, dispatch, controller.signal);
    return () => controller.abort();
    // One stream per opened target, whatever lines arrive meanwhile.
  }, [client, logKey]);

  const width = Math.max(30, columns);
  const height = Math.max(10, rows);
  const body = height - CHROME_ROWS;
  const paneRows = allocateRows(body - 3 * PANE_CHROME, [state.status?.drones.length ?? 0, failureRows(currentCycle(state.status)).length, queueRows(currentCycle(state.status)).length]);

  useInput((input, key) => {
    const command = keyCommand(input, key, Math.max(1, state.overlay === 'log' ? body - 3 : (paneRows[0] ?? 1)));
    if (command === undefined) return;
    if (command.type === 'quit') exit();
    else if (command.type === 'log') {
      if (state.overlay !== 'none') return;
      const target = selectedLogTarget(state);
      if (target !== undefined) dispatch({ type: 'log-open', target });
      else dispatch({ type: 'note', message: state.focus === 'drones' ? 'This drone builds nothing now: no output to show.' : 'This package has not started: no output to show yet.' });
    } else dispatch(command);
  });

  const now = localNow + state.clockOffset;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Header state={state} theme={theme} width={width} now={now} url={client.url} />
      <CycleLines state={state} theme={theme} width={width} secondsSinceRead={(localNow - state.receivedAt) / 1000} />
      {body - 3 * PANE_CHROME < 3 && state.overlay === 'none' ? (
        <Box height={body}>
          <Text wrap="truncate">{fit(`The terminal is too small: ${columns}x${rows}; the monitor needs ${CHROME_ROWS + 3 * PANE_CHROME + 3} rows.`, width)}</Text>
        </Box>
      ) : state.overlay === 'log' && log !== undefined ? (
        <LogOverlay log={log} theme={theme} width={width} height={body} />
      ) : state.overlay === 'help' ? (
        <HelpOverlay theme={theme} width={width} height={body} />
      ) : (
        <Panes state={state} theme={theme} width={width} rows={paneRows} now={now} />
      )}
      <StatusLine state={state} theme={theme} width={width} />
      <Text wrap="truncate" {...tone(theme, 'dim')}>
        {fit(state.overlay === 'log' ? 'Up/Down: scroll  End: follow  Esc: close  q: quit' : 'Tab/Left/Right: pane  Up/Down: select  l: log  ?: help  q: quit', width)}
      </Text>
    </Box>
  );
}

function Panes({ state, theme, width, rows, now }: { state: MonitorState; theme: MonitorTheme; width: number; rows: readonly number[]; now: number }) {
  const cycle = currentCycle(state.status);
  const idleNote = state.status === undefined ? 'Waiting for the gateway.' : 'No drone has registered (start one: build-swarm drone).';
  return (
    <Box flexDirection="column">
      <DronesPane items={droneRows(state.status, now)} selected={state.selected.drones} focused={state.focus === 'drones'} theme={theme} width={width} rows={rows[0] ?? 1} idleNote={idleNote} />
      <QueuePane items={queueRows(cycle)} summary={queueSummary(cycle)} selected={state.selected.queue} focused={state.focus === 'queue'} theme={theme} width={width} rows={rows[2] ?? 1} />
      <FailuresPane items={failureRows(cycle)} selected={state.selected.failures} focused={state.focus === 'failures'} theme={theme} width={width} rows={rows[1] ?? 1} />
    </Box>
  );
}

function Header({ state, theme, width, now, url }: { state: MonitorState; theme: MonitorTheme; width: number; now: number; url: string }) {
  const leader = state.status?.leader;
  const left = `build-swarm monitor  ${url}  ${leader === undefined ? (state.status === undefined ? '' : 'no leader') : `leader ${leader.id}`}`;
  const right = state.status === undefined ? '' : clockTime(now);
  return (
    <Text wrap="truncate" {...(theme.colour ? { bold: true } : {})}>
      {fit(left, width - right.length - 1)} {right}
    </Text>
  );
}

function CycleLines({ state, theme, width, secondsSinceRead }: { state: MonitorState; theme: MonitorTheme; width: number; secondsSinceRead: number }) {
  const summary = cycleSummary(currentCycle(state.status), secondsSinceRead);
  if (summary === undefined) {
    const note = state.status === undefined ? '' : 'No cycle yet: build-swarm fresh --profile PROFILE starts one.';
    return (
      <Box flexDirection="column" height={2}>
        <Text wrap="truncate">{fit(note, width)}</Text>
        <Text> </Text>
      </Box>
    );
  }
  const first = `Cycle ${summary.id} (${summary.profile}) ${summary.status}  built ${summary.built}/${summary.total}  building ${summary.building}  failed ${summary.failed}  blocked ${summary.blocked}`;
  const figures = summary.status === 'running' ? `elapsed ${formatDuration(summary.elapsed)}  ETA ${formatDuration(summary.eta)}` : `took ${formatDuration(summary.elapsed)}`;
  const efficiency = `makespan/lower bound ${summary.ratio.toFixed(2)}`;
  const barWidth = Math.max(6, Math.min(22, width - figures.length - efficiency.length - 10));
  const second = `${progressBar(summary.progress, barWidth)} ${fitRight(percent(summary.progress), 4)}  ${figures}  ${efficiency}`;
  return (
    <Box flexDirection="column" height={2}>
      <Text wrap="truncate" {...tone(theme, summary.failed > 0 ? 'warn' : undefined)}>
        {fit(first, width)}
      </Text>
      <Text wrap="truncate">{fit(second, width)}</Text>
    </Box>
  );
}

function StatusLine({ state, theme, width }: { state: MonitorState; theme: MonitorTheme; width: number }) {
  const { connection } = state;
  const seen = state.status === undefined ? '' : `; showing the status of ${clockTime(state.status.at)}`;
  let text: string;
  let which: 'bad' | 'warn' | 'good' | undefined;
  if (state.note !== undefined) {
    text = state.note;
    which = 'warn';
  } else if (connection.status === 'connecting') {
    text = 'Connecting to the gateway...';
  } else if (connection.status === 'failed') {
    text = connection.unauthorized
      ? `NOT AUTHORIZED: the gateway refuses the token (check --token-file); retrying${seen}. ${connection.statusError ?? ''}`
      : `GATEWAY DOWN: ${connection.statusError ?? ''}; retrying${seen}`;
    which = 'bad';
  } else if (connection.events === 'down') {
    text = `EVENTS DOWN: ${connection.eventsError ?? ''}; reading the status every few seconds, reconnecting`;
    which = 'warn';
  } else {
    const last = state.lastEvent;
    text = `Live${connection.events === 'open' ? '' : ' (opening the event stream)'}.${last === undefined ? '' : ` Last event ${clockTime(last.at)}: ${describeEvent(last.type, last.fields)}`}`;
    which = 'good';
  }
  return (
    <Text wrap="truncate" {...tone(theme, which)}>
      {fit(text, width)}
    </Text>
  );
}

function describeEvent(type: string, fields: Readonly<Record<string, string>>): string {
  const parts = [fields['cpv'], fields['state'], fields['drone'] === undefined ? undefined : `on ${fields['drone']}`, fields['outcome'], fields['cycle'] === undefined || fields['cpv'] !== undefined ? undefined : fields['cycle']].filter((part) => part !== undefined && part !== '');
  return `${type}${parts.length === 0 ? '' : ` ${parts.join(' ')}`}`;
}

/**
 * Splits `total` rows between lists that want `wants[i]` rows: one each first, then one at a time in turn to
 * those that want more, and whatever is left to the last (the queue).
 */
export function allocateRows(total: number, wants: readonly number[]): number[] {
  const rows = wants.map(() => 1);
  let left = Math.max(0, total - rows.length);
  while (left > 0) {
    let given = false;
    for (let index = 0; index < rows.length && left > 0; index += 1) {
      if ((rows[index] as number) < (wants[index] as number)) {
        rows[index] = (rows[index] as number) + 1;
        left -= 1;
        given = true;
      }
    }
    if (!given) break;
  }
  if (left > 0 && rows.length > 0) rows[rows.length - 1] = (rows[rows.length - 1] as number) + left;
  return rows;
}

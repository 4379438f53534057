/**
 * The three panes: drones, the queue, failures. Each row is one fixed-width line (`fit`), so a pane never
 * wraps and the screen keeps its shape at any width.
 */

import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { fit, fitRight, formatDuration, percent, progressBar } from './monitor-format.ts';
import type { DroneRow, FailureRow, QueueRow, QueueSummary } from './monitor-model.ts';
import { stateTone, tone, type MonitorTheme } from './monitor-theme.ts';

interface PaneProps {
  readonly name: string;
  /** Counts after the name. */
  readonly detail: string;
  readonly focused: boolean;
  readonly theme: MonitorTheme;
  readonly width: number;
  /** Content rows (the border and the title line come on top). */
  readonly rows: number;
  readonly children: ReactNode;
}

/** A bordered pane whose title shows whether it has the focus (`[Drones]`) by its brackets as well as colour. */
export function Pane({ name, detail, focused, theme, width, rows, children }: PaneProps) {
  return (
    <Box flexDirection="column" width={width} height={rows + 3} borderStyle={theme.ascii ? 'classic' : 'single'} {...(theme.colour && focused ? { borderColor: 'cyan' } : {})} paddingX={1} flexShrink={0}>
      <Text wrap="truncate" {...(theme.colour ? { bold: focused } : {})}>
        {fit(`${focused ? '[' : ' '}${name}${focused ? ']' : ' '} ${detail}`, width - 4)}
      </Text>
      {children}
    </Box>
  );
}

/** The rows of a list that fit, keeping the selected one in view; `(11-20 of 40)` when some are hidden. */
export function visibleWindow<T>(items: readonly T[], selected: number, rows: number): { shown: readonly T[]; first: number; range: string } {
  const first = selected < rows ? 0 : selected - rows + 1;
  const shown = items.slice(first, first + rows);
  const range = items.length > rows ? `  (${first + 1}-${first + shown.length} of ${items.length})` : '';
  return { shown, first, range };
}

interface RowProps {
  readonly text: string;
  readonly selected: boolean;
  readonly theme: MonitorTheme;
  readonly state: string;
}

function Row({ text, selected, theme, state }: RowProps) {
  return (
    <Text wrap="truncate" {...tone(theme, stateTone(state))} {...(theme.colour && selected ? { inverse: true } : {})}>
      {text}
    </Text>
  );
}

const marker = (selected: boolean): string => (selected ? '> ' : '  ');

interface ListProps<T> {
  readonly items: readonly T[];
  readonly selected: number;
  readonly focused: boolean;
  readonly theme: MonitorTheme;
  readonly width: number;
  readonly rows: number;
}

export function DronesPane({ items, selected, focused, theme, width, rows, idleNote }: ListProps<DroneRow> & { readonly idleNote: string }) {
  const inner = width - 4;
  const { shown, first, range } = visibleWindow(items, selected, rows);
  const counts = (['building', 'idle', 'grounded', 'offline'] as const).map((state) => `${items.filter((row) => row.state === state).length} ${state}`).join(', ');
  const withBar = inner >= 64;
  const right = withBar ? 12 + 1 + 4 + 1 + 9 : 4 + 1 + 9;
  const detailWidth = Math.max(8, inner - 2 - 12 - 9 - 1 - right);
  return (
    <Pane name="Drones" detail={`${items.length === 0 ? '' : counts}${range}`} focused={focused} theme={theme} width={width} rows={rows}>
      {items.length === 0 ? <Text wrap="truncate">{fit(`  ${idleNote}`, inner)}</Text> : null}
      {shown.map((row, index) => {
        const isSelected = focused && first + index === selected;
        const building = row.state === 'building' && row.cpv !== undefined;
        const detail = `${row.detail}${row.more > 0 ? ` (+${row.more})` : ''}`;
        const time = building ? formatDuration(row.seconds) : `for ${formatDuration(row.seconds)}`;
        const gauge = building ? `${withBar ? `${progressBar(row.progress, 12)} ` : ''}${fitRight(percent(row.progress), 4)} ` : ' '.repeat(right - 9);
        const text = `${marker(isSelected)}${fit(row.id, 11)} ${fit(row.state, 8)} ${fit(detail, detailWidth)} ${gauge}${fitRight(time, 9)}`;
        return <Row key={row.id} text={fit(text, inner)} selected={isSelected} theme={theme} state={row.state} />;
      })}
    </Pane>
  );
}

export function QueuePane({ items, selected, focused, theme, width, rows, summary }: ListProps<QueueRow> & { readonly summary: QueueSummary }) {
  const inner = width - 4;
  const { shown, first, range } = visibleWindow(items, selected, rows);
  const cpvWidth = Math.max(12, Math.min(40, Math.floor((inner - 2) * 0.5)));
  return (
    <Pane name="Queue" detail={`ready ${summary.heavy + summary.normal} (heavy ${summary.heavy}, normal ${summary.normal})  dep-wait ${summary.depWait}  blocked ${summary.blocked}${range}`} focused={focused} theme={theme} width={width} rows={rows}>
      {items.length === 0 ? <Text wrap="truncate">{fit('  Nothing waiting.', inner)}</Text> : null}
      {shown.map((row, index) => {
        const isSelected = focused && first + index === selected;
        const text = `${marker(isSelected)}${fit(row.cpv, cpvWidth)} ${fit(row.state, 8)} ${fit(row.heavy ? 'heavy' : 'normal', 6)} ${row.reason ?? ''}`;
        return <Row key={row.cpv} text={fit(text, inner)} selected={isSelected} theme={theme} state={row.state} />;
      })}
    </Pane>
  );
}

export function FailuresPane({ items, selected, focused, theme, width, rows }: ListProps<FailureRow>) {
  const inner = width - 4;
  const { shown, first, range } = visibleWindow(items, selected, rows);
  const cpvWidth = Math.max(12, Math.min(36, Math.floor((inner - 2) * 0.4)));
  return (
    <Pane name="Failures" detail={`${items.filter((row) => row.state === 'failed').length} failed, ${items.filter((row) => row.state === 'retrying').length} retrying${range}`} focused={focused} theme={theme} width={width} rows={rows}>
      {items.length === 0 ? <Text wrap="truncate">{fit('  No failures.', inner)}</Text> : null}
      {shown.map((row, index) => {
        const isSelected = focused && first + index === selected;
        const text = `${marker(isSelected)}${fit(row.cpv, cpvWidth)} ${fit(row.drone, 10)} ${fit(row.state, 8)} #${fit(String(row.attempt), 2)} ${row.reason}`;
        return <Row key={row.cpv} text={fit(text, inner)} selected={isSelected} theme={theme} state={row.state} />;
      })}
    </Pane>
  );
}

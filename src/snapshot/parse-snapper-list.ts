import { ArgoError } from '../core/errors.ts';
import type { Snapshot, SnapshotKind } from './types.ts';

/**
 * Parses `snapper --jsonout --utc -c CONFIG list --disable-used-space` (snapper ≥ 0.8.10): an object keyed
 * by config name whose value is an array of snapshots. Snapshot 0 ("current") is dropped. Dates come as
 * `YYYY-MM-DD HH:MM:SS` in UTC (because of --utc) and are returned as ISO 8601.
 */
export function parseSnapperList(text: string, config: string): Snapshot[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw invalid(`snapper list output is not JSON: ${(error as Error).message}`);
  }
  if (typeof data !== 'object' || data === null) throw invalid('snapper list output is not a JSON object');
  const rows = (data as Record<string, unknown>)[config];
  if (!Array.isArray(rows)) throw invalid(`snapper list output has no array for config ${config}`);
  const snapshots: Snapshot[] = [];
  for (const row of rows as unknown[]) {
    if (typeof row !== 'object' || row === null) throw invalid('a snapper list entry is not an object');
    const entry = row as Record<string, unknown>;
    const id = entry['number'];
    if (typeof id !== 'number' || !Number.isInteger(id)) throw invalid('a snapper list entry has no number');
    if (id === 0) continue;
    const preId = entry['pre-number'];
    snapshots.push({
      id,
      kind: kindOf(entry['type']),
      preId: typeof preId === 'number' ? preId : undefined,
      date: isoDate(typeof entry['date'] === 'string' ? entry['date'] : ''),
      description: typeof entry['description'] === 'string' ? entry['description'] : '',
      userdata: userdataOf(entry['userdata']),
      cleanup: typeof entry['cleanup'] === 'string' ? entry['cleanup'] : '',
    });
  }
  return snapshots.sort((a, b) => a.id - b.id);
}

function kindOf(value: unknown): SnapshotKind {
  if (value === 'single' || value === 'pre' || value === 'post') return value;
  throw invalid(`unknown snapper snapshot type ${String(value)}`);
}

function userdataOf(value: unknown): Record<string, string> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object') throw invalid('snapper userdata is not an object');
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) result[key] = String(item);
  return result;
}

/** `2026-11-22 04:02:28` (UTC) → `2026-11-22T04:02:28Z`; anything else is kept as it is. */
export function isoDate(text: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})$/.exec(text);
  return match ? `${match[1]}T${match[2]}Z` : text;
}

function invalid(message: string): ArgoError {
  return new ArgoError('ARGO_INVALID_INPUT', message, {
    hint: 'Snapper older than 0.8.10 has no --jsonout; check snapper --version on the system that runs it.',
  });
}

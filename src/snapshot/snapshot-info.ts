import { ArgoError } from '../core/errors.ts';
import type { Snapshot, SnapshotKind } from './types.ts';

/**
 * The `info.json` the btrfs backend writes beside `.snapshots/<id>/snapshot` (snapper writes `info.xml`
 * there; a different name keeps snapper from misreading ours).
 */
export function formatSnapshotInfo(snapshot: Snapshot): string {
  const info = {
    version: 1,
    id: snapshot.id,
    type: snapshot.kind,
    ...(snapshot.preId === undefined ? {} : { preId: snapshot.preId }),
    date: snapshot.date,
    description: snapshot.description,
    cleanup: snapshot.cleanup,
    userdata: snapshot.userdata,
  };
  return `${JSON.stringify(info, null, 2)}\n`;
}

export function parseSnapshotInfo(text: string, id: number): Snapshot {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw invalid(id, (error as Error).message);
  }
  if (typeof data !== 'object' || data === null) throw invalid(id, 'not an object');
  const kind = data['type'];
  if (kind !== 'single' && kind !== 'pre' && kind !== 'post') throw invalid(id, `unknown type ${String(kind)}`);
  const userdata: Record<string, string> = {};
  const raw = data['userdata'];
  if (typeof raw === 'object' && raw !== null) for (const [key, value] of Object.entries(raw)) userdata[key] = String(value);
  return {
    id,
    kind: kind as SnapshotKind,
    preId: typeof data['preId'] === 'number' ? data['preId'] : undefined,
    date: typeof data['date'] === 'string' ? data['date'] : '',
    description: typeof data['description'] === 'string' ? data['description'] : '',
    cleanup: typeof data['cleanup'] === 'string' ? data['cleanup'] : '',
    userdata,
  };
}

function invalid(id: number, why: string): ArgoError {
  return new ArgoError('ARGO_INVALID_INPUT', `The info.json of snapshot ${id} is unreadable: ${why}`, {
    hint: `Look at .snapshots/${id}/info.json; the snapshot itself is in .snapshots/${id}/snapshot.`,
    details: { id },
  });
}

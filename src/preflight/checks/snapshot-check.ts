import { isArgoError } from '../../core/errors.ts';
import { detectSnapshotBackend, openSnapshotBackend } from '../../snapshot/detect-backend.ts';
import type { Check } from '../types.ts';

/** A snapshot can be taken (snapper config or a btrfs root); with --snapshot it is taken, as a `pre`. */
export const snapshotCheck: Check = {
  id: 'snapshot',
  budgetMs: 120_000,
  async run({ system, options, signal }) {
    const detection = await detectSnapshotBackend(system, signal);
    if (detection.kind === 'none') {
      return {
        status: 'fail',
        summary: `no snapshot possible: ${detection.reason}`,
        details: { backend: 'none', reason: detection.reason },
        advice: 'Without a snapshot a broken update cannot be undone: take a backup, then run with --force REASON if you accept that.',
      };
    }
    if (!options.takeSnapshot) {
      return { status: 'pass', summary: `snapshots possible with ${detection.kind} (${detection.reason}); run with --snapshot to take one`, details: { backend: detection.kind } };
    }
    try {
      const { backend } = await openSnapshotBackend(system, { signal });
      const snapshot = await backend.create({ kind: 'pre', description: 'argo preflight', userdata: { 'argo-preflight': system.clock.now().toISOString() }, cleanup: 'number' });
      return { status: 'pass', summary: `took ${backend.name} snapshot ${snapshot.id}`, details: { backend: backend.name, snapshot } };
    } catch (error) {
      if (!isArgoError(error)) throw error;
      return { status: 'fail', summary: `the snapshot could not be taken: ${error.message}`, details: { backend: detection.kind, code: error.code }, advice: error.hint };
    }
  },
};

import { ArgoError, type ErrorCode } from '../core/errors.ts';

/**
 * Codes proposed for errors.ts, and the existing code each one uses until the lead adds it. Changing a
 * value here is the only edit needed when the new codes land; `proposedCode` tells logs and --json apart
 * in the meantime.
 *   ARGO_SNAPSHOT_UNAVAILABLE (exit 1): the root cannot be snapshotted (not btrfs, no subvolume, no snapper)
 *   ARGO_SNAPSHOT_NO_SPACE    (exit 3): refused to snapshot: free space is below the minimum
 *   ARGO_SNAPSHOT_NOT_FOUND   (exit 1): no snapshot with that number, or no pair for that update id
 *   ARGO_SNAPSHOT_PROTECTED   (exit 3): refused to delete the snapshot the system runs or boots from
 */
const INTERIM: Record<ProposedCode, ErrorCode> = {
  ARGO_SNAPSHOT_UNAVAILABLE: 'ARGO_INVALID_INPUT',
  ARGO_SNAPSHOT_NO_SPACE: 'ARGO_INVALID_INPUT',
  ARGO_SNAPSHOT_NOT_FOUND: 'ARGO_INVALID_INPUT',
  ARGO_SNAPSHOT_PROTECTED: 'ARGO_INVALID_INPUT',
};

export type ProposedCode = 'ARGO_SNAPSHOT_UNAVAILABLE' | 'ARGO_SNAPSHOT_NO_SPACE' | 'ARGO_SNAPSHOT_NOT_FOUND' | 'ARGO_SNAPSHOT_PROTECTED';

export function snapshotError(
  code: ProposedCode,
  message: string,
  options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
): ArgoError {
  return new ArgoError(INTERIM[code], message, {
    hint: options.hint,
    cause: options.cause,
    details: { proposedCode: code, ...options.details },
  });
}

export function proposedCodeOf(error: unknown): ProposedCode | undefined {
  if (!(error instanceof ArgoError)) return undefined;
  return error.details['proposedCode'] as ProposedCode | undefined;
}

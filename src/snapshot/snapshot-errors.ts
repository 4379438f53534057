import { ArgoError } from '../core/errors.ts';

export type SnapshotErrorCode = 'ARGO_SNAPSHOT_UNAVAILABLE' | 'ARGO_SNAPSHOT_NO_SPACE' | 'ARGO_SNAPSHOT_NOT_FOUND' | 'ARGO_SNAPSHOT_PROTECTED';

export function snapshotError(
  code: SnapshotErrorCode,
  message: string,
  options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
): ArgoError {
  return new ArgoError(code, message, { hint: options.hint, cause: options.cause, details: options.details ?? {} });
}

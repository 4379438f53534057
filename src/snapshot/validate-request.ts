import { ArgoError } from '../core/errors.ts';
import type { CreateSnapshotRequest } from './types.ts';

/** Userdata travels as `k=v,k=v` on snapper's command line: keys without `,` `=`, values without `,`. */
export function validateRequest(request: CreateSnapshotRequest): void {
  if (request.kind === 'post' && request.preId === undefined) {
    throw new ArgoError('ARGO_USAGE', 'A post snapshot needs the number of its pre snapshot', { hint: 'Pass --pre-number N.' });
  }
  if (request.kind !== 'post' && request.preId !== undefined) {
    throw new ArgoError('ARGO_USAGE', 'Only a post snapshot takes a pre number', { hint: 'Use --type post with --pre-number.' });
  }
  for (const [key, value] of Object.entries(request.userdata ?? {})) {
    if (key === '' || /[,=\n]/.test(key) || /[,\n]/.test(value)) {
      throw new ArgoError('ARGO_INVALID_INPUT', `Snapshot userdata ${JSON.stringify(key)} cannot be stored`, {
        hint: 'Keys must be non-empty without "," "=" or newlines; values without "," or newlines.',
        details: { key },
      });
    }
  }
  if (request.description.includes('\n')) {
    throw new ArgoError('ARGO_INVALID_INPUT', 'A snapshot description must be one line', { hint: 'Remove the newline from --description.' });
  }
}

export function formatUserdata(userdata: Readonly<Record<string, string>>): string {
  return Object.entries(userdata)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

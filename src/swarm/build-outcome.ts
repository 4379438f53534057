/**
 * What a drone's BullMQ job ends with. Success returns a BuildResult. A failure's reason starts with a code:
 * `ARGO_BUILD_FAILED` and `ARGO_NO_BINARY` are the package's fault (counted, log kept); everything else (a lost
 * lease, a stall, an upload error, a drone shutting down) is infrastructure: retried, never held against the
 * package or the drone.
 */

import type { BuiltBinary, FailureKind } from '../core/swarm/cycle-model.ts';

export interface BuildJobData {
  readonly cycle: string;
  readonly profile: string;
  readonly cpv: string;
  readonly attempt: number;
  /** The leader's epoch when it dispatched this job. */
  readonly epoch: number;
}

/** A job's return value: the binary as the leader records it (BuiltBinary's `path` is relative to the binhost). */
export interface BuildResult extends Omit<BuiltBinary, 'attempt'> {
  readonly cpv: string;
}

export const PACKAGE_FAILURE_CODES = ['ARGO_BUILD_FAILED', 'ARGO_NO_BINARY'] as const;
export type FailureCode = (typeof PACKAGE_FAILURE_CODES)[number] | 'ARGO_BUILD_INTERRUPTED' | 'ARGO_UPLOAD_FAILED' | 'ARGO_DRONE_SETUP_FAILED' | 'ARGO_JOB_INVALID';

export interface FailureDetail {
  readonly reason: string;
  readonly log?: string;
  readonly seconds?: number;
}

export function failureReason(code: FailureCode, detail: FailureDetail): string {
  return `${code} ${JSON.stringify(detail)}`;
}

export interface ParsedFailure extends FailureDetail {
  readonly code: string;
  readonly kind: FailureKind;
}

/** Reads a BullMQ `failedReason`; anything not written by failureReason (e.g. BullMQ's stall limit) is infrastructure. */
export function parseFailure(failedReason: string | undefined): ParsedFailure {
  const text = failedReason ?? 'no reason recorded';
  const match = /^(ARGO_[A-Z_]+) (\{.*\})$/s.exec(text);
  if (match === null) return { code: 'ARGO_INFRASTRUCTURE', kind: 'infrastructure', reason: text };
  const code = match[1] as string;
  let detail: FailureDetail = { reason: text };
  try {
    const parsed = JSON.parse(match[2] as string) as Partial<FailureDetail>;
    detail = {
      reason: typeof parsed.reason === 'string' ? parsed.reason : text,
      ...(typeof parsed.log === 'string' ? { log: parsed.log } : {}),
      ...(typeof parsed.seconds === 'number' ? { seconds: parsed.seconds } : {}),
    };
  } catch {
    // keep the raw text as the reason
  }
  const kind: FailureKind = (PACKAGE_FAILURE_CODES as readonly string[]).includes(code) ? 'package' : 'infrastructure';
  return { code, kind, ...detail };
}

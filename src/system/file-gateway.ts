/**
 * The drones' gateway as a shared folder (`file:///srv/argo`): `staging/<binhost>/` per profile and `logs/`,
 * written through the same staging store as the HTTP gateway (src/system/staging-store.ts). For one machine, or
 * drones that share a filesystem with the gateway; across machines, drones upload over HTTP.
 */

import { createReadStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ArgoError } from '../core/errors.ts';
import { tryParseCpv } from '../core/gentoo/parse-cpv.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { DEFAULT_MAX_PACKAGE_BYTES, publishPackage, stagingFolder, type LeaseCheck, type LeaseToken, type Uploaded } from './staging-store.ts';

export type { LeaseToken, Uploaded } from './staging-store.ts';

export interface UploadInput {
  readonly binhost: string;
  readonly cpv: string;
  /** Host path of the `.gpkg.tar` to publish. */
  readonly file: string;
  readonly lease: LeaseToken;
}

export interface LogInput {
  readonly cycle: string;
  readonly cpv: string;
  readonly attempt: number;
  readonly drone: string;
  readonly file: string;
  /** The job's lease: a log is kept only from the drone that holds the attempt's job. */
  readonly lease: LeaseToken;
}

export interface ArtifactGateway {
  /** PORTAGE_BINHOST for a profile's staging binhost. */
  stagingUrl(binhost: string): string;
  upload(input: UploadInput): Promise<Uploaded>;
  /** Keeps a build log; returns where. */
  storeLog(input: LogInput): Promise<string>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Where a build log is kept under the gateway's root; ARGO_INVALID_INPUT for a name that could leave it. */
export function logPath(root: string, input: Omit<LogInput, 'file' | 'lease'>): string {
  const parsed = tryParseCpv(input.cpv);
  if (!parsed.ok || !NAME.test(input.cycle) || !NAME.test(input.drone) || !Number.isSafeInteger(input.attempt) || input.attempt < 1) {
    throw new ArgoError('ARGO_INVALID_INPUT', `Refusing a log for ${JSON.stringify(input.cpv)} in cycle ${JSON.stringify(input.cycle)}`, { hint: 'Cycle, drone and CPV must be valid names and the attempt a positive integer.' });
  }
  return join(root, 'logs', input.cycle, parsed.value.category, parsed.value.pf, `${input.attempt}-${input.drone}.log`);
}

export function createFileGateway(root: string, isLeaseCurrent: LeaseCheck): ArtifactGateway {
  return {
    stagingUrl: (binhost) => `file://${stagingFolder(root, binhost)}`,

    upload: (input) =>
      publishPackage({
        root,
        binhost: input.binhost,
        cpv: input.cpv,
        name: basename(input.file),
        source: createReadStream(input.file),
        lease: input.lease,
        isLeaseCurrent,
        maxBytes: DEFAULT_MAX_PACKAGE_BYTES,
      }),

    async storeLog(input) {
      const target = logPath(root, input);
      await mkdir(join(target, '..'), { recursive: true, mode: 0o755 });
      await writeFileAtomic(target, await readFile(input.file), { mode: 0o644 });
      return target;
    },
  };
}

/**
 * The drones' gateway until the HTTP gateway lands: a folder shared with the drones (`file:///srv/argo`), with
 * `staging/<binhost>/` per profile and `logs/`. An upload is accepted only while the job's lease token is the
 * current one (checked before the copy and again right before the rename that publishes it), is copied to a
 * temporary name, hashed, fsynced and renamed into place, so readers never see half a package. The staging
 * `Packages` index is rebuilt from the stanzas of every package until a rebuild saw no new upload, so two drones
 * publishing at once both end up listed.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ArgoError } from '../core/errors.ts';
import { formatPackagesIndex } from '../core/gentoo/format-packages-index.ts';
import { gzipPackagesIndex } from '../core/gentoo/packages-index-gzip.ts';
import { tryParseCpv } from '../core/gentoo/parse-cpv.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { isMissing } from './fs-errors.ts';

/** What an upload proves: the drone holds the job's BullMQ lock, and the job is the one its cycle's record names. */
export interface LeaseToken {
  readonly queue: string;
  readonly jobId: string;
  readonly token: string;
  readonly cycle: string;
  readonly cpv: string;
}

export interface UploadInput {
  readonly binhost: string;
  readonly cpv: string;
  /** Host path of the `.gpkg.tar` to publish. */
  readonly file: string;
  readonly stanza?: Readonly<Record<string, string>>;
  readonly lease: LeaseToken;
}

export interface Uploaded {
  /** Relative to the profile's staging binhost. */
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

export interface LogInput {
  readonly cycle: string;
  readonly cpv: string;
  readonly attempt: number;
  readonly drone: string;
  readonly file: string;
}

export interface ArtifactGateway {
  /** PORTAGE_BINHOST for a profile's staging binhost. */
  stagingUrl(binhost: string): string;
  upload(input: UploadInput): Promise<Uploaded>;
  /** Keeps a build log; returns where. */
  storeLog(input: LogInput): Promise<string>;
}

const GPKG_NAME = /^[A-Za-z0-9+_][A-Za-z0-9+_.-]*\.gpkg\.tar$/;
/** As the configuration allows (`profiles.NAME.binhost_path`): relative, no `.` or `..` segment. */
const isBinhostPath = (path: string): boolean => /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(path) && !path.split('/').some((part) => part === '.' || part === '..');

export function createFileGateway(root: string, isLeaseCurrent: (lease: LeaseToken) => Promise<boolean>): ArtifactGateway {
  const staging = (binhost: string): string => {
    if (!isBinhostPath(binhost)) throw new ArgoError('ARGO_INVALID_INPUT', `Not a binhost path: ${JSON.stringify(binhost)}`, { hint: 'A profile\'s binhost_path is relative, without . or .. segments.' });
    return join(root, 'staging', binhost);
  };
  return {
    stagingUrl: (binhost) => `file://${staging(binhost)}`,

    async upload(input) {
      const parsed = tryParseCpv(input.cpv);
      const name = basename(input.file);
      if (!parsed.ok || !GPKG_NAME.test(name) || !name.startsWith(`${parsed.value.pf}`)) {
        throw new ArgoError('ARGO_INVALID_INPUT', `Refusing to publish ${name} as ${input.cpv}`, { hint: 'The file must be the CPV\'s own .gpkg.tar.' });
      }
      await requireLease(input.lease, isLeaseCurrent);
      const folder = join(staging(input.binhost), parsed.value.category, parsed.value.pn);
      await mkdir(folder, { recursive: true, mode: 0o755 });
      const temporary = join(folder, `.${name}.argo-${randomBytes(6).toString('hex')}`);
      try {
        const hash = createHash('sha256');
        await pipeline(
          createReadStream(input.file),
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              hash.update(chunk);
              yield chunk;
            }
          },
          createWriteStream(temporary, { flags: 'wx', mode: 0o644 }),
        );
        await syncFile(temporary);
        const size = (await stat(temporary)).size;
        const sha256 = hash.digest('hex');
        await requireLease(input.lease, isLeaseCurrent);
        // Published under a name nobody has used (link(2) never replaces), so a second build of the same CPV
        // never overwrites the file an index already describes; the stanza follows, keyed to that file.
        const published = await linkUnique(temporary, folder, parsed.value.pf, buildIdOf(name, parsed.value.pf));
        await syncFolder(folder);
        const path = relative(staging(input.binhost), published.file);
        if (input.stanza !== undefined) {
          const { MD5: _md5, SHA1: _sha1, MTIME: _mtime, ...kept } = input.stanza;
          const fields = { ...kept, CPV: input.cpv, PATH: path, SIZE: String(size), SHA256: sha256, ...(published.buildId === undefined ? {} : { BUILD_ID: String(published.buildId) }) };
          // A stanza the index cannot hold (a line break in a value) is refused here, before it could break every later rebuild.
          formatPackagesIndex({ header: { VERSION: '0' }, packages: [{ fields, droppedFields: {} }] });
          await writeFileAtomic(`${published.file}.stanza.json`, `${JSON.stringify(fields)}\n`);
        }
        await rebuildIndex(staging(input.binhost));
        return { path, sha256, size };
      } finally {
        await rm(temporary, { force: true });
      }
    },

    async storeLog(input) {
      const parsed = tryParseCpv(input.cpv);
      if (!parsed.ok || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(input.cycle) || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(input.drone)) {
        throw new ArgoError('ARGO_INVALID_INPUT', `Refusing a log for ${input.cpv} in cycle ${input.cycle}`, { hint: 'Cycle, drone and CPV must be valid names.' });
      }
      const target = join(root, 'logs', input.cycle, parsed.value.category, parsed.value.pf, `${input.attempt}-${input.drone}.log`);
      await mkdir(join(target, '..'), { recursive: true, mode: 0o755 });
      await writeFileAtomic(target, await readFile(input.file), { mode: 0o644 });
      return target;
    },
  };
}

/** `PF-N.gpkg.tar` → N; `PF.gpkg.tar` → undefined. */
function buildIdOf(name: string, pf: string): number | undefined {
  if (!name.startsWith(pf)) return undefined;
  const match = /^-(\d+)\.gpkg\.tar$/.exec(name.slice(pf.length));
  return match === null ? undefined : Number(match[1]);
}

/** Links `temporary` as `PF-N.gpkg.tar` with the first free N from `wanted` (or the next after the highest). */
async function linkUnique(temporary: string, folder: string, pf: string, wanted: number | undefined): Promise<{ file: string; buildId: number | undefined }> {
  if (wanted === undefined) {
    const file = join(folder, `${pf}.gpkg.tar`);
    try {
      await link(temporary, file);
      return { file, buildId: undefined };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const taken = (await readdir(folder))
    .filter((entry) => entry.startsWith(`${pf}-`))
    .map((entry) => buildIdOf(entry, pf))
    .filter((id): id is number => id !== undefined);
  let next = wanted !== undefined && !taken.includes(wanted) ? wanted : Math.max(0, ...taken) + 1;
  for (;;) {
    const file = join(folder, `${pf}-${next}.gpkg.tar`);
    try {
      await link(temporary, file);
      return { file, buildId: next };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      next += 1;
    }
  }
}

async function requireLease(lease: LeaseToken, isLeaseCurrent: (lease: LeaseToken) => Promise<boolean>): Promise<void> {
  if (await isLeaseCurrent(lease)) return;
  throw new ArgoError('ARGO_LEASE_LOST', `The lease of job ${lease.jobId} is no longer this drone's; the upload is refused`, {
    hint: 'Nothing to do: the build was handed to another drone.',
    details: { jobId: lease.jobId, queue: lease.queue },
  });
}

/** Writes Packages from every stanza, again until a pass saw the same set of packages it listed. */
async function rebuildIndex(binhost: string): Promise<void> {
  for (let pass = 0; pass < 20; pass += 1) {
    const stanzas = await readStanzas(binhost);
    const packages = stanzas.map((fields) => ({ fields, droppedFields: {} }));
    const text = formatPackagesIndex({ header: { VERSION: '0' }, packages }, { refreshHeaderAt: new Date() });
    // Packages.gz too, as Portage's compress-index writes it: a client that reads it first must not see an old one.
    await writeFileAtomic(join(binhost, 'Packages.gz'), gzipPackagesIndex(text), { mode: 0o644 });
    await writeFileAtomic(join(binhost, 'Packages'), text, { mode: 0o644 });
    const again = await readStanzas(binhost);
    if (again.length === stanzas.length && again.every((fields, index) => fields.PATH === stanzas[index]?.PATH && fields.SHA256 === stanzas[index]?.SHA256)) return;
  }
}

async function readStanzas(binhost: string): Promise<Record<string, string>[]> {
  const stanzas: Record<string, string>[] = [];
  const walk = async (folder: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = join(folder, entry.name);
      if (entry.isDirectory() && depth < 2) await walk(full, depth + 1);
      else if (entry.isFile() && entry.name.endsWith('.gpkg.tar.stanza.json')) {
        const gpkg = full.slice(0, -'.stanza.json'.length);
        if ((await stat(gpkg).catch(() => undefined)) === undefined) continue;
        stanzas.push(JSON.parse(await readFile(full, 'utf8')) as Record<string, string>);
      }
    }
  };
  await walk(binhost, 0);
  return stanzas.sort((a, b) => ((a.PATH ?? '') < (b.PATH ?? '') ? -1 : 1));
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

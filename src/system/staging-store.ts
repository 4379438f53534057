/**
 * A profile's staging binhost on disk: `<root>/staging/<binhost>/<category>/<pn>/<pf>[-N].gpkg.tar`, a
 * `.stanza.json` beside each, and `Packages` + `Packages.gz` rebuilt after every publish. Both gateways (the
 * shared folder and HTTP) publish through here:
 *
 * 1. the bytes are received into a temporary file in the package's own folder, hashed (MD5, SHA-1, SHA-256) and
 *    counted on the way, refused past the size limit, fsynced;
 * 2. the file must be a valid GPKG (its Manifest checked) whose `CATEGORY/PF` is the job's CPV;
 * 3. the lease is checked again, then the file is linked under a name never used before (link(2) never
 *    replaces), so a second build of a CPV never overwrites a file an index already lists;
 * 4. its stanza comes from the package's own metadata (not from the drone), and the index is rebuilt until a
 *    rebuild saw no new upload, so two drones publishing at once both end up listed.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArgoError } from '../core/errors.ts';
import { formatPackagesIndex } from '../core/gentoo/format-packages-index.ts';
import { gpkgIndexEntry } from '../core/gentoo/gpkg-index-entry.ts';
import { gzipPackagesIndex } from '../core/gentoo/packages-index-gzip.ts';
import { tryParseCpv } from '../core/gentoo/parse-cpv.ts';
import { readGpkg } from '../core/gentoo/read-gpkg.ts';
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

export type LeaseCheck = (lease: LeaseToken) => Promise<boolean>;

export interface Uploaded {
  /** Relative to the profile's staging binhost. */
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

export interface PublishInput {
  readonly root: string;
  readonly binhost: string;
  readonly cpv: string;
  /** The file name the drone gave (`PF.gpkg.tar` or `PF-N.gpkg.tar`): only its build id is taken from it. */
  readonly name: string;
  readonly source: Readable | AsyncIterable<Uint8Array>;
  readonly lease: LeaseToken;
  readonly isLeaseCurrent: LeaseCheck;
  /** Bytes; the upload is refused past it. */
  readonly maxBytes: number;
  /** SHA-256 the sender computed, when it sent one: refused when the received bytes differ. */
  readonly expectedSha256?: string;
}

/** 1 GiB: larger than any binary package of a desktop (LLVM, Rust and Chromium stay under 500 MB). */
export const DEFAULT_MAX_PACKAGE_BYTES = 1024 ** 3;

/** Portage's metadata of one package (environment.bz2 included) is a few hundred kB; more is not a package. */
const MAX_METADATA_BYTES = 64 * 1024 ** 2;

const GPKG_NAME = /^[A-Za-z0-9+_][A-Za-z0-9+_.-]*\.gpkg\.tar$/;

/** As the configuration allows (`profiles.NAME.binhost_path`): relative, no `.` or `..` segment. */
export function isBinhostPath(path: string): boolean {
  return /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(path) && !path.split('/').some((part) => part === '.' || part === '..');
}

export function stagingFolder(root: string, binhost: string): string {
  if (!isBinhostPath(binhost)) throw new ArgoError('ARGO_INVALID_INPUT', `Not a binhost path: ${JSON.stringify(binhost)}`, { hint: "A profile's binhost_path is relative, without . or .. segments." });
  return join(root, 'staging', binhost);
}

/** The CPV's own file name (`PF.gpkg.tar` or `PF-N.gpkg.tar`), or an ARGO_INVALID_INPUT naming both. */
export function checkPackageName(cpv: string, name: string): { category: string; pn: string; pf: string } {
  const parsed = tryParseCpv(cpv);
  if (!parsed.ok || !GPKG_NAME.test(name) || (name !== `${parsed.value.pf}.gpkg.tar` && buildIdOf(name, parsed.value.pf) === undefined)) {
    throw new ArgoError('ARGO_INVALID_INPUT', `Refusing to publish ${JSON.stringify(name)} as ${JSON.stringify(cpv)}`, { hint: "The file must be the CPV's own .gpkg.tar (PF.gpkg.tar or PF-N.gpkg.tar)." });
  }
  return parsed.value;
}

export async function publishPackage(input: PublishInput): Promise<Uploaded> {
  const { category, pn, pf } = checkPackageName(input.cpv, input.name);
  if (input.lease.cpv !== input.cpv) throw new ArgoError('ARGO_INVALID_INPUT', `The upload is for ${input.cpv} but its lease is for ${input.lease.cpv}`, { hint: 'A drone uploads the package of the job it holds.' });
  await requireLease(input.lease, input.isLeaseCurrent);
  const binhost = stagingFolder(input.root, input.binhost);
  const folder = join(binhost, category, pn);
  await mkdir(folder, { recursive: true, mode: 0o755 });
  const temporary = join(folder, `.${input.name}.argo-${randomBytes(6).toString('hex')}`);
  try {
    const received = await receive(input.source, temporary, input.maxBytes, input.name);
    if (input.expectedSha256 !== undefined && input.expectedSha256 !== received.sha256) {
      throw new ArgoError('ARGO_INVALID_INPUT', `${input.name}: received ${received.size} bytes with SHA-256 ${received.sha256}, the sender said ${input.expectedSha256}`, { hint: 'The upload was damaged on the way; the drone retries it.' });
    }
    // The Manifest checked over every member; the metadata alone unpacked, within 64 MiB (never the image).
    const gpkg = await readGpkg(await readFile(temporary), { strict: true, image: false, maxUnpackedBytes: MAX_METADATA_BYTES });
    const entry = gpkgIndexEntry(gpkg.metadata, { path: '', size: 0, md5: '', sha1: '', sha256: '', mtime: 0 }, input.name);
    if (entry.cpv !== input.cpv) {
      throw new ArgoError('ARGO_INVALID_INPUT', `${input.name} holds ${entry.cpv}, not the job's ${input.cpv}`, { hint: 'The drone built or sent another package than its job; nothing was published.' });
    }
    await requireLease(input.lease, input.isLeaseCurrent);
    // The same bytes again (a drone retrying an upload whose answer it never got): the first one stands.
    const already = await stagedWithHash(folder, pf, received.sha256);
    if (already !== undefined) return { path: relative(binhost, already), sha256: received.sha256, size: received.size };
    const released = await namesInReleases(input.root, input.binhost, category, pn);
    const published = await linkUnique(temporary, folder, pf, buildIdOf(input.name, pf), released);
    await syncPath(folder);
    const path = relative(binhost, published.file);
    const { fields } = gpkgIndexEntry(gpkg.metadata, { ...received, path, mtime: Math.floor(Date.now() / 1000), ...(published.buildId === undefined ? {} : { buildId: published.buildId }) }, input.name);
    // A stanza the index cannot hold is refused here, before it could break every later rebuild.
    formatPackagesIndex({ header: { VERSION: '0' }, packages: [{ fields, droppedFields: {} }] });
    await writeFileAtomic(`${published.file}.stanza.json`, `${JSON.stringify(fields)}\n`, { mode: 0o644 });
    await rebuildStagingIndex(binhost);
    return { path, sha256: received.sha256, size: received.size };
  } finally {
    await rm(temporary, { force: true });
  }
}

interface Received {
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
}

async function receive(source: Readable | AsyncIterable<Uint8Array>, temporary: string, maxBytes: number, name: string): Promise<Received> {
  const hashes = { md5: createHash('md5'), sha1: createHash('sha1'), sha256: createHash('sha256') };
  let size = 0;
  await pipeline(
    source,
    async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const chunk of chunks) {
        size += chunk.byteLength;
        if (size > maxBytes) {
          throw new ArgoError('ARGO_UPLOAD_TOO_LARGE', `${name} is larger than the gateway's limit of ${maxBytes} bytes`, { hint: 'Raise the gateway\'s --max-package-mb if the package is genuine.' });
        }
        for (const hash of Object.values(hashes)) hash.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(temporary, { flags: 'wx', mode: 0o644 }),
  );
  await syncPath(temporary, 'r+');
  return { size, md5: hashes.md5.digest('hex'), sha1: hashes.sha1.digest('hex'), sha256: hashes.sha256.digest('hex') };
}

/** `PF-N.gpkg.tar` → N; anything else → undefined. */
function buildIdOf(name: string, pf: string): number | undefined {
  if (!name.startsWith(`${pf}-`)) return undefined;
  const match = /^-([1-9]\d{0,8})\.gpkg\.tar$/.exec(name.slice(pf.length));
  return match === null ? undefined : Number(match[1]);
}

/** A staged package file of `pf` whose stanza records `sha256`. */
async function stagedWithHash(folder: string, pf: string, sha256: string): Promise<string | undefined> {
  for (const name of await readdir(folder)) {
    if (!name.startsWith(pf) || !name.endsWith('.gpkg.tar.stanza.json')) continue;
    const gpkg = join(folder, name.slice(0, -'.stanza.json'.length));
    const fields = await readStanza(join(folder, name));
    if (fields.SHA256 === sha256 && (await stat(gpkg).catch(() => undefined)) !== undefined) return gpkg;
  }
  return undefined;
}

/**
 * The package file names of `category/pn` in the profile's kept releases: a name a release still serves is
 * never given to new content, even after staging was emptied (a client may hold an index listing it).
 */
async function namesInReleases(root: string, binhost: string, category: string, pn: string): Promise<Set<string>> {
  const releases = join(root, 'releases', binhost);
  const names = new Set<string>();
  for (const release of await readdir(releases).catch((error: unknown) => (isMissing(error) ? [] : Promise.reject(error)))) {
    for (const name of await readdir(join(releases, release, category, pn)).catch(() => [])) names.add(name);
  }
  return names;
}

/** Links `temporary` as `PF-N.gpkg.tar` with the first free N from `wanted` (or the next after the highest). */
async function linkUnique(temporary: string, folder: string, pf: string, wanted: number | undefined, released: ReadonlySet<string>): Promise<{ file: string; buildId: number | undefined }> {
  if (wanted === undefined && !released.has(`${pf}.gpkg.tar`)) {
    const file = join(folder, `${pf}.gpkg.tar`);
    try {
      await link(temporary, file);
      return { file, buildId: undefined };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const taken = [...(await readdir(folder)), ...released]
    .map((entry) => buildIdOf(entry, pf))
    .filter((id): id is number => id !== undefined);
  let next = wanted !== undefined && !taken.includes(wanted) ? wanted : Math.max(0, ...taken) + 1;
  for (;;) {
    if (released.has(`${pf}-${next}.gpkg.tar`)) {
      next += 1;
      continue;
    }
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

async function requireLease(lease: LeaseToken, isLeaseCurrent: LeaseCheck): Promise<void> {
  if (await isLeaseCurrent(lease)) return;
  throw new ArgoError('ARGO_LEASE_LOST', `The lease of job ${lease.jobId} is no longer this drone's; the upload is refused`, {
    hint: 'Nothing to do: the build was handed to another drone.',
    details: { jobId: lease.jobId, queue: lease.queue },
  });
}

/** Writes Packages from every stanza, again until a pass saw the same set of packages it listed. */
export async function rebuildStagingIndex(binhost: string): Promise<void> {
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

/**
 * Stanzas already read, by file, with the inode and mtime they were read at: a stanza file is written once
 * (atomically, under a name never reused), so a rebuild reads only the new ones.
 */
const stanzaCache = new Map<string, { readonly key: string; readonly fields: Record<string, string> }>();

async function readStanza(file: string): Promise<Record<string, string>> {
  const info = await stat(file);
  const key = `${info.ino}:${info.mtimeMs}:${info.size}`;
  const cached = stanzaCache.get(file);
  if (cached?.key === key) return cached.fields;
  const fields = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
  stanzaCache.set(file, { key, fields });
  return fields;
}

async function readStanzas(binhost: string): Promise<Record<string, string>[]> {
  const stanzas: Record<string, string>[] = [];
  await walkFiles(binhost, 2, async (folder, name, siblings) => {
    // A stanza whose package is gone (removed by hand) is not listed.
    if (name.endsWith('.gpkg.tar.stanza.json') && siblings.has(name.slice(0, -'.stanza.json'.length))) stanzas.push(await readStanza(join(folder, name)));
  });
  return stanzas.sort((a, b) => ((a.PATH ?? '') < (b.PATH ?? '') ? -1 : 1));
}

/** Calls `visit` for every file below `root` (folders `maxDepth` deep at most, in name order); a missing folder is empty. */
async function walkFiles(root: string, maxDepth: number, visit: (folder: string, name: string, siblings: ReadonlySet<string>) => Promise<void>): Promise<void> {
  const walk = async (folder: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    const files = new Set(entries.filter((entry) => entry.isFile()).map((entry) => entry.name));
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isDirectory() && depth < maxDepth) await walk(join(folder, entry.name), depth + 1);
      else if (entry.isFile()) await visit(folder, entry.name, files);
    }
  };
  await walk(root, 0);
}

async function syncPath(path: string, flags = 'r'): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Removes temporaries of uploads that never finished (a gateway killed mid-upload leaves `.PF.gpkg.tar.argo-XXXX`,
 * up to the size limit each) older than `maxAgeMs`: a younger one may belong to an upload running right now in
 * another process (drones writing through the shared folder). Returns what it removed.
 */
export async function sweepStagingTemporaries(root: string, maxAgeMs: number, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  await walkFiles(join(root, 'staging'), 6, async (folder, name) => {
    if (!/^\..+\.gpkg\.tar\.argo-[0-9a-f]{12}$/.test(name)) return;
    const full = join(folder, name);
    const info = await stat(full).catch(() => undefined);
    if (info !== undefined && now - info.mtimeMs > maxAgeMs) {
      await rm(full, { force: true });
      removed.push(full);
    }
  });
  return removed;
}

/**
 * Writes a GPKG binary package the way Portage's `gpkg.compress` does (lib/portage/gpkg.py, GLEP 78):
 *
 *   <basename>/gpkg-1              empty, mode 0644
 *   <basename>/metadata.tar<comp>  ustar of metadata/<KEY> files (no directory entry), in the given key order
 *   <basename>/image.tar<comp>     ustar of image/ with every parent directory, depth-first in name order
 *   <basename>/Manifest            DATA <member> <size> BLAKE2B <hex> SHA512 <hex> for the three members above
 *
 * The container and the inner archives are padded to 10 KiB records like Python's tarfile. Members get uid/gid 0
 * and no owner names, as in real Portage GPKGs. Signing is not done here (it needs gpg).
 */

import { ArgoError } from '../errors.ts';
import { COMPRESSION_SUFFIX, compressMember, type MemberCompression } from './binpkg-compression.ts';
import { digestMember, formatGpkgManifest, type GpkgManifestEntry } from './gpkg-manifest.ts';
import { writeTarArchive, type TarEntryInput } from './tar-archive.ts';

export interface GpkgImageInput {
  /** Installed path, with or without the leading slash: `/usr/bin/which`. */
  readonly path: string;
  readonly mode: number;
  /** File contents; omit for a directory or symlink. */
  readonly data?: Uint8Array | string;
  /** Makes the entry a symlink to this target. */
  readonly symlink?: string;
  /** Makes the entry a directory (implied for parents of other entries). */
  readonly directory?: boolean;
  /** Epoch seconds; defaults to the package mtime. */
  readonly mtime?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly uname?: string;
  readonly gname?: string;
}

export interface WriteGpkgInput {
  /** Container directory, normally `${PF}-${BUILD_ID}` (the file name without `.gpkg.tar`). */
  readonly basename: string;
  /** `metadata/` files in write order; strings are written as UTF-8. */
  readonly metadata: ReadonlyMap<string, string | Uint8Array> | Readonly<Record<string, string | Uint8Array>>;
  readonly image: readonly GpkgImageInput[];
  readonly compression: MemberCompression;
  /** Epoch seconds or a Date, for every member that has no own mtime. */
  readonly mtime: number | Date;
}

const FILE_MODE = 0o644;
const DIRECTORY_MODE = 0o755;
const encoder = new TextEncoder();

/** Throws ARGO_INVALID_INPUT for a basename, metadata key or image path that cannot go into a GPKG. */
export async function writeGpkg(input: WriteGpkgInput): Promise<Uint8Array> {
  const mtime = Math.floor(typeof input.mtime === 'number' ? input.mtime : input.mtime.getTime() / 1000);
  checkBasename(input.basename);
  if (!Number.isFinite(mtime) || mtime < 0) invalidInput('the GPKG mtime is not a valid time', 'pass epoch seconds or a Date');

  const suffix = COMPRESSION_SUFFIX[input.compression];
  const metadataTar = await writeTarArchive(metadataEntries(input.metadata, mtime));
  const imageTar = await writeTarArchive(imageEntries(input.image, mtime));
  const members: { name: string; data: Uint8Array }[] = [
    { name: 'gpkg-1', data: new Uint8Array() },
    { name: `metadata.tar${suffix}`, data: compressMember(metadataTar, input.compression) },
    { name: `image.tar${suffix}`, data: compressMember(imageTar, input.compression) },
  ];
  const manifest: GpkgManifestEntry[] = members.map((member) => ({
    name: member.name,
    size: member.data.byteLength,
    hashes: digestMember(member.data),
  }));
  members.push({ name: 'Manifest', data: encoder.encode(formatGpkgManifest(manifest)) });

  return writeTarArchive(
    members.map((member) => ({
      name: `${input.basename}/${member.name}`,
      type: 'file',
      mode: FILE_MODE,
      uid: 0,
      gid: 0,
      mtime,
      data: member.data,
    })),
  );
}

function metadataEntries(metadata: WriteGpkgInput['metadata'], mtime: number): TarEntryInput[] {
  const pairs = metadata instanceof Map ? [...metadata] : Object.entries(metadata);
  return pairs.map(([key, value]) => {
    if (key === '' || key.includes('/') || key === '.' || key === '..') {
      invalidInput(`GPKG metadata key ${JSON.stringify(key)} is not a file name`, 'metadata keys are plain names like CATEGORY or environment.bz2');
    }
    return {
      name: `metadata/${key}`,
      type: 'file',
      mode: FILE_MODE,
      uid: 0,
      gid: 0,
      mtime,
      data: typeof value === 'string' ? encoder.encode(value) : value,
    };
  });
}

/** Adds `image/` and missing parent directories, then orders entries as a recursive sorted directory walk. */
function imageEntries(image: readonly GpkgImageInput[], mtime: number): TarEntryInput[] {
  const byPath = new Map<string, TarEntryInput>();
  const directory = (parts: readonly string[]): TarEntryInput => ({
    name: ['image', ...parts].join('/'),
    type: 'directory',
    mode: DIRECTORY_MODE,
    uid: 0,
    gid: 0,
    mtime,
  });
  byPath.set('', directory([]));
  const given = new Set<string>();
  for (const item of image) {
    const parts = splitImagePath(item.path);
    const key = parts.join('/');
    if (given.has(key)) invalidInput(`GPKG image path ${item.path} is given twice`);
    given.add(key);
    const common = {
      name: ['image', ...parts].join('/'),
      mode: item.mode,
      uid: item.uid ?? 0,
      gid: item.gid ?? 0,
      ...(item.uname === undefined ? {} : { uname: item.uname }),
      ...(item.gname === undefined ? {} : { gname: item.gname }),
      mtime: item.mtime ?? mtime,
    };
    const kinds = [item.data !== undefined, item.symlink !== undefined, item.directory === true].filter(Boolean).length;
    if (kinds > 1) invalidInput(`GPKG image path ${item.path} is given as more than one of file, symlink and directory`);
    const entry: TarEntryInput =
      item.symlink !== undefined
        ? { ...common, type: 'symlink', linkname: item.symlink }
        : item.directory === true
          ? { ...common, type: 'directory' }
          : { ...common, type: 'file', data: typeof item.data === 'string' ? encoder.encode(item.data) : (item.data ?? new Uint8Array()) };
    if (byPath.get(key)?.type === 'directory' && entry.type !== 'directory') {
      invalidInput(`GPKG image path ${item.path} holds other entries, so it must be a directory`);
    }
    byPath.set(key, entry);
    for (let depth = 1; depth < parts.length; depth += 1) {
      const parent = parts.slice(0, depth);
      const existing = byPath.get(parent.join('/'));
      if (existing === undefined) byPath.set(parent.join('/'), directory(parent));
      else if (existing.type !== 'directory') invalidInput(`GPKG image path ${item.path} lies under ${parent.join('/')}, which is not a directory`);
    }
  }
  return [...byPath.entries()]
    .sort(([a], [b]) => comparePaths(a, b))
    .map(([, entry]) => entry);
}

function splitImagePath(path: string): string[] {
  const parts = path.replace(/^\/+/, '').split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) {
    invalidInput(`GPKG image path ${JSON.stringify(path)} is not a clean absolute path`, 'use paths like /usr/bin/which, without ., .. or empty parts');
  }
  return parts;
}

/** Component-wise order, so a directory's children follow it before any sibling that sorts after its name. */
function comparePaths(a: string, b: string): number {
  if (a === '') return b === '' ? 0 : -1;
  if (b === '') return 1;
  const left = a.split('/');
  const right = b.split('/');
  for (let index = 0; index < Math.min(left.length, right.length); index += 1) {
    const x = left[index] as string;
    const y = right[index] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return left.length - right.length;
}

function checkBasename(basename: string): void {
  if (basename === '' || basename.includes('/') || basename === '.' || basename === '..') {
    invalidInput(`GPKG basename ${JSON.stringify(basename)} is not a directory name`, 'use the package file name without .gpkg.tar, e.g. which-2.23-1');
  }
}

function invalidInput(message: string, hint?: string): never {
  throw new ArgoError('ARGO_INVALID_INPUT', message, hint === undefined ? {} : { hint });
}

/**
 * PKGDIR as Portage keeps it with binpkg-multi-instance: `CAT/PN/PF-BUILD_ID.gpkg.tar` files and a `Packages`
 * index (plus `Packages.gz` with FEATURES=compress-index, on by default), every change made under one lock so
 * that two emerges in the same config root get distinct BUILD_IDs and both land in the index. Files are written
 * under a temporary name and renamed, so a killed run never leaves a half-written package or index.
 */

import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { writeGpkg, type GpkgImageInput } from '../../../src/core/gentoo/write-gpkg.ts';
import type { MemberCompression } from '../../../src/core/gentoo/binpkg-compression.ts';
import { parsePackagesIndex } from '../../../src/core/gentoo/parse-packages-index.ts';
import { formatPackagesIndex } from '../../../src/core/gentoo/format-packages-index.ts';
import { gzipPackagesIndex } from '../../../src/core/gentoo/packages-index-gzip.ts';
import type { IndexFields, PackagesIndexEntry } from '../../../src/core/gentoo/packages-index.ts';
import type { Cpv } from '../../../src/core/gentoo/parse-cpv.ts';
import type { Cleanup } from './cleanup.ts';
import { withFileLock } from './file-lock.ts';
import { packagesIndexFields, type BinpkgFileFacts } from './package-metadata.ts';

/** Header values Portage refreshes from the current settings on every index write. */
export interface IndexHeaderSettings {
  readonly chost?: string;
  readonly features: readonly string[];
  readonly use: readonly string[];
  readonly compressIndex: boolean;
}

export interface WrittenBinpkg extends BinpkgFileFacts {
  readonly buildId: number;
  /** Host path. */
  readonly file: string;
  readonly metadata: ReadonlyMap<string, string>;
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function digest(bytes: Uint8Array, algorithm: 'md5' | 'sha1'): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

/** Writes `bytes` to `path` through a temporary file in the same folder, registered with `cleanup` meanwhile. */
async function writeAtomically(path: string, bytes: Uint8Array | string, cleanup: Cleanup): Promise<void> {
  const temp = posix.join(posix.dirname(path), `.${posix.basename(path)}.${process.pid}.argo-tmp`);
  cleanup.add(temp);
  try {
    await writeFile(temp, bytes, { flag: 'w', mode: 0o644 });
    await rename(temp, path);
  } finally {
    await unlink(temp).catch(() => undefined);
    cleanup.forget(temp);
  }
}

export class Pkgdir {
  readonly dir: string;
  private readonly cleanup: Cleanup;
  private readonly header: IndexHeaderSettings;

  constructor(dir: string, header: IndexHeaderSettings, cleanup: Cleanup) {
    this.dir = dir;
    this.header = header;
    this.cleanup = cleanup;
  }

  private get lockPath(): string {
    return posix.join(this.dir, '.Packages.argo-fake-emerge.lock');
  }

  private async locked<T>(work: () => Promise<T>): Promise<T> {
    await mkdir(this.dir, { recursive: true });
    return withFileLock(this.lockPath, this.cleanup, work);
  }

  /**
   * Allocates the next BUILD_ID of the CPV (`_allocate_filename_multi`: 1 + the highest one among its files and
   * index entries), writes the GPKG and adds it to the index, all under the PKGDIR lock.
   */
  async addBuiltPackage(
    cpv: Cpv,
    build: {
      readonly metadata: (buildId: number) => ReadonlyMap<string, string>;
      readonly image: readonly GpkgImageInput[];
      readonly compression: MemberCompression;
      readonly buildTime: number;
    },
  ): Promise<WrittenBinpkg> {
    return this.locked(async () => {
      const relativeDir = posix.join(cpv.category, cpv.pn);
      const folder = posix.join(this.dir, relativeDir);
      await mkdir(folder, { recursive: true });
      const instance = new RegExp(`^${escapeRegExp(cpv.pf)}-(\\d+)\\.(?:gpkg\\.tar|xpak)$`);
      const ids = (await readdir(folder)).flatMap((name) => {
        const match = instance.exec(name);
        return match === null ? [] : [Number(match[1])];
      });
      const index = await this.readIndex();
      for (const entry of index.packages) {
        if (entry.fields.CPV === cpv.cpv && /^\d+$/.test(entry.fields.BUILD_ID ?? '')) ids.push(Number(entry.fields.BUILD_ID));
      }
      const buildId = Math.max(0, ...ids) + 1;
      const basename = `${cpv.pf}-${buildId}`;
      const metadata = build.metadata(buildId);
      const bytes = await writeGpkg({ basename, metadata, image: build.image, compression: build.compression, mtime: build.buildTime });
      const file = posix.join(folder, `${basename}.gpkg.tar`);
      await writeAtomically(file, bytes, this.cleanup);
      const facts: BinpkgFileFacts = {
        path: posix.join(relativeDir, `${basename}.gpkg.tar`),
        size: bytes.byteLength,
        md5: digest(bytes, 'md5'),
        sha1: digest(bytes, 'sha1'),
        mtime: Math.floor((await stat(file)).mtimeMs / 1000),
      };
      await this.writeIndex(index.header, index.packages, packagesIndexFields(metadata, cpv.cpv, facts));
      return { ...facts, buildId, file, metadata };
    });
  }

  /**
   * Moves a binary fetched (and verified) as `<PKGDIR>/<PATH>.partial` to PATH and lists it in the local index, as
   * Binpkg does through `bintree.inject`. Returns the local file.
   */
  async addFetchedPackage(partial: string, fields: Readonly<IndexFields>): Promise<string> {
    const file = posix.join(this.dir, fields.PATH as string);
    return this.locked(async () => {
      await rename(partial, file);
      const index = await this.readIndex();
      const local: Record<string, string> = { ...fields, MTIME: String(Math.floor((await stat(file)).mtimeMs / 1000)) };
      await this.writeIndex(index.header, index.packages, local);
      return file;
    });
  }

  private async readIndex(): Promise<{ header: IndexFields; packages: readonly PackagesIndexEntry[] }> {
    const path = posix.join(this.dir, 'Packages');
    try {
      const parsed = parsePackagesIndex(await readFile(path, 'utf8'), { file: path });
      return { header: parsed.header, packages: parsed.packages };
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return { header: Object.create(null) as IndexFields, packages: [] };
      throw error;
    }
  }

  /** Replaces the entry of the same CPV and BUILD_ID (or PATH) and rewrites Packages (and Packages.gz). */
  private async writeIndex(header: IndexFields, packages: readonly PackagesIndexEntry[], fields: Record<string, string>): Promise<void> {
    const sameInstance = (entry: PackagesIndexEntry): boolean =>
      entry.fields.CPV === fields.CPV && (fields.BUILD_ID !== undefined ? entry.fields.BUILD_ID === fields.BUILD_ID : entry.fields.PATH === fields.PATH);
    const nextHeader: IndexFields = Object.assign(Object.create(null) as IndexFields, header, { VERSION: header.VERSION ?? '0' });
    if (this.header.chost !== undefined) nextHeader.CHOST = this.header.chost;
    nextHeader.FEATURES = this.header.features.join(' ');
    nextHeader.USE = this.header.use.join(' ');
    const next = { header: nextHeader, packages: [...packages.filter((entry) => !sameInstance(entry)), { fields, droppedFields: {} }] };
    const text = formatPackagesIndex(next, { refreshHeaderAt: new Date() });
    const timestamp = Number(/^TIMESTAMP: (\d+)$/m.exec(text)?.[1]);
    const plain = posix.join(this.dir, 'Packages');
    const gz = `${plain}.gz`;
    await writeAtomically(plain, text, this.cleanup);
    await utimes(plain, timestamp, timestamp);
    if (this.header.compressIndex) {
      await writeAtomically(gz, gzipPackagesIndex(text, { mtime: timestamp }), this.cleanup);
      await utimes(gz, timestamp, timestamp);
    } else {
      await unlink(gz).catch((error: unknown) => {
        if (!isErrno(error, 'ENOENT')) throw error;
      });
    }
  }
}

/**
 * The fetch and verify steps of Binpkg for one binary of a binhost. BinpkgFetcher copies the package (a file://
 * or path binhost) or downloads it with wget (http, https) to `<PKGDIR>/<PATH>.partial`, then gives it the index's
 * MTIME (`sync_timestamp`); BinpkgVerifier checks it against the index: SIZE first, then each digest the index
 * keeps (MD5, SHA1; a SHA256 line is dropped when the index is read).
 */

import { createHash } from 'node:crypto';
import { copyFile, utimes } from 'node:fs/promises';
import { posix } from 'node:path';
import type { IndexFields } from '../../../src/core/gentoo/packages-index.ts';
import { parseRemoteUrl } from './http-request.ts';
import type { PackageBase } from './plan-merges.ts';
import { fileNotFoundLines, hideUrlPassword } from './portage-messages.ts';

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

/**
 * Fetches `path` of `base` into `partial`, printing what Portage (and wget) print with `out`. Resolves true when
 * the file is there; on false `partial` may exist and is the caller's to remove.
 */
export async function fetchBinpkg(base: PackageBase, path: string, fields: Readonly<IndexFields>, partial: string, out: (line: string) => void): Promise<boolean> {
  if (base.kind === 'local') {
    const source = posix.join(base.dir, path);
    try {
      await copyFile(source, partial);
    } catch (error) {
      if (!isErrno(error, 'ENOENT', 'ENOTDIR')) throw error;
      for (const line of fileNotFoundLines(source)) out(line);
      return false;
    }
  } else {
    // BinpkgFetcher: BASE_URI without trailing slashes, "/", PATH without leading slashes.
    const uri = `${base.uri.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
    const remote = base.kind === 'remote' ? parseRemoteUrl(uri) : undefined;
    if (remote === undefined) {
      out(`!!! argo fake emerge: cannot fetch ${hideUrlPassword(uri)}: this fake emerge fetches binaries over http(s) and from folders only`);
      return false;
    }
    // Loaded on first use: node:net and node:dns cost a run from a folder binhost some 20 ms of start-up.
    const { wgetDownload } = await import('./wget-fetch.ts');
    if (!(await wgetDownload(uri, remote, partial, out))) return false;
  }
  const mtime = /^\d+$/.test(fields.MTIME ?? '') ? Number(fields.MTIME) : undefined;
  if (mtime !== undefined) await utimes(partial, mtime, mtime);
  return true;
}

export type BinpkgVerdict =
  /** No SIZE in the index (or one Python's int() refuses): BinpkgVerifier checks nothing. */
  | { readonly kind: 'unchecked'; readonly malformedSize: boolean }
  | { readonly kind: 'verified'; readonly digests: readonly string[] }
  | { readonly kind: 'failed'; readonly digest: string; readonly got: string; readonly expected: string };

/** Python's `int()` on a string. */
function pythonInt(text: string): number | undefined {
  return /^\s*[+-]?\d+(?:_\d+)*\s*$/.test(text) ? Number(text.trim().replaceAll('_', '')) : undefined;
}

/** BinpkgVerifier's verdict on `bytes` against the index fields (`bintree._get_digests`). */
export function verifyBinpkg(fields: Readonly<IndexFields>, bytes: Uint8Array): BinpkgVerdict {
  if (fields.SIZE === undefined) return { kind: 'unchecked', malformedSize: false };
  const size = pythonInt(fields.SIZE);
  if (size === undefined) return { kind: 'unchecked', malformedSize: true };
  if (bytes.byteLength !== size) return { kind: 'failed', digest: 'size', got: String(bytes.byteLength), expected: String(size) };
  const checked: string[] = ['size'];
  for (const [name, algorithm] of [['MD5', 'md5'], ['SHA1', 'sha1']] as const) {
    const expected = fields[name];
    if (expected === undefined || expected === '') continue;
    const got = createHash(algorithm).update(bytes).digest('hex');
    if (got !== expected) return { kind: 'failed', digest: name, got, expected };
    checked.push(name);
  }
  return { kind: 'verified', digests: checked };
}

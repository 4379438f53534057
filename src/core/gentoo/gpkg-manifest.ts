/**
 * The GPKG `Manifest` member (GLEP 78, GLEP 74 `DATA` lines): `DATA <member> <size> (<HASH> <hex>)+`, one line per
 * member except the Manifest itself, optionally wrapped in an OpenPGP clear signature. Portage writes BLAKE2B and
 * SHA512 in frozenset order, which varies between packages, so hash pairs are read by name, never by position.
 */

import { createHash } from 'node:crypto';
import { ArgoError } from '../errors.ts';

export interface GpkgManifestEntry {
  /** Member name without the container directory: `image.tar.zst`. */
  readonly name: string;
  readonly size: number;
  /** Upper-case hash name -> lower-case hex digest, in file order. */
  readonly hashes: ReadonlyMap<string, string>;
}

export interface GpkgManifest {
  readonly entries: readonly GpkgManifestEntry[];
  /** True when the Manifest is OpenPGP clear-signed; the signature itself is left to gpg. */
  readonly signed: boolean;
  /** The Manifest text (for a signed one, the signed cleartext). */
  readonly text: string;
}

/** The hashes Portage writes (`MANIFEST2_HASH_DEFAULTS`) and the node:crypto algorithm for each. */
export const MANIFEST_HASHES: ReadonlyMap<string, string> = new Map([
  ['BLAKE2B', 'blake2b512'],
  ['SHA512', 'sha512'],
]);

const SIGNED_MESSAGE = '-----BEGIN PGP SIGNED MESSAGE-----';
const SIGNATURE_START = '-----BEGIN PGP SIGNATURE-----';

/** Throws ARGO_GPKG_INVALID for a line Portage's `_load_manifest` would reject. */
export function parseGpkgManifest(raw: string): GpkgManifest {
  const signed = raw.includes(SIGNED_MESSAGE);
  const text = signed ? clearSignedText(raw) : raw;
  const entries: GpkgManifestEntry[] = [];
  const names = new Set<string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index] as string;
    if (line === '') continue;
    const words = line.trim().split(/\s+/);
    const fail = (problem: string): never => {
      throw new ArgoError('ARGO_GPKG_INVALID', `GPKG Manifest line ${index + 1} ${problem}`, {
        hint: 'Manifest lines are "DATA <member> <size> <HASH> <hex> ..."; the package is damaged or not made by Portage',
        details: { line: index + 1 },
      });
    };
    if (words[0] !== 'DATA') fail('does not start with DATA');
    const name = words[1];
    if (name === undefined) return fail('names no member');
    if (names.has(name)) fail(`lists ${name} twice`);
    const size = words[2];
    if (size === undefined || !/^\d+$/.test(size)) return fail(`has no valid size for ${name}`);
    if ((words.length - 3) % 2 !== 0) fail(`has a hash name without a value for ${name}`);
    const hashes = new Map<string, string>();
    for (let word = 3; word < words.length; word += 2) {
      hashes.set((words[word] as string).toUpperCase(), (words[word + 1] as string).toLowerCase());
    }
    names.add(name);
    entries.push({ name, size: Number(size), hashes });
  }
  return { entries, signed, text };
}

/** Manifest text as Portage writes it: `DATA name size BLAKE2B hex SHA512 hex`, one line per entry. */
export function formatGpkgManifest(entries: readonly GpkgManifestEntry[]): string {
  return entries
    .map((entry) => ['DATA', entry.name, String(entry.size), ...[...entry.hashes].flat()].join(' ') + '\n')
    .join('');
}

/** BLAKE2B and SHA512 of a member, lower-case hex. */
export function digestMember(data: Uint8Array): ReadonlyMap<string, string> {
  const digests = new Map<string, string>();
  for (const [name, algorithm] of MANIFEST_HASHES) {
    digests.set(name, createHash(algorithm).update(data).digest('hex'));
  }
  return digests;
}

/** The signed text of an OpenPGP clear-signed message (RFC 4880 §7), dash-escaping undone. */
function clearSignedText(raw: string): string {
  const lines = raw.split(/\r\n|\r|\n/);
  let index = lines.indexOf(SIGNED_MESSAGE) + 1;
  // Armor headers ("Hash: SHA512") run up to the first empty line.
  while (index < lines.length && lines[index] !== '') index += 1;
  index += 1;
  const body: string[] = [];
  for (; index < lines.length; index += 1) {
    const line = lines[index] as string;
    if (line === SIGNATURE_START) break;
    body.push(line.startsWith('- ') ? line.slice(2) : line);
  }
  return body.join('\n') + '\n';
}

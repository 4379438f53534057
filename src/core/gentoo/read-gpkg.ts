/**
 * Reads a GPKG binary package (GLEP 78; Portage lib/portage/gpkg.py `_verify_binpkg`, `get_metadata`): an
 * uncompressed tar whose members all sit in one directory: `gpkg-1`, `metadata.tar[.comp]`, `image.tar[.comp]`,
 * optional `.sig` detached signatures and a `Manifest` with sizes and hashes of every other member.
 *
 * Structure errors throw ArgoError (ARGO_GPKG_INVALID, or ARGO_COMPRESSION_UNSUPPORTED naming the member); hash
 * and size mismatches are reported in `verification` unless `strict` is set. Signatures are listed and left
 * intact: checking them is gpg's job.
 */

import { ArgoError } from '../errors.ts';
import { compressionOfMember, decompressMember, type MemberCompression } from './binpkg-compression.ts';
import { decodeMetadataFile } from './decode-metadata-file.ts';
import { digestMember, MANIFEST_HASHES, parseGpkgManifest, type GpkgManifest } from './gpkg-manifest.ts';
import { readTarArchive, type TarEntry } from './tar-archive.ts';

export interface GpkgMember {
  /** Name inside the container directory: `metadata.tar.zst`. */
  readonly name: string;
  /** Full path in the container: `which-2.23-1/metadata.tar.zst`. */
  readonly path: string;
  readonly size: number;
  readonly mode: number;
  readonly mtime: number;
}

/** An entry of `image.tar*`: the tar header's fields, with the path as it will be installed. */
export interface GpkgImageEntry extends Omit<TarEntry, 'name' | 'linkname' | 'data'> {
  /** Installed path, absolute: `/usr/bin/which`. */
  readonly path: string;
  /** Symlink target, or for a hard link the other entry's installed path. */
  readonly linkTarget: string | undefined;
  /** File contents, only with `imageData: true`. */
  readonly data?: Uint8Array;
}

export interface GpkgSignature {
  /** The `.sig` member. */
  readonly member: string;
  /** The member it signs. */
  readonly signs: string;
  readonly data: Uint8Array;
}

export interface GpkgHashCheck {
  readonly algorithm: string;
  readonly expected: string;
  readonly actual: string;
  readonly matches: boolean;
}

export interface GpkgMemberCheck {
  readonly member: string;
  /** Listed in the Manifest. */
  readonly listed: boolean;
  readonly sizeMatches: boolean;
  /** Every hash the Manifest gives that this build computes (BLAKE2B, SHA512). */
  readonly hashes: readonly GpkgHashCheck[];
  /** Hash names in the Manifest this build does not compute (ignored, as Portage does). */
  readonly unsupportedHashes: readonly string[];
  readonly ok: boolean;
}

export interface GpkgVerification {
  /** Every member listed, sized and hashed right, and nothing listed that is missing. */
  readonly ok: boolean;
  readonly members: readonly GpkgMemberCheck[];
  /** Listed in the Manifest but absent from the container. */
  readonly missingMembers: readonly string[];
}

export interface Gpkg {
  /** The container directory, normally the file's basename without `.gpkg.tar`. */
  readonly name: string;
  readonly members: readonly GpkgMember[];
  readonly metadataCompression: MemberCompression;
  readonly imageCompression: MemberCompression;
  /** `metadata/` files by name; see decodeMetadataFile for which come back as text. */
  readonly metadata: ReadonlyMap<string, string | Uint8Array>;
  readonly image: readonly GpkgImageEntry[];
  readonly manifest: GpkgManifest;
  readonly signatures: readonly GpkgSignature[];
  readonly verification: GpkgVerification;
}

export interface ReadGpkgOptions {
  /** Keep file contents in `image` entries (default false). */
  readonly imageData?: boolean;
  /** Throw ARGO_GPKG_INVALID when any Manifest check fails (default false: report in `verification`). */
  readonly strict?: boolean;
  /**
   * Decompress and list the image (default true). False reads the metadata alone (the Manifest still checks
   * every member, image included, by its compressed bytes): what a gateway needs of an upload, without
   * unpacking gigabytes, or a decompression bomb, in memory.
   */
  readonly image?: boolean;
  /** Largest decompressed inner archive accepted (default 4 GiB). */
  readonly maxUnpackedBytes?: number;
}

const GPKG_VERSION_FILE = 'gpkg-1';
const MANIFEST = 'Manifest';
const DEFAULT_MAX_UNPACKED = 4 * 1024 ** 3;
const NOT_A_GPKG_HINT = 'a GPKG is an uncompressed tar (GLEP 78); the file may be truncated, damaged or another format';

export async function readGpkg(bytes: Uint8Array, options: ReadGpkgOptions = {}): Promise<Gpkg> {
  const entries = await readTarArchive(bytes, { what: 'the GPKG container', code: 'ARGO_GPKG_INVALID', hint: NOT_A_GPKG_HINT });
  const { name, members } = checkContainer(entries);
  const byName = new Map(members.map((member, index) => [member.name, entries[index] as TarEntry]));

  const manifestEntry = byName.get(MANIFEST) as TarEntry;
  const manifest = parseGpkgManifest(new TextDecoder('utf-8').decode(manifestEntry.data));
  const verification = verifyMembers(members, byName, manifest);
  if (options.strict === true && !verification.ok) {
    const failed = verification.members.find((check) => !check.ok)?.member ?? verification.missingMembers[0];
    throw new ArgoError('ARGO_GPKG_INVALID', `GPKG ${name} fails its Manifest at ${failed}`, {
      hint: 'the package was altered or damaged after it was built; fetch or build it again',
      details: { package: name, member: failed },
    });
  }

  const limits = { maxBytes: options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED };
  const metadataMember = dataMember(members, 'metadata', name);
  const imageMember = dataMember(members, 'image', name);
  const metadataCompression = compressionOfMember(metadataMember.name, 'metadata');
  const imageCompression = compressionOfMember(imageMember.name, 'image');

  const metadataTar = decompressMember((byName.get(metadataMember.name) as TarEntry).data, metadataCompression, metadataMember.name, limits);
  const metadataEntries = await readTarArchive(metadataTar, innerContext(metadataMember.name));
  const metadata = new Map<string, string | Uint8Array>();
  for (const entry of metadataEntries) {
    if (entry.type !== 'file' || !entry.name.startsWith('metadata/')) continue;
    const key = entry.name.slice('metadata/'.length);
    if (key !== '') metadata.set(key, decodeMetadataFile(key, entry.data));
  }

  let image: GpkgImageEntry[] = [];
  if (options.image !== false) {
    const imageTar = decompressMember((byName.get(imageMember.name) as TarEntry).data, imageCompression, imageMember.name, limits);
    const imageEntries = await readTarArchive(imageTar, innerContext(imageMember.name));
    image = imageEntries.flatMap((entry) => toImageEntry(entry, imageMember.name, options.imageData === true));
  }

  const signatures = members
    .filter((member) => member.name.endsWith('.sig'))
    .map((member) => ({ member: member.name, signs: member.name.slice(0, -'.sig'.length), data: (byName.get(member.name) as TarEntry).data }));

  return { name, members, metadataCompression, imageCompression, metadata, image, manifest, signatures, verification };
}

/** Portage's container checks: regular files only, all in one directory, no duplicates, gpkg-1 and Manifest present. */
function checkContainer(entries: readonly TarEntry[]): { name: string; members: GpkgMember[] } {
  const invalid = (message: string, hint = NOT_A_GPKG_HINT): never => {
    throw new ArgoError('ARGO_GPKG_INVALID', message, { hint });
  };
  if (entries.length === 0) invalid('the GPKG container is empty');
  let directory: string | undefined;
  const members: GpkgMember[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    if (entry.type !== 'file') invalid(`the GPKG container holds ${entry.name}, which is not a regular file`);
    const slash = entry.name.indexOf('/');
    if (slash <= 0 || entry.name.indexOf('/', slash + 1) !== -1 || slash === entry.name.length - 1) {
      invalid(`the GPKG container member ${entry.name} is not <directory>/<file>`);
    }
    const memberDirectory = entry.name.slice(0, slash);
    directory ??= memberDirectory;
    if (memberDirectory !== directory) invalid(`the GPKG container mixes directories ${directory} and ${memberDirectory}`);
    if (seen.has(entry.name)) invalid(`the GPKG container holds ${entry.name} twice`, 'a duplicate member can hide a substituted file; do not install this package');
    seen.add(entry.name);
    members.push({ name: entry.name.slice(slash + 1), path: entry.name, size: entry.size, mode: entry.mode, mtime: entry.mtime });
  }
  const name = directory as string;
  if (!seen.has(`${name}/${GPKG_VERSION_FILE}`)) invalid(`the tar archive has no ${name}/${GPKG_VERSION_FILE}, so it is not a GPKG`);
  if (!seen.has(`${name}/${MANIFEST}`)) invalid(`GPKG ${name} has no Manifest`, 'GLEP 78 requires a Manifest; the package is incomplete');
  return { name, members };
}

function dataMember(members: readonly GpkgMember[], base: 'metadata' | 'image', packageName: string): GpkgMember {
  const found = members.filter((member) => member.name.startsWith(`${base}.tar`) && !member.name.endsWith('.sig'));
  if (found.length !== 1) {
    throw new ArgoError('ARGO_GPKG_INVALID', `GPKG ${packageName} has ${found.length === 0 ? 'no' : found.length} ${base}.tar member${found.length > 1 ? 's' : ''}`, {
      hint: 'GLEP 78 requires exactly one metadata archive and one image archive',
      details: { package: packageName },
    });
  }
  return found[0] as GpkgMember;
}

function verifyMembers(members: readonly GpkgMember[], byName: ReadonlyMap<string, TarEntry>, manifest: GpkgManifest): GpkgVerification {
  const listed = new Map(manifest.entries.map((entry) => [entry.name, entry]));
  const checks: GpkgMemberCheck[] = [];
  for (const member of members) {
    if (member.name === MANIFEST) continue;
    const record = listed.get(member.name);
    if (record === undefined) {
      checks.push({ member: member.name, listed: false, sizeMatches: false, hashes: [], unsupportedHashes: [], ok: false });
      continue;
    }
    const digests = digestMember((byName.get(member.name) as TarEntry).data);
    const hashes: GpkgHashCheck[] = [];
    const unsupportedHashes: string[] = [];
    for (const [algorithm, expected] of record.hashes) {
      const actual = digests.get(algorithm);
      if (actual === undefined || !MANIFEST_HASHES.has(algorithm)) unsupportedHashes.push(algorithm);
      else hashes.push({ algorithm, expected, actual, matches: actual === expected });
    }
    const sizeMatches = record.size === member.size;
    // Portage needs at least one supported hash and every supported one to match.
    const ok = sizeMatches && hashes.length > 0 && hashes.every((hash) => hash.matches);
    checks.push({ member: member.name, listed: true, sizeMatches, hashes, unsupportedHashes, ok });
  }
  const present = new Set(members.map((member) => member.name));
  const missingMembers = manifest.entries.filter((entry) => !present.has(entry.name)).map((entry) => entry.name);
  return { ok: missingMembers.length === 0 && checks.every((check) => check.ok), members: checks, missingMembers };
}

function innerContext(memberName: string): { what: string; code: 'ARGO_GPKG_INVALID'; hint: string } {
  return {
    what: `GPKG member ${memberName}`,
    code: 'ARGO_GPKG_INVALID',
    hint: 'the inner archive is damaged; check the Manifest verification and fetch the package again',
  };
}

/** Image entries under `image/`; Portage's safe extraction refuses anything that would land outside it. */
function toImageEntry(entry: TarEntry, memberName: string, withData: boolean): GpkgImageEntry[] {
  const outside = (): never => {
    throw new ArgoError('ARGO_GPKG_INVALID', `GPKG member ${memberName} holds ${entry.name}, outside image/`, {
      hint: 'the package would write outside its image; do not install it',
      details: { member: memberName, entry: entry.name },
    });
  };
  const trimmed = entry.name.replace(/\/+$/, '');
  if (trimmed === 'image') return [];
  if (!trimmed.startsWith('image/')) outside();
  const relative = trimmed.slice('image/'.length);
  if (relative.split('/').some((part) => part === '..')) outside();
  const linkTarget =
    entry.type === 'link' && entry.linkname !== undefined
      ? `/${entry.linkname.replace(/^image\//, '')}`
      : entry.linkname;
  return [
    {
      path: `/${relative}`,
      type: entry.type,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      uname: entry.uname,
      gname: entry.gname,
      size: entry.size,
      mtime: entry.mtime,
      linkTarget,
      ...(withData && entry.type === 'file' ? { data: entry.data } : {}),
    },
  ];
}

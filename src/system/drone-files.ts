/**
 * What a drone reads and writes on its own disk: one log file per build attempt, and the binary package an
 * emerge left in the profile root's PKGDIR (with its stanza in PKGDIR/Packages, as Portage wrote it).
 */

import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parsePackagesIndex } from '../core/gentoo/parse-packages-index.ts';
import { tryParseCpv } from '../core/gentoo/parse-cpv.ts';
import { isMissing } from './fs-errors.ts';
import { createRootedFs } from './rooted-fs.ts';
import { readMakeConf } from './gentoo/read-make-conf.ts';

export interface BuildLog {
  readonly path: string;
  append(line: string): void;
  close(): Promise<void>;
}

/** Opens (creates, 0640; folders 0750) the log of one attempt, appending. */
export async function openBuildLog(path: string): Promise<BuildLog> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  const stream: WriteStream = createWriteStream(path, { flags: 'a', mode: 0o640 });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  let closed: Promise<void> | undefined;
  return {
    path,
    append: (line) => {
      if (closed === undefined) stream.write(`${line}\n`);
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        stream.end(() => resolve());
      });
      return closed;
    },
  };
}

export interface BuiltPackageFile {
  /** Host path of the `.gpkg.tar`. */
  readonly file: string;
  readonly buildId: string;
  /** Its stanza in PKGDIR/Packages, when Portage listed it there. */
  readonly stanza?: Readonly<Record<string, string>>;
}

/** PKGDIR named by the profile (its override, else its root's make.conf, else Portage's default), as a path in the root. */
export async function profilePkgdir(root: string, override: string | undefined): Promise<string> {
  if (override !== undefined && override !== '') return override;
  try {
    const conf = await readMakeConf(createRootedFs(root));
    const value = conf.vars.PKGDIR;
    if (typeof value === 'string' && value !== '') return value;
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  return '/var/cache/binpkgs';
}

/**
 * The newest GPKG of `cpv` in the host folder `pkgdir` written at or after `since` (epoch ms):
 * `CAT/PN/PF-N.gpkg.tar` (binpkg-multi-instance) or `CAT/PF.gpkg.tar`. Undefined when the build left none.
 */
export async function findBuiltPackage(pkgdir: string, cpv: string, since: number): Promise<BuiltPackageFile | undefined> {
  const parsed = tryParseCpv(cpv);
  if (!parsed.ok) return undefined;
  const { category, pn, pf } = parsed.value;
  const base = pkgdir;
  const candidates: { file: string; buildId: string }[] = [];
  const multi = join(base, category, pn);
  for (const name of await readdir(multi).catch((error: unknown) => (isMissing(error) ? [] : Promise.reject(error)))) {
    const match = /^(.+)-(\d+)\.gpkg\.tar$/.exec(name);
    if (match?.[1] === pf) candidates.push({ file: join(multi, name), buildId: match[2] as string });
  }
  const single = join(base, category, `${pf}.gpkg.tar`);
  if ((await stat(single).catch(() => undefined)) !== undefined) candidates.push({ file: single, buildId: '' });
  const fresh: { file: string; buildId: string; mtime: number }[] = [];
  for (const candidate of candidates) {
    const info = await stat(candidate.file);
    if (info.isFile() && info.mtimeMs >= since - 1_000) fresh.push({ ...candidate, mtime: info.mtimeMs });
  }
  fresh.sort((a, b) => Number(b.buildId || 0) - Number(a.buildId || 0) || b.mtime - a.mtime);
  const best = fresh[0];
  if (best === undefined) return undefined;
  const stanza = await readStanza(base, cpv, best.buildId);
  return { file: best.file, buildId: best.buildId, ...(stanza === undefined ? {} : { stanza }) };
}

async function readStanza(pkgdir: string, cpv: string, buildId: string): Promise<Record<string, string> | undefined> {
  let text: string;
  try {
    text = await readFile(join(pkgdir, 'Packages'), 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  const index = parsePackagesIndex(text, { file: join(pkgdir, 'Packages') });
  const entry = index.packages.find((candidate) => candidate.fields.CPV === cpv && (buildId === '' || candidate.fields.BUILD_ID === buildId));
  return entry === undefined ? undefined : { ...entry.fields };
}

/**
 * The settings a run works with, read from `$PORTAGE_CONFIGROOT/etc/portage/make.conf` (a file, or a directory of
 * files read in name order as Portage allows) with Portage's make.globals defaults under it and the environment
 * over it (Portage's `env` layer: USE and FEATURES stack on top, the other variables replace), and the fake's own
 * knobs from `$PORTAGE_CONFIGROOT/etc/argo-fake-emerge.conf`.
 */

import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { MemberCompression } from '../../../src/core/gentoo/binpkg-compression.ts';
import { parseMakeConf } from '../../../src/core/gentoo/parse-make-conf.ts';
import { readFileSync } from 'node:fs';
import { parseFakeConfig, DEFAULT_FAKE_CONFIG, type FakeEmergeConfig } from './parse-fake-config.ts';
import { splitWords, stackIncremental } from './package-metadata.ts';
import { parseRemoteUrl } from './http-request.ts';
import { hideUrlPassword } from './portage-messages.ts';

/** cnf/make.globals FEATURES of Portage 3.0.82. */
const MAKE_GLOBALS_FEATURES = splitWords(`assume-digests binpkg-docompress binpkg-dostrip binpkg-logs
  binpkg-multi-instance buildpkg-live compress-index config-protect-if-modified distlocks ebuild-locks
  fixlafiles ipc-sandbox merge-sync merge-wait multilib-strict network-sandbox news parallel-fetch
  pkgdir-index-trusted pid-sandbox preserve-libs protect-owned qa-unresolved-soname-deps sandbox strict
  unknown-features-warn unmerge-logs unmerge-orphans userfetch userpriv usersandbox usersync`);

/**
 * A PORTAGE_BINHOST entry, as BinRepoConfigLoader turns it into an implicit binrepos.conf repository: its sync-uri
 * is the entry without trailing slashes, its name the MD5 of that (messages say `[name]`).
 */
export type Binhost = {
  /** As written in PORTAGE_BINHOST. */
  readonly uri: string;
  /** `_normalize_uri`: the entry without trailing slashes. */
  readonly syncUri: string;
  /** `_digest_uri`: the MD5 of the sync-uri, in hex. */
  readonly name: string;
} & (
  | {
      /** A file:// URL or an absolute path. */
      readonly kind: 'local';
      /** Host path of the directory holding `Packages`. */
      readonly dir: string;
    }
  | {
      /** An http:// or https:// URL, possibly with `user:password@`. */
      readonly kind: 'remote';
    }
);

export interface TargetSettings {
  readonly configRoot: string;
  readonly root: string;
  /** Host path: PKGDIR inside the config root. */
  readonly pkgdir: string;
  readonly binhosts: readonly Binhost[];
  readonly useTokens: readonly string[];
  /** make.globals, make.conf and environment FEATURES, before the command line adds or drops buildpkg. */
  readonly features: ReadonlySet<string>;
  readonly chost?: string;
  readonly cflags?: string;
  readonly cxxflags?: string;
  readonly ldflags?: string;
  readonly compression: MemberCompression;
  readonly fake: FakeEmergeConfig;
  /** Host path of the ebuild repository (`gentoo`). */
  readonly repository: string;
}

/** A problem in the configuration: printed as `!!! <message>` and the run exits 1 before touching anything. */
export class SettingsProblem extends Error {}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/** `inside` resolved under `root`; refuses a path that climbs out of it. */
export function insideRoot(root: string, inside: string, what: string): string {
  const normal = posix.normalize(`/${inside}`);
  if (normal.split('/').includes('..')) throw new SettingsProblem(`${what} ${JSON.stringify(inside)} leaves the root ${root}`);
  return posix.join(root, normal);
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** make.conf text: the file, or a directory's files (no dot files, no backups ending in ~) in name order. */
async function readMakeConfText(path: string): Promise<string> {
  try {
    if ((await stat(path)).isDirectory()) {
      const names = (await readdir(path)).filter((name) => !name.startsWith('.') && !name.endsWith('~')).sort();
      const parts = await Promise.all(names.map((name) => readFile(posix.join(path, name), 'utf8')));
      return parts.join('\n');
    }
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return '';
    throw error;
  }
}

function readBinhosts(value: string): Binhost[] {
  return splitWords(value).map((uri): Binhost => {
    const syncUri = uri.replace(/\/+$/, '');
    const named = { uri, syncUri, name: createHash('md5').update(syncUri, 'utf8').digest('hex') };
    if (uri.startsWith('/')) return { ...named, kind: 'local', dir: posix.normalize(uri) };
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new SettingsProblem(`PORTAGE_BINHOST entry ${JSON.stringify(hideUrlPassword(uri))} is not a URL or an absolute path`);
    }
    if (url.protocol === 'file:') return { ...named, kind: 'local', dir: posix.normalize(decodeURIComponent(url.pathname)) };
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      if (parseRemoteUrl(`${syncUri}/Packages`) === undefined) throw new SettingsProblem(`PORTAGE_BINHOST entry ${JSON.stringify(hideUrlPassword(uri))} is not a URL this fake emerge can fetch`);
      return { ...named, kind: 'remote' };
    }
    throw new SettingsProblem(`PORTAGE_BINHOST entry ${hideUrlPassword(uri)}: this fake emerge reads http://, https:// and file:// binhosts and absolute paths only`);
  });
}

function compressionOf(value: string): MemberCompression {
  switch (value) {
    case 'zstd':
      return 'zst';
    case 'gzip':
      return 'gz';
    default:
      throw new SettingsProblem(`BINPKG_COMPRESS=${value}: this fake emerge writes zstd or gzip GPKGs only`);
  }
}

function absolute(value: string | undefined, name: string, fallback: string): string {
  const path = value === undefined || value === '' ? fallback : value;
  if (!path.startsWith('/')) throw new SettingsProblem(`${name}=${path} is not an absolute path`);
  return posix.normalize(path).replace(/(.)\/+$/, '$1');
}

export async function readSettings(env: NodeJS.ProcessEnv): Promise<TargetSettings> {
  const configRoot = absolute(env.PORTAGE_CONFIGROOT, 'PORTAGE_CONFIGROOT', '/');
  const root = absolute(env.ROOT, 'ROOT', configRoot);
  for (const [name, path] of [['PORTAGE_CONFIGROOT', configRoot], ['ROOT', root]] as const) {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isDirectory()) throw new SettingsProblem(`${name}=${path} is not a directory`);
  }

  const makeConfPath = '/etc/portage/make.conf';
  const makeConf = parseMakeConf(await readMakeConfText(insideRoot(configRoot, makeConfPath, 'make.conf')), {
    file: makeConfPath,
    readFile: (path) => {
      try {
        return readFileSync(insideRoot(configRoot, path, 'a file sourced by make.conf'), 'utf8');
      } catch (error) {
        if (isErrno(error, 'ENOENT') || error instanceof SettingsProblem) return undefined;
        throw error;
      }
    },
  });
  const conf = makeConf.vars;
  /** The environment replaces make.conf, as Portage's `env` layer does. */
  const setting = (name: string): string | undefined => {
    const value = env[name] ?? conf[name];
    return value === undefined || value === '' ? undefined : value;
  };

  const format = setting('BINPKG_FORMAT') ?? 'gpkg';
  if (format !== 'gpkg') throw new SettingsProblem(`BINPKG_FORMAT=${format}: this fake emerge writes GPKG (gpkg) packages only`);

  const fakeConfPath = insideRoot(configRoot, '/etc/argo-fake-emerge.conf', 'the fake configuration');
  const fakeText = await readOptional(fakeConfPath);
  let fake = DEFAULT_FAKE_CONFIG;
  if (fakeText !== undefined) {
    const parsed = parseFakeConfig(fakeText);
    if (!parsed.ok) throw new SettingsProblem(`${fakeConfPath}, line ${parsed.line}: ${parsed.message}`);
    fake = parsed.config;
  }

  const optional = (name: string): Record<string, string> => {
    const value = setting(name);
    return value === undefined ? {} : { [name.toLowerCase()]: value };
  };
  return {
    configRoot,
    root,
    // Portage takes PKGDIR as a host path wherever it is set. A PKGDIR in the environment is taken so here (build
    // drones pass their profile root's own); one from make.conf is kept inside the config root, so that a test
    // never writes into this machine's /var/cache/binpkgs.
    pkgdir: env.PKGDIR !== undefined && env.PKGDIR !== '' ? absolute(env.PKGDIR, 'PKGDIR', '/') : insideRoot(configRoot, conf.PKGDIR ?? '/var/cache/binpkgs', 'PKGDIR'),
    binhosts: readBinhosts(setting('PORTAGE_BINHOST') ?? ''),
    useTokens: [...splitWords(conf.USE), ...splitWords(env.USE)],
    features: new Set(stackIncremental([MAKE_GLOBALS_FEATURES, splitWords(conf.FEATURES), splitWords(env.FEATURES)])),
    ...optional('CHOST'),
    ...optional('CFLAGS'),
    ...optional('CXXFLAGS'),
    ...optional('LDFLAGS'),
    compression: compressionOf(setting('BINPKG_COMPRESS') ?? 'zstd'),
    fake,
    repository: insideRoot(configRoot, '/var/db/repos/gentoo', 'the repository'),
  };
}

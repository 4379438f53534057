/**
 * Reads the build swarm's configuration: the file (`--config FILE`, else ARGO_SWARM_CONFIG, else
 * /etc/argo/swarm.toml, else /etc/argo/swarm.json; none of the defaults is fine), the environment, the host
 * name and CPU count, and the Redis password from its private file. The layers are merged and checked by
 * resolveSwarmConfig (src/core/swarm/swarm-config.ts); docs/swarm-config.md documents them.
 */

import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import { isIP } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import { extname, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ArgoError, isArgoError } from '../core/errors.ts';
import { parseRedisUrl, redactRedisUrl, resolveSwarmConfig, type PartialCliOverrides, type RedisSettings, type SwarmConfig } from '../core/swarm/swarm-config.ts';
import { readPrivateFile } from './read-private-file.ts';

export { redactRedisUrl };

export const DEFAULT_SWARM_CONFIG_FILES: readonly string[] = ['/etc/argo/swarm.toml', '/etc/argo/swarm.json'];

/** A configuration file is a few kilobytes; this bounds what a wrong path (a log, a device) makes us read. */
const MAX_CONFIG_BYTES = 1024 * 1024;
/** The password alone on a line; as for the other secret files (src/login-path/password-hash.ts). */
const MAX_PASSWORD_FILE_BYTES = 4096;

export interface ReadSwarmConfigOptions {
  /** `--config FILE`: must exist. */
  configFile?: string;
  /** Default: process.env. */
  env?: NodeJS.ProcessEnv;
  cli?: PartialCliOverrides;
  /** Tried in order when no file is named; default DEFAULT_SWARM_CONFIG_FILES. */
  defaultFiles?: readonly string[];
  /** Default: os.hostname(). */
  hostname?: string;
  /** Default: os.availableParallelism(). */
  cpuCount?: number;
}

export async function readSwarmConfig(options: ReadSwarmConfigOptions = {}): Promise<SwarmConfig> {
  const env = options.env ?? process.env;
  const named = options.configFile ?? (env['ARGO_SWARM_CONFIG'] === '' ? undefined : env['ARGO_SWARM_CONFIG']);
  const namedBy = options.configFile !== undefined ? '--config' : 'ARGO_SWARM_CONFIG';
  const found = named !== undefined ? await readNamedConfigFile(resolve(named), namedBy) : await readDefaultConfigFile(options.defaultFiles ?? DEFAULT_SWARM_CONFIG_FILES);
  const config = resolveSwarmConfig({
    ...(found === undefined ? {} : { file: parseConfigText(found.text, found.file), fileName: found.file }),
    env,
    ...(options.cli === undefined ? {} : { cli: options.cli }),
    hostname: options.hostname ?? hostname(),
    cpuCount: options.cpuCount ?? availableParallelism(),
  });
  if (config.redis.passwordFile !== undefined) config.redis.password = await readRedisPassword(config.redis.passwordFile);
  return config;
}

interface ConfigText {
  readonly file: string;
  readonly text: string;
}

async function readNamedConfigFile(file: string, namedBy: string): Promise<ConfigText> {
  const text = await readConfigFile(file);
  if (text === undefined) {
    throw new ArgoError('ARGO_FILE_NOT_FOUND', `The swarm configuration file ${file} (named by ${namedBy}) does not exist`, {
      hint: `Fix the path given to ${namedBy}, or leave it out to use ${DEFAULT_SWARM_CONFIG_FILES.join(' or ')} (or the defaults).`,
      details: { file },
    });
  }
  return { file, text };
}

async function readDefaultConfigFile(files: readonly string[]): Promise<ConfigText | undefined> {
  const found: ConfigText[] = [];
  for (const file of files) {
    const text = await readConfigFile(file);
    if (text !== undefined) found.push({ file, text });
  }
  if (found.length > 1) {
    throw new ArgoError('ARGO_CONFIG_INVALID', `Invalid swarm configuration: both ${found.map((entry) => entry.file).join(' and ')} exist`, {
      hint: 'Keep one of them, or name the one to use with --config or ARGO_SWARM_CONFIG.',
      details: { files: found.map((entry) => entry.file) },
    });
  }
  return found[0];
}

/**
 * The file's text, or undefined when it does not exist. The orchestrator runs the restart commands it holds,
 * so the file must be a regular file of root (or of the user argo runs as) that group and others cannot write.
 * The checks are made on the open descriptor (fstat): the file checked is the file read.
 */
async function readConfigFile(file: string): Promise<string | undefined> {
  const refuse = (reason: string, hint: string): ArgoError =>
    new ArgoError('ARGO_CONFIG_INVALID', `Invalid swarm configuration in ${file}: the file ${reason}`, { hint, details: { source: file, reason } });
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EACCES' || code === 'EPERM') throw refuse('cannot be read (permission denied)', 'Run as root, or make the file readable by the user the swarm runs as.');
    throw error;
  }
  try {
    const stats = await handle.stat();
    const euid = process.geteuid?.() ?? 0;
    if (!stats.isFile()) throw refuse('is not a regular file', 'Name a TOML or JSON file.');
    if (stats.uid !== 0 && stats.uid !== euid) throw refuse(`is owned by uid ${stats.uid}, not root`, `chown root:root ${file}`);
    if ((stats.mode & 0o022) !== 0) {
      throw refuse(`has mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}: group or others can change it, and the orchestrator runs its restart commands`, `chmod 644 ${file}`);
    }
    if (stats.size > MAX_CONFIG_BYTES) throw refuse(`is larger than ${MAX_CONFIG_BYTES} bytes`, 'Name the swarm configuration file, not another file.');
    const text = await handle.readFile({ encoding: 'utf8' });
    if (text.length > MAX_CONFIG_BYTES) throw refuse(`is larger than ${MAX_CONFIG_BYTES} bytes`, 'Name the swarm configuration file, not another file.');
    return text.startsWith('\uFEFF') ? text.slice(1) : text;
  } finally {
    await handle.close();
  }
}

/**
 * TOML or JSON by the file's extension. Parse errors name the file, the line and the column, never the text
 * around them: a misplaced secret would otherwise be printed.
 */
export function parseConfigText(text: string, file: string): unknown {
  const extension = extname(file).toLowerCase();
  const invalid = (line: number, column: number, reason: string, format: string): ArgoError =>
    new ArgoError('ARGO_CONFIG_INVALID', `Invalid swarm configuration in ${file}:${line}:${column}: not valid ${format}: ${reason}`, {
      hint: `Fix the ${format} syntax at line ${line} of ${file}.`,
      details: { source: file, line, column, reason },
    });
  if (extension === '.toml') {
    try {
      return parseToml(text);
    } catch (error) {
      if (!(error instanceof TomlError)) throw error;
      // The message's first line is the reason; the code block after it quotes the file.
      const reason = (error.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
      throw invalid(error.line, error.column, reason, 'TOML');
    }
  }
  if (extension === '.json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      // V8's message quotes the text around the error; find the place ourselves.
      const { offset, reason } = jsonSyntaxError(text);
      const before = text.slice(0, offset).split('\n');
      throw invalid(before.length, (before.at(-1)?.length ?? 0) + 1, reason, 'JSON');
    }
  }
  throw new ArgoError('ARGO_CONFIG_INVALID', `Invalid swarm configuration in ${file}: the file name must end in .toml or .json`, {
    hint: 'Rename the file; its extension says how it is parsed.',
    details: { source: file },
  });
}

/** The offset and kind of the first syntax error of a text that JSON.parse refused. */
export function jsonSyntaxError(text: string): { offset: number; reason: string } {
  let at = 0;
  class Stop {
    readonly reason: string;
    constructor(reason: string) {
      this.reason = reason;
    }
  }
  const fail = (reason: string): never => {
    throw new Stop(at >= text.length ? 'unexpected end of file' : reason);
  };
  const skipSpace = (): void => {
    while (at < text.length && ' \t\n\r'.includes(text[at] as string)) at += 1;
  };
  const literal = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null/y;
  const string = (): void => {
    at += 1;
    while (at < text.length) {
      const char = text[at] as string;
      if (char === '"') {
        at += 1;
        return;
      }
      if (char === '\\') {
        if (/^["\\/bfnrt]$/.test(text[at + 1] ?? '')) at += 2;
        else if (/^u[0-9A-Fa-f]{4}$/.test(text.slice(at + 1, at + 6))) at += 6;
        else fail('invalid escape in a string');
      } else if (char < ' ') fail('control character in a string');
      else at += 1;
    }
    fail('unterminated string');
  };
  const value = (depth: number): void => {
    if (depth > 512) fail('nested too deeply');
    skipSpace();
    const char = text[at];
    if (char === '{') {
      at += 1;
      skipSpace();
      if (text[at] === '}') {
        at += 1;
        return;
      }
      for (;;) {
        skipSpace();
        if (text[at] !== '"') fail('expected a key in double quotes');
        string();
        skipSpace();
        if (text[at] !== ':') fail("expected ':' after a key");
        at += 1;
        value(depth + 1);
        skipSpace();
        if (text[at] === ',') at += 1;
        else if (text[at] === '}') {
          at += 1;
          return;
        } else fail("expected ',' or '}'");
      }
    }
    if (char === '[') {
      at += 1;
      skipSpace();
      if (text[at] === ']') {
        at += 1;
        return;
      }
      for (;;) {
        value(depth + 1);
        skipSpace();
        if (text[at] === ',') at += 1;
        else if (text[at] === ']') {
          at += 1;
          return;
        } else fail("expected ',' or ']'");
      }
    }
    if (char === '"') return string();
    literal.lastIndex = at;
    if (!literal.test(text)) fail('expected a value');
    at = literal.lastIndex;
  };
  try {
    value(0);
    skipSpace();
    if (at < text.length) fail('unexpected text after the end');
  } catch (error) {
    if (error instanceof Stop) return { offset: at, reason: error.reason };
    throw error;
  }
  return { offset: text.length, reason: 'not valid JSON' };
}

/** The password file's one line (a trailing LF or CRLF dropped), read with the project's checks for secret files. */
async function readRedisPassword(file: string): Promise<string> {
  let text: string;
  try {
    text = await readPrivateFile(file, MAX_PASSWORD_FILE_BYTES, 'Redis password file');
  } catch (error) {
    if (isArgoError(error, 'ARGO_FILE_NOT_FOUND')) {
      throw new ArgoError('ARGO_FILE_NOT_FOUND', `The Redis password file ${file} does not exist`, {
        hint: 'Create it (the password alone on one line, chmod 600), or fix redis.password_file or ARGO_SWARM_REDIS_PASSWORD_FILE.',
        details: { file },
      });
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ArgoError('ARGO_CONFIG_INVALID', `Invalid swarm configuration: the Redis password file ${file} cannot be read (permission denied)`, {
        hint: 'Run the swarm as root, or as the user that owns the file.',
        details: { source: file },
      });
    }
    throw error;
  }
  const line = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  const reason = line === '' ? 'it is empty' : /[\r\n]/.test(line) ? 'it holds more than one line' : line.includes('\0') ? 'it holds a NUL byte' : undefined;
  if (reason !== undefined) {
    throw new ArgoError('ARGO_SECRET_FILE_UNSAFE', `The Redis password file ${file} must hold one non-empty line: ${reason}`, {
      hint: "Write the password alone on the first line, e.g. printf '%s\\n' 'the password' > FILE; chmod 600 FILE",
      details: { file, reason },
    });
  }
  return line;
}

export interface RedisConnectionOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: object;
}

/** ioredis / BullMQ connection options from the settings (the URL was checked by resolveSwarmConfig). */
export function redisConnectionOptions(redis: RedisSettings): RedisConnectionOptions {
  const parsed = parseRedisUrl(redis.url);
  if (!parsed.ok) {
    throw new ArgoError('ARGO_CONFIG_INVALID', `Invalid swarm configuration: redis.url: ${parsed.problem}`, {
      hint: 'See docs/swarm-config.md.',
      details: { source: 'redis.url', problems: [{ key: 'redis.url', problem: parsed.problem }] },
    });
  }
  const { host, port, db, tls, username } = parsed.value;
  const options: RedisConnectionOptions = { host, port };
  const user = redis.username ?? username;
  if (user !== undefined) options.username = user;
  if (redis.password !== undefined) options.password = redis.password;
  if (db !== undefined) options.db = db;
  // SNI and the certificate check need the name; an address is checked against the certificate's IP entries.
  if (tls) options.tls = isIP(host) === 0 ? { servername: host } : {};
  return options;
}

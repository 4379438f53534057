import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ArgoError } from '../core/errors.ts';
import { resolveSwarmConfig, SWARM_CONFIG_DEFAULTS, swarmConfigFileSchema } from '../core/swarm/swarm-config.ts';
import { jsonSyntaxError, readSwarmConfig, redactRedisUrl, redisConnectionOptions } from './read-swarm-config.ts';

const SECRET = 'Tr0ub4dor&3-never-shown';
const host = { hostname: 'drone1', cpuCount: 4 } as const;

let dir: string;
let count = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'argo-swarm-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file in a fresh folder of the test's temporary folder. */
async function file(name: string, text: string, mode = 0o644, uid?: number): Promise<string> {
  const folder = join(dir, String((count += 1)));
  await mkdir(folder);
  const path = join(folder, name);
  await writeFile(path, text);
  await chmod(path, mode);
  if (uid !== undefined) await chown(path, uid, uid);
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<ArgoError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ArgoError) return error;
    throw error;
  }
  throw new Error('the promise was fulfilled');
}

/** Everything an error could show: message, hint, JSON, and util.inspect (which follows `cause`). */
const everything = (error: ArgoError): string => `${error.message}\n${error.hint ?? ''}\n${JSON.stringify(error)}\n${inspect(error, { depth: 10 })}`;

describe('readSwarmConfig: which file', () => {
  it('reads a TOML file named by --config', async () => {
    const path = await file('swarm.toml', '[drone]\nid = "d7"\nslots = 3\n\n[profiles.arm64]\nuse = "-X"\n');
    const config = await readSwarmConfig({ configFile: path, env: {}, ...host });
    expect([config.drone.id, config.drone.slots, config.orchestrator.id, config.drone.cores, config.profiles['arm64']?.use]).toEqual(['d7', 3, 'drone1', 4, '-X']);
  });

  it('reads a JSON file named by ARGO_SWARM_CONFIG, with the environment over it and the command line over both', async () => {
    const path = await file('swarm.json', JSON.stringify({ drone: { cores: 2, slots: 2, root: '/srv/file' }, redis: { prefix: 'lab' } }));
    const config = await readSwarmConfig({ env: { ARGO_SWARM_CONFIG: path, ARGO_SWARM_CORES: '12', ARGO_SWARM_ROOT: '/srv/env' }, cli: { root: '/srv/cli' }, ...host });
    expect([config.drone.cores, config.drone.slots, config.drone.root, config.redis.prefix]).toEqual([12, 2, '/srv/cli', 'lab']);
  });

  it('prefers --config to ARGO_SWARM_CONFIG', async () => {
    const named = await file('a.toml', '[drone]\nslots = 5\n');
    const fromEnv = await file('b.toml', '[drone]\nslots = 6\n');
    expect((await readSwarmConfig({ configFile: named, env: { ARGO_SWARM_CONFIG: fromEnv }, ...host })).drone.slots).toBe(5);
  });

  it('uses the defaults when no default file exists', async () => {
    const config = await readSwarmConfig({ env: {}, defaultFiles: [join(dir, 'none.toml'), join(dir, 'none.json')], ...host });
    expect(config).toEqual(resolveSwarmConfig(host));
  });

  it.each([
    ['the TOML file', 'swarm.toml', '[drone]\nslots = 7\n'],
    ['the JSON file when there is no TOML file', 'swarm.json', '{ "drone": { "slots": 7 } }'],
  ])('reads %s of the defaults', async (_name, name, text) => {
    const path = await file(name, text);
    const folder = join(path, '..');
    const config = await readSwarmConfig({ env: {}, defaultFiles: [join(folder, 'swarm.toml'), join(folder, 'swarm.json')], ...host });
    expect(config.drone.slots).toBe(7);
  });

  it('refuses two default files', async () => {
    const toml = await file('swarm.toml', '');
    const json = join(toml, '..', 'swarm.json');
    await writeFile(json, '{}');
    const error = await rejection(readSwarmConfig({ env: {}, defaultFiles: [toml, json], ...host }));
    expect(error.code).toBe('ARGO_CONFIG_INVALID');
    expect(error.message).toContain(`both ${toml} and ${json} exist`);
  });

  it.each([
    ['--config', (path: string) => ({ configFile: path, env: {} })],
    ['ARGO_SWARM_CONFIG', (path: string) => ({ env: { ARGO_SWARM_CONFIG: path } })],
  ])('refuses a missing file named by %s', async (by, options) => {
    const path = join(dir, 'missing.toml');
    const error = await rejection(readSwarmConfig({ ...options(path), ...host }));
    expect(error.code).toBe('ARGO_FILE_NOT_FOUND');
    expect(error.message).toBe(`The swarm configuration file ${path} (named by ${by}) does not exist`);
  });

  it('names the file and the key path of a bad value', async () => {
    const path = await file('swarm.toml', '[drone]\nlock_duration_ms = 10\n');
    const error = await rejection(readSwarmConfig({ configFile: path, env: {}, ...host }));
    expect(error.message).toBe(`Invalid swarm configuration in ${path}: drone.lock_duration_ms: must be at least 1000`);
  });

  it.each([
    ['writable by its group', 0o664, undefined, /has mode 0664: group or others can change it/],
    ['writable by others', 0o646, undefined, /has mode 0646/],
    ['owned by another user', 0o644, 65534, /is owned by uid 65534, not root/],
  ])('refuses a configuration file %s (its restart commands are run)', async (_name, mode, uid, reason) => {
    const path = await file('swarm.toml', '[orchestrator.restart_commands]\n"*" = ["sh", "-c", "id"]\n', mode, uid);
    const error = await rejection(readSwarmConfig({ configFile: path, env: {}, ...host }));
    expect(error.code).toBe('ARGO_CONFIG_INVALID');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(reason);
  });

  it('refuses a folder and an unknown extension', async () => {
    expect((await rejection(readSwarmConfig({ configFile: dir, env: {}, ...host }))).message).toContain('is not a regular file');
    const yaml = await file('swarm.yaml', 'drone: {}\n');
    expect((await rejection(readSwarmConfig({ configFile: yaml, env: {}, ...host }))).message).toBe(`Invalid swarm configuration in ${yaml}: the file name must end in .toml or .json`);
  });
});

describe('readSwarmConfig: syntax errors name the file and the line, never the text', () => {
  it.each([
    ['TOML with a bare word', 'swarm.toml', `[redis]\nurl = "redis://h"\npassword = ${SECRET}\n`, 3, 12],
    ['TOML with an unclosed table', 'swarm.toml', `[drone]\nslots = 2\n[profiles.x\nuse = "${SECRET}"\n`, 3, 12],
    ['JSON with a bare word', 'swarm.json', `{\n  "redis": {\n    "password": ${SECRET}\n  }\n}\n`, 3, 17],
    ['JSON with a missing comma', 'swarm.json', `{ "drone": { "slots": 2 }\n  "x": "${SECRET}" }`, 2, 3],
    ['JSON cut short', 'swarm.json', `{ "drone": { "id": "${SECRET}`, 1, 44],
  ])('%s', async (_name, name, text, line, column) => {
    const path = await file(name, text);
    const error = await rejection(readSwarmConfig({ configFile: path, env: {}, ...host }));
    expect(error.code).toBe('ARGO_CONFIG_INVALID');
    expect(error.message).toMatch(new RegExp(`^Invalid swarm configuration in ${path}:${line}:${column}: not valid ${name.endsWith('.toml') ? 'TOML' : 'JSON'}: `));
    expect(error.details).toMatchObject({ source: path, line, column });
    expect(everything(error)).not.toContain(SECRET);
  });

  it.each([
    ['{"a": [1, 2,]}', 12, "expected a value"],
    ['{"a" 1}', 5, "expected ':' after a key"],
    ['{"a": "b\\x"}', 8, 'invalid escape in a string'],
    ['{"a": 1} x', 9, 'unexpected text after the end'],
    ['[1, 2', 5, 'unexpected end of file'],
    ['{"a": "\t"}', 7, 'control character in a string'],
    ['{a: 1}', 1, 'expected a key in double quotes'],
  ])('jsonSyntaxError(%j) is at %i: %s', (text, offset, reason) => {
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    expect(jsonSyntaxError(text)).toEqual({ offset, reason });
  });
});

describe('readSwarmConfig: the Redis password file', () => {
  const config = (passwordFile: string) => file('swarm.toml', `[redis]\nurl = "redis://redis.lan:6379"\npassword_file = "${passwordFile}"\n`);

  it.each([
    ['LF', `${SECRET}\n`],
    ['CRLF', `${SECRET}\r\n`],
    ['no newline', SECRET],
  ])('reads a 0600 file ending in %s, without its newline', async (_name, text) => {
    const passwordFile = await file('redis.password', text, 0o600);
    const result = await readSwarmConfig({ configFile: await config(passwordFile), env: {}, ...host });
    expect(result.redis).toEqual({ url: 'redis://redis.lan:6379', passwordFile, password: SECRET, prefix: 'argo' });
  });

  it('reads the file named by ARGO_SWARM_REDIS_PASSWORD_FILE', async () => {
    const passwordFile = await file('redis.password', `${SECRET}\n`, 0o600);
    const result = await readSwarmConfig({ env: { ARGO_SWARM_REDIS_PASSWORD_FILE: passwordFile }, defaultFiles: [], ...host });
    expect(result.redis.password).toBe(SECRET);
  });

  it.each([
    ['readable by everyone (0644)', `${SECRET}\n`, 0o644, undefined, 'ARGO_SECRET_FILE_UNSAFE', /its mode 0644 lets group or others read or change it/],
    ['readable by its group (0640)', `${SECRET}\n`, 0o640, undefined, 'ARGO_SECRET_FILE_UNSAFE', /its mode 0640/],
    ['owned by another user', `${SECRET}\n`, 0o600, 65534, 'ARGO_SECRET_FILE_UNSAFE', /owned by uid 65534/],
    ['empty', '\n', 0o600, undefined, 'ARGO_SECRET_FILE_UNSAFE', /must hold one non-empty line: it is empty/],
    ['two lines', `${SECRET}\n${SECRET}\n`, 0o600, undefined, 'ARGO_SECRET_FILE_UNSAFE', /it holds more than one line/],
    ['too large', SECRET.repeat(1000), 0o600, undefined, 'ARGO_SECRET_FILE_UNSAFE', /larger than 4096 bytes/],
  ])('refuses a password file %s, naming it and never showing the password', async (_name, text, mode, uid, code, reason) => {
    const passwordFile = await file('redis.password', text, mode, uid);
    const error = await rejection(readSwarmConfig({ configFile: await config(passwordFile), env: {}, ...host }));
    expect(error.code).toBe(code);
    expect(error.message).toContain(passwordFile);
    expect(error.message).toMatch(reason);
    expect(everything(error)).not.toContain(SECRET);
  });

  it('refuses a missing password file, naming it', async () => {
    const passwordFile = join(dir, 'no.password');
    const error = await rejection(readSwarmConfig({ configFile: await config(passwordFile), env: {}, ...host }));
    expect(error.code).toBe('ARGO_FILE_NOT_FOUND');
    expect(error.message).toBe(`The Redis password file ${passwordFile} does not exist`);
  });

  it('never shows a password written into the file or a URL', async () => {
    for (const text of [`[redis]\npassword = "${SECRET}"\n`, `[redis]\nurl = "redis://argo:${SECRET}@redis:6379"\n`]) {
      const error = await rejection(readSwarmConfig({ configFile: await file('swarm.toml', text), env: {}, ...host }));
      expect(error.code).toBe('ARGO_CONFIG_INVALID');
      expect(error.hint).toContain('redis.password_file');
      expect(everything(error)).not.toContain(SECRET);
    }
  });
});

describe('redisConnectionOptions', () => {
  it.each([
    [{ url: 'redis://127.0.0.1:6379', prefix: 'argo' }, { host: '127.0.0.1', port: 6379 }],
    [{ url: 'redis://redis.lan', prefix: 'argo', password: 'pw' }, { host: 'redis.lan', port: 6379, password: 'pw' }],
    [{ url: 'redis://alice@redis.lan:7000/2', prefix: 'argo' }, { host: 'redis.lan', port: 7000, username: 'alice', db: 2 }],
    [{ url: 'redis://redis.lan', prefix: 'argo', username: 'bob', password: 'pw' }, { host: 'redis.lan', port: 6379, username: 'bob', password: 'pw' }],
    [{ url: 'rediss://redis.example:6380/0', prefix: 'argo' }, { host: 'redis.example', port: 6380, db: 0, tls: { servername: 'redis.example' } }],
    [{ url: 'rediss://10.0.0.2', prefix: 'argo' }, { host: '10.0.0.2', port: 6379, tls: {} }],
    [{ url: 'redis://[::1]:6390', prefix: 'argo' }, { host: '::1', port: 6390 }],
  ])('%j', (redis, expected) => {
    expect(redisConnectionOptions(redis)).toEqual(expected);
  });

  it('refuses a URL with a password, redacted', () => {
    expect(() => redisConnectionOptions({ url: `redis://:${SECRET}@h`, prefix: 'argo' })).toThrow('redis://:***@h carries a password');
    expect(redactRedisUrl(`redis://u:${SECRET}@h/1`)).toBe('redis://u:***@h/1');
  });
});

describe('docs/swarm-config.md', () => {
  /** `section.key` of every key of the file's schema; a record of tables is spelled `profiles.NAME.key`. */
  function keyPaths(schema: z.ZodType, prefix: string): string[] {
    if (schema instanceof z.ZodOptional) return keyPaths(schema.unwrap() as z.ZodType, prefix);
    if (schema instanceof z.ZodObject) return Object.entries(schema.shape as Record<string, z.ZodType>).flatMap(([key, value]) => keyPaths(value, prefix === '' ? key : `${prefix}.${key}`));
    if (schema instanceof z.ZodRecord && prefix === 'profiles') return keyPaths(schema.valueType as z.ZodType, `${prefix}.NAME`);
    return [prefix];
  }
  const docs = readFile(new URL('../../docs/swarm-config.md', import.meta.url), 'utf8');
  /** The rows `| \`key\` | type | default | meaning |` of the documentation's tables. */
  const rows = async (): Promise<Map<string, string[]>> =>
    new Map(
      (await docs)
        .split('\n')
        .filter((line) => /^\| `[a-z_]+\.[A-Za-z_.]+` \|/.test(line))
        .map((line) => line.split(' | ').map((cell) => cell.replace(/^\| /, '')))
        .map((cells) => [cells[0]!.replace(/`/g, ''), cells.slice(1)]),
    );

  it('documents every key of the schema, and no other', async () => {
    const documented = [...(await rows()).keys()].sort();
    expect(documented).toEqual(keyPaths(swarmConfigFileSchema, '').sort());
  });

  it('gives each default as the code has it', async () => {
    const table = await rows();
    const defaults: [string, unknown][] = [];
    const walk = (value: unknown, path: string): void => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        for (const [key, item] of Object.entries(value)) walk(item, `${path}${path === '' ? '' : '.'}${key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)}`);
      } else defaults.push([path, value]);
    };
    walk(SWARM_CONFIG_DEFAULTS, '');
    expect(defaults.length).toBeGreaterThan(20);
    for (const [key, value] of defaults) expect(table.get(key)?.[1], key).toContain(`\`${JSON.stringify(value)}\``);
  });

  it('documents every environment variable', async () => {
    const text = await docs;
    for (const name of ['ARGO_SWARM_CONFIG', 'ARGO_SWARM_REDIS_URL', 'ARGO_SWARM_REDIS_PASSWORD_FILE', 'ARGO_SWARM_ID', 'ARGO_SWARM_CORES', 'ARGO_SWARM_SLOTS', 'ARGO_SWARM_GATEWAY', 'ARGO_SWARM_ROOT']) {
      expect(text).toContain(`| \`${name}\` |`);
    }
  });

  it('has an example that is accepted', async () => {
    const example = /```toml\n([\s\S]*?)```/.exec(await docs)?.[1];
    expect(example).toBeDefined();
    const config = resolveSwarmConfig({ file: parseToml(example!), fileName: 'example', ...host });
    expect(config.drone.id).toBe('drone3');
    expect(config.profiles['workstation']?.binhostPath).toBe('workstation/x86-64-v3');
    expect(config.redis.passwordFile).toBe('/etc/argo/redis.password');
  });
});

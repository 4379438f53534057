/**
 * The build swarm's configuration: one schema for the file (TOML or JSON, snake_case keys, every key
 * optional), the defaults, and the merge of the layers (command line > environment > file > defaults).
 * Pure: the caller reads the file, the environment, the host name and the CPU count (src/system/read-swarm-config.ts).
 * docs/swarm-config.md documents every key; a test keeps the two in step.
 *
 * Secrets never come from the command line, the environment's values or the file itself: the Redis password
 * is read from `redis.password_file` by the reader, and a URL that carries one is refused.
 */

import { z } from 'zod';
import { ArgoError } from '../errors.ts';
import type { BreakerSettings } from './drone-breaker.ts';

/** The breaker's thresholds, as the breaker itself defines them. */
export type { BreakerSettings };

export interface ProfileSettings {
  name: string;
  /** USE flags, space separated. */
  use: string;
  /** Extra make.conf variables (CFLAGS, FEATURES, …). */
  makeConf: Record<string, string>;
  /** Relative path of the profile's binhost under the gateway's root. */
  binhostPath: string;
}

export interface OrchestratorSettings {
  id: string;
  leaseTtlMs: number;
  maintenanceIntervalMs: number;
  staleTaskMs: number;
  /** A drone whose heartbeat is older than this is offline (the heartbeat key's TTL). */
  offlineAfterMs: number;
  breaker: BreakerSettings;
  /** Drone id (or `*` for every drone without its own) → argv of the command that restarts it. */
  restartCommands: Record<string, string[]>;
  restartBudgetMs: number;
  /** Distinct drones a package may fail on before it is marked failed. */
  maxAttempts: number;
  infraRetryBaseMs: number;
  infraRetryMaxMs: number;
}

export interface DroneSettings {
  id: string;
  cores: number;
  slots: number;
  sweeper: boolean;
  /** Each profile's build root is `<root>/<profile>`. */
  root: string;
  /** `http(s)://` URL or `file:///path` of the gateway's root. */
  gateway: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
  heartbeatMs: number;
  buildBudgetMs: number;
  inactivityMs: number;
  /** How long SIGTERM waits for a running build before handing it back to the queue. */
  drainMs: number;
  emergeCommand: string[];
  logDir: string;
  /** The profiles this drone builds. */
  profiles: string[];
}

export interface RedisSettings {
  url: string;
  /** Only ever read from `passwordFile` (by src/system/read-swarm-config.ts); never log it. */
  password?: string;
  passwordFile?: string;
  username?: string;
  prefix: string;
}

export interface SwarmConfig {
  redis: RedisSettings;
  orchestrator: OrchestratorSettings;
  drone: DroneSettings;
  profiles: Record<string, ProfileSettings>;
}

/** The command-line flags `--redis URL --id ID --cores N --slots N --sweeper --root DIR --gateway URL` (and the drone's profiles). */
export interface PartialCliOverrides {
  redisUrl?: string;
  /** Both orchestrator.id and drone.id. */
  id?: string;
  cores?: number;
  slots?: number;
  sweeper?: boolean;
  root?: string;
  gateway?: string;
  profiles?: string[];
}

export interface SwarmConfigLayers {
  /** The parsed TOML or JSON file, if there is one. */
  readonly file?: unknown;
  /** Its path, for messages. */
  readonly fileName?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cli?: PartialCliOverrides;
  /** The default of both ids. */
  readonly hostname?: string;
  /** The default of drone.cores. */
  readonly cpuCount?: number;
}

/** Ids become parts of Redis keys and BullMQ queue names: no `:`, no spaces. */
export const SWARM_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const PROFILE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
/** setTimeout fires at once for a delay above 2^31 − 1 ms (24.8 days), so no duration may be longer. */
export const MAX_DURATION_MS = 2_147_483_647;

const profile = (name: string, use: string): ProfileSettings => ({ name, use, makeConf: {}, binhostPath: name });

/**
 * Added to the USE of the Gentoo profile each machine already runs (default/linux/amd64/23.0/…); USE=test only
 * runs tests with FEATURES=test in make_conf.
 */
export const BUILTIN_PROFILES: Record<'desktop' | 'server' | 'container' | 'dev', ProfileSettings> = {
  desktop: profile('desktop', 'X wayland gtk qt6 dbus policykit udisks networkmanager bluetooth cups alsa pulseaudio pipewire vulkan opengl'),
  server: profile('server', '-X -wayland -gtk -qt5 -qt6 -alsa -pulseaudio -pipewire -bluetooth -cups ssl threads ipv6 caps'),
  container: profile('container', '-X -wayland -gtk -qt5 -qt6 -alsa -pulseaudio -pipewire -bluetooth -cups -dbus -doc -nls -man -test ssl'),
  dev: profile('dev', 'debug test doc'),
};

/** Every default except the two ids (the host name) and drone.cores (the CPU count). */
export const SWARM_CONFIG_DEFAULTS = {
  redis: { url: 'redis://127.0.0.1:6379', prefix: 'argo' },
  orchestrator: {
    leaseTtlMs: 15_000,
    maintenanceIntervalMs: 60_000,
    staleTaskMs: 120_000,
    offlineAfterMs: 30_000,
    breaker: { failures: 5, cooldownMs: 300_000, fastFailureMs: 30_000, fastFailures: 3 },
    restartBudgetMs: 60_000,
    maxAttempts: 3,
    infraRetryBaseMs: 5_000,
    infraRetryMaxMs: 300_000,
  },
  drone: {
    slots: 1,
    sweeper: false,
    root: '/var/lib/argo/drone',
    gateway: 'file:///var/lib/argo/gateway',
    lockDurationMs: 60_000,
    stalledIntervalMs: 30_000,
    heartbeatMs: 5_000,
    buildBudgetMs: 6 * 3_600_000,
    inactivityMs: 30 * 60_000,
    drainMs: 10 * 60_000,
    emergeCommand: ['emerge'],
    logDir: '/var/log/argo/drone',
  },
} as const;

// ---------------------------------------------------------------------------------------------------------
// URLs

export interface RedisUrl {
  readonly host: string;
  readonly port: number;
  readonly db: number | undefined;
  readonly tls: boolean;
  readonly username: string | undefined;
}

const SECRET_IN_URL = 'carries a password; secrets never go in the file, the environment or the command line';
const SECRET_HINT =
  'Write the password alone on one line in a file (chmod 600, owned by root) and name it with redis.password_file or ARGO_SWARM_REDIS_PASSWORD_FILE; then change the password, it has been exposed.';

/** The URL with the (non-empty) password of its user information replaced by `***`; text that is not a URL loses everything before its last `@`. */
export function redactRedisUrl(url: string): string {
  const schemeEnd = url.indexOf('://');
  const at = url.lastIndexOf('@');
  if (at === -1) return url;
  if (schemeEnd === -1 || schemeEnd > at) return `***${url.slice(at)}`;
  const userinfo = url.slice(schemeEnd + 3, at);
  const colon = userinfo.indexOf(':');
  if (colon === -1 || colon === userinfo.length - 1) return url;
  return `${url.slice(0, schemeEnd + 3)}${userinfo.slice(0, colon)}:***${url.slice(at)}`;
}

type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string; readonly secret: boolean };

const refused = (problem: string, secret = false): { ok: false; problem: string; secret: boolean } => ({ ok: false, problem, secret });

/**
 * Looks for a password first: whatever else is wrong, a URL with one is refused for that, and shown redacted.
 * Text the URL parser refuses is judged by redactRedisUrl, which errs towards seeing a password.
 */
function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return redactRedisUrl(url) !== url;
  }
}

/** `redis://[user@]host[:port][/db]` or `rediss://…` (TLS). */
export function parseRedisUrl(url: string): Checked<RedisUrl> {
  if (hasPassword(url)) return refused(`${redactRedisUrl(url)} ${SECRET_IN_URL}`, true);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refused(`${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return refused(`${JSON.stringify(url)} must start with redis:// or rediss://`);
  if (parsed.hostname === '') return refused(`${JSON.stringify(url)} names no host`);
  if (parsed.search !== '' || parsed.hash !== '') return refused(`${JSON.stringify(url)} must not have a query (?…) or a fragment (#…)`);
  const db = /^\/?$/.test(parsed.pathname) ? undefined : /^\/(0|[1-9][0-9]{0,4})$/.exec(parsed.pathname)?.[1];
  if (db === undefined && !/^\/?$/.test(parsed.pathname)) return refused(`${JSON.stringify(url)}: the path must be empty or a database number (/0, /1, …)`);
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  let username: string | undefined;
  try {
    username = parsed.username === '' ? undefined : decodeURIComponent(parsed.username);
  } catch {
    return refused(`${JSON.stringify(url)}: the user name is not valid percent-encoding`);
  }
  return {
    ok: true,
    value: {
      host,
      port: parsed.port === '' ? 6379 : Number(parsed.port),
      db: db === undefined ? undefined : Number(db),
      tls: parsed.protocol === 'rediss:',
      username,
    },
  };
}

function gatewayProblem(url: string): { problem: string; secret: boolean } | undefined {
  if (hasPassword(url)) return { problem: `${redactRedisUrl(url)} ${SECRET_IN_URL}`, secret: true };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { problem: `${JSON.stringify(url)} is not a URL`, secret: false };
  }
  if (parsed.protocol === 'file:') {
    if (parsed.hostname !== '' && parsed.hostname !== 'localhost') return { problem: `${JSON.stringify(url)}: a file:// URL names a local folder (file:///path)`, secret: false };
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return { problem: `${JSON.stringify(url)} must start with http://, https:// or file://`, secret: false };
  if (parsed.search !== '' || parsed.hash !== '') return { problem: `${JSON.stringify(url)} must not have a query (?…) or a fragment (#…)`, secret: false };
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// The file's schema

const wholeNumber = (min: number, max: number) =>
  z
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const count = (max = 1_000_000) => wholeNumber(1, max);
/** A duration in milliseconds, positive and within setTimeout's range. */
const duration = (min = 1) => wholeNumber(min, MAX_DURATION_MS);

const idSchema = z.string().regex(SWARM_ID_PATTERN, {
  error: 'must be 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit (ids are parts of Redis keys and queue names)',
});
const profileNameSchema = z.string().regex(PROFILE_NAME_PATTERN, { error: 'must be 1 to 32 lower-case letters, digits or "-", starting with a letter' });

const absolutePath = z.string().refine((path) => path.startsWith('/') && !path.includes('\0') && !path.split('/').includes('..'), {
  error: 'must be an absolute path without ".."',
});

const oneLineText = z.string().refine((text) => !/[\0\r\n]/.test(text), { error: 'must be one line' });

const USE_FLAG = /^-?[A-Za-z0-9][A-Za-z0-9+_@-]*$/;
const useSchema = z.string().superRefine((use, ctx) => {
  const bad = use.split(/\s+/).filter((flag) => flag !== '' && !USE_FLAG.test(flag));
  if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `holds text that is not a USE flag: ${bad.map((flag) => JSON.stringify(flag)).join(', ')}` });
});

const makeConfSchema = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'is not a make.conf variable name' }), oneLineText)
  .refine((variables) => !Object.hasOwn(variables, 'USE'), { error: "must not set USE: use the profile's use key" });

const binhostPathSchema = z.string().refine((path) => /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(path) && !path.split('/').some((part) => part === '.' || part === '..'), {
  error: 'must be a relative path of letters, digits, ".", "_" and "-" (no "." or ".." parts)',
});

const argvSchema = z.array(z.string().min(1, { error: 'must not be empty' }), { error: 'must be a list of strings' }).min(1, { error: 'must name a program' });

const redisUrlSchema = z.string().superRefine((url, ctx) => {
  const checked = parseRedisUrl(url);
  if (!checked.ok) ctx.addIssue({ code: 'custom', message: checked.problem, params: { secret: checked.secret } });
});

const gatewaySchema = z.string().superRefine((url, ctx) => {
  const problem = gatewayProblem(url);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem.problem, params: { secret: problem.secret } });
});

const PREFIX_PATTERN = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,62}|\{[A-Za-z0-9][A-Za-z0-9._-]{0,60}\})$/;

const uniqueList = <T extends z.ZodType<string>>(item: T) =>
  z
    .array(item, { error: 'must be a list' })
    .min(1, { error: 'must not be empty' })
    .refine((list) => new Set(list).size === list.length, { error: 'names an entry twice' });

/** The file's shape: `[redis]`, `[orchestrator]` (with `[orchestrator.breaker]`), `[drone]`, `[profiles.NAME]`. */
export const swarmConfigFileSchema = z
  .object({
    redis: z
      .object({
        url: redisUrlSchema.optional(),
        password_file: absolutePath.optional(),
        username: z.string().regex(/^[^\s:@]+$/, { error: 'must be a user name without spaces, ":" or "@"' }).optional(),
        prefix: z.string().regex(PREFIX_PATTERN, { error: 'must be like an id (letters, digits, ".", "_", "-"), optionally in {} as a Redis Cluster hash tag' }).optional(),
      })
      .strict()
      .optional(),
    orchestrator: z
      .object({
        id: idSchema.optional(),
        lease_ttl_ms: duration(1_000).optional(),
        maintenance_interval_ms: duration(1_000).optional(),
        stale_task_ms: duration(1_000).optional(),
        offline_after_ms: duration(1_000).optional(),
        breaker: z
          .object({
            failures: count(1_000).optional(),
            cooldown_ms: duration().optional(),
            fast_failure_ms: duration().optional(),
            fast_failures: count(1_000).optional(),
          })
          .strict()
          .optional(),
        restart_commands: z
          .record(z.string().refine((key) => key === '*' || SWARM_ID_PATTERN.test(key), { error: 'is neither a drone id nor "*"' }), argvSchema)
          .optional(),
        restart_budget_ms: duration().optional(),
        max_attempts: count(1_000).optional(),
        infra_retry_base_ms: duration().optional(),
        infra_retry_max_ms: duration().optional(),
      })
      .strict()
      .optional(),
    drone: z
      .object({
        id: idSchema.optional(),
        cores: count(65_536).optional(),
        slots: count(1_024).optional(),
        sweeper: z.boolean({ error: 'must be true or false' }).optional(),
        root: absolutePath.optional(),
        gateway: gatewaySchema.optional(),
        lock_duration_ms: duration(1_000).optional(),
        stalled_interval_ms: duration(1_000).optional(),
        heartbeat_ms: duration(100).optional(),
        build_budget_ms: duration(1_000).optional(),
        inactivity_ms: duration(1_000).optional(),
        drain_ms: duration().optional(),
        emerge_command: argvSchema.optional(),
        log_dir: absolutePath.optional(),
        profiles: uniqueList(profileNameSchema).optional(),
      })
      .strict()
      .optional(),
    profiles: z
      .record(
        profileNameSchema,
        z
          .object({
            use: useSchema.optional(),
            make_conf: makeConfSchema.optional(),
            binhost_path: binhostPathSchema.optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

export type SwarmConfigFile = z.infer<typeof swarmConfigFileSchema>;

// ---------------------------------------------------------------------------------------------------------
// Problems and their messages

interface Problem {
  /** Dotted key path in the file's terms (`drone.lock_duration_ms`). */
  readonly key: string;
  readonly problem: string;
  readonly secret: boolean;
}

const DEFAULT_HINT = 'See docs/swarm-config.md for every key, its type and its default.';

function configError(source: string, problems: readonly Problem[], hint = DEFAULT_HINT): ArgoError {
  const secret = problems.some((problem) => problem.secret);
  const text = problems.map((problem) => (problem.key === '' ? problem.problem : `${problem.key}: ${problem.problem}`)).join('; ');
  return new ArgoError('ARGO_CONFIG_INVALID', `Invalid swarm configuration in ${source}: ${text}`, {
    hint: secret ? SECRET_HINT : hint,
    details: { source, problems: problems.map(({ key, problem }) => ({ key, problem })) },
  });
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

export function dottedKey(path: readonly PropertyKey[]): string {
  let key = '';
  for (const part of path) {
    if (typeof part === 'number') key += `[${part}]`;
    else {
      const name = String(part);
      key += `${key === '' ? '' : '.'}${BARE_KEY.test(name) ? name : JSON.stringify(name)}`;
    }
  }
  return key;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

/** The kind of a value, never the value: it may be a secret. */
function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date || (typeof value === 'object' && value.constructor?.name === 'TomlDate')) return 'a date';
  if (typeof value === 'object') return 'a table';
  if (typeof value === 'number') return Number.isInteger(value) ? 'a whole number' : 'a fractional number';
  return `a ${typeof value}`;
}

const EXPECTED: Record<string, string> = { object: 'a table', record: 'a table', array: 'a list', string: 'a string', boolean: 'true or false', int: 'a whole number', number: 'a whole number' };

const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

function problemsOf(error: z.ZodError, input: unknown): Problem[] {
  const problems: Problem[] = [];
  for (const issue of error.issues) {
    const key = dottedKey(issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const unknown of issue.keys) {
        const unknownKey = dottedKey([...issue.path, unknown]);
        if (unknown === 'password' && key === 'redis') {
          problems.push({ key: unknownKey, problem: 'is refused: secrets never go in the file, the environment or the command line', secret: true });
        } else if (snakeCase(unknown) !== unknown) {
          problems.push({ key: unknownKey, problem: `is not a known key (keys are snake_case: ${snakeCase(unknown)})`, secret: false });
        } else {
          problems.push({ key: unknownKey, problem: 'is not a known key', secret: false });
        }
      }
    } else if (issue.code === 'invalid_type' && !(issue.expected === 'int' && typeof valueAt(input, issue.path) === 'number')) {
      const expected = `must be ${EXPECTED[issue.expected] ?? issue.expected} (found ${kindOf(valueAt(input, issue.path))})`;
      problems.push({ key, problem: key === '' ? `the top level ${expected}` : expected, secret: false });
    } else if (issue.code === 'invalid_key') {
      problems.push({ key, problem: `the key ${issue.issues[0]?.message ?? 'is invalid'}`, secret: false });
    } else {
      problems.push({ key, problem: issue.message, secret: issue.code === 'custom' && issue.params?.['secret'] === true });
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// Environment and command line: each becomes a partial file, checked with the same schema

interface Override {
  /** Where the value came from: `environment variable X` or `option --x`. */
  readonly source: string;
  readonly paths: readonly (readonly [string, string])[];
  readonly value: unknown;
}

const ENV_VARIABLES: readonly { readonly name: string; readonly paths: readonly (readonly [string, string])[]; readonly integer: boolean }[] = [
  { name: 'ARGO_SWARM_REDIS_URL', paths: [['redis', 'url']], integer: false },
  { name: 'ARGO_SWARM_REDIS_PASSWORD_FILE', paths: [['redis', 'password_file']], integer: false },
  { name: 'ARGO_SWARM_ID', paths: [['orchestrator', 'id'], ['drone', 'id']], integer: false },
  { name: 'ARGO_SWARM_CORES', paths: [['drone', 'cores']], integer: true },
  { name: 'ARGO_SWARM_SLOTS', paths: [['drone', 'slots']], integer: true },
  { name: 'ARGO_SWARM_GATEWAY', paths: [['drone', 'gateway']], integer: false },
  { name: 'ARGO_SWARM_ROOT', paths: [['drone', 'root']], integer: false },
];

const CLI_FLAGS: readonly { readonly option: keyof PartialCliOverrides; readonly flag: string; readonly paths: readonly (readonly [string, string])[] }[] = [
  { option: 'redisUrl', flag: '--redis', paths: [['redis', 'url']] },
  { option: 'id', flag: '--id', paths: [['orchestrator', 'id'], ['drone', 'id']] },
  { option: 'cores', flag: '--cores', paths: [['drone', 'cores']] },
  { option: 'slots', flag: '--slots', paths: [['drone', 'slots']] },
  { option: 'sweeper', flag: '--sweeper', paths: [['drone', 'sweeper']] },
  { option: 'root', flag: '--root', paths: [['drone', 'root']] },
  { option: 'gateway', flag: '--gateway', paths: [['drone', 'gateway']] },
  { option: 'profiles', flag: '--profiles', paths: [['drone', 'profiles']] },
];

/** The variable names resolveSwarmConfig reads (ARGO_SWARM_CONFIG, which names the file, is the reader's). */
export const SWARM_ENV_VARIABLES: readonly string[] = ENV_VARIABLES.map((variable) => variable.name);

function envOverrides(env: Readonly<Record<string, string | undefined>>): Override[] {
  const overrides: Override[] = [];
  for (const variable of ENV_VARIABLES) {
    const text = env[variable.name];
    // An empty variable counts as unset, as shells make it easy to export one.
    if (text === undefined || text === '') continue;
    const value = variable.integer && /^[0-9]{1,15}$/.test(text.trim()) ? Number(text.trim()) : text;
    overrides.push({ source: `environment variable ${variable.name}`, paths: variable.paths, value });
  }
  return overrides;
}

function cliOverrides(cli: PartialCliOverrides): Override[] {
  return CLI_FLAGS.filter((flag) => cli[flag.option] !== undefined).map((flag) => ({ source: `option ${flag.flag}`, paths: flag.paths, value: cli[flag.option] }));
}

type Section = Record<string, unknown>;
type FileLayer = Record<string, Section | undefined>;

/** Checks each override alone, so that a message names its variable or flag. */
function checkOverrides(overrides: readonly Override[]): FileLayer {
  const layer: FileLayer = {};
  for (const override of overrides) {
    const partial: Record<string, Section> = {};
    for (const [section, key] of override.paths) partial[section] = { ...partial[section], [key]: override.value };
    const result = swarmConfigFileSchema.safeParse(partial);
    if (!result.success) throw configError(override.source, dedupe(problemsOf(result.error, partial)));
    for (const [section, key] of override.paths) layer[section] = { ...layer[section], [key]: override.value };
  }
  return layer;
}

function dedupe(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const text = problem.problem;
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Resolution

/**
 * The configuration from its layers, command line > environment > file > defaults. Throws ArgoError
 * ARGO_CONFIG_INVALID naming the source (file, variable or flag) and the dotted key path of every problem.
 */
export function resolveSwarmConfig(layers: SwarmConfigLayers): SwarmConfig {
  const fileSource = layers.fileName ?? 'the configuration file';
  let file: SwarmConfigFile = {};
  if (layers.file !== undefined) {
    const result = swarmConfigFileSchema.safeParse(layers.file);
    if (!result.success) throw configError(fileSource, problemsOf(result.error, layers.file));
    file = result.data;
  }
  const env = checkOverrides(envOverrides(layers.env ?? {}));
  const cli = checkOverrides(cliOverrides(layers.cli ?? {}));

  const merged = (section: 'redis' | 'orchestrator' | 'drone'): Section => ({ ...file[section], ...env[section], ...cli[section] });
  const sourceOf = (section: string, key: string): string => {
    const flag = CLI_FLAGS.find((entry) => entry.paths.some(([s, k]) => s === section && k === key) && cli[section]?.[key] !== undefined);
    if (flag !== undefined) return `option ${flag.flag}`;
    const variable = ENV_VARIABLES.find((entry) => entry.paths.some(([s, k]) => s === section && k === key) && env[section]?.[key] !== undefined);
    if (variable !== undefined) return `environment variable ${variable.name}`;
    return fileSource;
  };

  const redisLayer = merged('redis') as NonNullable<SwarmConfigFile['redis']>;
  const orchestratorLayer = merged('orchestrator') as NonNullable<SwarmConfigFile['orchestrator']>;
  const droneLayer = merged('drone') as NonNullable<SwarmConfigFile['drone']>;

  const profiles = resolveProfiles(file.profiles ?? {}, fileSource);
  const defaults = SWARM_CONFIG_DEFAULTS;

  const defaultId = (section: 'orchestrator' | 'drone'): string => {
    const key = `${section}.id`;
    if (layers.hostname === undefined || layers.hostname === '') {
      throw configError('the defaults', [{ key, problem: 'no id is given and the host name is unknown (give --id or ARGO_SWARM_ID)', secret: false }]);
    }
    if (!SWARM_ID_PATTERN.test(layers.hostname)) {
      throw configError('the defaults', [{ key, problem: `the host name ${JSON.stringify(layers.hostname)} cannot be the id (ids are 1 to 63 letters, digits, ".", "_" or "-"); give --id or ARGO_SWARM_ID`, secret: false }]);
    }
    return layers.hostname;
  };

  const redisUrl = redisLayer.url ?? defaults.redis.url;
  const redis: RedisSettings = { url: redisUrl, prefix: redisLayer.prefix ?? defaults.redis.prefix };
  if (redisLayer.password_file !== undefined) redis.passwordFile = redisLayer.password_file;
  if (redisLayer.username !== undefined) redis.username = redisLayer.username;
  const urlUser = parseRedisUrl(redisUrl);
  if (urlUser.ok && urlUser.value.username !== undefined && redis.username !== undefined && urlUser.value.username !== redis.username) {
    throw configError(sourceOf('redis', 'url'), [{ key: 'redis.username', problem: `is ${JSON.stringify(redis.username)} but redis.url names the user ${JSON.stringify(urlUser.value.username)}; give the user once`, secret: false }]);
  }

  const breakerLayer = orchestratorLayer.breaker ?? {};
  const orchestrator: OrchestratorSettings = {
    id: orchestratorLayer.id ?? defaultId('orchestrator'),
    leaseTtlMs: orchestratorLayer.lease_ttl_ms ?? defaults.orchestrator.leaseTtlMs,
    maintenanceIntervalMs: orchestratorLayer.maintenance_interval_ms ?? defaults.orchestrator.maintenanceIntervalMs,
    staleTaskMs: orchestratorLayer.stale_task_ms ?? defaults.orchestrator.staleTaskMs,
    offlineAfterMs: orchestratorLayer.offline_after_ms ?? defaults.orchestrator.offlineAfterMs,
    breaker: {
      failures: breakerLayer.failures ?? defaults.orchestrator.breaker.failures,
      cooldownMs: breakerLayer.cooldown_ms ?? defaults.orchestrator.breaker.cooldownMs,
      fastFailureMs: breakerLayer.fast_failure_ms ?? defaults.orchestrator.breaker.fastFailureMs,
      fastFailures: breakerLayer.fast_failures ?? defaults.orchestrator.breaker.fastFailures,
    },
    restartCommands: Object.fromEntries(Object.entries(orchestratorLayer.restart_commands ?? {}).map(([drone, argv]) => [drone, [...argv]])),
    restartBudgetMs: orchestratorLayer.restart_budget_ms ?? defaults.orchestrator.restartBudgetMs,
    maxAttempts: orchestratorLayer.max_attempts ?? defaults.orchestrator.maxAttempts,
    infraRetryBaseMs: orchestratorLayer.infra_retry_base_ms ?? defaults.orchestrator.infraRetryBaseMs,
    infraRetryMaxMs: orchestratorLayer.infra_retry_max_ms ?? defaults.orchestrator.infraRetryMaxMs,
  };

  const cpuCount = layers.cpuCount !== undefined && Number.isSafeInteger(layers.cpuCount) && layers.cpuCount >= 1 ? layers.cpuCount : 1;
  const drone: DroneSettings = {
    id: droneLayer.id ?? defaultId('drone'),
    cores: droneLayer.cores ?? cpuCount,
    slots: droneLayer.slots ?? defaults.drone.slots,
    sweeper: droneLayer.sweeper ?? defaults.drone.sweeper,
    root: droneLayer.root ?? defaults.drone.root,
    gateway: droneLayer.gateway ?? defaults.drone.gateway,
    lockDurationMs: droneLayer.lock_duration_ms ?? defaults.drone.lockDurationMs,
    stalledIntervalMs: droneLayer.stalled_interval_ms ?? defaults.drone.stalledIntervalMs,
    heartbeatMs: droneLayer.heartbeat_ms ?? defaults.drone.heartbeatMs,
    buildBudgetMs: droneLayer.build_budget_ms ?? defaults.drone.buildBudgetMs,
    inactivityMs: droneLayer.inactivity_ms ?? defaults.drone.inactivityMs,
    drainMs: droneLayer.drain_ms ?? defaults.drone.drainMs,
    emergeCommand: [...(droneLayer.emerge_command ?? defaults.drone.emergeCommand)],
    logDir: droneLayer.log_dir ?? defaults.drone.logDir,
    profiles: [...(droneLayer.profiles ?? Object.keys(profiles))],
  };

  const unknownProfiles = drone.profiles.filter((name) => !Object.hasOwn(profiles, name));
  if (unknownProfiles.length > 0) {
    throw configError(sourceOf('drone', 'profiles'), [
      { key: 'drone.profiles', problem: `names no defined profile: ${unknownProfiles.join(', ')} (defined: ${Object.keys(profiles).join(', ')})`, secret: false },
    ]);
  }
  if (orchestrator.infraRetryBaseMs > orchestrator.infraRetryMaxMs) {
    throw configError(fileSource, [{ key: 'orchestrator.infra_retry_base_ms', problem: `(${orchestrator.infraRetryBaseMs}) must not exceed orchestrator.infra_retry_max_ms (${orchestrator.infraRetryMaxMs})`, secret: false }]);
  }
  if (drone.heartbeatMs >= orchestrator.offlineAfterMs) {
    throw configError(fileSource, [
      { key: 'drone.heartbeat_ms', problem: `(${drone.heartbeatMs}) must be shorter than orchestrator.offline_after_ms (${orchestrator.offlineAfterMs}), or every drone looks offline between two heartbeats`, secret: false },
    ]);
  }
  return { redis, orchestrator, drone, profiles };
}

/** The built-ins, then the file's profiles in their order; a file's profile with a built-in's name replaces the fields it gives. */
function resolveProfiles(fileProfiles: NonNullable<SwarmConfigFile['profiles']>, fileSource: string): Record<string, ProfileSettings> {
  const profiles: Record<string, ProfileSettings> = {};
  for (const [name, builtin] of Object.entries(BUILTIN_PROFILES)) profiles[name] = { ...builtin, makeConf: { ...builtin.makeConf } };
  for (const [name, given] of Object.entries(fileProfiles)) {
    const base = profiles[name] ?? { name, use: '', makeConf: {}, binhostPath: name };
    profiles[name] = {
      name,
      use: given.use === undefined ? base.use : given.use.trim().split(/\s+/).filter((flag) => flag !== '').join(' '),
      makeConf: given.make_conf === undefined ? base.makeConf : { ...given.make_conf },
      binhostPath: given.binhost_path ?? base.binhostPath,
    };
  }
  const owners = new Map<string, string>();
  for (const profile of Object.values(profiles)) {
    const owner = owners.get(profile.binhostPath);
    if (owner !== undefined) {
      throw configError(
        fileSource,
        [{ key: `profiles.${profile.name}.binhost_path`, problem: `${JSON.stringify(profile.binhostPath)} is also the binhost of profile ${owner}`, secret: false }],
        'Give each profile its own binhost_path: packages built with different USE must not mix.',
      );
    }
    owners.set(profile.binhostPath, profile.name);
  }
  return profiles;
}

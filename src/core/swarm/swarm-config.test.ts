import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { ArgoError } from '../errors.ts';
import {
  BUILTIN_PROFILES,
  parseRedisUrl,
  redactRedisUrl,
  resolveSwarmConfig,
  swarmConfigFileSchema,
  type SwarmConfig,
  type SwarmConfigLayers,
} from './swarm-config.ts';

const base = { hostname: 'drone1', cpuCount: 8 } as const;

function refusal(layers: SwarmConfigLayers): ArgoError {
  try {
    resolveSwarmConfig(layers);
  } catch (error) {
    if (error instanceof ArgoError) return error;
    throw error;
  }
  throw new Error('resolveSwarmConfig accepted the layers');
}

describe('resolveSwarmConfig: defaults', () => {
  it('gives every default, both ids from the host name and the cores from the CPU count', () => {
    const expected: SwarmConfig = {
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'argo' },
      orchestrator: {
        id: 'drone1',
        leaseTtlMs: 15_000,
        maintenanceIntervalMs: 60_000,
        staleTaskMs: 120_000,
        offlineAfterMs: 30_000,
        breaker: { failures: 5, cooldownMs: 300_000, fastFailureMs: 30_000, fastFailures: 3 },
        restartCommands: {},
        restartBudgetMs: 60_000,
        maxAttempts: 3,
        infraRetryBaseMs: 5_000,
        infraRetryMaxMs: 300_000,
      },
      drone: {
        id: 'drone1',
        cores: 8,
        slots: 1,
        sweeper: false,
        root: '/var/lib/argo/drone',
        gateway: 'file:///var/lib/argo/gateway',
        lockDurationMs: 60_000,
        stalledIntervalMs: 30_000,
        heartbeatMs: 5_000,
        buildBudgetMs: 21_600_000,
        inactivityMs: 1_800_000,
        drainMs: 600_000,
        emergeCommand: ['emerge'],
        logDir: '/var/log/argo/drone',
        profiles: ['desktop', 'server', 'container', 'dev'],
      },
      profiles: { ...BUILTIN_PROFILES },
    };
    expect(resolveSwarmConfig(base)).toEqual(expected);
  });

  it('has four built-in profiles, each its own binhost and no make.conf', () => {
    expect(Object.values(BUILTIN_PROFILES).map((profile) => [profile.name, profile.binhostPath, profile.makeConf])).toEqual([
      ['desktop', 'desktop', {}],
      ['server', 'server', {}],
      ['container', 'container', {}],
      ['dev', 'dev', {}],
    ]);
    expect(BUILTIN_PROFILES.server.use.split(' ')).toContain('-X');
    expect(BUILTIN_PROFILES.desktop.use.split(' ')).toEqual(expect.arrayContaining(['X', 'wayland']));
  });

  it('falls back to 1 core when the CPU count is unknown, and accepts an empty file', () => {
    expect(resolveSwarmConfig({ hostname: 'h', file: {} }).drone.cores).toBe(1);
  });

  it('does not share the built-ins or the defaults with the result', () => {
    const first = resolveSwarmConfig(base);
    first.drone.emergeCommand.push('--oops');
    first.profiles['desktop']!.makeConf['CFLAGS'] = '-O3';
    const second = resolveSwarmConfig(base);
    expect(second.drone.emergeCommand).toEqual(['emerge']);
    expect(second.profiles['desktop']!.makeConf).toEqual({});
    expect(BUILTIN_PROFILES.desktop.makeConf).toEqual({});
  });
});

describe('resolveSwarmConfig: precedence cli > env > file > defaults', () => {
  const file = {
    redis: { url: 'redis://file:6379' },
    orchestrator: { id: 'orch-file' },
    drone: { id: 'drone-file', cores: 4, slots: 2, sweeper: true, root: '/srv/file', gateway: 'http://file:8080', profiles: ['server'] },
  };
  const env = {
    ARGO_SWARM_REDIS_URL: 'redis://env:6379',
    ARGO_SWARM_REDIS_PASSWORD_FILE: '/run/env.password',
    ARGO_SWARM_ID: 'env-id',
    ARGO_SWARM_CORES: '16',
    ARGO_SWARM_SLOTS: '3',
    ARGO_SWARM_GATEWAY: 'https://env',
    ARGO_SWARM_ROOT: '/srv/env',
  };
  const cli = { redisUrl: 'rediss://cli:6380', id: 'cli-id', cores: 32, slots: 4, sweeper: false, root: '/srv/cli', gateway: 'file:///srv/gw', profiles: ['dev'] };
  const pick = (config: SwarmConfig) => ({
    url: config.redis.url,
    passwordFile: config.redis.passwordFile,
    orchestratorId: config.orchestrator.id,
    droneId: config.drone.id,
    cores: config.drone.cores,
    slots: config.drone.slots,
    sweeper: config.drone.sweeper,
    root: config.drone.root,
    gateway: config.drone.gateway,
    profiles: config.drone.profiles,
  });

  it.each<[string, SwarmConfigLayers, ReturnType<typeof pick>]>([
    [
      'the file over the defaults',
      { ...base, file },
      { url: 'redis://file:6379', passwordFile: undefined, orchestratorId: 'orch-file', droneId: 'drone-file', cores: 4, slots: 2, sweeper: true, root: '/srv/file', gateway: 'http://file:8080', profiles: ['server'] },
    ],
    [
      'the environment over the file',
      { ...base, file, env },
      { url: 'redis://env:6379', passwordFile: '/run/env.password', orchestratorId: 'env-id', droneId: 'env-id', cores: 16, slots: 3, sweeper: true, root: '/srv/env', gateway: 'https://env', profiles: ['server'] },
    ],
    [
      'the command line over the environment',
      { ...base, file, env, cli },
      { url: 'rediss://cli:6380', passwordFile: '/run/env.password', orchestratorId: 'cli-id', droneId: 'cli-id', cores: 32, slots: 4, sweeper: false, root: '/srv/cli', gateway: 'file:///srv/gw', profiles: ['dev'] },
    ],
    [
      'empty environment variables count as unset',
      { ...base, file, env: { ARGO_SWARM_REDIS_URL: '', ARGO_SWARM_CORES: '', ARGO_SWARM_ID: '' } },
      { url: 'redis://file:6379', passwordFile: undefined, orchestratorId: 'orch-file', droneId: 'drone-file', cores: 4, slots: 2, sweeper: true, root: '/srv/file', gateway: 'http://file:8080', profiles: ['server'] },
    ],
    [
      'the command line over the defaults alone',
      { ...base, cli: { id: 'only-cli', cores: 2 } },
      { url: 'redis://127.0.0.1:6379', passwordFile: undefined, orchestratorId: 'only-cli', droneId: 'only-cli', cores: 2, slots: 1, sweeper: false, root: '/var/lib/argo/drone', gateway: 'file:///var/lib/argo/gateway', profiles: ['desktop', 'server', 'container', 'dev'] },
    ],
  ])('%s', (_name, layers, expected) => {
    expect(pick(resolveSwarmConfig(layers))).toEqual(expected);
  });

  it('keeps the file values that no higher layer gives', () => {
    const config = resolveSwarmConfig({ ...base, file: { drone: { lock_duration_ms: 90_000, cores: 4 } }, env: { ARGO_SWARM_CORES: '6' } });
    expect([config.drone.lockDurationMs, config.drone.cores]).toEqual([90_000, 6]);
  });
});

describe('resolveSwarmConfig: the TOML file, snake_case keys', () => {
  const toml = `
[redis]
url = "rediss://user@redis.example:6380/2"
password_file = "/etc/argo/redis.password"
username = "user"
prefix = "{argo}"

[orchestrator]
id = "orch1"
lease_ttl_ms = 20000
maintenance_interval_ms = 30000
stale_task_ms = 90000
offline_after_ms = 20000
restart_budget_ms = 45000
max_attempts = 2
infra_retry_base_ms = 1000
infra_retry_max_ms = 60000

[orchestrator.breaker]
failures = 4
cooldown_ms = 120000
fast_failure_ms = 10000
fast_failures = 2

[orchestrator.restart_commands]
"*" = ["/usr/local/bin/restart-drone"]
drone3 = ["ssh", "drone3", "rc-service", "build-swarm-drone", "restart"]

[drone]
id = "drone3"
cores = 24
slots = 2
sweeper = true
root = "/srv/argo"
gateway = "https://gw.example/binhosts"
lock_duration_ms = 120000
stalled_interval_ms = 60000
heartbeat_ms = 2000
build_budget_ms = 43200000
inactivity_ms = 3600000
drain_ms = 300000
emerge_command = ["nice", "-n", "19", "emerge"]
log_dir = "/srv/argo/log"
profiles = ["desktop", "workstation"]

[profiles.desktop]
make_conf = { CFLAGS = "-O2 -pipe -march=x86-64-v3" }

[profiles.workstation]
use = "  X   wayland -bluetooth "
make_conf = { FEATURES = "buildpkg" }
binhost_path = "workstation/v3"
`;

  it('maps every snake_case key to its setting', () => {
    const config = resolveSwarmConfig({ ...base, file: parseToml(toml), fileName: '/etc/argo/swarm.toml' });
    expect(config.redis).toEqual({ url: 'rediss://user@redis.example:6380/2', passwordFile: '/etc/argo/redis.password', username: 'user', prefix: '{argo}' });
    expect(config.orchestrator).toEqual({
      id: 'orch1',
      leaseTtlMs: 20_000,
      maintenanceIntervalMs: 30_000,
      staleTaskMs: 90_000,
      offlineAfterMs: 20_000,
      breaker: { failures: 4, cooldownMs: 120_000, fastFailureMs: 10_000, fastFailures: 2 },
      restartCommands: { '*': ['/usr/local/bin/restart-drone'], drone3: ['ssh', 'drone3', 'rc-service', 'build-swarm-drone', 'restart'] },
      restartBudgetMs: 45_000,
      maxAttempts: 2,
      infraRetryBaseMs: 1_000,
      infraRetryMaxMs: 60_000,
    });
    expect(config.drone).toEqual({
      id: 'drone3',
      cores: 24,
      slots: 2,
      sweeper: true,
      root: '/srv/argo',
      gateway: 'https://gw.example/binhosts',
      lockDurationMs: 120_000,
      stalledIntervalMs: 60_000,
      heartbeatMs: 2_000,
      buildBudgetMs: 43_200_000,
      inactivityMs: 3_600_000,
      drainMs: 300_000,
      emergeCommand: ['nice', '-n', '19', 'emerge'],
      logDir: '/srv/argo/log',
      profiles: ['desktop', 'workstation'],
    });
  });

  it('adds a user profile after the built-ins, and replaces only the fields a built-in override gives', () => {
    const config = resolveSwarmConfig({ ...base, file: parseToml(toml) });
    expect(Object.keys(config.profiles)).toEqual(['desktop', 'server', 'container', 'dev', 'workstation']);
    expect(config.profiles['workstation']).toEqual({ name: 'workstation', use: 'X wayland -bluetooth', makeConf: { FEATURES: 'buildpkg' }, binhostPath: 'workstation/v3' });
    expect(config.profiles['desktop']).toEqual({ ...BUILTIN_PROFILES.desktop, makeConf: { CFLAGS: '-O2 -pipe -march=x86-64-v3' } });
    expect(config.profiles['server']).toEqual(BUILTIN_PROFILES.server);
  });

  it.each([
    ['use', { use: 'minimal -X' }, { ...BUILTIN_PROFILES.server, use: 'minimal -X' }],
    ['binhost_path', { binhost_path: 'srv' }, { ...BUILTIN_PROFILES.server, binhostPath: 'srv' }],
    ['everything', { use: '', make_conf: { CFLAGS: '-Os' }, binhost_path: 'a/b' }, { name: 'server', use: '', makeConf: { CFLAGS: '-Os' }, binhostPath: 'a/b' }],
  ])('overrides the built-in server profile: %s', (_name, given, expected) => {
    expect(resolveSwarmConfig({ ...base, file: { profiles: { server: given } } }).profiles['server']).toEqual(expected);
  });

  it('gives a user profile without keys no USE, no make.conf and its name as binhost', () => {
    const config = resolveSwarmConfig({ ...base, file: { profiles: { arm64: {} } } });
    expect(config.profiles['arm64']).toEqual({ name: 'arm64', use: '', makeConf: {}, binhostPath: 'arm64' });
    expect(config.drone.profiles).toContain('arm64');
  });

  it('has a schema in which every section and key is optional', () => {
    expect(swarmConfigFileSchema.safeParse({}).success).toBe(true);
    expect(swarmConfigFileSchema.safeParse({ redis: {}, orchestrator: { breaker: {} }, drone: {}, profiles: {} }).success).toBe(true);
  });
});

describe('resolveSwarmConfig: refusals name the source and the dotted key path', () => {
  const fileName = '/etc/argo/swarm.toml';
  const inFile = (file: unknown): SwarmConfigLayers => ({ ...base, file, fileName });

  it.each<[string, SwarmConfigLayers, string]>([
    ['an unknown section', inFile({ redis: {}, cluster: {} }), '/etc/argo/swarm.toml: cluster: is not a known key'],
    ['an unknown key', inFile({ drone: { colour: 'blue' } }), 'drone.colour: is not a known key'],
    ['a camelCase key', inFile({ orchestrator: { leaseTtlMs: 1000 } }), 'orchestrator.leaseTtlMs: is not a known key (keys are snake_case: lease_ttl_ms)'],
    ['an unknown breaker key', inFile({ orchestrator: { breaker: { threshold: 2 } } }), 'orchestrator.breaker.threshold: is not a known key'],
    ['a file that is not a table', inFile(['a']), 'the top level must be a table (found a list)'],
    ['a section that is not a table', inFile({ drone: 'x' }), 'drone: must be a table (found a string)'],
    ['a string for a number', inFile({ drone: { slots: '2' } }), 'drone.slots: must be a whole number (found a string)'],
    ['a fraction', inFile({ drone: { cores: 1.5 } }), 'drone.cores: must be a whole number'],
    ['zero', inFile({ orchestrator: { max_attempts: 0 } }), 'orchestrator.max_attempts: must be at least 1'],
    ['a negative duration', inFile({ orchestrator: { breaker: { cooldown_ms: -5 } } }), 'orchestrator.breaker.cooldown_ms: must be at least 1'],
    ['a duration past setTimeout', inFile({ drone: { build_budget_ms: 2 ** 31 } }), 'drone.build_budget_ms: must be at most 2147483647'],
    ['a lock shorter than a second', inFile({ drone: { lock_duration_ms: 500 } }), 'drone.lock_duration_ms: must be at least 1000'],
    ['a string for a boolean', inFile({ drone: { sweeper: 'yes' } }), 'drone.sweeper: must be true or false (found a string)'],
    ['an id with a colon', inFile({ drone: { id: 'a:b' } }), 'drone.id: must be 1 to 63 letters'],
    ['an id starting with a dot', inFile({ orchestrator: { id: '.x' } }), 'orchestrator.id: must be 1 to 63 letters'],
    ['an id of 64 characters', inFile({ drone: { id: 'a'.repeat(64) } }), 'drone.id: must be 1 to 63 letters'],
    ['a relative root', inFile({ drone: { root: 'var/lib' } }), 'drone.root: must be an absolute path'],
    ['a root with ..', inFile({ drone: { root: '/var/../etc' } }), 'drone.root: must be an absolute path without ".."'],
    ['a relative log folder', inFile({ drone: { log_dir: 'log' } }), 'drone.log_dir: must be an absolute path'],
    ['a relative password file', inFile({ redis: { password_file: 'redis.pw' } }), 'redis.password_file: must be an absolute path'],
    ['an empty emerge command', inFile({ drone: { emerge_command: [] } }), 'drone.emerge_command: must name a program'],
    ['an empty argument of the emerge command', inFile({ drone: { emerge_command: ['emerge', ''] } }), 'drone.emerge_command[1]: must not be empty'],
    ['an emerge command as a string', inFile({ drone: { emerge_command: 'emerge' } }), 'drone.emerge_command: must be a list'],
    ['an empty restart command', inFile({ orchestrator: { restart_commands: { drone3: [] } } }), 'orchestrator.restart_commands.drone3: must name a program'],
    ['a restart command with a number', inFile({ orchestrator: { restart_commands: { drone3: ['ssh', 3] } } }), 'orchestrator.restart_commands.drone3[1]: must be a string (found a whole number)'],
    ['a restart command as a string', inFile({ orchestrator: { restart_commands: { '*': 'ssh x' } } }), 'orchestrator.restart_commands."*": must be a list'],
    ['a restart command for a bad id', inFile({ orchestrator: { restart_commands: { 'a b': ['x'] } } }), 'orchestrator.restart_commands."a b": the key is neither a drone id nor "*"'],
    ['a redis URL of another scheme', inFile({ redis: { url: 'http://redis:6379' } }), 'redis.url: "http://redis:6379" must start with redis:// or rediss://'],
    ['a redis URL that is not one', inFile({ redis: { url: 'localhost' } }), 'redis.url: "localhost" is not a URL'],
    ['a redis URL with a query', inFile({ redis: { url: 'redis://h?db=1' } }), 'redis.url: "redis://h?db=1" must not have a query'],
    ['a redis URL with a path', inFile({ redis: { url: 'redis://h/queue' } }), 'redis.url: "redis://h/queue": the path must be empty or a database number'],
    ['a redis user in bad percent-encoding', inFile({ redis: { url: 'redis://a%zz@h' } }), 'redis.url: "redis://a%zz@h": the user name is not valid percent-encoding'],
    ['a gateway path with an @ (not a password)', inFile({ drone: { gateway: 'gopher://gw:70/a@b' } }), 'drone.gateway: "gopher://gw:70/a@b" must start with http://'],
    ['a redis user with a colon', inFile({ redis: { username: 'a:b' } }), 'redis.username: must be a user name'],
    ['a redis user unlike the URL', inFile({ redis: { url: 'redis://alice@h', username: 'bob' } }), 'redis.username: is "bob" but redis.url names the user "alice"'],
    ['a prefix with a colon', inFile({ redis: { prefix: 'argo:swarm' } }), 'redis.prefix: must be like an id'],
    ['a gateway of another scheme', inFile({ drone: { gateway: 'ftp://gw/' } }), 'drone.gateway: "ftp://gw/" must start with http://, https:// or file://'],
    ['a gateway file URL with a host', inFile({ drone: { gateway: 'file://gw/srv' } }), 'drone.gateway: "file://gw/srv": a file:// URL names a local folder'],
    ['a profile name in capitals', inFile({ profiles: { Desktop: {} } }), 'profiles.Desktop: the key must be 1 to 32 lower-case letters'],
    ['a profile with an unknown key', inFile({ profiles: { arm: { cflags: '-O2' } } }), 'profiles.arm.cflags: is not a known key'],
    ['USE with a bad flag', inFile({ profiles: { arm: { use: 'X gtk! -qt5' } } }), 'profiles.arm.use: holds text that is not a USE flag: "gtk!"'],
    ['USE in make_conf', inFile({ profiles: { arm: { make_conf: { USE: 'X' } } } }), "profiles.arm.make_conf: must not set USE: use the profile's use key"],
    ['a make.conf variable with a bad name', inFile({ profiles: { arm: { make_conf: { 'C FLAGS': '-O2' } } } }), 'profiles.arm.make_conf."C FLAGS": the key is not a make.conf variable name'],
    ['a make.conf value of two lines', inFile({ profiles: { arm: { make_conf: { CFLAGS: '-O2\n-pipe' } } } }), 'profiles.arm.make_conf.CFLAGS: must be one line'],
    ['a binhost path going up', inFile({ profiles: { arm: { binhost_path: '../prod' } } }), 'profiles.arm.binhost_path: must be a relative path'],
    ['an absolute binhost path', inFile({ profiles: { arm: { binhost_path: '/srv/prod' } } }), 'profiles.arm.binhost_path: must be a relative path'],
    ['two profiles on one binhost', inFile({ profiles: { arm: { binhost_path: 'server' } } }), 'profiles.arm.binhost_path: "server" is also the binhost of profile server'],
    ['a drone profile that is not defined', inFile({ drone: { profiles: ['desktop', 'arm'] } }), 'drone.profiles: names no defined profile: arm'],
    ['a drone profile named twice', inFile({ drone: { profiles: ['dev', 'dev'] } }), 'drone.profiles: names an entry twice'],
    ['no drone profile', inFile({ drone: { profiles: [] } }), 'drone.profiles: must not be empty'],
    ['a heartbeat as long as the offline TTL', inFile({ drone: { heartbeat_ms: 30_000 } }), 'drone.heartbeat_ms: (30000) must be shorter than orchestrator.offline_after_ms (30000)'],
    ['a retry base above its maximum', inFile({ orchestrator: { infra_retry_base_ms: 400_000 } }), 'orchestrator.infra_retry_base_ms: (400000) must not exceed orchestrator.infra_retry_max_ms (300000)'],
    ['a TOML date for a string', { ...base, file: parseToml('[drone]\nroot = 1979-05-27\n'), fileName }, 'drone.root: must be a string (found a date)'],
    ['a bad value from the environment', { ...base, env: { ARGO_SWARM_CORES: 'many' } }, 'Invalid swarm configuration in environment variable ARGO_SWARM_CORES: drone.cores: must be a whole number (found a string)'],
    ['zero slots from the environment', { ...base, env: { ARGO_SWARM_SLOTS: '0' } }, 'environment variable ARGO_SWARM_SLOTS: drone.slots: must be at least 1'],
    ['a bad id from the environment', { ...base, env: { ARGO_SWARM_ID: 'host:1' } }, 'environment variable ARGO_SWARM_ID: orchestrator.id: must be 1 to 63 letters'],
    ['a relative root from the environment', { ...base, env: { ARGO_SWARM_ROOT: 'x' } }, 'environment variable ARGO_SWARM_ROOT: drone.root: must be an absolute path'],
    ['a bad gateway from the environment', { ...base, env: { ARGO_SWARM_GATEWAY: 'gw:8080' } }, 'environment variable ARGO_SWARM_GATEWAY: drone.gateway: "gw:8080" must start with http://, https:// or file://'],
    ['a bad redis URL from the environment', { ...base, env: { ARGO_SWARM_REDIS_URL: 'redis://' } }, 'environment variable ARGO_SWARM_REDIS_URL: redis.url: "redis://" names no host'],
    ['a relative password file from the environment', { ...base, env: { ARGO_SWARM_REDIS_PASSWORD_FILE: 'pw' } }, 'environment variable ARGO_SWARM_REDIS_PASSWORD_FILE: redis.password_file: must be an absolute path'],
    ['NaN cores from the command line', { ...base, cli: { cores: Number.NaN } }, 'option --cores: drone.cores: must be a whole number'],
    ['zero slots from the command line', { ...base, cli: { slots: 0 } }, 'option --slots: drone.slots: must be at least 1'],
    ['a bad id from the command line', { ...base, cli: { id: 'my drone' } }, 'option --id: orchestrator.id: must be 1 to 63 letters'],
    ['a relative root from the command line', { ...base, cli: { root: '.' } }, 'option --root: drone.root: must be an absolute path'],
    ['an undefined profile from the command line', { ...base, cli: { profiles: ['arm'] } }, 'option --profiles: drone.profiles: names no defined profile: arm'],
    ['a host name that cannot be an id', { hostname: 'my host' }, 'orchestrator.id: the host name "my host" cannot be the id'],
    ['no host name and no id', { file: { orchestrator: { id: 'o' } } }, 'drone.id: no id is given and the host name is unknown'],
  ])('%s', (_name, layers, message) => {
    const error = refusal(layers);
    expect(error.code).toBe('ARGO_CONFIG_INVALID');
    expect(error.message).toContain(message);
    expect(error.hint).toMatch(/docs\/swarm-config\.md|binhost_path/);
    if (layers.fileName !== undefined && layers.file !== undefined) expect(error.message).toContain(layers.fileName);
  });

  it('lists every problem of the file, each with its key path, and gives them in details', () => {
    const error = refusal(inFile({ drone: { slots: 0, cores: 'x' }, orchestrator: { lease_ttl_ms: 10 } }));
    expect(error.message).toMatch(/^Invalid swarm configuration in \/etc\/argo\/swarm\.toml: /);
    expect(error.details['problems']).toEqual([
      { key: 'orchestrator.lease_ttl_ms', problem: 'must be at least 1000' },
      { key: 'drone.cores', problem: 'must be a whole number (found a string)' },
      { key: 'drone.slots', problem: 'must be at least 1' },
    ]);
  });

  it('names "the configuration file" when it has no name', () => {
    expect(refusal({ ...base, file: { drone: { slots: 0 } } }).message).toContain('Invalid swarm configuration in the configuration file: drone.slots');
  });
});

describe('resolveSwarmConfig: secrets never in the file, the environment or the command line', () => {
  const secret = 'hunter2-s3cret';
  it.each<[string, SwarmConfigLayers, string]>([
    ['a password in the file URL', { ...base, file: { redis: { url: `redis://:${secret}@redis:6379` } }, fileName: 'swarm.toml' }, 'redis.url: redis://:***@redis:6379 carries a password'],
    ['a user and password in the file URL', { ...base, file: { redis: { url: `rediss://argo:${secret}@redis/1` } } }, 'redis.url: rediss://argo:***@redis/1 carries a password'],
    ['a password with an @ in it', { ...base, file: { redis: { url: `redis://:${secret}@x@redis` } } }, 'redis.url: redis://:***@redis carries a password'],
    ['a password that makes the URL unparsable', { ...base, file: { redis: { url: `redis://:${secret}/x@redis` } } }, 'redis.url: redis://:***@redis carries a password'],
    ['a password key in the file', { ...base, file: { redis: { password: secret } } }, 'redis.password: is refused'],
    ['a password in ARGO_SWARM_REDIS_URL', { ...base, env: { ARGO_SWARM_REDIS_URL: `redis://:${secret}@redis` } }, 'environment variable ARGO_SWARM_REDIS_URL: redis.url: redis://:***@redis carries a password'],
    ['a password in --redis', { ...base, cli: { redisUrl: `redis://u:${secret}@redis` } }, 'option --redis: redis.url: redis://u:***@redis carries a password'],
    ['a password in the gateway URL', { ...base, file: { drone: { gateway: `https://u:${secret}@gw` } } }, 'drone.gateway: https://u:***@gw carries a password'],
  ])('refuses %s, shows it as ***, and points to the password file', (_name, layers, message) => {
    const error = refusal(layers);
    expect(error.code).toBe('ARGO_CONFIG_INVALID');
    expect(error.message).toContain(message);
    expect(error.hint).toContain('redis.password_file');
    expect(error.hint).toContain('ARGO_SWARM_REDIS_PASSWORD_FILE');
    expect(`${error.message} ${error.hint} ${JSON.stringify(error)} ${String(error.stack)}`).not.toContain(secret);
  });

  it('keeps the secret out of the schema error itself', () => {
    const result = swarmConfigFileSchema.safeParse({ redis: { url: `redis://:${secret}@h`, password: secret } });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error)).not.toContain(secret);
  });

  it('accepts an empty password and a user without one', () => {
    expect(resolveSwarmConfig({ ...base, file: { redis: { url: 'redis://:@h' } } }).redis.url).toBe('redis://:@h');
    expect(resolveSwarmConfig({ ...base, file: { redis: { url: 'redis://alice@h', username: 'alice' } } }).redis.username).toBe('alice');
  });
});

describe('redactRedisUrl', () => {
  it.each([
    ['redis://:pw@host:6379/0', 'redis://:***@host:6379/0'],
    ['redis://user:pw@host', 'redis://user:***@host'],
    ['rediss://user:p:w@host', 'rediss://user:***@host'],
    ['redis://user:p@w@host', 'redis://user:***@host'],
    ['redis://:p/w@host', 'redis://:***@host'],
    ['redis://user@host', 'redis://user@host'],
    ['redis://:@host', 'redis://:@host'],
    ['redis://host:6379', 'redis://host:6379'],
    ['user:pw@host', '***@host'],
    ['', ''],
  ])('%s → %s', (url, redacted) => {
    expect(redactRedisUrl(url)).toBe(redacted);
  });
});

describe('parseRedisUrl', () => {
  it.each([
    ['redis://127.0.0.1:6379', { host: '127.0.0.1', port: 6379, db: undefined, tls: false, username: undefined }],
    ['redis://redis', { host: 'redis', port: 6379, db: undefined, tls: false, username: undefined }],
    ['rediss://al%40ice@redis.example:6380/3', { host: 'redis.example', port: 6380, db: 3, tls: true, username: 'al@ice' }],
    ['redis://[::1]:7000/', { host: '::1', port: 7000, db: undefined, tls: false, username: undefined }],
  ])('%s', (url, expected) => {
    expect(parseRedisUrl(url)).toEqual({ ok: true, value: expected });
  });
});

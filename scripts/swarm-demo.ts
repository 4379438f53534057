/**
 * The build swarm end to end on one machine: `build-swarm up` (a private redis-server, the gateway, two
 * orchestrators, two drones running the faithful fake emerge, which writes real GPKGs), a cycle over the real
 * dependency graph of a Gentoo Prefix (135 packages, test/fixtures/gentoo/clusterhq-prefix), a drone killed with
 * SIGKILL mid-cycle (the swarm takes its build back and finishes), verify, finalize to production, and
 * `apkg update` of a client root (a btrfs copy of the Debian fixture root) from the new production binhost.
 * Everything lives in a temporary folder that is removed at the end; `up` is stopped whatever happens.
 * Exits 0 only when every step worked.
 *
 * Run it as `bash scripts/swarm-demo.sh` (as root, from a clean clone): that prepares the machine and the
 * fixtures with scripts/setup.sh, then runs this with the project's Node.js.
 * ARGO_SWARM_DEMO_PACKAGES=N takes the first N packages of the plan in merge order (default: all 135).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installFakeEmerge } from '../test/chroot-fixtures/install-fake-emerge.ts';
import { fixtureEnv } from '../test/support/debian-target.ts';
import { clusterhqRebuildPlan } from '../test/support/swarm-plan.ts';
import { unmountBelow } from './lib/mounts.ts';
import { withCleanup } from './lib/on-interrupt.ts';
import { $ } from './lib/shell.ts';

const PROJECT = join(import.meta.dirname, '..');
const CLUSTERHQ = join(PROJECT, 'test/fixtures/gentoo/clusterhq-prefix');
const cli = (name: 'build-swarm' | 'apkg'): string[] => [process.execPath, join(PROJECT, `dist/cli/${name}.js`)];
const shown = $({ stdio: ['ignore', 'inherit', 'inherit'] });
const step = (what: string): void => console.log(`\n== ${what}`);

/** Polls `probe` every 200 ms until it gives a value; fails after `seconds`. */
async function until<T>(label: string, probe: () => Promise<T | undefined>, seconds: number): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${seconds} s waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface Cycle {
  readonly id: string;
  readonly status: string;
  readonly packages: readonly string[];
  readonly counts: { built: number; failed: number };
  readonly eta: number;
  readonly elapsed: number;
  readonly ratio?: number;
}
interface Status {
  readonly cycles: readonly Cycle[];
  readonly drones: readonly { id: string; state: string; building: readonly string[] }[];
}

/** The demo's questions to the gateway, through its HTTP API (read with the read token, writes with admin). */
function gateway(url: string, data: string) {
  const token = (scope: 'read' | 'admin'): string => readFileSync(join(data, `${scope}.token`), 'utf8').trim();
  const call = async <T>(path: string, init: RequestInit = {}, scope: 'read' | 'admin' = 'read'): Promise<T> => {
    const answer = await fetch(`${url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${token(scope)}`, 'content-type': 'application/json' } });
    const body = (await answer.json()) as T & { error?: unknown };
    if (!answer.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${answer.status} ${JSON.stringify(body.error ?? body)}`);
    return body;
  };
  return {
    status: () => call<Status>('/status'),
    startCycle: async (plan: string) => (await call<{ cycle: string }>('/profiles/desktop/cycles', { method: 'POST', body: JSON.stringify({ plan }) }, 'admin')).cycle,
    package: (cycle: string, cpv: string) =>
      call<{ state: string; attempt: number; drone?: string; built?: { drone: string }; failures?: { attempt: number; drone: string; kind: string; reason: string }[] }>(`/cycles/${cycle}/packages/${cpv}`),
  };
}

/** The rebuild plan of the clusterhq prefix, cut to its first `count` packages when count > 0. */
async function cyclePlan(count: number): Promise<string> {
  const plan = await clusterhqRebuildPlan();
  if (count <= 0) return plan;
  const lines = plan.split('\n').filter((line) => line.startsWith('[ebuild')).slice(0, count);
  return `${lines.join('\n')}\n\nTotal: ${lines.length} packages (${lines.length} reinstalls), Size of downloads: 0 KiB\n`;
}

/** The emerge -pv a client prints for these clusterhq packages (see test/support/swarm-client-fixtures.ts). */
async function clientPlan(wanted: ReadonlySet<string>): Promise<string> {
  const lines = (await clusterhqRebuildPlan()).split('\n').filter((line) => line.startsWith('[ebuild') && wanted.has(line.split(/\s+/)[3] as string));
  return `\nThese are the packages that would be merged, in order:\n\nCalculating dependencies... done!\n\n${lines.join('\n')}\n\nTotal: ${lines.length} packages (${lines.length} reinstalls), Size of downloads: 0 KiB\n`;
}

const env = await fixtureEnv();
const work = mkdtempSync('/var/tmp/argo-swarm-demo-');
const data = join(work, 'swarm');
const mnt = join(work, 'mnt');
/** `build-swarm up`, spawned without a shell: SIGTERM must reach it alone (it stops its children in order). */
let up: ChildProcess | undefined;
const upRunning = (): boolean => up !== undefined && up.exitCode === null && up.signalCode === null;
async function stopUp(): Promise<number | null> {
  if (up === undefined) return null;
  if (!upRunning()) return up.exitCode;
  const exited = once(up, 'exit');
  up.kill('SIGTERM');
  return ((await exited) as [number | null])[0];
}
let loop: string | undefined;

const cleanup = async (): Promise<void> => {
  await stopUp();
  if (loop !== undefined) {
    unmountBelow(mnt);
    await $`losetup -d ${loop}`.nothrow();
  }
  rmSync(work, { recursive: true, force: true });
};

await withCleanup(cleanup).run(async () => {
  step(`build-swarm up: redis-server, gateway, 2 orchestrators, 2 drones (the fake emerge) in ${data}`);
  // Each drone's profile root starts as this seed: make.conf, the prefix's repository (md5-cache) and its
  // installed system (VDB), and the fake emerge's settings (real durations from the prefix's emerge.log, 1/1000).
  const seed = join(work, 'seed');
  for (const path of ['etc/portage', 'var/db/repos/gentoo/metadata', 'var/log']) mkdirSync(join(seed, path), { recursive: true });
  writeFileSync(join(seed, 'etc/portage/make.conf'), 'CHOST="x86_64-pc-linux-gnu"\nCFLAGS="-O2 -pipe"\nPKGDIR="/var/cache/binpkgs"\nFEATURES="buildpkg binpkg-multi-instance"\n');
  cpSync(join(CLUSTERHQ, 'md5-cache-installed'), join(seed, 'var/db/repos/gentoo/metadata/md5-cache'), { recursive: true, preserveTimestamps: true });
  cpSync(join(CLUSTERHQ, 'var/db/pkg'), join(seed, 'var/db/pkg'), { recursive: true, preserveTimestamps: true });
  writeFileSync(join(seed, 'etc/argo-fake-emerge.conf'), `DURATIONS_LOG=${join(CLUSTERHQ, 'var/log/emerge.log')}\nTIME_SCALE=0.001\nMIN_SECONDS=0.05\n`);
  const upOut = join(work, 'up.out');
  const upErr = join(work, 'up.err');
  const outFd = openSync(upOut, 'w');
  const errFd = openSync(upErr, 'w');
  const [node, script] = cli('build-swarm') as [string, string];
  up = spawn(node, [script, 'up', '--data', data, '--drones', '2', '--port', '0', '--json', '--md5-cache', join(CLUSTERHQ, 'md5-cache-installed'),
    '--history', join(CLUSTERHQ, 'var/log/emerge.log'), '--emerge', join(PROJECT, 'test/swarm-fixtures/bin/emerge'), '--seed', seed], { stdio: ['ignore', outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  const readyLine = await until('build-swarm up to get ready', async () => {
    const line = readFileSync(upOut, 'utf8').split('\n').find((entry) => entry.includes('"ready":true'));
    if (line === undefined && !upRunning()) throw new Error('build-swarm up exited');
    return line;
  }, 150).catch((error: Error) => {
    throw new Error(`build-swarm up did not get ready (${error.message}):\n${readFileSync(upErr, 'utf8')}`);
  });
  const ready = JSON.parse(readyLine) as { url: string; dashboard: string; leader: string; drones: unknown; adminTokenFile: string };
  const { url } = ready;
  console.log(`   dashboard ${ready.dashboard} (read-only without a token), leader ${ready.leader}, drones ${String(ready.drones)}`);
  console.log(`   ARGO_SWARM_GATEWAY=${url} ARGO_SWARM_TOKEN_FILE=${ready.adminTokenFile}`);
  const api = gateway(url, data);

  step("a cycle over the clusterhq prefix's real dependency graph, started through the gateway");
  const cycle = await api.startCycle(await cyclePlan(Number(process.env['ARGO_SWARM_DEMO_PACKAGES'] || 0)));
  console.log(`   cycle ${cycle}`);

  step('kill -9 of a drone in the middle of a build');
  // A drone in the middle of a build, at least a few packages into the cycle: its id and what it builds.
  const [victim, cpv] = await until('a drone building', async () => {
    const status = await api.status();
    const built = status.cycles.find((entry) => entry.id === cycle)?.counts.built ?? 0;
    const drone = status.drones.find((entry) => entry.state === 'building' && entry.building.length > 0);
    return built >= 5 && drone !== undefined ? ([drone.id, (drone.building[0] as string).split(' ')[1] as string] as const) : undefined;
  }, 120);
  const victimPid = (JSON.parse(readFileSync(join(data, 'pids.json'), 'utf8')) as { children: Record<string, number> }).children[victim];
  if (victimPid === undefined) throw new Error(`no pid of ${victim} in ${data}/pids.json`);
  process.kill(victimPid, 'SIGKILL');
  console.log(`   killed ${victim} (pid ${victimPid}) while it built ${cpv}`);

  step('the swarm takes the build back and finishes the cycle');
  let lastShown = -1;
  const finished = await until(`cycle ${cycle} to finish`, async () => {
    const entry = (await api.status()).cycles.find((item) => item.id === cycle);
    if (entry !== undefined && entry.counts.built !== lastShown && entry.counts.built % 20 === 0) {
      lastShown = entry.counts.built;
      console.log(`   ${entry.counts.built}/${entry.packages.length} built, ${entry.counts.failed} failed, ~${Math.round(entry.eta)} s left`);
    }
    return entry?.status === 'finished' ? entry : undefined;
  }, 600);
  console.log(`   finished: ${JSON.stringify(finished.counts)}, ${Math.round(finished.elapsed)} s, makespan/lower bound ${finished.ratio?.toFixed(2) ?? '?'}`);
  if (finished.counts.built !== finished.packages.length) throw new Error(`only ${finished.counts.built} of ${finished.packages.length} packages were built`);
  // The record of the killed drone's package: its attempts and why the first one did not count.
  const record = await api.package(cycle, cpv);
  console.log(`   ${cpv}: ${record.state} by ${record.built?.drone ?? record.drone ?? '?'} (attempt ${record.attempt})`);
  for (const failure of record.failures ?? []) console.log(`   attempt ${failure.attempt} on ${failure.drone}: ${failure.kind}: ${failure.reason}`);
  if (record.state !== 'built') throw new Error(`${cpv} is ${record.state}`);
  for (const line of readFileSync(upErr, 'utf8').split('\n')) if (line.includes(victim)) console.log(`   ${line}`);

  step('build-swarm verify --profile desktop');
  const config = join(data, 'swarm.json');
  const verified = (await shown({ nothrow: true })`${cli('build-swarm')} verify --config ${config} --profile desktop`).exitCode === 0;
  // The prefix takes X11 and a few more libraries from its host, outside the cycle's packages: verify names them
  // as unsatisfied dependencies and nothing else; any other finding fails the demo.
  const verify = JSON.parse((await $({ nothrow: true })`${cli('build-swarm')} verify --config ${config} --profile desktop --json`).stdout) as { components: { id: string; points: number }[] };
  const scored = verify.components.filter((component) => component.points > 0).map((component) => component.id);
  if (scored.some((id) => id !== 'unsatisfied-deps')) throw new Error(`verify found more than the prefix host libraries: ${scored.join(', ')}`);

  step('build-swarm finalize --profile desktop: staging becomes production');
  const adminToken = join(data, 'admin.token');
  if (verified) await shown`${cli('build-swarm')} finalize --profile desktop --gateway ${url} --token-file ${adminToken}`;
  else await shown`${cli('build-swarm')} finalize --profile desktop --gateway ${url} --token-file ${adminToken} --force ${'demo: the prefix takes some libraries from its host (verify lists them)'}`;

  step('apkg update of a client root from the new production binhost');
  // A client: a btrfs subvolume copy of the Debian fixture root (apkg snapshots it before and after), with the
  // fake Portage emerge whose plan is five packages of the prefix, all in production now.
  mkdirSync(mnt);
  const image = join(work, 'client.img');
  await $`truncate -s 6G ${image}`;
  loop = (await $`losetup --find --show ${image}`).stdout.trim();
  await $`mkfs.btrfs -q ${loop}`;
  await $`mount ${loop} ${mnt}`;
  const client = join(mnt, 'client');
  await $`btrfs subvolume create ${client}`;
  await $`cp -a ${`${env['ARGO_FIXTURE_BASE'] as string}/.`} ${client}`;
  await installFakeEmerge(client, ['BINARY=ok', 'WORLD_BINHOST_HAS=all']);
  writeFileSync(join(client, 'etc/argo-fake-emerge.plan'), await clientPlan(new Set(['app-arch/bzip2-1.0.6-r7', 'app-arch/xz-utils-5.0.6', 'app-misc/mime-types-9', 'app-arch/lz4-0_p120', 'sys-apps/which-2.20-r1'])));
  for (const path of ['var/db/repos/gentoo/metadata', 'etc/portage/package.use']) mkdirSync(join(client, path), { recursive: true });
  const hourAgo = new Date(Date.now() - 3600_000).toUTCString().replace('GMT', '+0000');
  writeFileSync(join(client, 'var/db/repos/gentoo/metadata/timestamp.chk'), `${hourAgo}\n`);
  writeFileSync(join(client, 'etc/portage/package.use/libxcrypt'), 'sys-libs/libxcrypt compat system\n');
  // Production over HTTP: the local swarm serves its binhosts without a token, on 127.0.0.1 only.
  await shown`${cli('apkg')} update --root ${client} --binhost ${`${url}/binhost/desktop/`}`;

  step('build-swarm up stopped with SIGTERM: drones drain, then orchestrators, gateway, redis-server');
  const pids = Object.values((JSON.parse(readFileSync(join(data, 'pids.json'), 'utf8')) as { children: Record<string, number> }).children);
  const code = await stopUp();
  if (code !== 0) throw new Error(`build-swarm up exited ${code} after SIGTERM`);
  for (const pid of pids) {
    if (existsSync(`/proc/${pid}`)) throw new Error(`pid ${pid} of the swarm is still running`);
  }
  console.log(`   stopped; none of its processes (${pids.join(' ')}) is left`);
  console.log('\nswarm demo: every step worked');
});

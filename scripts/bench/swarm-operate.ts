/**
 * Benchmark of the operator's view of a busy swarm, in-process gateway on a real redis-server and real sockets,
 * with a synthetic running cycle of 1,500 packages (300 built, 20 building, the rest waiting) and 20 drones:
 *
 *   node scripts/bench/swarm-operate.ts
 *
 * - `build-swarm status --gateway URL --json`, the whole CLI process (Node start-up included; target < 300 ms),
 *   and `GET /api/v1/status` alone;
 * - how long a `package` event takes from the Redis stream to a client of `GET /api/v1/events` (what the monitor
 *   and the dashboard redraw on; target < 1 s), and to a client's re-read of the status it triggers.
 *
 * Prints a markdown table; exits 1 when a target is missed.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { createSwarmClient } from '../../src/swarm-client/swarm-client.ts';
import { registerDrone } from '../../src/swarm/drone-registry.ts';
import { appendSwarmEvent } from '../../src/swarm/swarm-events.ts';
import { KEYS, startTestGateway, writeCycle } from '../../test/support/swarm-gateway.ts';

const PACKAGES = 1_500;
const DRONES = 20;
const CLI = join(import.meta.dirname, '../../dist/cli/build-swarm.js');
const gateway = await startTestGateway();
const scratch = await mkdtemp(join(tmpdir(), 'argo-bench-operate-'));
let failed = false;
try {
  const url = await gateway.listen();
  const cycle = 'desktop-20261130T000000Z-b001';
  const cpvs = Array.from({ length: PACKAGES }, (_, index) => `bench-cat${index % 20}/pkg${index}-1.${index % 7}`);
  await writeCycle(gateway.client, cycle, 'desktop', cpvs);
  const now = Date.now();
  for (let index = 0; index < DRONES; index += 1) {
    await registerDrone(gateway.client, KEYS, { id: `drone-${index}`, cores: 8 + (index % 4) * 8, slots: 1, sweeper: index < 2, profiles: ['desktop'], host: 'bench', pid: 1000 + index, startedAt: now }, 600_000);
  }
  const records = Object.fromEntries(
    cpvs.map((cpv, index) => {
      const built = index < 300;
      const building = !built && index < 300 + DRONES;
      const drone = `drone-${index % DRONES}`;
      const record = built
        ? { cpv, state: 'built', since: now - (300 - index) * 1000, attempt: 1, failures: [], startedAt: now - (301 - index) * 1000, built: { drone, attempt: 1, path: `x/${cpv}.gpkg.tar`, sha256: '0'.repeat(64), size: 1, buildId: '1', seconds: 1 } }
        : building
          ? { cpv, state: 'building', since: now, attempt: 1, drone, jobId: `${cycle}:${cpv}:1`, failures: [], startedAt: now - 5_000 }
          : { cpv, state: 'queued', since: now, attempt: 0, failures: [], readyAt: now };
      return [cpv, JSON.stringify(record)];
    }),
  );
  await gateway.client.hset(KEYS.packages(cycle), records);
  const tokenFile = join(scratch, 'read.token');
  await writeFile(tokenFile, `${gateway.tokens.read}\n`, { mode: 0o600 });

  const cli: number[] = [];
  for (let run = 0; run < 10; run += 1) {
    const started = performance.now();
    // Asynchronously: the gateway answering it runs in this process.
    const result = await execa(process.execPath, [CLI, 'status', '--gateway', url, '--token-file', tokenFile, '--json'], { reject: false });
    cli.push(performance.now() - started);
    if (result.exitCode !== 0) throw new Error(`build-swarm status: exit ${result.exitCode}: ${result.stderr}`);
  }
  const client = createSwarmClient({ url, token: gateway.tokens.read });
  const api: number[] = [];
  for (let run = 0; run < 30; run += 1) {
    const started = performance.now();
    await client.status();
    api.push(performance.now() - started);
  }

  // Event latency: one reader, 30 events appended one after another, each timed from its append to its arrival.
  const toClient: number[] = [];
  const toStatus: number[] = [];
  const stop = new AbortController();
  const sent = new Map<string, number>();
  const reader = (async () => {
    for await (const event of client.events({ signal: stop.signal })) {
      const at = sent.get(event.fields.mark ?? '');
      if (at === undefined) continue;
      toClient.push(performance.now() - at);
      await client.status();
      toStatus.push(performance.now() - at);
      sent.delete(event.fields.mark ?? '');
      if (toClient.length === 30) stop.abort();
    }
  })().catch((error: unknown) => {
    if (!stop.signal.aborted) throw error;
  });
  await new Promise((resolve) => setTimeout(resolve, 500)); // the stream reads from "now": let it open first
  for (let index = 0; index < 30 && !stop.signal.aborted; index += 1) {
    const mark = `m${index}`;
    sent.set(mark, performance.now());
    await appendSwarmEvent(gateway.client, KEYS, { type: 'package', cycle, cpv: cpvs[400 + index] ?? '', state: 'building', attempt: 1, mark });
    while (sent.has(mark) && !stop.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await reader;

  const row = (name: string, samples: readonly number[], target?: number): string => {
    const sorted = [...samples].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    const worst = sorted.at(-1) ?? 0;
    const ok = target === undefined || (median <= target && worst <= target * 2);
    if (!ok) failed = true;
    return `| ${name} | ${samples.length} | ${median.toFixed(1)} | ${worst.toFixed(1)} | ${target === undefined ? '' : `≤ ${target}`} | ${target === undefined ? '' : ok ? 'met' : 'MISSED'} |`;
  };
  console.log(`A running cycle of ${PACKAGES} packages (300 built, ${DRONES} building), ${DRONES} drones; one gateway, real redis-server and sockets.\n`);
  console.log('| measure | runs | median ms | worst ms | target | |');
  console.log('|---|---:|---:|---:|---|---|');
  console.log(row('`build-swarm status --gateway … --json` (whole process)', cli, 300));
  console.log(row('`GET /api/v1/status`', api));
  console.log(row('`package` event: Redis stream → events client', toClient, 1_000));
  console.log(row('… and the status re-read it triggers', toStatus, 1_000));
} finally {
  await gateway.destroy();
  await rm(scratch, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;

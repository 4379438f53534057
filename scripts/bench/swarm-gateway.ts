/**
 * Benchmark of the swarm gateway, in-process on a real redis-server and real sockets:
 *
 *   node scripts/bench/swarm-gateway.ts
 *
 * - uploads: 1,500 synthetic GPKGs (written by the project's writer, ~10 kB each) PUT one after another with a
 *   drone token and the job's lease; the latency of the first 100 and of the last 100 (each publish rebuilds
 *   the staging index from every stanza, so it grows with the staging size);
 * - finalize of the 1,500 packages into a release (hard links, index, switch), and a second finalize that
 *   carries 1,400 of them over from the previous release;
 * - verify of the release finalize would publish next (1,500 packages; target: under 5 s); `GET /binhost/P/Packages` and `GET /api/v1/status` latency.
 *
 * Prints markdown tables; exits 1 when a target is missed.
 */

import { performance } from 'node:perf_hooks';
import { writeGpkg } from '../../src/core/gentoo/write-gpkg.ts';
import { grantLease, markBuilt, startTestGateway, writeCycle } from '../../test/support/swarm-gateway.ts';

const PACKAGES = Number(process.env.ARGO_BENCH_PACKAGES ?? 1_500);
const gateway = await startTestGateway({ maxPackageBytes: 64 * 1024 ** 2 });
let failed = false;
try {
  const url = await gateway.listen();
  const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
  const cpvs = Array.from({ length: PACKAGES }, (_, index) => `bench-cat${index % 20}/pkg${index}-1.${index % 7}`);
  await writeCycle(gateway.client, 'bench', 'desktop', cpvs);

  const upload = async (cpv: string, build: number): Promise<number> => {
    const [category, pf] = cpv.split('/') as [string, string];
    const bytes = await writeGpkg({
      basename: pf,
      metadata: { CATEGORY: `${category}\n`, PF: `${pf}\n`, SLOT: '0\n', EAPI: '8\n', USE: 'amd64 elibc_glibc\n', IUSE: 'test\n', RDEPEND: '', BUILD_TIME: `${1_700_000_000 + build}\n`, CHOST: 'x86_64-pc-linux-gnu\n' },
      image: [{ path: `/usr/share/${pf}/data`, mode: 0o644, data: `${cpv} ${build}\n`.repeat(400) }],
      compression: 'zst',
      mtime: 1_700_000_000,
    });
    const lease = await grantLease(gateway.client, 'bench', cpv);
    const started = performance.now();
    const response = await fetch(`${url}/api/v1/profiles/desktop/packages/${category}/${pf}.gpkg.tar`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', ...auth(gateway.tokens.drone), 'x-argo-cpv': cpv, 'x-argo-queue': lease.queue, 'x-argo-job': lease.jobId, 'x-argo-lock': lease.token, 'x-argo-cycle': 'bench' },
      body: bytes,
    });
    const elapsed = performance.now() - started;
    if (response.status !== 200) throw new Error(`${cpv}: ${response.status} ${await response.text()}`);
    const answer = (await response.json()) as { path: string; sha256: string; size: number };
    await markBuilt(gateway.client, 'bench', cpv, answer.path, answer.sha256, answer.size);
    return elapsed;
  };

  const latencies: number[] = [];
  for (const [index, cpv] of cpvs.entries()) latencies.push(await upload(cpv, index));
  const first = latencies.slice(0, 100);
  const last = latencies.slice(-100);

  const time = async (what: () => Promise<unknown>): Promise<number> => {
    const started = performance.now();
    await what();
    return performance.now() - started;
  };
  const admin = auth(gateway.tokens.admin);
  const finalize = async (): Promise<void> => {
    const response = await fetch(`${url}/api/v1/profiles/desktop/finalize`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ force: 'benchmark' }) });
    if (response.status !== 200) throw new Error(`finalize: ${response.status} ${await response.text()}`);
  };
  const firstFinalize = await time(finalize);
  for (const [index, cpv] of cpvs.slice(0, 100).entries()) await upload(cpv, PACKAGES + index);
  const secondFinalize = await time(finalize);
  const verify = await time(async () => {
    const response = await fetch(`${url}/api/v1/profiles/desktop/verify`, { headers: admin });
    if (response.status !== 200) throw new Error(`verify: ${response.status}`);
  });
  const reads = async (path: string): Promise<number[]> => {
    const samples: number[] = [];
    for (let index = 0; index < 50; index += 1) samples.push(await time(async () => (await fetch(`${url}${path}`, { headers: admin })).arrayBuffer()));
    return samples;
  };
  const packagesReads = await reads('/binhost/desktop/Packages');
  const statusReads = await reads('/api/v1/status');

  const row = (name: string, samples: readonly number[], target?: number): string => {
    const sorted = [...samples].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    const p95 = sorted[Math.floor(sorted.length * 0.95)] ?? 0;
    const ok = target === undefined || median <= target;
    if (!ok) failed = true;
    return `| ${name} | ${median.toFixed(1)} | ${p95.toFixed(1)} | ${target === undefined ? '' : `≤ ${target}`} | ${target === undefined ? '' : ok ? 'met' : 'MISSED'} |`;
  };
  console.log(`${PACKAGES} synthetic packages, one gateway, real redis-server and sockets.\n`);
  console.log('| measure | median ms | p95 ms | target | |');
  console.log('|---|---:|---:|---|---|');
  console.log(row('upload, staging holds 0–100 packages', first));
  console.log(row(`upload, staging holds ${PACKAGES - 100}–${PACKAGES}`, last, 1_000));
  console.log(row(`finalize, ${PACKAGES} packages from staging`, [firstFinalize], 30_000));
  console.log(row(`finalize, 100 new + ${PACKAGES - 100} carried over`, [secondFinalize], 30_000));
  console.log(row(`verify of the next release (${PACKAGES} packages, 100 of them staged)`, [verify], 5_000));
  console.log(row(`GET /binhost/desktop/Packages (${PACKAGES} packages)`, packagesReads, 100));
  console.log(row('GET /api/v1/status', statusReads, 300));
} finally {
  await gateway.destroy();
}
process.exitCode = failed ? 1 : 0;

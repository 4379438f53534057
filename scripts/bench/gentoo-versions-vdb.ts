/**
 * Benchmark for the Gentoo version and installed-package readers:
 *
 *   node scripts/bench/gentoo-versions-vdb.ts
 *
 * It generates its own inputs: 100,000 version pairs from a seeded generator (every suffix kind, letters,
 * revisions, leading zeros, long numbers) and a 1,500-entry /var/db/pkg in a temporary directory whose entries are
 * copies of the real ones in test/fixtures/gentoo (renamed so that every CPV is distinct). Each case runs several
 * times; the table shows the median. The temporary directory is removed at the end, also on failure.
 */

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareVersions } from '../../src/core/gentoo/compare-versions.ts';
import { parseDepSpec } from '../../src/core/gentoo/parse-dep-spec.ts';
import { createRootedFs } from '../../src/system/rooted-fs.ts';
import { readVdb } from '../../src/system/gentoo/read-vdb.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE_VDBS = [
  path.join(REPO_ROOT, 'test/fixtures/gentoo/clusterhq-prefix/var/db/pkg'),
  path.join(REPO_ROOT, 'test/fixtures/gentoo/portage-utils-tests/tests/qfile/root'),
];
const VERSION_PAIRS = 100_000;
const VDB_ENTRIES = 1_500;
const RUNS = 7;

interface Case {
  readonly name: string;
  readonly targetMs?: number;
  readonly run: () => unknown;
}

/** mulberry32: a small seeded generator, so every run compares the same versions. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generateVersions(count: number): string[] {
  const random = seededRandom(0x5eed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const numbers = ['0', '1', '2', '3', '9', '10', '01', '001', '12', '2014', '20250228', '999999999999999999999'];
  const suffixes = ['_alpha', '_beta', '_pre', '_rc', '_p'];
  const versions: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const components = 1 + Math.floor(random() * 4);
    let version = Array.from({ length: components }, () => pick(numbers)).join('.');
    if (random() < 0.1) version += pick(['a', 'b', 'z']);
    const suffixCount = random() < 0.3 ? 1 + Math.floor(random() * 2) : 0;
    for (let s = 0; s < suffixCount; s += 1) version += pick(suffixes) + (random() < 0.7 ? pick(['', '1', '2', '20']) : '');
    if (random() < 0.4) version += `-r${pick(['0', '1', '2', '13'])}`;
    versions.push(version);
  }
  return versions;
}

/** Copies the real VDB entries round-robin under new names until there are `count` of them. */
function buildVdb(root: string, count: number): void {
  const templates: { category: string; pf: string; files: [string, Buffer][] }[] = [];
  for (const vdb of FIXTURE_VDBS) {
    for (const category of readdirSync(vdb)) {
      for (const pf of readdirSync(path.join(vdb, category))) {
        const dir = path.join(vdb, category, pf);
        if (pf.startsWith('-MERGING-') || !statSync(dir).isDirectory()) continue;
        const files = readdirSync(dir)
          .filter((name) => name !== 'environment.bz2' && !name.endsWith('.ebuild'))
          .map((name): [string, Buffer] => [name, readFileSync(path.join(dir, name))]);
        templates.push({ category, pf, files });
      }
    }
  }
  for (let index = 0; index < count; index += 1) {
    const template = templates[index % templates.length] as (typeof templates)[number];
    const round = Math.floor(index / templates.length);
    // Insert the round into the package name: bash-4.4_p23-r1 -> bash3-4.4_p23-r1 (still a valid PF).
    const hyphen = template.pf.search(/-\d/);
    const pf = round === 0 ? template.pf : `${template.pf.slice(0, hyphen)}x${round}${template.pf.slice(hyphen)}`;
    const target = path.join(root, 'var/db/pkg', template.category, pf);
    mkdirSync(target, { recursive: true });
    for (const [name, content] of template.files) writeFileSync(path.join(target, name), name === 'PF' ? `${pf}\n` : content);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function measure(benchCase: Case): Promise<number[]> {
  const timings: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    const start = performance.now();
    await benchCase.run();
    timings.push(performance.now() - start);
  }
  return timings;
}

async function main(): Promise<void> {
  const versions = generateVersions(VERSION_PAIRS * 2);
  const temp = mkdtempSync(path.join(tmpdir(), 'argo-bench-vdb-'));
  try {
    buildVdb(temp, VDB_ENTRIES);
    const fs = createRootedFs(temp);
    const sample = await readVdb(fs);
    if (sample.packages.length !== VDB_ENTRIES) {
      throw new Error(`expected ${VDB_ENTRIES} packages in the generated VDB, read ${sample.packages.length}`);
    }
    const cases: Case[] = [
      {
        name: `compareVersions, ${VERSION_PAIRS.toLocaleString('en')} pairs of version strings`,
        targetMs: 100,
        run: () => {
          let sum = 0;
          for (let index = 0; index < VERSION_PAIRS; index += 1) {
            sum += compareVersions(versions[2 * index] as string, versions[2 * index + 1] as string);
          }
          return sum;
        },
      },
      {
        name: `readVdb, ${VDB_ENTRIES.toLocaleString('en')} entries (all files but environment.bz2 and *.ebuild)`,
        targetMs: 500,
        run: () => readVdb(fs),
      },
      {
        name: `readVdb, ${VDB_ENTRIES.toLocaleString('en')} entries, then every CONTENTS parsed (parsing is lazy)`,
        run: async () => {
          const vdb = await readVdb(fs);
          return vdb.packages.reduce((sum, pkg) => sum + pkg.contents.length, 0);
        },
      },
      {
        name: `parseDepSpec, DEPEND+RDEPEND+PDEPEND of ${VDB_ENTRIES.toLocaleString('en')} entries`,
        run: () => {
          let atoms = 0;
          for (const pkg of sample.packages) {
            for (const text of [pkg.depend, pkg.rdepend, pkg.pdepend]) atoms += parseDepSpec(text).nodes.length;
          }
          return atoms;
        },
      },
    ];
    const rows = ['| case | runs | median ms | target | ok |', '|---|---|---|---|---|'];
    let failed = false;
    for (const benchCase of cases) {
      const timings = await measure(benchCase);
      const value = median(timings);
      const ok = benchCase.targetMs === undefined ? '—' : value < benchCase.targetMs ? 'yes' : 'NO';
      if (ok === 'NO') failed = true;
      const target = benchCase.targetMs === undefined ? '—' : `< ${benchCase.targetMs}`;
      rows.push(`| ${benchCase.name} | ${RUNS} | ${value.toFixed(1)} | ${target} | ${ok} |`);
    }
    console.log(rows.join('\n'));
    const files = sample.packages.reduce((sum, pkg) => sum + Object.keys(pkg.values).length, 0);
    const lines = sample.packages.reduce((sum, pkg) => sum + pkg.contents.length, 0);
    console.log(`\nGenerated VDB: ${sample.packages.length} entries, ${files} files read, ${lines} CONTENTS lines; Node ${process.version}.`);
    if (failed) process.exitCode = 1;
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

await main();

/**
 * Benchmark of the binhost index and emerge.log parsers on generated inputs of production size.
 *
 *   node scripts/bench/gentoo-binhost-logs.ts [--runs N]
 *
 * - a 25,000-entry Packages index built from the real amd64 entries (new CPVs, build ids, hashes, sizes), read
 *   and written back (target < 250 ms for both, and the bytes must come back identical), and written from entries
 *   built in code, where no stanza read from a file can be copied;
 * - the real 2014 emerge.log repeated with shifted timestamps to >= 50 MB (target >= 50 MB/s).
 *
 * Nothing generated is written to disk. Prints a markdown table; exits 1 when a target is missed.
 */

import { readFileSync } from 'node:fs';
import { formatPackagesIndex } from '../../src/core/gentoo/format-packages-index.ts';
import type { PackagesIndex, PackagesIndexEntry } from '../../src/core/gentoo/packages-index.ts';
import { parseEmergeLog } from '../../src/core/gentoo/parse-emerge-log.ts';
import { parsePackagesIndex } from '../../src/core/gentoo/parse-packages-index.ts';

const INDEX_ENTRIES = 25_000;
const LOG_BYTES = 50 * 1024 * 1024;
const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag === -1 ? 7 : Number(process.argv[runsFlag + 1]);

const fixture = (path: string): string => readFileSync(new URL(`../../test/fixtures/gentoo/${path}`, import.meta.url), 'utf8');

interface Row {
  readonly name: string;
  readonly runs: number;
  readonly median: string;
  readonly target: string;
  readonly ok: boolean;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function timeRuns(runs: number, work: () => void): number[] {
  work(); // warm-up, not counted
  const times: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    work();
    times.push(performance.now() - started);
  }
  return times;
}

function hex(seed: number, length: number): string {
  let out = '';
  let state = seed >>> 0;
  while (out.length < length) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out += state.toString(16).padStart(8, '0');
  }
  return out.slice(0, length);
}

/** 25,000 entries cloned from the real ones, each with its own CPV, PATH, BUILD_ID, hashes, size and times. */
function generateIndex(): string {
  const real = parsePackagesIndex(fixture('joepasss-gpkg-binhost/amd64/Packages'));
  const packages: PackagesIndexEntry[] = [];
  for (let number = 0; number < INDEX_ENTRIES; number += 1) {
    const template = real.packages[number % real.packages.length] as PackagesIndexEntry;
    const [category, rest] = (template.fields['CPV'] as string).split('/') as [string, string];
    const name = `${rest.replace(/-\d.*$/, '')}${Math.floor(number / real.packages.length)}`;
    const version = `${1 + (number % 7)}.${number % 13}.${number % 5}`;
    const buildId = String(1 + (number % 3));
    packages.push({
      fields: {
        ...template.fields,
        CPV: `${category}/${name}-${version}`,
        BUILD_ID: buildId,
        PATH: `${category}/${name}/${name}-${version}-${buildId}.gpkg.tar`,
        MD5: hex(number, 32),
        SHA1: hex(number + 7, 40),
        SIZE: String(20480 + ((number * 7919) % 5_000_000)),
        BUILD_TIME: String(1751028430 + number * 17),
        MTIME: String(1751028431 + number * 17),
      },
      droppedFields: {},
    });
  }
  const index: PackagesIndex = { header: real.header, packages };
  return formatPackagesIndex(index, { refreshHeaderAt: 1751030383 });
}

/** The real log, copied with each copy's timestamps moved past the previous copy's, up to LOG_BYTES. */
function generateLog(): string {
  const lines = fixture('clusterhq-prefix/var/log/emerge.log').split('\n').filter((line) => line !== '');
  const first = Number(lines[0]?.slice(0, lines[0].indexOf(':')));
  const last = Number(lines.at(-1)?.slice(0, lines.at(-1)?.indexOf(':')));
  const span = last - first + 3600;
  const copies: string[] = [];
  let size = 0;
  for (let copy = 0; size < LOG_BYTES; copy += 1) {
    const shifted = lines
      .map((line) => {
        const colon = line.indexOf(':');
        return `${Number(line.slice(0, colon)) + copy * span}${line.slice(colon)}`;
      })
      .join('\n');
    copies.push(shifted);
    size += shifted.length + 1;
  }
  return copies.join('\n') + '\n';
}

const rows: Row[] = [];

const indexText = generateIndex();
const indexMb = indexText.length / 1e6;
let roundTripOk = true;
let parsed = parsePackagesIndex(indexText);
const readTimes = timeRuns(RUNS, () => {
  parsed = parsePackagesIndex(indexText);
});
let written = '';
const writeTimes = timeRuns(RUNS, () => {
  written = formatPackagesIndex(parsed);
});
roundTripOk = written === indexText && parsed.packages.length === INDEX_ENTRIES;
const bothTimes = timeRuns(RUNS, () => {
  formatPackagesIndex(parsePackagesIndex(indexText));
});
// Entries built in code (a publisher adding packages) have no stanza text to copy: every one is serialised.
const rebuilt: PackagesIndex = {
  header: parsed.header,
  packages: parsed.packages.map((entry) => ({ fields: { ...entry.fields }, droppedFields: entry.droppedFields })),
};
let rebuiltText = '';
const rebuildTimes = timeRuns(RUNS, () => {
  rebuiltText = formatPackagesIndex(rebuilt);
});
rows.push({ name: `Packages read, ${INDEX_ENTRIES} entries (${indexMb.toFixed(1)} MB)`, runs: RUNS, median: `${median(readTimes).toFixed(1)} ms`, target: '-', ok: true });
rows.push({ name: `Packages write, ${INDEX_ENTRIES} entries as read (canonical stanzas copied)`, runs: RUNS, median: `${median(writeTimes).toFixed(1)} ms`, target: '-', ok: true });
rows.push({
  name: `Packages read + write, ${INDEX_ENTRIES} entries, bytes identical: ${roundTripOk ? 'yes' : 'NO'}`,
  runs: RUNS,
  median: `${median(bothTimes).toFixed(1)} ms`,
  target: '< 250 ms',
  ok: roundTripOk && median(bothTimes) < 250,
});

rows.push({
  name: `Packages write, ${INDEX_ENTRIES} entries built in code, bytes identical: ${rebuiltText === indexText ? 'yes' : 'NO'}`,
  runs: RUNS,
  median: `${median(rebuildTimes).toFixed(1)} ms`,
  target: '-',
  ok: rebuiltText === indexText,
});

const logText = generateLog();
const logMb = logText.length / 1e6;
let builds = 0;
const logTimes = timeRuns(RUNS, () => {
  builds = parseEmergeLog(logText).builds.length;
});
const throughput = logMb / (median(logTimes) / 1000);
rows.push({
  name: `emerge.log parse (${logMb.toFixed(1)} MB, ${builds} builds)`,
  runs: RUNS,
  median: `${median(logTimes).toFixed(1)} ms = ${throughput.toFixed(0)} MB/s`,
  target: '>= 50 MB/s',
  ok: throughput >= 50,
});

console.log(`Node ${process.version}, ${new Date().toISOString()}\n`);
console.log('| case | runs | median | target | ok |');
console.log('|---|---|---|---|---|');
for (const row of rows) console.log(`| ${row.name} | ${row.runs} | ${row.median} | ${row.target} | ${row.ok ? 'yes' : 'NO'} |`);
if (rows.some((row) => !row.ok)) process.exitCode = 1;

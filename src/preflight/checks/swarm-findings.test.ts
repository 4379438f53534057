import { describe, expect, it } from 'vitest';
import { parsePackagesIndex } from '../../core/gentoo/parse-packages-index.ts';
import type { CycleStatus } from '../../core/swarm/swarm-status.ts';
import { parseTimestampChk } from './repository-date.ts';
import { judgeSwarm, unpublishedBuilds, type SwarmFacts } from './swarm-findings.ts';

/** An index of `CPV BUILD_ID BUILD_TIME [SLOT]` rows. */
function index(rows: readonly string[]): ReturnType<typeof parsePackagesIndex>['packages'] {
  const stanzas = rows.map((row) => {
    const [cpv = '', buildId = '', buildTime = '', slot = '0'] = row.split(' ');
    const name = cpv.split('/')[1] ?? '';
    return `BUILD_ID: ${buildId}\nBUILD_TIME: ${buildTime}\nCPV: ${cpv}\nPATH: ${cpv.split('/')[0]}/${name}-${buildId}.gpkg.tar\nSLOT: ${slot}\n`;
  });
  return parsePackagesIndex(`PACKAGES: ${rows.length}\nVERSION: 0\n\n${stanzas.join('\n')}`).packages;
}

describe('unpublishedBuilds', () => {
  it.each([
    ['nothing staged beyond production', ['sys-libs/zlib-1.3 1 100'], ['sys-libs/zlib-1.3 1 100'], []],
    ['a new version staged', ['sys-libs/zlib-1.3 1 100', 'sys-libs/zlib-1.3.1 1 200'], ['sys-libs/zlib-1.3 1 100'], ['sys-libs/zlib-1.3.1-1']],
    ['a rebuild of the same version', ['sys-libs/zlib-1.3 1 100', 'sys-libs/zlib-1.3 2 200'], ['sys-libs/zlib-1.3 1 100'], ['sys-libs/zlib-1.3-2']],
    // Staging keeps older builds; a release never takes them, so they are not "unpublished".
    ['an older build staging still keeps', ['sys-libs/zlib-1.2 1 50', 'sys-libs/zlib-1.3 1 100'], ['sys-libs/zlib-1.3 1 100'], []],
    ['each slot on its own', ['dev-lang/python-3.12.7 1 100 3.12', 'dev-lang/python-3.13.1 1 100 3.13'], ['dev-lang/python-3.12.7 1 100 3.12'], ['dev-lang/python-3.13.1-1']],
  ])('%s', (_name, staging, production, expected) => {
    expect(unpublishedBuilds(index(staging), index(production))).toEqual(expected);
  });
});

const NOW = Date.parse('2026-11-29T12:00:00Z');
const cycle = (id: string): CycleStatus => ({
  id,
  profile: 'desktop',
  status: 'running',
  createdAt: NOW,
  counts: { queued: 1, blocked: 0, 'dep-wait': 0, building: 1, built: 2, failed: 0, skipped: 0 },
  queue: { heavy: 0, normal: 1 },
  packages: (['built', 'built', 'building', 'queued'] as const).map((state, index) => ({ cpv: `app-misc/p${index}-1`, state, since: NOW, attempt: 1, failures: 0, logs: [], expected: 10, heavy: false })),
  work: 0,
  criticalPath: 0,
  lowerBound: 0,
  elapsed: 60,
  eta: 200,
  ratio: 1,
});
const facts = (change: Partial<SwarmFacts>): SwarmFacts => ({
  gateway: 'http://swarm.lan:8470',
  profile: 'desktop',
  running: [],
  release: { id: 'r2', createdAt: new Date(NOW).toISOString() },
  repository: { file: '/var/db/repos/gentoo/metadata/timestamp.chk', date: new Date(NOW - 3600_000) },
  verify: { score: 3, safe: true, threshold: 15, profile: 'desktop', components: [] },
  staging: [],
  production: [],
  ...change,
});
const unsafe = { score: 25, safe: false, threshold: 15, profile: 'desktop', components: [{ id: 'failed', points: 25, packages: ['sys-libs/zlib-1.3 failed'], detail: '1 critical failed' }] };

describe('judgeSwarm', () => {
  it.each([
    ['a current release, a safe verify', facts({}), 'pass', /^production release r2 of desktop is newer/],
    ['no release yet', facts({ release: undefined }), 'fail', /^the swarm has published no release of desktop$/],
    ['a release older than the snapshot', facts({ repository: { file: 'timestamp.chk', date: new Date(NOW + 1000) } }), 'fail', /^production release r2 .* is older than the repository snapshot/],
    ['no repository date', facts({ repository: undefined }), 'warn', /could not be compared: the repository snapshot has no readable metadata\/timestamp\.chk/],
    ['an unsafe verify', facts({ verify: unsafe }), 'fail', /^the swarm's verify scores 25 \(safe below 15\): failed 25 \(sys-libs\/zlib-1\.3 failed\)$/],
    ['an unsafe verify while a cycle runs: the cycle is not done, verify is not judged', facts({ verify: unsafe, running: [cycle('c9')] }), 'warn', /^cycle c9 of desktop is running \(2 of 4 built, ~3m20s left\)$/],
    ['a verify that could not be read', facts({ verify: { error: 'Profile desktop has no cycle to verify' } }), 'warn', /verify could not be read: Profile desktop has no cycle/],
  ])('%s', (_name, input, status, summary) => {
    const outcome = judgeSwarm(input);
    expect(outcome.status).toBe(status);
    expect(outcome.summary).toMatch(summary);
    if (status !== 'pass') expect(outcome.advice).toBeDefined();
  });
});

describe('parseTimestampChk', () => {
  it.each([
    ['Tue, 16 Sep 2014 14:37:20 +0000\n', '2014-09-16T14:37:20.000Z'],
    ['Sun, 24 Nov 2024 00:45:00 +0000', '2024-11-24T00:45:00.000Z'],
    ['', undefined],
    ['not a date\n', undefined],
  ])('%j', (text, expected) => {
    expect(parseTimestampChk(text)?.toISOString()).toBe(expected);
  });
});

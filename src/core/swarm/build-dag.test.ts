import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEmergeLog } from '../gentoo/parse-emerge-log.ts';
import { parseEmergePlan, type EmergePlanPackage } from '../gentoo/parse-emerge-plan.ts';
import { parseMd5CacheEntry } from '../gentoo/parse-md5-cache-entry.ts';
import { parsePackagesIndex } from '../gentoo/parse-packages-index.ts';
import { buildDag, packagesFromIndex, packagesFromPlan } from './build-dag.ts';
import { estimateDurations, median } from './expected-durations.ts';

const flat = (): { duration: number; heavy: boolean } => ({ duration: 60, heavy: false });

const INDEX = `ARCH: amd64
VERSION: 0

CPV: dev-libs/a-1
USE: ssl
DEPEND: ssl? ( dev-libs/openssl ) !dev-libs/b sys-libs/not-in-the-cycle
RDEPEND: dev-libs/c

CPV: dev-libs/openssl-3.0
DEPEND: dev-libs/c

CPV: dev-libs/openssl-3.1
DEPEND: dev-libs/c

CPV: dev-libs/b-2
BDEPEND: >=dev-libs/a-1
RDEPEND: dev-libs/a

CPV: dev-libs/c-1
RDEPEND: dev-libs/a
`;

describe('buildDag from a Packages index', () => {
  const index = parsePackagesIndex(INDEX, { file: 'Packages' });
  const dag = buildDag(packagesFromIndex(index.packages, 'Packages'), flat);

  it('has every listed package as a node, in input order', () => {
    expect([...dag.nodes.keys()]).toEqual(['dev-libs/a-1', 'dev-libs/openssl-3.0', 'dev-libs/openssl-3.1', 'dev-libs/b-2', 'dev-libs/c-1']);
  });

  it('adds build edges from DEPEND/BDEPEND and runtime edges from RDEPEND, evaluated with the entry USE, to the highest matching version; ignores blockers and atoms outside the cycle', () => {
    const edges = dag.edges.map((edge) => `${edge.from} -${edge.kind}-> ${edge.to}`).sort();
    expect(edges).toEqual([
      'dev-libs/a-1 -build-> dev-libs/b-2',
      'dev-libs/c-1 -build-> dev-libs/openssl-3.0',
      'dev-libs/c-1 -build-> dev-libs/openssl-3.1',
      'dev-libs/c-1 -runtime-> dev-libs/a-1',
      'dev-libs/openssl-3.1 -build-> dev-libs/a-1',
    ]);
  });

  it('breaks the a → c → openssl-3.1 → a cycle (and a ⇄ c) on the runtime edge a → c, and reports it', () => {
    expect(dag.cyclesBroken).toEqual([
      { members: ['dev-libs/a-1', 'dev-libs/c-1', 'dev-libs/openssl-3.1'], removed: [{ from: 'dev-libs/a-1', to: 'dev-libs/c-1', kind: 'runtime' }] },
    ]);
  });

  it('builds the real joepasss amd64 binhost: 83 packages, dev-lang/go needing itself reported', () => {
    const file = 'joepasss-gpkg-binhost/amd64/Packages';
    const real = parsePackagesIndex(readFileSync(new URL(`../../../test/fixtures/gentoo/${file}`, import.meta.url), 'utf8'), { file });
    const realDag = buildDag(packagesFromIndex(real.packages, file), flat);
    expect(realDag.nodes.size).toBe(83);
    expect(realDag.edges.length).toBeGreaterThan(100);
    expect(realDag.cyclesBroken).toContainEqual({ members: ['dev-lang/go-1.24.4'], removed: [{ from: 'dev-lang/go-1.24.4', to: 'dev-lang/go-1.24.4', kind: 'build' }] });
  });
});

describe('buildDag from an emerge plan and md5-cache entries', () => {
  const plan = parseEmergePlan(
    ['[ebuild  N     ] app-misc/tool-1::gentoo  USE="gui -doc" PYTHON_TARGETS="python3_12" 10 KiB', '[ebuild  N     ] x11-libs/gtk-3::gentoo  0 KiB', '[ebuild  N     ] app-doc/doxygen-1::gentoo  0 KiB', '[ebuild  N     ] dev-lang/python-3.12::gentoo  0 KiB', '[ebuild  N     ] app-misc/lost-1::gentoo  0 KiB'].join('\n'),
    { file: 'plan' },
  ).packages as EmergePlanPackage[];
  const entry = (text: string) => ({ entry: parseMd5CacheEntry(text).entry });
  const cache = new Map([
    ['app-misc/tool-1', entry('EAPI=8\nIUSE=gui doc python_targets_python3_12\nDEPEND=gui? ( x11-libs/gtk ) doc? ( app-doc/doxygen )\nBDEPEND=python_targets_python3_12? ( dev-lang/python:3.12 )\n')],
    ['x11-libs/gtk-3', entry('EAPI=8\nSLOT=3\n')],
    ['app-doc/doxygen-1', entry('EAPI=8\n')],
    ['dev-lang/python-3.12', entry('EAPI=8\nSLOT=3.12\n')],
  ]);

  it('evaluates each entry with the USE its plan line shows, USE_EXPAND flags included, and reports a package with no entry', () => {
    const { packages, diagnostics } = packagesFromPlan(plan, cache, 'plan');
    const dag = buildDag(packages, flat);
    expect(dag.edges.map((edge) => `${edge.from}>${edge.to}`).sort()).toEqual(['dev-lang/python-3.12>app-misc/tool-1', 'x11-libs/gtk-3>app-misc/tool-1']);
    expect(diagnostics).toEqual([expect.objectContaining({ file: 'plan', line: 5, field: 'app-misc/lost-1' })]);
  });
});

describe('estimateDurations', () => {
  const log = parseEmergeLog(
    [
      ['cat/one-1', 0, 100],
      ['cat/one-2', 200, 500],
      ['cat/one-2', 600, 1100],
      ['cat/two-1', 2000, 2010],
      ['sys-devel/gcc-13', 3000, 3010],
    ]
      .flatMap(([cpv, start, end]) => [`${start}:  >>> emerge (1 of 1) ${cpv} to /`, `${end}:  ::: completed emerge (1 of 1) ${cpv} to /`])
      .join('\n'),
  );
  const estimate = estimateDurations(log.builds, { defaultSeconds: 600, heavySeconds: 400 });

  it.each([
    ['the median of the package’s builds, across versions', 'cat/one-9', 'cat/one', 'cat', 300, false],
    ['its category’s median when the package has no history', 'cat/new-1', 'cat/new', 'cat', 200, false],
    ['the default when the category has none either', 'dev-foo/bar-1', 'dev-foo/bar', 'dev-foo', 600, true],
    ['heavy by name whatever the history', 'sys-devel/gcc-14', 'sys-devel/gcc', 'sys-devel', 10, true],
  ])('gives %s', (_name, cpv, cp, category, duration, heavy) => {
    expect(estimate(cpv, cp, category)).toEqual({ duration, heavy });
  });

  it('takes the middle value, or the mean of the two middle ones', () => {
    expect([median([3, 1, 2]), median([4, 1, 3, 2])]).toEqual([2, 2.5]);
  });
});

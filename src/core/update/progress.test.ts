import { describe, expect, it } from 'vitest';
import { parseEmergeLog } from '../gentoo/parse-emerge-log.ts';
import { parseEmergePlan } from '../gentoo/parse-emerge-plan.ts';
import { parseEmergeProgressLine } from '../gentoo/parse-emerge-progress.ts';
import { applyProgressEvent, estimateRemainingSeconds, renderProgressLine, startProgress } from './progress.ts';

const PLAN = parseEmergePlan(`
[binary     U  ] sys-libs/glibc-2.40-r5-1:2.2::gentoo [2.36:2.2::gentoo] USE="multiarch" 18,480 KiB
[ebuild     U  ] app-editors/nano-8.2::gentoo [8.1::gentoo] USE="ncurses" 1,600 KiB
[ebuild     U  ] dev-lang/python-3.12.8:3.12::gentoo [3.12.7:3.12::gentoo] USE="ssl" 20,000 KiB

Total: 3 packages (3 upgrades, 1 binary), Size of downloads: 40,080 KiB
`).packages;

const HISTORY = parseEmergeLog(
  [
    '1700000000:  >>> emerge (1 of 1) app-editors/nano-8.1 to /',
    '1700000040:  ::: completed emerge (1 of 1) app-editors/nano-8.1 to /',
    '1700001000:  >>> emerge (1 of 1) dev-lang/python-3.12.7 to /',
    '1700001600:  ::: completed emerge (1 of 1) dev-lang/python-3.12.7 to /',
  ].join('\n'),
).builds;

describe('update progress', () => {
  it('follows emerge through its own progress lines, binary build ids included', () => {
    const planned = new Set(PLAN.map((entry) => ('cpv' in entry ? entry.cpv : '')));
    let progress = startProgress(3);
    for (const line of [
      '>>> Emerging binary (1 of 3) sys-libs/glibc-2.40-r5-1::gentoo',
      '>>> Installing (1 of 3) sys-libs/glibc-2.40-r5-1::gentoo',
      '>>> Completed (1 of 3) sys-libs/glibc-2.40-r5-1::gentoo',
      '>>> Emerging (2 of 3) app-editors/nano-8.2::gentoo',
    ]) {
      const event = parseEmergeProgressLine(line);
      if (event) progress = applyProgressEvent(progress, event, planned);
    }
    expect(progress.completed).toEqual(['sys-libs/glibc-2.40-r5']);
    expect(progress.current).toEqual({ cpv: 'app-editors/nano-8.2', index: 2, binary: false });
    expect(renderProgressLine(progress, 133, 300)).toBe('[1/3] app-editors/nano-8.2  elapsed 2m13s  ~5m00s left');
    expect(renderProgressLine(progress, 133, 300, 100)).toMatch(/^#{7}\.{13} \[1\/3\]/);
  });

  it('estimates the time left from past builds in emerge.log, binary sizes and a guess for the unknown', () => {
    expect(estimateRemainingSeconds(PLAN, startProgress(3), HISTORY)).toBe(Math.round(3 + (18480 / 1024) * 0.5 + 40 + 600));
    const afterGlibc = { ...startProgress(3), completed: ['sys-libs/glibc-2.40-r5'] };
    expect(estimateRemainingSeconds(PLAN, afterGlibc, HISTORY)).toBe(640);
    expect(estimateRemainingSeconds(PLAN, afterGlibc, [])).toBe(240);
  });
});

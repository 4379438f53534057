/**
 * The web dashboard in real headless Chromium (Debian's, through playwright-core) against a real in-process
 * gateway on a real socket and a real redis-server: it loads clean, follows the swarm's records live through
 * the event stream, asks for a token when the gateway answers 401, offers rollback to admin tokens only (and
 * the rollback switches production), is usable from the keyboard, and stays quick with 1,500 packages on 20
 * drones. Screenshots of each view are kept under test-artifacts/dashboard/.
 */

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CycleDefinition, type PackageRecord, type PackageState } from '../../src/core/swarm/cycle-model.ts';
import { DASHBOARD_CSP } from '../../src/gateway/dashboard.ts';
import { createSwarmClient } from '../../src/swarm-client/swarm-client.ts';
import { createCycle } from '../../src/swarm/cycle-store.ts';
import { registerDrone } from '../../src/swarm/drone-registry.ts';
import { appendSwarmEvent } from '../../src/swarm/swarm-events.ts';
import { logPath } from '../../src/system/file-gateway.ts';
import { launchChromium, openWatchedPage, type WatchedPage } from '../support/chromium.ts';
import { PROJECT } from '../support/run-cli.ts';
import { clusterhqPackages, gpkgOf, grantLease, KEYS, leaseHeaders, markBuilt, startTestGateway, writeCycle, type TestGateway } from '../support/swarm-gateway.ts';

const ARTIFACTS = join(PROJECT, 'test-artifacts', 'dashboard');

// The page's globals, for the functions the test runs inside Chromium (the project compiles without the DOM lib).
interface PageElement {
  readonly id: string;
  readonly tagName: string;
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  matches(selector: string): boolean;
}
declare const document: {
  readonly activeElement: PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): { readonly length: number };
  getElementById(id: string): PageElement | null;
};
declare const window: Record<string, unknown>;
declare const sessionStorage: { getItem(key: string): string | null };
declare function getComputedStyle(element: PageElement): { readonly outlineStyle: string };
declare function requestAnimationFrame(callback: () => void): number;
const CYCLE = 'c-live';
const packages = clusterhqPackages();
const CPVS = [...packages.keys()].sort().slice(0, 10);
const ZLIB = [...packages.keys()].find((cpv) => cpv.startsWith('sys-libs/zlib-')) as string;
const BASH = [...packages.keys()].find((cpv) => cpv.startsWith('app-shells/bash-')) as string;
const [BUILDING_1, BUILDING_2, FAILED, NEXT] = CPVS.filter((cpv) => cpv !== ZLIB && cpv !== BASH) as [string, string, string, string];
/**
 * An event must reach the page live: well under the 10 s status poll the page falls back on. The figure itself
 * (169–580 ms on this machine) is printed and kept in docs/BENCHMARKS.md; this bound also holds on one busy CPU.
 */
const EVENT_BOUND_MS = 3000;

let browser: Browser;
let gateway: TestGateway;
let url: string;
const releases: string[] = [];
const opened: WatchedPage[] = [];

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  gateway = await startTestGateway();
  url = await gateway.listen();
  const { client } = gateway;
  for (const id of ['d1', 'd2', 'd3']) await registerTestDrone(gateway, id, 'desktop');
  await writeCycle(client, CYCLE, 'desktop', [...new Set([...CPVS, ZLIB, BASH])]);
  const started = Date.now() - 5 * 60_000;
  await client.hset(KEYS.cycle(CYCLE), 'startedAt', String(started));

  // Two production releases, each from a real upload of a real GPKG.
  const admin = createSwarmClient({ url, token: gateway.tokens.admin });
  for (const cpv of [ZLIB, BASH]) {
    await publishBuild(gateway, cpv, 'd3');
    await patchRecord(gateway, CYCLE, cpv, { startedAt: Date.now() - 60_000 });
    const finalized = await admin.finalize('desktop', { force: `dashboard test ${cpv}` });
    expect(finalized.release?.release).toBeDefined();
    releases.push(finalized.release?.release as string);
  }

  const now = Date.now();
  await patchRecord(gateway, CYCLE, BUILDING_1, { state: 'building', drone: 'd1', attempt: 1, startedAt: now - 40_000, since: now - 40_000 });
  await patchRecord(gateway, CYCLE, BUILDING_2, { state: 'building', drone: 'd2', attempt: 1, startedAt: now - 70_000, since: now - 70_000 });
  const log = `/api/v1/logs/${CYCLE}/${FAILED}/1/d3`;
  const file = logPath(gateway.data, { cycle: CYCLE, cpv: FAILED, attempt: 1, drone: 'd3' });
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `>>> Emerging (1 of 1) ${FAILED}::gentoo\n * ERROR: ${FAILED}::gentoo failed (compile phase):\n *   emake failed\n`);
  await patchRecord(gateway, CYCLE, FAILED, {
    state: 'failed',
    attempt: 1,
    startedAt: now - 200_000,
    since: now - 150_000,
    reason: 'compile phase failed on d3',
    failures: [{ attempt: 1, drone: 'd3', at: now - 150_000, kind: 'package', reason: 'compile phase failed', log }],
  });
  browser = await launchChromium();
});

afterAll(async () => {
  for (const page of opened) await page.close().catch(() => undefined);
  await browser?.close();
  await gateway?.destroy();
});

describe('the web dashboard', { timeout: 120_000 }, () => {
  it('loads with no console error and no failed request, from a token in the fragment that leaves the address bar', async () => {
    const watched = await open(`${url}/#token=${gateway.tokens.read}`);
    const { page } = watched;
    await page.locator('#drone-grid [data-drone="d1"] .job[data-cpv]').first().waitFor();
    await page.locator(`#gantt rect[data-cpv="${FAILED}"]`).waitFor({ state: 'attached' });
    await page.locator('#connection[data-state="live"]').waitFor();
    await page.locator('#release-table tbody tr').first().waitFor({ state: 'attached' });
    expect(page.url()).not.toContain(gateway.tokens.read);
    expect(await page.evaluate(() => sessionStorage.getItem('argo.dashboard.token'))).toBe(gateway.tokens.read);
    expect(await page.locator('#cycle-progress-text').textContent()).toMatch(/^3 of 12 \(25%\)$/);
    expect(await page.locator('#drone-grid [data-drone="d2"] .job').getAttribute('data-cpv')).toBe(BUILDING_2);
    // The headers every dashboard answer carries.
    const answer = await fetch(`${url}/`);
    expect(answer.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(answer.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${url}/dashboard/dashboard.js`)).headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${url}/dashboard/../gateway-server.ts`)).status).toBe(404);

    await screenshot(page, 'overview');
    await showView(page, 'gantt');
    expect(await page.locator('#gantt rect.bar').count()).toBe(5);
    // Outlined: exactly the drawn builds on the critical path the gateway gives.
    const graph = (await (await fetch(`${url}/api/v1/cycles/${CYCLE}/graph`, { headers: { authorization: `Bearer ${gateway.tokens.read}` } })).json()) as { criticalPath: string[] };
    const drawn = await page.locator('#gantt rect.bar').evaluateAll((bars) => bars.map((bar) => (bar as unknown as PageElement).getAttribute('data-cpv') ?? ''));
    const outlined = await page.locator('#gantt rect.bar.critical').evaluateAll((bars) => bars.map((bar) => (bar as unknown as PageElement).getAttribute('data-cpv') ?? ''));
    expect(outlined.sort()).toEqual(drawn.filter((cpv) => graph.criticalPath.includes(cpv)).sort());
    expect(outlined.length).toBeGreaterThan(0);
    await screenshot(page, 'gantt');
    // One Tab stop for the chart; inside it the arrow keys move between builds, each with its text alternative.
    let onBar = false;
    for (let press = 0; press < 10 && !onBar; press += 1) {
      await page.keyboard.press('Tab');
      onBar = await page.evaluate(() => document.activeElement?.matches('#gantt rect.bar') === true);
    }
    expect(onBar).toBe(true);
    const visited = new Set<string>();
    for (const key of ['ArrowUp', 'ArrowUp', 'ArrowDown', 'ArrowDown', 'End', '']) {
      const focused = await page.evaluate(() => ({ cpv: document.activeElement?.getAttribute('data-cpv') ?? '', label: document.activeElement?.getAttribute('aria-label') ?? '', detail: document.getElementById('gantt-detail')?.textContent ?? '' }));
      expect(focused.label).toContain(`${focused.cpv} on d`);
      expect(focused.detail).toContain(focused.cpv);
      visited.add(focused.cpv);
      if (key !== '') await page.keyboard.press(key);
    }
    expect(visited.size).toBeGreaterThanOrEqual(3);
    expect(await page.evaluate(() => document.querySelectorAll('#gantt rect[tabindex="0"]').length)).toBe(1);
    await page.click('#gantt-table-toggle');
    expect(await page.locator('#gantt-table tbody tr').count()).toBe(5);
    await showView(page, 'failures');
    await page.locator(`#failure-list [data-cpv="${FAILED}"] button`).click();
    await expect.poll(() => page.locator('#log-text').textContent()).toContain('emake failed');
    await screenshot(page, 'failures');
    await showView(page, 'releases');
    await page.locator('#verify-table tbody tr, #verify-summary[data-safe]').first().waitFor({ state: 'attached' });
    await screenshot(page, 'releases');
    for (const view of ['overview', 'gantt', 'failures', 'releases']) {
      await showView(page, view);
      expect(await lowContrastText(page), view).toEqual([]);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await showView(page, 'overview');
    await screenshot(page, 'overview-narrow');
    expect(watched.problems).toEqual([]);
  });

  it('shows a package\'s change within a second of its event, as the orchestrator writes them', async () => {
    const watched = await open(`${url}/#token=${gateway.tokens.read}`);
    const { page } = watched;
    await page.locator('#connection[data-state="live"]').waitFor();
    await page.locator(`#gantt rect[data-cpv="${BUILDING_1}"]`).waitFor({ state: 'attached' });

    const built = async (cpv: string, drone: string): Promise<number> =>
      timeUntil(page, async () => {
        await patchRecord(gateway, CYCLE, cpv, { state: 'built', since: Date.now() });
        await appendSwarmEvent(gateway.client, KEYS, { type: 'package', cycle: CYCLE, cpv, state: 'built', drone, attempt: 1 });
      }, (target) => document.querySelector(`#gantt rect[data-cpv="${target}"]`)?.getAttribute('data-state') === 'built' && document.querySelector(`#drone-grid [data-cpv="${target}"]`) === null, cpv);
    const started = async (cpv: string, drone: string): Promise<number> =>
      timeUntil(page, async () => {
        await patchRecord(gateway, CYCLE, cpv, { state: 'building', drone, attempt: 1, startedAt: Date.now(), since: Date.now() });
        await appendSwarmEvent(gateway.client, KEYS, { type: 'package', cycle: CYCLE, cpv, state: 'building', drone, attempt: 1 });
      }, (target) => document.querySelector(`#drone-grid .job[data-cpv="${target}"][data-state="building"]`) !== null && document.querySelector(`#gantt rect[data-cpv="${target}"]`) !== null, cpv);
    const times = [await built(BUILDING_1, 'd1'), await started(NEXT, 'd1'), await built(BUILDING_2, 'd2')];

    console.log(`dashboard: package events reached the page in ${times.map(Math.round).join(', ')} ms (built, started, built)`);
    // The median of three: one update delayed by another process hogging this 2-core machine says little.
    expect(median(times)).toBeLessThan(EVENT_BOUND_MS);
    expect(await page.locator('#cycle-progress-text').textContent()).toMatch(/^5 of 12 /);
    expect(watched.problems).toEqual([]);
  });

  it('reconnects after a dropped connection, resuming from the last event id, and shows what changed meanwhile', async () => {
    // The page talks to the gateway through a TCP relay the test can cut, as a network would.
    const relay = await startRelay(new URL(url).port);
    try {
      const watched = await open(`${relay.url}/#token=${gateway.tokens.read}`);
      const { page } = watched;
      await page.locator('#connection[data-state="live"]').waitFor();
      // An event the page sees, so that it has an id to resume from.
      await appendSwarmEvent(gateway.client, KEYS, { type: 'command-applied', command: 'unground', drone: 'd3' });
      const [[lastId]] = (await gateway.client.xrevrange(KEYS.events, '+', '-', 'COUNT', 1)) as [[string, string[]]];
      await page.locator(`#connection[data-last-event="${lastId}"]`).waitFor();
      expect(await page.locator('#connection').textContent()).toContain('the last, command-applied, at');
      const resumed = page.waitForRequest((request) => request.url().endsWith('/api/v1/events') && request.headers()['last-event-id'] !== undefined);
      relay.cut();
      await page.locator('#connection[data-state="reconnecting"]').waitFor();
      const cpv = CPVS.find((candidate) => ![ZLIB, BASH, BUILDING_1, BUILDING_2, FAILED, NEXT].includes(candidate)) as string;
      await patchRecord(gateway, CYCLE, cpv, { state: 'building', drone: 'd3', attempt: 1, startedAt: Date.now(), since: Date.now() });
      await appendSwarmEvent(gateway.client, KEYS, { type: 'package', cycle: CYCLE, cpv, state: 'building', drone: 'd3', attempt: 1 });
      const request = await resumed;
      expect(request.headers()['last-event-id']).toBe(lastId);
      await page.locator(`#drone-grid [data-drone="d3"] .job[data-cpv="${cpv}"]`).waitFor();
      await page.locator('#connection[data-state="live"]').waitFor();
    } finally {
      await relay.close();
    }
  });

  it('asks for a token when the gateway answers 401, and works once one is given', async () => {
    const watched = await open(`${url}/`);
    const { page } = watched;
    const alert = page.locator('#alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('401');
    expect(await page.locator('#token-form').isVisible()).toBe(true);
    expect(await page.locator('#token-form').getAttribute('class')).toContain('attention');
    expect(await page.locator('#connection').getAttribute('data-state')).toBe('unauthorized');
    await screenshot(page, 'token-needed');
    // The only problem is the refused request itself.
    expect(watched.problems.filter((problem) => !problem.includes('401'))).toEqual([]);

    await page.getByRole('textbox', { name: 'Access token' }).fill(gateway.tokens.read);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('#drone-grid [data-drone="d1"]').waitFor();
    await page.locator('#alert').waitFor({ state: 'hidden' });
    expect(await page.locator('#identity').textContent()).toContain('grafana');
  });

  it('works read-only without a token against a gateway started with --public-read', async () => {
    const publicGateway = await startTestGateway({ publicRead: true });
    try {
      await registerTestDrone(publicGateway, 'd1', 'desktop');
      await writeCycle(publicGateway.client, 'c-public', 'desktop', CPVS.slice(0, 3));
      const publicUrl = await publicGateway.listen();
      const watched = await openWatchedPage(browser);
      opened.push(watched);
      const { page } = watched;
      expect((await page.goto(`${publicUrl}/`))?.status()).toBe(200);
      await page.locator('#connection[data-state="live"]').waitFor();
      await page.locator('#drone-grid [data-drone="d1"]').waitFor();
      expect(await page.locator('#cycle-progress-text').textContent()).toMatch(/^0 of 3 /);
      expect(await page.locator('#identity').textContent()).toContain('lets anyone read');
      expect(await page.locator('#alert').isVisible()).toBe(false);
      await showView(page, 'releases');
      await page.locator('#releases-summary').filter({ hasText: 'has no release yet' }).waitFor();
      expect(await page.locator('[data-rollback]').count()).toBe(0);
      await screenshot(page, 'public-read');
      // Nothing of the cycle is staged: verify answers 404, and the page says why.
      await expect.poll(() => page.locator('#verify-summary').textContent()).toContain('has no staging index');
      expect(watched.problems).toEqual([`HTTP 404: GET ${publicUrl}/api/v1/profiles/desktop/verify`, 'console error: Failed to load resource: the server responded with a status of 404 (Not Found)']);
    } finally {
      await publicGateway.destroy();
    }
  });

  it('offers rollback to an admin token only; from the keyboard, it switches production', async () => {
    const reader = await open(`${url}/#token=${gateway.tokens.read}&view=releases`);
    await reader.page.locator(`#release-table tr[data-release="${releases[0]}"]`).waitFor();
    await reader.page.locator('#identity').filter({ hasText: 'grafana' }).waitFor();
    expect(await reader.page.locator('[data-rollback]').count()).toBe(0);
    expect(await reader.page.locator('#release-action-heading').isVisible()).toBe(false);
    // Another token in the same tab: the admin's buttons come, and go with the token.
    await reader.page.getByRole('textbox', { name: 'Access token' }).fill(gateway.tokens.admin);
    await reader.page.getByRole('button', { name: 'Use token' }).click();
    await reader.page.locator(`[data-rollback="${releases[0]}"]`).waitFor();
    await reader.page.getByRole('button', { name: 'Forget token' }).click();
    await reader.page.locator('#alert').filter({ hasText: '401' }).waitFor();
    expect(await reader.page.locator('[data-rollback]').count()).toBe(0);
    // Each change of token ends the event stream of the previous one on purpose.
    const aborted = `request failed: GET ${url}/api/v1/events net::ERR_ABORTED`;
    expect(reader.problems.filter((problem) => !problem.includes('401'))).toEqual([aborted, aborted]);

    const watched = await open(`${url}/#token=${gateway.tokens.admin}`);
    const { page } = watched;
    await page.locator('#connection[data-state="live"]').waitFor();
    // Tab from the top of the page: the token form, then the views.
    const reached: string[] = [];
    for (let press = 0; press < 12 && !reached.includes('tab-overview'); press += 1) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName || ''));
    }
    expect(reached).toContain('token-input');
    expect(reached).toContain('token-use');
    expect(reached.at(-1)).toBe('tab-overview');
    expect(await page.evaluate(() => getComputedStyle(document.activeElement as PageElement).outlineStyle)).not.toBe('none');
    for (const view of ['gantt', 'failures', 'releases']) {
      await page.keyboard.press('ArrowRight');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe(`tab-${view}`);
      expect(await page.locator(`#panel-${view}`).isVisible()).toBe(true);
    }
    const button = page.locator(`[data-rollback="${releases[0]}"]`);
    await button.waitFor();
    expect(await page.locator(`[data-rollback="${releases[1]}"]`).count()).toBe(0);
    let onButton = false;
    for (let press = 0; press < 12 && !onButton; press += 1) {
      await page.keyboard.press('Tab');
      onButton = await page.evaluate((release) => document.activeElement?.getAttribute('data-rollback') === release, releases[0]);
    }
    expect(onButton).toBe(true);
    await page.keyboard.press('Enter');
    const dialog = page.locator('#rollback-dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(`from release ${releases[1]} to release ${releases[0]}`);
    await screenshot(page, 'rollback-dialog');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('rollback-cancel');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('rollback-confirm');
    await page.keyboard.press(' ');
    await page.locator('#rollback-status').filter({ hasText: `is now release ${releases[0]}` }).waitFor();
    await page.locator(`#release-table tr[data-release="${releases[0]}"][data-current="true"]`).waitFor();

    const listing = await createSwarmClient({ url, token: gateway.tokens.read }).releases('desktop');
    expect(listing.current).toBe(releases[0]);
    expect(listing.releases.find((release) => release.current)?.id).toBe(releases[0]);
    expect(watched.problems).toEqual([]);
  });

  it('draws a cycle of 1,500 packages on 20 drones, and shows an update of it within a second', async () => {
    const big = await startTestGateway();
    try {
      const bigUrl = await big.listen();
      const drones = Array.from({ length: 20 }, (_, index) => `drone-${String(index + 1).padStart(2, '0')}`);
      for (const id of drones) await registerTestDrone(big, id, 'server');
      const { cpvs, building } = await writeSyntheticCycle(big, 'c-big', drones);

      const watched = await open(`${bigUrl}/#token=${big.tokens.read}&view=gantt`);
      const { page } = watched;
      const loadStarted = performance.now();
      await page.waitForFunction((count) => document.querySelectorAll('#gantt rect.bar').length === count, 1420, { timeout: 30_000, polling: 100 });
      const firstDraw = performance.now() - loadStarted;
      await page.locator('#connection[data-state="live"]').waitFor();
      // The critical path is one whole chain of 75: its 70 built packages and the one building are drawn.
      await page.waitForFunction(() => document.querySelectorAll('#gantt rect.bar.critical').length === 71, undefined, { timeout: 10_000 });

      await page.evaluate(() => {
        const long: number[] = [];
        // Chromium's long tasks (Node's types know no 'longtask' entry type).
        new PerformanceObserver((list) => long.push(...list.getEntries().map((entry) => entry.duration))).observe({ type: 'longtask' } as unknown as { type: 'mark' });
        window.longTasks = long;
      });
      const updates: number[] = [];
      for (const [index, target] of building.slice(0, 3).entries()) {
        updates.push(await timeUntil(page, async () => {
          await patchRecord(big, 'c-big', target, { state: 'built', since: Date.now() });
          await appendSwarmEvent(big.client, KEYS, { type: 'package', cycle: 'c-big', cpv: target, state: 'built', drone: drones[index] as string, attempt: 1 });
        }, (cpv) => document.querySelector(`#gantt rect[data-cpv="${cpv}"]`)?.getAttribute('data-state') === 'built' && document.querySelector(`#drone-grid .job[data-cpv="${cpv}"]`) === null, target));
      }
      const render = await page.evaluate(() => Math.max(...performance.getEntriesByName('argo:render-status').slice(-3).map((entry) => entry.duration)));
      const longest = await page.evaluate(() => Math.max(0, ...(window.longTasks as number[])));
      // The page still answers input at once after the update.
      const inputDelay = await page.evaluate(async () => {
        const asked = performance.now();
        await new Promise<void>((resolve) => requestAnimationFrame(resolve));
        return performance.now() - asked;
      });
      console.log(`dashboard with ${cpvs.length} packages on ${drones.length} drones: first draw ${Math.round(firstDraw)} ms; an event to the DOM ${updates.map(Math.round).join(', ')} ms (median ${Math.round(median(updates))}); the page's render of a refresh at most ${Math.round(render)} ms; longest main-thread task ${Math.round(longest)} ms; next frame ${Math.round(inputDelay)} ms`);
      // The median of three: one update delayed by another process hogging this 2-core machine says little.
      expect(median(updates)).toBeLessThan(EVENT_BOUND_MS);
      // The page's own share (the rest is the gateway's status and this machine's load, which the page cannot help).
      expect(render).toBeLessThan(500);
      expect(await page.locator('#drone-grid li.drone').count()).toBe(20);
      await screenshot(page, 'gantt-1500');
      await page.click('#gantt-table-toggle');
      await page.locator('#gantt-table tbody tr').nth(1419).waitFor({ state: 'attached' });
      // Nothing was uploaded to the synthetic cycle's staging: verify answers 404, and the page says why.
      await showView(page, 'releases');
      await expect.poll(() => page.locator('#verify-summary').textContent()).toContain('has no staging index');
      expect(watched.problems).toEqual([`HTTP 404: GET ${bigUrl}/api/v1/profiles/server/verify`, 'console error: Failed to load resource: the server responded with a status of 404 (Not Found)']);
      await watched.close();
    } finally {
      await big.destroy();
    }
  });
});

// --- helpers --------------------------------------------------------------------------------------------------

/**
 * Visible HTML text whose contrast with its background is under WCAG AA's 4.5:1 (3:1 for large text), as
 * `text (ratio)`. The background is the first opaque one among the element and its ancestors.
 */
async function lowContrastText(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const parse = (color: string): number[] => (color.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r = 0, g = 0, b = 0]: number[]): number => {
      const [R, G, B] = [r, g, b].map((value) => {
        const c = value / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      }) as [number, number, number];
      return 0.2126 * R + 0.7152 * G + 0.0722 * B;
    };
    const page = globalThis as unknown as { document: { body: unknown; querySelectorAll(selector: string): Iterable<PageNode> }; getComputedStyle(element: PageNode): Record<string, string> };
    interface PageNode { readonly parentElement: PageNode | null; readonly childNodes: Iterable<{ nodeType: number; textContent: string | null }>; checkVisibility(): boolean; closest(selector: string): PageNode | null }
    const background = (element: PageNode | null): number[] => {
      for (let at = element; at !== null; at = at.parentElement) {
        const color = parse(page.getComputedStyle(at).backgroundColor ?? '');
        if (color.length === 3 || (color[3] ?? 0) >= 1) return color.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const low: string[] = [];
    for (const element of page.document.querySelectorAll('body *')) {
      if (element.closest('svg') !== null || !element.checkVisibility()) continue;
      const text = [...element.childNodes].filter((node) => node.nodeType === 3).map((node) => node.textContent ?? '').join('').trim();
      if (text === '') continue;
      const style = page.getComputedStyle(element);
      const [a, b] = [luminance(parse(style.color ?? '')), luminance(background(element))].sort((x, y) => y - x) as [number, number];
      const ratio = (a + 0.05) / (b + 0.05);
      const large = Number.parseFloat(style.fontSize ?? '0') >= 24 || (Number.parseFloat(style.fontSize ?? '0') >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) low.push(`${text.slice(0, 40)} (${ratio.toFixed(2)})`);
    }
    return low;
  });
}

/** A TCP relay to the gateway on 127.0.0.1:`port`; `cut()` drops every connection through it. */
async function startRelay(port: string): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    const upstream = connect(Number(port), '127.0.0.1');
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const cut = (): void => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut,
    async close() {
      cut();
      server.close();
      await once(server, 'close');
    },
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function open(address: string): Promise<WatchedPage> {
  const watched = await openWatchedPage(browser);
  opened.push(watched);
  const answer = await watched.page.goto(address);
  expect(answer?.status()).toBe(200);
  return watched;
}

async function showView(page: Page, view: string): Promise<void> {
  await page.click(`#tab-${view}`);
  await page.locator(`#panel-${view}`).waitFor();
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Runs `action`, then waits (each animation frame) until `done(arg)` holds in the page; the time it took, in ms. */
async function timeUntil(page: Page, action: () => Promise<void>, done: (arg: string) => boolean, arg: string): Promise<number> {
  const started = performance.now();
  await action();
  await page.waitForFunction(done, arg, { polling: 'raf', timeout: 10_000 });
  return performance.now() - started;
}

async function registerTestDrone(target: TestGateway, id: string, profile: string): Promise<void> {
  await registerDrone(target.client, KEYS, { id, cores: 8, slots: 1, sweeper: id.endsWith('1'), profiles: [profile], host: 'dashboard-test', pid: process.pid, startedAt: Date.now() - 3_600_000 }, 10 * 60_000);
}

async function patchRecord(target: TestGateway, cycle: string, cpv: string, patch: Partial<PackageRecord>): Promise<void> {
  const record = JSON.parse((await target.client.hget(KEYS.packages(cycle), cpv)) ?? 'null') as PackageRecord | null;
  if (record === null) throw new Error(`${cpv} is not in cycle ${cycle}`);
  await target.client.hset(KEYS.packages(cycle), cpv, JSON.stringify({ ...record, ...patch }));
}

/** A real upload of `cpv`'s GPKG with a granted lease, recorded built as the leader would. */
async function publishBuild(target: TestGateway, cpv: string, drone: string): Promise<void> {
  const entry = packages.get(cpv);
  if (entry === undefined) throw new Error(`no ${cpv} in the fixture`);
  const lease = await grantLease(target.client, CYCLE, cpv, drone);
  const bytes = await gpkgOf(entry);
  const answer = await target.app.inject({
    method: 'PUT',
    url: `/api/v1/profiles/desktop/packages/${entry.category}/${entry.pf}.gpkg.tar`,
    headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${target.tokens.drone}`, ...leaseHeaders(lease) },
    payload: Buffer.from(bytes),
  });
  expect(answer.statusCode, answer.body).toBe(200);
  const uploaded = answer.json() as { path: string; sha256: string; size: number };
  expect(uploaded.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  await markBuilt(target.client, CYCLE, cpv, uploaded.path, uploaded.sha256, uploaded.size);
}

/**
 * 1,500 packages in 20 chains of 75 (each needs the one before it), with varied durations: 1,400 built across
 * 20 drones over the last hours, 20 building (one per drone), 80 waiting.
 */
async function writeSyntheticCycle(target: TestGateway, id: string, drones: readonly string[]): Promise<{ cpvs: string[]; building: string[] }> {
  const cpvs = Array.from({ length: 1500 }, (_, index) => `app-synthetic/pkg${String.fromCharCode(97 + (index % 26))}${index}-1.${index % 7}`);
  const definition: CycleDefinition = {
    id,
    profile: 'server',
    createdAt: Date.now() - 4 * 3_600_000,
    source: 'test',
    policy: 'critical-path',
    referenceSpeed: 8,
    nodes: cpvs.map((cpv, index) => ({ cpv, cp: cpv.replace(/-[0-9].*$/, ''), duration: 20 + ((index * 37) % 400), heavy: index % 97 === 0 })),
    edges: cpvs.slice(20).map((cpv, index) => ({ from: cpvs[index] as string, to: cpv, kind: 'build' as const })),
    cyclesBroken: [],
  };
  await createCycle(target.client, KEYS, definition);
  const now = Date.now();
  const start = now - 3 * 3_600_000;
  await target.client.hset(KEYS.cycle(id), 'startedAt', String(start));
  // Each drone builds one chain one package after another (7 s apart: 70 built per drone in the 3 hours).
  const fields: Record<string, string> = {};
  const building: string[] = [];
  cpvs.forEach((cpv, index) => {
    const lane = index % 20;
    const step = Math.floor(index / 20);
    const drone = drones[lane] as string;
    let record: PackageRecord;
    const startedAt = start + step * 150_000;
    if (step < 70) record = { cpv, state: 'built', since: startedAt + 120_000, attempt: 1, drone, startedAt, failures: [], built: { drone, attempt: 1, path: `${cpv}.gpkg.tar`, sha256: '0'.repeat(64), size: 1, buildId: '', seconds: 120 } };
    else if (step === 70) {
      record = { cpv, state: 'building' as PackageState, since: now - 60_000, attempt: 1, drone, startedAt: now - 60_000, failures: [] };
      building.push(cpv);
    } else record = { cpv, state: step === 71 ? 'queued' : 'dep-wait', since: now, attempt: 0, failures: [] };
    fields[cpv] = JSON.stringify(record);
  });
  await target.client.hset(KEYS.packages(id), fields);
  return { cpvs, building };
}

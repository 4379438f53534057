// The cycle's Gantt chart as SVG: one lane per drone, one bar per build from its start to its end (or now).
// Bars are drawn in seconds since the cycle started inside one group whose transform scales seconds to pixels,
// so time passing (or a resize) changes one attribute, not 1,500; a status refresh touches only the bars whose
// package changed. Bars are focusable with a roving tabindex (one Tab stop for the chart, arrow keys inside),
// each with a text alternative; a table view lists the same builds.

import { reconcile, s, h, setAttr, setText } from './dom.js';
import { clock, duration } from './format.js';

const LANE = 26;
const BAR = 18;
const HEADER = 24;
const LABEL = 132;
const MIN_SPAN_S = 60;
const DRAWN = new Set(['building', 'built', 'failed']);
const TICK_STEPS_S = [5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

export function createGantt(container, detail) {
  const svg = s('svg', { class: 'gantt-svg', role: 'group', 'aria-label': 'Builds of the cycle by drone and time', 'aria-describedby': 'gantt-help' });
  const axis = s('g', { class: 'axis', 'aria-hidden': 'true' });
  const labels = s('g', { class: 'lane-labels', 'aria-hidden': 'true' });
  const plot = s('g', { transform: `translate(${LABEL} ${HEADER})` });
  const stripes = s('g', { class: 'stripes', 'aria-hidden': 'true' });
  const scaled = s('g', { class: 'bars' });
  const nowLine = s('line', { class: 'now-line', 'aria-hidden': 'true', y1: 0, x1: 0, x2: 0 });
  plot.append(stripes, scaled, nowLine);
  svg.append(axis, labels, plot);
  container.append(svg);

  /** cpv → { rect, title, pkg, lane, label } */
  const bars = new Map();
  const running = new Set();
  let laneIds = [];
  let origin = 0;
  let finishedAt;
  let scale = 1;
  let width = 0;
  let skew = 0;
  let critical = new Set();
  let axisKey = '';
  let stop;

  const laneIndex = new Map();
  const plotWidth = () => Math.max(80, width - LABEL - 12);
  const serverNow = () => Date.now() + skew;
  const seconds = (ms) => (ms - origin) / 1000;

  function setLanes(ids) {
    if (ids.length === laneIds.length && ids.every((id, index) => id === laneIds[index])) return false;
    laneIds = ids;
    laneIndex.clear();
    ids.forEach((id, index) => laneIndex.set(id, index));
    const height = HEADER + ids.length * LANE + 4;
    setAttr(svg, 'height', height);
    setAttr(nowLine, 'y2', ids.length * LANE);
    labels.replaceChildren(...ids.map((id, index) => s('text', { x: 6, y: HEADER + index * LANE + LANE / 2 + 4, text: id })));
    stripes.replaceChildren(...ids.map((_id, index) => s('rect', { class: index % 2 === 0 ? 'stripe' : 'stripe odd', x: 0, y: index * LANE, width: 1, height: LANE })));
    return true;
  }

  function labelOf(pkg, lane) {
    const end = pkg.state === 'building' ? 'still building' : `until ${clock(pkg.finishedAt ?? pkg.since)}`;
    return `${pkg.cpv} on ${lane}: ${pkg.state}, from ${clock(pkg.startedAt)} ${end}${critical.has(pkg.cpv) ? ', on the critical path' : ''}`;
  }

  function place(bar) {
    const { pkg, rect } = bar;
    const index = laneIndex.get(bar.lane) ?? 0;
    const start = seconds(pkg.startedAt);
    const endMs = pkg.state === 'building' ? serverNow() : (pkg.finishedAt ?? pkg.since);
    setAttr(rect, 'x', start.toFixed(2));
    setAttr(rect, 'y', index * LANE + (LANE - BAR) / 2);
    setAttr(rect, 'width', Math.max(0.01, (endMs - pkg.startedAt) / 1000).toFixed(2));
  }

  function drawBar(pkg) {
    const lane = pkg.drone ?? 'unassigned';
    let bar = bars.get(pkg.cpv);
    if (bar === undefined) {
      const rect = s('rect', { height: BAR, tabindex: -1, role: 'img', 'data-cpv': pkg.cpv });
      const title = s('title');
      rect.append(title);
      scaled.append(rect);
      bar = { rect, title, pkg, lane, label: '' };
      bars.set(pkg.cpv, bar);
    }
    const changed = bar.pkg !== pkg;
    bar.pkg = pkg;
    bar.lane = lane;
    const className = `bar ${pkg.state}${critical.has(pkg.cpv) ? ' critical' : ''}`;
    setAttr(bar.rect, 'class', className);
    setAttr(bar.rect, 'data-state', pkg.state);
    const label = labelOf(pkg, lane);
    if (label !== bar.label) {
      bar.label = label;
      bar.rect.setAttribute('aria-label', label);
      bar.title.textContent = label;
    }
    if (pkg.state === 'building') running.add(pkg.cpv);
    else running.delete(pkg.cpv);
    return changed;
  }

  function rescale() {
    if (width === 0 || laneIds.length === 0 || origin === 0) {
      axis.replaceChildren();
      axisKey = '';
      return;
    }
    const now = serverNow();
    const endMs = finishedAt ?? now;
    const span = Math.max(MIN_SPAN_S, seconds(endMs) * 1.03);
    scale = plotWidth() / span;
    setAttr(svg, 'width', width);
    setAttr(scaled, 'transform', `scale(${scale.toFixed(6)} 1)`);
    for (const stripe of stripes.children) setAttr(stripe, 'width', plotWidth());
    const nowX = finishedAt === undefined ? (seconds(now) * scale).toFixed(1) : -10;
    setAttr(nowLine, 'x1', nowX);
    setAttr(nowLine, 'x2', nowX);
    drawAxis(span);
  }

  function drawAxis(span) {
    const step = TICK_STEPS_S.find((candidate) => span / candidate <= 8) ?? Math.ceil(span / 8 / 86400) * 86400;
    const key = `${step}:${Math.round(scale * 1000)}:${laneIds.length}`;
    if (key === axisKey) return;
    axisKey = key;
    const ticks = [];
    for (let at = 0; at <= span; at += step) {
      const x = LABEL + at * scale;
      ticks.push(s('line', { x1: x, x2: x, y1: HEADER - 4, y2: HEADER + laneIds.length * LANE }));
      // A label that would run off the chart's right edge is left out (its line stays).
      if (x + (at === 0 ? 130 : 64) <= width) ticks.push(s('text', { x: x + 3, y: HEADER - 8, text: at === 0 ? clock(origin) : offset(at) }));
    }
    axis.replaceChildren(...ticks);
  }

  function tick() {
    const now = serverNow();
    for (const cpv of running) {
      const bar = bars.get(cpv);
      if (bar !== undefined) setAttr(bar.rect, 'width', Math.max(0.01, (now - bar.pkg.startedAt) / 1000).toFixed(2));
    }
    rescale();
  }

  function ensureTabStop() {
    if (scaled.querySelector('rect[tabindex="0"]') !== null) return;
    const first = scaled.querySelector('rect');
    if (first !== null) first.setAttribute('tabindex', '0');
  }

  function describe(cpv) {
    const bar = bars.get(cpv);
    if (bar === undefined) return;
    const { pkg, lane } = bar;
    const took = pkg.state === 'building' ? `running for ${duration((serverNow() - pkg.startedAt) / 1000)} of about ${duration(pkg.expected)}` : `took ${duration(((pkg.finishedAt ?? pkg.since) - pkg.startedAt) / 1000)} (expected ${duration(pkg.expected)})`;
    setText(detail, `${pkg.cpv} on ${lane}: ${pkg.state}, attempt ${pkg.attempt}, started ${clock(pkg.startedAt)}, ${took}${critical.has(pkg.cpv) ? '; on the critical path' : ''}${pkg.reason ? `; ${pkg.reason}` : ''}.`);
  }

  function moveFocus(from, to) {
    if (to === undefined || to === from) return;
    from.setAttribute('tabindex', '-1');
    to.setAttribute('tabindex', '0');
    to.focus();
  }

  function laneBars(lane) {
    return [...bars.values()].filter((bar) => bar.lane === lane).sort((a, b) => a.pkg.startedAt - b.pkg.startedAt);
  }

  svg.addEventListener('focusin', (event) => {
    const cpv = event.target?.getAttribute?.('data-cpv');
    if (!cpv) return;
    for (const other of scaled.querySelectorAll('rect[tabindex="0"]')) if (other !== event.target) other.setAttribute('tabindex', '-1');
    event.target.setAttribute('tabindex', '0');
    describe(cpv);
  });
  svg.addEventListener('click', (event) => {
    const cpv = event.target?.getAttribute?.('data-cpv');
    if (cpv) event.target.focus();
  });
  svg.addEventListener('keydown', (event) => {
    const cpv = event.target?.getAttribute?.('data-cpv');
    const bar = cpv ? bars.get(cpv) : undefined;
    if (bar === undefined) return;
    const inLane = laneBars(bar.lane);
    const at = inLane.indexOf(bar);
    let target;
    if (event.key === 'ArrowRight') target = inLane[at + 1];
    else if (event.key === 'ArrowLeft') target = inLane[at - 1];
    else if (event.key === 'Home') target = inLane[0];
    else if (event.key === 'End') target = inLane.at(-1);
    else if (event.key === 'ArrowUp' || event.key === 'ArrowDown') {
      const step = event.key === 'ArrowUp' ? -1 : 1;
      for (let index = (laneIndex.get(bar.lane) ?? 0) + step; index >= 0 && index < laneIds.length && target === undefined; index += step) {
        const candidates = laneBars(laneIds[index]);
        target = candidates.reduce((best, other) => (best === undefined || Math.abs(other.pkg.startedAt - bar.pkg.startedAt) < Math.abs(best.pkg.startedAt - bar.pkg.startedAt) ? other : best), undefined);
      }
    } else if (event.key === 'Enter' || event.key === ' ') {
      describe(bar.pkg.cpv);
    } else return;
    event.preventDefault();
    if (target !== undefined) moveFocus(bar.rect, target.rect);
  });

  const observer = new ResizeObserver(() => {
    const next = Math.floor(container.clientWidth);
    if (next === width || next === 0) return;
    width = next;
    axisKey = '';
    rescale();
  });
  observer.observe(container);

  return {
    /** Draws `cycle` (a CycleStatus); `serverSkew` is the gateway's clock minus ours, in ms. */
    update(cycle, droneIds, criticalPath, serverSkew) {
      skew = serverSkew;
      const packages = cycle === undefined ? [] : cycle.packages.filter((pkg) => pkg.startedAt !== undefined && DRAWN.has(pkg.state));
      const lanesSeen = new Set(droneIds);
      for (const pkg of packages) lanesSeen.add(pkg.drone ?? 'unassigned');
      const listed = [...droneIds].sort();
      const extra = [...lanesSeen].filter((id) => !droneIds.includes(id)).sort();
      const lanesChanged = setLanes([...listed, ...extra]);
      const nextOrigin = cycle === undefined ? 0 : (cycle.startedAt ?? packages.reduce((min, pkg) => Math.min(min, pkg.startedAt), Infinity));
      const originChanged = nextOrigin !== origin;
      origin = Number.isFinite(nextOrigin) ? nextOrigin : (cycle?.createdAt ?? 0);
      finishedAt = cycle?.status === 'finished' ? (cycle.finishedAt ?? packages.reduce((max, pkg) => Math.max(max, pkg.finishedAt ?? 0), origin)) : undefined;
      const nextCritical = new Set(criticalPath);
      const criticalChanged = nextCritical.size !== critical.size || [...nextCritical].some((cpv) => !critical.has(cpv));
      critical = nextCritical;

      const keep = new Set();
      for (const pkg of packages) {
        keep.add(pkg.cpv);
        const previous = bars.get(pkg.cpv);
        const samePackage = previous !== undefined && previous.pkg.state === pkg.state && previous.pkg.startedAt === pkg.startedAt && previous.pkg.finishedAt === pkg.finishedAt && previous.pkg.drone === pkg.drone && previous.pkg.attempt === pkg.attempt;
        if (samePackage && !lanesChanged && !originChanged && !criticalChanged) {
          previous.pkg = pkg;
          continue;
        }
        drawBar(pkg);
        place(bars.get(pkg.cpv));
      }
      for (const [cpv, bar] of bars) {
        if (keep.has(cpv)) continue;
        bar.rect.remove();
        bars.delete(cpv);
        running.delete(cpv);
      }
      ensureTabStop();
      rescale();
      return { bars: bars.size, lanes: laneIds.length };
    },
    tick,
    rows() {
      return [...bars.values()].sort((a, b) => a.pkg.startedAt - b.pkg.startedAt || (a.pkg.cpv < b.pkg.cpv ? -1 : 1)).map((bar) => ({ pkg: bar.pkg, lane: bar.lane, critical: critical.has(bar.pkg.cpv) }));
    },
    start() {
      stop ??= setInterval(tick, 1000);
    },
  };
}

/** The same builds as a table (updated in place, row by row). */
export function renderBuildTable(tbody, rows, now) {
  reconcile(
    tbody,
    rows,
    (row) => row.pkg.cpv,
    (row) => h('tr', { 'data-cpv': row.pkg.cpv }, h('th', { scope: 'row', text: row.pkg.cpv }), h('td'), h('td'), h('td'), h('td'), h('td')),
    (tr, row) => {
      const cells = tr.children;
      const took = row.pkg.state === 'building' ? `${duration((now - row.pkg.startedAt) / 1000)} so far` : duration(((row.pkg.finishedAt ?? row.pkg.since) - row.pkg.startedAt) / 1000);
      setText(cells[1], row.lane);
      setText(cells[2], row.pkg.state);
      setText(cells[3], clock(row.pkg.startedAt));
      setText(cells[4], took);
      setText(cells[5], row.critical ? 'yes' : '');
    },
  );
}

/** An axis label: time since the cycle started, in round units (`+30 s`, `+5 min`, `+1 h 30 min`). */
function offset(seconds) {
  if (seconds < 60) return `+${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `+${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `+${hours} h` : `+${hours} h ${minutes % 60} min`;
}

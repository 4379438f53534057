// The dashboard's panels, each updated in place from the gateway's answers.

import { h, reconcile, setAttr, setHidden, setText } from './dom.js';
import { clock, describeLog, duration, plural, ratio } from './format.js';

const $ = (id) => document.getElementById(id);
const FINISHED = ['built', 'failed', 'blocked', 'skipped'];
const STATE_ORDER = ['building', 'queued', 'dep-wait', 'built', 'failed', 'blocked', 'skipped'];

export function renderCycle(cycle, now) {
  setHidden($('cycle-empty'), cycle !== undefined);
  setHidden($('cycle-body'), cycle === undefined);
  if (cycle === undefined) return;
  const total = cycle.packages.length;
  const finished = FINISHED.reduce((sum, state) => sum + (cycle.counts[state] ?? 0), 0);
  const since = cycle.startedAt === undefined ? 'not started yet' : `since ${clock(cycle.startedAt)}`;
  setText($('cycle-title'), `${cycle.id}, profile ${cycle.profile}: ${cycle.status === 'running' ? `running ${since}` : `finished at ${clock(cycle.finishedAt)}`}`);
  const progress = $('cycle-progress');
  setAttr(progress, 'max', Math.max(1, total));
  setAttr(progress, 'value', finished);
  setText($('cycle-progress-text'), `${finished.toLocaleString('en')} of ${total.toLocaleString('en')} (${total === 0 ? 100 : Math.floor((finished / total) * 100)}%)`);
  tickCycle(cycle, now);
  setText($('cycle-ratio'), ratio(cycle.ratio));
  setText($('cycle-lower-bound'), duration(cycle.lowerBound));
  const queue = cycle.queue ?? { heavy: 0, normal: 0 };
  setText($('cycle-queue'), `${queue.heavy} / ${queue.normal}`);
  const states = STATE_ORDER.filter((state) => (cycle.counts[state] ?? 0) > 0);
  reconcile(
    $('cycle-counts'),
    states,
    (state) => state,
    (state) => h('li', { class: `count-chip ${state}` }),
    (li, state) => setText(li, `${state}: ${cycle.counts[state].toLocaleString('en')}`),
  );
}

/** Elapsed and ETA move with the clock between two status answers (`now` is the gateway's time). */
export function tickCycle(cycle, now, statusAt = now) {
  if (cycle === undefined) return;
  const running = cycle.status === 'running';
  const since = running && cycle.startedAt !== undefined ? Math.max(0, (now - statusAt) / 1000) : 0;
  setText($('cycle-elapsed'), duration(cycle.elapsed + since));
  const eta = Math.max(0, cycle.eta - since);
  setText($('cycle-eta'), running ? (cycle.startedAt === undefined ? 'when it starts' : `${duration(eta)} (around ${clock(now + eta * 1000)})`) : 'finished');
}

/** Drones as cards: state, and each build it runs with its elapsed time against the expected one. */
export function renderDrones(drones, cycles) {
  setHidden($('drones-empty'), drones.length > 0);
  const packages = new Map();
  for (const cycle of cycles) for (const pkg of cycle.packages) if (pkg.state === 'building' || pkg.state === 'queued') packages.set(`${cycle.id} ${pkg.cpv}`, pkg);
  const sorted = [...drones].sort((a, b) => (a.id < b.id ? -1 : 1));
  reconcile(
    $('drone-grid'),
    sorted,
    (drone) => drone.id,
    (drone) =>
      h(
        'li',
        { class: 'drone', 'data-drone': drone.id },
        h('h3', { text: drone.id }),
        h('p', { class: 'drone-state' }, h('span', { class: 'badge' }), h('span', { class: 'drone-since' })),
        h('p', { class: 'drone-specs muted' }),
        h('ul', { class: 'jobs', 'aria-label': `Builds on ${drone.id}` }),
      ),
    (li, drone) => {
      const [, state, specs, jobs] = li.children;
      setAttr(li, 'data-state', drone.state);
      setText(state.children[0], drone.state);
      setAttr(state.children[0], 'class', `badge ${drone.state}`);
      setText(state.children[1], drone.reason ? ` since ${clock(drone.since)}: ${drone.reason}` : ` since ${clock(drone.since)}`);
      setText(specs, `${plural(drone.cores, 'core')}, ${plural(drone.slots, 'slot')}${drone.sweeper ? ', sweeper' : ''}`);
      const entries = drone.building.map((entry) => ({ entry, pkg: packages.get(entry) }));
      reconcile(
        jobs,
        entries,
        ({ entry }) => entry,
        ({ entry, pkg }) => {
          const cpv = pkg?.cpv ?? entry.split(' ')[1] ?? entry;
          return h(
            'li',
            { class: 'job', 'data-cpv': cpv },
            h('span', { class: 'job-cpv', text: cpv }),
            h('progress', { max: 1, value: 0, 'aria-label': `Progress of ${cpv} on ${drone.id}` }),
            h('span', { class: 'job-time' }),
          );
        },
        (job, { pkg }) => {
          setAttr(job, 'data-state', pkg?.state ?? 'queued');
          setAttr(job, 'data-started', pkg?.state === 'building' ? pkg.startedAt : undefined);
          setAttr(job, 'data-expected', pkg?.expected);
          if (pkg?.state !== 'building' || pkg.startedAt === undefined) {
            setText(job.children[2], 'queued on this drone');
            job.children[1].removeAttribute('value');
          }
        },
      );
    },
  );
}

/** Elapsed time and progress of each running build (progress stops at 99% past the expected time). */
export function tickDrones(now) {
  for (const job of document.querySelectorAll('#drone-grid .job[data-started]')) {
    const elapsed = Math.max(0, (now - Number(job.dataset.started)) / 1000);
    const expected = Number(job.dataset.expected);
    const progress = job.children[1];
    if (expected > 0) {
      setAttr(progress, 'value', Math.min(0.99, elapsed / expected).toFixed(3));
      setText(job.children[2], `${duration(elapsed)} of about ${duration(expected)}`);
    } else {
      progress.removeAttribute('value');
      setText(job.children[2], `${duration(elapsed)}, no estimate`);
    }
  }
}

/** Failed packages (and packages that failed an attempt) of the cycle, with a button per kept log. */
export function renderFailures(cycle, showLog) {
  const failed = cycle === undefined ? [] : cycle.packages.filter((pkg) => pkg.state === 'failed' || pkg.failures > 0);
  failed.sort((a, b) => (a.state === 'failed') === (b.state === 'failed') ? (a.cpv < b.cpv ? -1 : 1) : a.state === 'failed' ? -1 : 1);
  const count = cycle?.counts.failed ?? 0;
  setText($('failure-count'), count > 0 ? `(${count})` : '');
  setHidden($('failures-empty'), failed.length > 0);
  reconcile(
    $('failure-list'),
    failed,
    (pkg) => pkg.cpv,
    (pkg) => h('li', { class: 'failure', 'data-cpv': pkg.cpv }, h('h3', { text: pkg.cpv }), h('p', { class: 'failure-what' }), h('div', { class: 'log-buttons' })),
    (li, pkg) => {
      const [, what, buttons] = li.children;
      const blocked = pkg.state === 'failed' ? '' : ` (now ${pkg.state})`;
      setAttr(li, 'data-state', pkg.state);
      setText(what, `${pkg.state === 'failed' ? 'Failed' : 'Failed an attempt'}${blocked}: ${plural(pkg.failures, 'failure')}${pkg.reason ? `; ${pkg.reason}` : ''}.`);
      reconcile(
        buttons,
        pkg.logs,
        (path) => path,
        (path) => {
          const { attempt, drone } = describeLog(path);
          return h('button', { type: 'button', 'data-log': path, text: `Log of attempt ${attempt} on ${drone}`, 'aria-label': `Show the log of ${pkg.cpv}, attempt ${attempt} on ${drone}`, on: { click: () => showLog(pkg.cpv, path) } });
        },
        () => undefined,
      );
      if (pkg.logs.length === 0 && buttons.childElementCount === 0) buttons.append(h('span', { class: 'muted', text: 'No log kept.' }));
    },
  );
}

export function renderVerify(report) {
  const summary = $('verify-summary');
  const table = $('verify-table');
  if (report === undefined) {
    setHidden(table, true);
    return;
  }
  setAttr(summary, 'data-safe', report.safe);
  setText(summary, `Score ${report.score} against a threshold of ${report.threshold}: ${report.safe ? 'safe to finalize' : 'not safe to finalize'}${report.cycle ? ` (cycle ${report.cycle})` : ''}.`);
  setHidden(table, report.components.length === 0);
  reconcile(
    table.tBodies[0],
    report.components,
    (component) => component.id,
    (component) => h('tr', { 'data-component': component.id }, h('th', { scope: 'row', text: component.id }), h('td'), h('td'), h('td')),
    (tr, component) => {
      setText(tr.children[1], component.points);
      setText(tr.children[2], component.packages.length === 0 ? '–' : component.packages.length <= 3 ? component.packages.join(', ') : `${component.packages.slice(0, 3).join(', ')} and ${component.packages.length - 3} more`);
      setText(tr.children[3], component.detail);
    },
  );
}

/** Releases newest first; with `onRollback` (an admin token), a button for each release production is not on. */
export function renderReleases(listing, onRollback) {
  const table = $('release-table');
  const releases = listing?.releases ?? [];
  setText($('releases-summary'), listing === undefined ? 'Not loaded.' : releases.length === 0 ? `Profile ${listing.profile} has no release yet.` : `Profile ${listing.profile}: production is on release ${listing.current ?? 'none'}.`);
  setHidden(table, releases.length === 0);
  setHidden($('release-action-heading'), onRollback === undefined);
  reconcile(
    table.tBodies[0],
    releases,
    (release) => release.id,
    (release) => h('tr', { 'data-release': release.id }, h('th', { scope: 'row' }), h('td'), h('td'), h('td'), h('td'), h('td'), h('td', { class: 'action' })),
    (tr, release) => {
      const cells = tr.children;
      setAttr(tr, 'data-current', release.current ? 'true' : 'false');
      setText(cells[0], release.current ? `${release.id} (current)` : release.id);
      setText(cells[1], clock(Date.parse(release.createdAt)));
      setText(cells[2], release.packages ?? '–');
      setText(cells[3], release.cycle ?? '–');
      setText(cells[4], release.score ?? '–');
      setText(cells[5], release.forced ? `forced: ${release.forced}` : '');
      const action = cells[6];
      setHidden(action, onRollback === undefined);
      const wanted = onRollback !== undefined && !release.current;
      const button = action.querySelector('button');
      if (wanted && button === null) {
        action.replaceChildren(h('button', { type: 'button', class: 'danger', 'data-rollback': release.id, text: `Roll back to ${release.id}`, on: { click: () => onRollback(release.id) } }));
      } else if (!wanted && (button !== null || action.textContent === '')) {
        action.replaceChildren(release.current && onRollback !== undefined ? 'in production' : '');
      }
    },
  );
}

// The swarm dashboard: reads the gateway's API with the operator's token, follows its events, and keeps every
// panel up to date. A token is kept in this tab's sessionStorage only; `#token=…` in the address is taken once
// and removed from it.

import { ApiError, createApi, encodePath } from './api.js';
import { createLineChart } from './charts.js';
import { setAttr, setHidden, setText, reconcile, h } from './dom.js';
import { connectEvents } from './event-stream.js';
import { clock, describeLog, plural } from './format.js';
import { createGantt, renderBuildTable } from './gantt.js';
import { renderCycle, renderDrones, renderFailures, renderReleases, renderVerify, tickCycle, tickDrones } from './views.js';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'argo.dashboard.token';
const VIEWS = ['overview', 'gantt', 'failures', 'releases'];
/** A status refresh waits this long after an event, so a burst of events costs one request. */
const DEBOUNCE_MS = 40;
/** Figures such as the ETA are recomputed by the gateway: ask now and then even when nothing happens. */
const POLL_MS = 10_000;
const SAMPLE_WINDOW_MS = 60 * 60_000;
const MAX_LOG_CHARS = 400_000;

const state = {
  token: '',
  whoami: undefined,
  status: undefined,
  skew: 0,
  cycleId: undefined,
  cyclePicked: false,
  profile: undefined,
  profilePicked: false,
  profiles: [],
  releases: undefined,
  lastEvent: undefined,
  graphs: new Map(),
  samples: [],
  cycleStates: new Map(),
  generation: 0,
  events: undefined,
};

const api = createApi(() => state.token);
const gantt = createGantt($('gantt'), $('gantt-detail'));
const queueChart = createLineChart($('queue-chart'), {
  label: 'Queue depth over time',
  unit: 'packages',
  series: [
    { name: 'normal', className: 'normal' },
    { name: 'heavy', className: 'heavy' },
  ],
});
const throughputChart = createLineChart($('throughput-chart'), { label: 'Throughput over time', unit: 'per minute', series: [{ name: 'finished', className: 'finished' }] });

// --- token ----------------------------------------------------------------------------------------------------

function takeTokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  if (token === null) return;
  fragment.delete('token');
  const rest = fragment.toString();
  history.replaceState(null, '', `${location.pathname}${location.search}${rest === '' ? '' : `#${rest}`}`);
  if (token !== '') sessionStorage.setItem(TOKEN_KEY, token);
}

function identityText() {
  const who = state.whoami;
  if (who === undefined) return state.token ? 'Token given; checking it…' : 'No token given.';
  if (who.scopes === undefined) return state.token ? 'Token given (this gateway does not say what it may do).' : 'No token given.';
  if (who.name === null) return 'No token: this gateway lets anyone read. Give a token to do more.';
  return `Token ${who.name}, may: ${who.scopes.join(', ')}.`;
}

const isAdmin = () => state.whoami?.scopes?.includes('admin') === true;

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('token-input');
  const token = input.value.trim();
  input.value = '';
  if (token === '') {
    showAlert('Enter a token first: a line of the gateway\'s tokens file holds it (the third field).');
    input.focus();
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  state.token = token;
  start();
});
$('token-forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = '';
  start();
});

// --- alerts and connection --------------------------------------------------------------------------------------

function showAlert(message) {
  const alert = $('alert');
  setText(alert, message);
  setHidden(alert, false);
}

function clearAlert() {
  setHidden($('alert'), true);
}

function setConnection(kind, text) {
  const connection = $('connection');
  setAttr(connection, 'data-state', kind);
  setText(connection, text);
}

function liveText() {
  const last = state.lastEvent;
  return `Live: the page follows the swarm's events${last === undefined ? '' : ` (the last, ${last.type}, at ${clock(last.at)})`}.`;
}

function refused(status, error) {
  const form = $('token-form');
  form.classList.add('attention');
  if (status === 401) {
    setConnection('unauthorized', 'Not signed in: the gateway wants a token.');
    showAlert(state.token
      ? 'The gateway answered 401: it does not know this token. Enter another one in the access token form.'
      : 'The gateway answered 401: it shows the swarm only with a token. Enter an access token in the form above (it is kept in this browser tab only).');
  } else {
    setConnection('unauthorized', 'The token may not read the swarm.');
    showAlert(`The gateway answered ${status}: ${error?.message ?? 'this token may not read the swarm'}. ${error?.hint ?? 'Use a token with the read scope.'}`);
  }
  setText($('identity'), identityText());
}

/** Any failure of a read: 401/403 ask for a token, the rest is said as the gateway said it. */
function failed(error, what) {
  if (error instanceof DOMException && error.name === 'AbortError') return;
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    refused(error.status, error);
    return;
  }
  if (error instanceof ApiError) showAlert(`Could not load ${what}: ${error.message}${error.hint ? ` ${error.hint}` : ''}`);
  else showAlert(`Could not reach the gateway for ${what}: ${error.message}. Retrying.`);
}

// --- status -----------------------------------------------------------------------------------------------------

let statusTimer;
let statusAsked = 0;
let statusShown = 0;
let statusInFlight = 0;
let statusAgain = false;

/**
 * A status request soon after an event (a burst of events costs one). One already on its way may have been
 * answered before the event: a second one starts without waiting for it, and answers are shown in order.
 */
function scheduleStatus(delay = DEBOUNCE_MS) {
  if (statusInFlight >= 2) {
    statusAgain = true;
    return;
  }
  if (statusTimer !== undefined) return;
  statusTimer = setTimeout(loadStatus, delay);
}

async function loadStatus() {
  clearTimeout(statusTimer);
  statusTimer = undefined;
  statusInFlight += 1;
  const asked = ++statusAsked;
  const generation = state.generation;
  try {
    const sent = Date.now();
    const status = await api.json('/api/v1/status');
    if (generation !== state.generation || asked < statusShown) return;
    statusShown = asked;
    // The gateway's clock against ours, taken at the middle of the request.
    state.skew = status.at - (sent + Date.now()) / 2;
    const rendering = performance.now();
    renderStatus(status);
    // Visible in the browser's performance tools (and read by the tests): what one refresh costs the page.
    performance.measure('argo:render-status', { start: rendering, end: performance.now() });
    clearAlert();
    $('token-form').classList.remove('attention');
  } catch (error) {
    if (generation === state.generation) failed(error, 'the swarm status');
  } finally {
    statusInFlight -= 1;
    if (statusAgain) {
      statusAgain = false;
      scheduleStatus(0);
    }
  }
}

const now = () => Date.now() + state.skew;

function selectedCycle(status) {
  const cycles = status.cycles;
  let cycle = state.cyclePicked ? cycles.find((entry) => entry.id === state.cycleId) : undefined;
  cycle ??= cycles.find((entry) => entry.status === 'running') ?? cycles[0];
  state.cycleId = cycle?.id;
  return cycle;
}

function renderStatus(status) {
  state.status = status;
  const cycle = selectedCycle(status);
  const select = $('cycle-select');
  setAttr(select, 'disabled', status.cycles.length === 0);
  reconcile(
    select,
    status.cycles.length === 0 ? [undefined] : status.cycles,
    (entry) => entry?.id ?? '',
    (entry) => h('option', { value: entry?.id ?? '' }),
    (option, entry) => setText(option, entry === undefined ? 'No cycle yet' : `${entry.id} (${entry.profile}, ${entry.status})`),
  );
  if (select.value !== (cycle?.id ?? '')) select.value = cycle?.id ?? '';

  renderCycle(cycle, now());
  tickCycle(cycle, now(), status.at);
  renderDrones(status.drones, status.cycles);
  tickDrones(now());
  sample(status);
  const critical = cycle === undefined ? [] : (state.graphs.get(cycle.id)?.criticalPath ?? []);
  gantt.update(cycle, status.drones.map((drone) => drone.id), critical, state.skew);
  if (cycle !== undefined && !state.graphs.has(cycle.id)) void loadGraph(cycle.id);
  setText($('gantt-note'), cycle === undefined ? 'No cycle to draw.' : graphNote(cycle.id));
  renderFailures(cycle, showLog);
  if (!$('gantt-table-wrap').hidden) renderBuildTable($('gantt-table').tBodies[0], gantt.rows(), now());
  setText($('updated'), `Updated at ${clock(status.at)} (gateway time).`);

  if (!state.profilePicked && cycle !== undefined && state.profile !== cycle.profile) {
    state.profile = cycle.profile;
    renderProfiles();
    void loadReleases();
  }
  // A cycle that just finished changes what verify says.
  for (const entry of status.cycles) {
    const before = state.cycleStates.get(entry.id);
    state.cycleStates.set(entry.id, entry.status);
    if (before === 'running' && entry.status === 'finished') void loadReleases();
  }
}

function graphNote(cycleId) {
  const graph = state.graphs.get(cycleId);
  if (graph === undefined) return 'Loading the critical path…';
  if (graph === null) return 'This gateway does not give the cycle\'s graph: the critical path is not highlighted.';
  return `The critical path has ${graph.criticalPath.length} packages; their bars are outlined.`;
}

async function loadGraph(cycleId) {
  state.graphs.set(cycleId, undefined);
  try {
    const graph = await api.json(`/api/v1/cycles/${encodePath(cycleId)}/graph`);
    state.graphs.set(cycleId, { criticalPath: graph.criticalPath ?? [] });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return failed(error, 'the cycle\'s graph');
    state.graphs.set(cycleId, null);
  }
  if (state.status !== undefined && state.cycleId === cycleId) renderStatus(state.status);
}

function sample(status) {
  const running = status.cycles.filter((cycle) => cycle.status === 'running');
  const queue = running.reduce((sum, cycle) => ({ heavy: sum.heavy + (cycle.queue?.heavy ?? 0), normal: sum.normal + (cycle.queue?.normal ?? 0) }), { heavy: 0, normal: 0 });
  const finished = status.cycles.reduce((sum, cycle) => sum + (cycle.counts.built ?? 0) + (cycle.counts.failed ?? 0), 0);
  const samples = state.samples;
  if (samples.length > 0 && status.at - samples.at(-1).at < 1000) samples.pop();
  samples.push({ at: status.at, heavy: queue.heavy, normal: queue.normal, finished });
  while (samples.length > 2 && (samples[0].at < status.at - SAMPLE_WINDOW_MS || samples.length > 900)) samples.shift();
  queueChart.update(samples.map((entry) => ({ at: entry.at, values: [entry.normal, entry.heavy] })));
  // Per minute over the minute before each sample (or since the first sample).
  let from = 0;
  throughputChart.update(
    samples.map((entry) => {
      while (samples[from].at < entry.at - 60_000) from += 1;
      const base = samples[from];
      const minutes = (entry.at - base.at) / 60_000;
      return { at: entry.at, values: [minutes < 0.05 ? 0 : Math.max(0, (entry.finished - base.finished) / minutes)] };
    }),
  );
}

$('cycle-select').addEventListener('change', (event) => {
  state.cycleId = event.target.value || undefined;
  state.cyclePicked = true;
  if (state.status !== undefined) renderStatus(state.status);
});

// --- logs -------------------------------------------------------------------------------------------------------

async function showLog(cpv, path) {
  const card = $('log-card');
  setHidden(card, false);
  const { attempt, drone } = describeLog(path);
  setText($('log-heading'), `Build log of ${cpv}, attempt ${attempt} on ${drone}`);
  setText($('log-status'), 'Loading the log…');
  setText($('log-text'), '');
  // A record's log is where a drone said it kept it: only ever a log of this gateway's own API is fetched (with
  // the token), whatever host or path the record names.
  let own;
  try {
    own = new URL(path, location.origin).pathname;
  } catch {
    own = '';
  }
  if (!/^\/api\/v1\/logs\/[^?#]+$/.test(own)) {
    setText($('log-status'), 'This log is not kept by this gateway; the drone that built it has it.');
    return;
  }
  try {
    let text = await api.text(own);
    const cut = text.length > MAX_LOG_CHARS;
    if (cut) text = text.slice(-MAX_LOG_CHARS);
    setText($('log-text'), text);
    setText($('log-status'), cut ? `The log is long: its last ${MAX_LOG_CHARS.toLocaleString('en')} characters are shown.` : `${plural(text.split('\n').length - (text.endsWith('\n') ? 1 : 0), 'line')}.`);
    $('log-text').focus();
  } catch (error) {
    setText($('log-status'), error instanceof ApiError ? `The gateway answered ${error.status}: ${error.message}` : `Could not load the log: ${error.message}`);
  }
}

// --- profiles, verify, releases ---------------------------------------------------------------------------------

function renderProfiles() {
  const select = $('profile-select');
  const names = state.profiles.length > 0 ? state.profiles : state.profile ? [state.profile] : [];
  setAttr(select, 'disabled', names.length === 0);
  reconcile(select, names, (name) => name, (name) => h('option', { value: name, text: name }), () => undefined);
  if (state.profile !== undefined && select.value !== state.profile) select.value = state.profile;
}

async function loadProfiles() {
  try {
    const { profiles } = await api.json('/api/v1/profiles');
    state.profiles = profiles.map((profile) => profile.name);
    renderProfiles();
  } catch (error) {
    failed(error, 'the profiles');
  }
}

async function loadReleases() {
  const profile = state.profile;
  if (profile === undefined) return;
  const generation = state.generation;
  // Verify judges a profile's cycle: without one the gateway would only say there is nothing to judge.
  const hasCycle = state.status?.cycles.some((cycle) => cycle.profile === profile) === true;
  const [verify, releases] = await Promise.allSettled([
    hasCycle ? api.json(`/api/v1/profiles/${encodePath(profile)}/verify`) : Promise.resolve(undefined),
    api.json(`/api/v1/profiles/${encodePath(profile)}/releases`),
  ]);
  if (generation !== state.generation || profile !== state.profile) return;
  if (verify.status === 'fulfilled' && verify.value === undefined) {
    setText($('verify-summary'), `Profile ${profile} has no cycle yet: nothing to verify.`);
    renderVerify(undefined);
  } else if (verify.status === 'fulfilled') renderVerify(verify.value);
  else {
    setText($('verify-summary'), verify.reason instanceof ApiError ? `Verify answered ${verify.reason.status}: ${verify.reason.message}` : 'Could not load verify.');
    renderVerify(undefined);
  }
  if (releases.status === 'fulfilled') {
    state.releases = releases.value;
    renderReleases(releases.value, isAdmin() ? askRollback : undefined);
  }
  else failed(releases.reason, 'the releases');
}

$('profile-select').addEventListener('change', (event) => {
  state.profile = event.target.value;
  state.profilePicked = true;
  void loadReleases();
});
$('releases-refresh').addEventListener('click', () => void loadReleases());

let rollbackTarget;
function askRollback(release) {
  rollbackTarget = { profile: state.profile, release };
  const current = $('release-table').querySelector('tr[data-current="true"]')?.dataset.release ?? 'none';
  setText($('rollback-text'), `Production of profile ${state.profile} switches from release ${current} to release ${release}. Clients that update from the production binhost then get release ${release}'s packages.`);
  $('rollback-dialog').returnValue = '';
  $('rollback-dialog').showModal();
}

$('rollback-dialog').addEventListener('close', async () => {
  const dialog = $('rollback-dialog');
  const target = rollbackTarget;
  rollbackTarget = undefined;
  if (dialog.returnValue !== 'confirm' || target === undefined) return;
  const status = $('rollback-status');
  setText(status, `Rolling ${target.profile} back to ${target.release}…`);
  try {
    const switched = await api.json(`/api/v1/profiles/${encodePath(target.profile)}/rollback`, { method: 'POST', body: { to: target.release } });
    setText(status, `Production of ${switched.profile} is now release ${switched.release}${switched.previous ? ` (was ${switched.previous})` : ''}.`);
  } catch (error) {
    setText(status, error instanceof ApiError ? `Rollback refused (${error.status}): ${error.message}${error.hint ? ` ${error.hint}` : ''}` : `Rollback failed: ${error.message}`);
  }
  await loadReleases();
  // The button that opened the dialog may be gone (its release is current now): keep focus in the panel.
  if (!document.activeElement || document.activeElement === document.body) $('releases-heading').focus();
});

// --- views (tabs) -----------------------------------------------------------------------------------------------

function showView(view, focus = false) {
  if (!VIEWS.includes(view)) view = 'overview';
  for (const name of VIEWS) {
    const tab = $(`tab-${name}`);
    const selected = name === view;
    setAttr(tab, 'aria-selected', selected ? 'true' : 'false');
    setAttr(tab, 'tabindex', selected ? undefined : '-1');
    setHidden($(`panel-${name}`), !selected);
  }
  if (focus) $(`tab-${view}`).focus();
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('view') !== view) {
    fragment.set('view', view);
    history.replaceState(null, '', `${location.pathname}${location.search}#${fragment.toString()}`);
  }
  if (view === 'gantt') gantt.tick();
}

$('tabs').addEventListener('click', (event) => {
  const tab = event.target.closest('[role="tab"]');
  if (tab !== null) showView(tab.dataset.view);
});
$('tabs').addEventListener('keydown', (event) => {
  const current = VIEWS.indexOf(event.target.closest('[role="tab"]')?.dataset.view);
  if (current < 0) return;
  const next = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: VIEWS.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  showView(VIEWS[(next + VIEWS.length) % VIEWS.length], true);
});

$('gantt-table-toggle').addEventListener('click', (event) => {
  const wrap = $('gantt-table-wrap');
  const show = wrap.hidden;
  setHidden(wrap, !show);
  setAttr(event.currentTarget, 'aria-expanded', show ? 'true' : 'false');
  setText(event.currentTarget, show ? 'Hide the table of builds' : 'Show the builds as a table');
  if (show) renderBuildTable($('gantt-table').tBodies[0], gantt.rows(), now());
});

// --- start ------------------------------------------------------------------------------------------------------

async function start() {
  state.generation += 1;
  const generation = state.generation;
  state.events?.stop();
  state.events = undefined;
  state.whoami = undefined;
  // Until the new token is known, no rollback button.
  if (state.releases !== undefined) renderReleases(state.releases, undefined);
  clearAlert();
  setText($('identity'), identityText());
  setConnection('connecting', 'Connecting to the gateway…');
  try {
    state.whoami = await api.json('/api/v1/whoami');
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      refused(error.status, error);
      return;
    }
    if (!(error instanceof ApiError && error.status === 404)) {
      failed(error, 'who this token is');
      setTimeout(() => generation === state.generation && start(), 5000);
      return;
    }
    // A gateway without /whoami: go on, and let the first read say whether the token is good.
    state.whoami = { name: undefined, scopes: undefined };
  }
  if (generation !== state.generation) return;
  setText($('identity'), identityText());
  $('token-form').classList.remove('attention');
  await loadProfiles();
  // The status first: the profile shown is the current cycle's (a change of profile loads verify and releases).
  const profile = state.profile;
  await loadStatus();
  if (generation !== state.generation) return;
  if (state.profile === undefined && state.profiles.length > 0) {
    state.profile = state.profiles[0];
    renderProfiles();
    void loadReleases();
  } else if (state.profile !== undefined && state.profile === profile) {
    // The same profile under a new token: it may or may not roll back.
    void loadReleases();
  }
  state.events = connectEvents({
    url: '/api/v1/events',
    headers: () => api.headersFor('text/event-stream'),
    onOpen: () => {
      setConnection('live', liveText());
      scheduleStatus(0);
    },
    onEvent: (type, event) => {
      state.lastEvent = { type, at: event.at, id: event.id };
      setConnection('live', liveText());
      setAttr($('connection'), 'data-last-event', event.id);
      scheduleStatus();
      if (type === 'cycle-started' || type === 'cycle-finished') void loadReleases();
    },
    onDrop: (reason, delay) => setConnection('reconnecting', `Events interrupted (${reason}); reconnecting in ${Math.round(delay / 1000) || 1} s.`),
    onRefused: (status) => refused(status),
  });
}

takeTokenFromFragment();
state.token = sessionStorage.getItem(TOKEN_KEY) ?? '';
showView(new URLSearchParams(location.hash.slice(1)).get('view') ?? 'overview');
gantt.start();
setInterval(() => {
  if (state.status === undefined) return;
  const cycle = state.status.cycles.find((entry) => entry.id === state.cycleId);
  tickCycle(cycle, now(), state.status.at);
  tickDrones(now());
}, 1000);
setInterval(() => {
  if (state.whoami !== undefined && document.visibilityState === 'visible') scheduleStatus(0);
}, POLL_MS);
void start();


import type { render as renderType } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { ArgoError } from '../core/errors.ts';
import type { CycleStatus, PackageStatus, SwarmStatus } from '../core/swarm/swarm-status.ts';
import type { MonitorClient, OutputChunk } from './monitor-feed.ts';
import type { MonitorEvent } from './monitor-model.ts';
import type { MonitorTheme } from './monitor-theme.ts';

// Ink colours what it is asked to whenever its colour library finds colour support: force it on (before ink loads),
// so the NO_COLOR test proves the monitor asks for none, rather than passing because this is not a terminal.
process.env.FORCE_COLOR = '1';
const { render } = await import('ink-testing-library');
const { MonitorApp } = await import('./monitor-app.tsx');

const T = 1_760_000_000_000;
const PLAIN: MonitorTheme = { colour: false, ascii: true };
const COLOUR: MonitorTheme = { colour: true, ascii: false };
const KEYS = { down: '\u001b[B', up: '\u001b[A', tab: '\t', shiftTab: '\u001b[Z', escape: '\u001b' };
const SGR = /\u001b\[[0-9;]*m/;

function entry(cpv: string, state: PackageStatus['state'], extra: Partial<PackageStatus> = {}): PackageStatus {
  return { cpv, state, since: T - 60_000, attempt: 0, failures: 0, logs: [], expected: 60, heavy: false, ...extra };
}

function cycle(packages: readonly PackageStatus[]): CycleStatus {
  const counts = { queued: 0, blocked: 0, 'dep-wait': 0, building: 0, built: 0, failed: 0, skipped: 0 };
  for (const entry of packages) counts[entry.state] += 1;
  const queue = { heavy: packages.filter((p) => p.state === 'queued' && p.heavy).length, normal: packages.filter((p) => p.state === 'queued' && !p.heavy).length };
  return { id: 'c-1', profile: 'desktop', status: 'running', createdAt: T - 600_000, startedAt: T - 300_000, counts, queue, packages, work: 4000, criticalPath: 400, lowerBound: 480, elapsed: 300, eta: 300, ratio: 1.25 };
}

/** A swarm of three drones: d1 half-way through zlib, d2 idle, d3 grounded; a queue, a failure. */
function firstStatus(): SwarmStatus {
  return {
    at: T,
    leader: { id: 'orch-a', epoch: 3, ttlMs: 10_000 },
    drones: [
      { id: 'd1', state: 'building', since: T - 30_000, cores: 8, slots: 1, sweeper: true, profiles: ['desktop'], building: ['c-1 sys-libs/zlib-1.3.1'], lastSeen: T },
      { id: 'd2', state: 'idle', since: T - 120_000, cores: 8, slots: 1, sweeper: false, profiles: ['desktop'], building: [], lastSeen: T },
      { id: 'd3', state: 'grounded', since: T - 60_000, reason: '3 failures in a row', cores: 4, slots: 1, sweeper: false, profiles: ['desktop'], building: [], lastSeen: T },
    ],
    cycles: [
      cycle([
        entry('sys-libs/zlib-1.3.1', 'building', { drone: 'd1', attempt: 1, startedAt: T - 30_000 }),
        entry('sys-devel/gcc-14.2.0', 'queued', { heavy: true }),
        entry('app-shells/bash-5.2_p37', 'queued'),
        entry('dev-libs/openssl-3.3.2', 'dep-wait'),
        entry('net-misc/curl-8.11.0', 'failed', { drone: 'd2', attempt: 2, failures: 2, reason: 'emerge exited 1', since: T - 10_000 }),
        entry('app-misc/jq-1.7.1', 'built', { drone: 'd2', attempt: 1, startedAt: T - 200_000, finishedAt: T - 150_000 }),
      ]),
    ],
  };
}

/** After bash went to d1 and zlib was built. */
function secondStatus(): SwarmStatus {
  const first = firstStatus();
  const packages = (first.cycles[0] as CycleStatus).packages.map((p) =>
    p.cpv === 'sys-libs/zlib-1.3.1' ? entry(p.cpv, 'built', { drone: 'd1', attempt: 1, since: T }) : p.cpv === 'app-shells/bash-5.2_p37' ? entry(p.cpv, 'building', { drone: 'd1', attempt: 1, startedAt: T, since: T }) : p,
  );
  return { ...first, drones: first.drones.map((d) => (d.id === 'd1' ? { ...d, building: ['c-1 app-shells/bash-5.2_p37'] } : d)), cycles: [cycle(packages)] };
}

/** Items pushed by the test, read by an async iterator until its signal aborts or the test ends it. */
function channel<T>() {
  const items: T[] = [];
  let wake: (() => void) | undefined;
  let ended = 0;
  return {
    push(item: T): void {
      items.push(item);
      wake?.();
    },
    /** Ends the iterators reading now, as a closed connection ends a stream. */
    end(): void {
      ended += 1;
      wake?.();
    },
    async *read(signal: AbortSignal): AsyncGenerator<T> {
      const generation = ended;
      while (!signal.aborted && ended === generation) {
        const item = items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
        wake = undefined;
      }
    },
  };
}

/** A client of the three reads the monitor makes; every call is recorded. */
function fakeClient(initial: SwarmStatus) {
  const events = channel<MonitorEvent>();
  const output = channel<OutputChunk>();
  const calls = { status: 0, events: [] as { since?: string; signal: AbortSignal }[], output: [] as { cycle: string; cpv: string; attempt?: number; signal: AbortSignal }[] };
  let answer: SwarmStatus | Error = initial;
  const client: MonitorClient = {
    url: 'http://gateway.test:8470',
    async status() {
      calls.status += 1;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    events(options) {
      calls.events.push(options);
      return events.read(options.signal);
    },
    output(cycleId, cpv, options) {
      calls.output.push({ cycle: cycleId, cpv, ...options });
      return output.read(options.signal);
    },
  };
  return {
    client,
    calls,
    events,
    output,
    answer(next: SwarmStatus | Error): void {
      answer = next;
    },
  };
}

type Rendered = ReturnType<typeof renderType>;
let mounted: Rendered | undefined;
afterEach(() => {
  mounted?.unmount();
  mounted = undefined;
});

function mount(fake: ReturnType<typeof fakeClient>, theme = PLAIN, timing = {}): Rendered {
  mounted = render(<MonitorApp client={fake.client} theme={theme} clock={() => T} timing={timing} />);
  resize(mounted, 100, 30);
  return mounted;
}

/** Gives the fake terminal a size and tells the app, as a real terminal's SIGWINCH does. */
function resize(app: Rendered, columns: number, rows: number): void {
  Object.defineProperty(app.stdout, 'columns', { value: columns, configurable: true });
  Object.defineProperty(app.stdout, 'rows', { value: rows, configurable: true });
  app.stdout.emit('resize');
}

async function until(app: Rendered, what: string, check: (frame: string) => boolean, deadlineMs = 3000): Promise<string> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const frame = app.lastFrame() ?? '';
    if (check(frame)) return frame;
    if (Date.now() > deadline) throw new Error(`${what} did not show within ${deadlineMs} ms; the screen:\n${frame}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const lineOf = (frame: string, needle: string): string => frame.split('\n').find((line) => line.includes(needle)) ?? '';

describe('the monitor', () => {
  it('shows the drones, the queue, the failures and the cycle from the status', async () => {
    const app = mount(fakeClient(firstStatus()));
    const frame = await until(app, 'the drones', (text) => text.includes('sys-libs/zlib-1.3.1'));
    expect(lineOf(frame, 'd1 ')).toMatch(/> d1 +building +sys-libs\/zlib-1\.3\.1 +\[#{5}-{5}\] +50% +30s/);
    expect(lineOf(frame, 'd2 ')).toMatch(/d2 +idle .*for 2m00s/);
    expect(lineOf(frame, 'd3 ')).toMatch(/d3 +grounded +3 failures in a row/);
    expect(frame).toContain('[Drones] 1 building, 1 idle, 1 grounded, 0 offline');
    expect(frame).toContain('Queue  ready 2 (heavy 1, normal 1)  dep-wait 1  blocked 0');
    expect(lineOf(frame, 'gcc')).toMatch(/sys-devel\/gcc-14\.2\.0 +ready +heavy/);
    expect(lineOf(frame, 'openssl')).toMatch(/dev-libs\/openssl-3\.3\.2 +dep-wait/);
    expect(lineOf(frame, 'curl')).toMatch(/net-misc\/curl-8\.11\.0 +d2 +failed +#2 +emerge exited 1/);
    expect(frame).toContain('Cycle c-1 (desktop) running  built 1/6  building 1  failed 1  blocked 0');
    expect(lineOf(frame, 'ETA')).toMatch(/\[#+-+\] +33% +elapsed 5m00s +ETA 5m00s +makespan\/lower bound 1\.25/);
    expect(frame).toContain('leader orch-a');
  });

  it('changes the drone\'s line when a package event comes, reading the status again', async () => {
    const fake = fakeClient(firstStatus());
    const app = mount(fake);
    await until(app, 'the first status', (text) => text.includes('sys-libs/zlib-1.3.1'));
    const reads = fake.calls.status;
    fake.answer(secondStatus());
    const sent = Date.now();
    fake.events.push({ id: '1-0', type: 'package', at: T, fields: { cycle: 'c-1', cpv: 'app-shells/bash-5.2_p37', state: 'building', drone: 'd1', attempt: '1' } });
    // Live, not a poll (well under the 3 s one while the stream is down); the same bound holds on one busy CPU.
    const frame = await until(app, 'bash on d1', (text) => /> d1 +building +app-shells\/bash-5\.2_p37/.test(text), 3000);
    expect(Date.now() - sent).toBeLessThan(3000);
    expect(frame).toMatch(/Last event \d\d:\d\d:\d\d: package app-shells\/bash-5\.2_p37 building on d1/);
    // The read that follows the event brings the rest: zlib built, so 2 of 6.
    await until(app, 'the status after the event', (text) => text.includes('built 2/6'), 3000);
    expect(fake.calls.status).toBeGreaterThan(reads);
  });

  it('moves between panes and rows with Tab, Shift-Tab and the arrows', async () => {
    const app = mount(fakeClient(firstStatus()));
    await until(app, 'the drones', (text) => text.includes('> d1'));
    app.stdin.write(KEYS.down);
    await until(app, 'd2 selected', (text) => text.includes('> d2') && !text.includes('> d1'));
    app.stdin.write(KEYS.tab);
    let frame = await until(app, 'the queue focused', (text) => text.includes('[Queue'));
    expect(frame).toContain(' Drones ');
    expect(frame).toMatch(/> sys-devel\/gcc-14\.2\.0/);
    app.stdin.write(KEYS.down);
    await until(app, 'bash selected', (text) => /> app-shells\/bash/.test(text));
    app.stdin.write(KEYS.tab);
    frame = await until(app, 'the failures focused', (text) => text.includes('[Failures'));
    expect(frame).toMatch(/> net-misc\/curl-8\.11\.0/);
    app.stdin.write(KEYS.shiftTab);
    frame = await until(app, 'back to the queue', (text) => text.includes('[Queue'));
    expect(frame).toMatch(/> app-shells\/bash/);
    app.stdin.write(KEYS.shiftTab);
    await until(app, 'back to the drones, d2 still selected', (text) => text.includes('[Drones]') && text.includes('> d2'));
  });

  it('opens the selected package\'s live output with l and closes it with Esc', async () => {
    const fake = fakeClient(firstStatus());
    const app = mount(fake);
    await until(app, 'the drones', (text) => text.includes('> d1'));
    app.stdin.write('l');
    await until(app, 'the log view', (text) => text.includes('Log of sys-libs/zlib-1.3.1 (cycle c-1, attempt 1, on d1)'));
    expect(fake.calls.output.map(({ cycle: id, cpv, attempt }) => ({ id, cpv, attempt }))).toEqual([{ id: 'c-1', cpv: 'sys-libs/zlib-1.3.1', attempt: 1 }]);
    fake.output.push({ type: 'lines', lines: ['>>> Compiling source in /var/tmp/portage/sys-libs/zlib-1.3.1/work', '\u001b[32m * \u001b[0mapplying patch'] });
    let frame = await until(app, 'the first lines', (text) => text.includes('applying patch'));
    expect(frame).toContain('>>> Compiling source');
    expect(frame).not.toMatch(/\u001b/);
    fake.output.push({ type: 'lines', lines: ['>>> Completed installing zlib'] });
    fake.output.push({ type: 'end', state: 'built' });
    frame = await until(app, 'the end', (text) => text.includes('-- the attempt is over: built --'));
    expect(frame).toContain('>>> Completed installing zlib');
    app.stdin.write(KEYS.escape);
    await until(app, 'the panes again', (text) => text.includes('[Drones]') && !text.includes('Log of'));
    expect(fake.calls.output[0]?.signal.aborted).toBe(true);
  });

  it('says so when l is pressed on a package that never started', async () => {
    const fake = fakeClient(firstStatus());
    const app = mount(fake);
    await until(app, 'the drones', (text) => text.includes('> d1'));
    app.stdin.write(KEYS.tab);
    await until(app, 'the queue focused', (text) => text.includes('[Queue]'));
    app.stdin.write('l');
    await until(app, 'the note', (text) => text.includes('This package has not started: no output to show yet.'));
    expect(fake.calls.output).toEqual([]);
    app.stdin.write(KEYS.down);
    await until(app, 'the note gone', (text) => !text.includes('has not started') && /> app-shells\/bash/.test(text));
  });

  it('quits with q: it stops reading the gateway', async () => {
    const fake = fakeClient(firstStatus());
    const app = mount(fake);
    await until(app, 'the drones', (text) => text.includes('> d1'));
    const stream = fake.calls.events[0];
    expect(stream?.signal.aborted).toBe(false);
    app.stdin.write('q');
    const deadline = Date.now() + 2000;
    while (stream?.signal.aborted !== true && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(stream?.signal.aborted).toBe(true);
  });

  it('says when the gateway is down or refuses the token, and recovers by itself', async () => {
    const fake = fakeClient(firstStatus());
    fake.answer(new ArgoError('ARGO_SWARM_UNREACHABLE', 'The swarm gateway at http://gateway.test:8470 does not answer: connect ECONNREFUSED'));
    const app = mount(fake, PLAIN, { pollMs: 20, retryMs: 20 });
    await until(app, 'the gateway down', (text) => text.includes('GATEWAY DOWN: The swarm gateway at http://gateway.test:8470 does not answer'));
    fake.answer(new ArgoError('ARGO_SWARM_UNAUTHORIZED', 'The swarm gateway refused http://gateway.test:8470/api/v1/status: 401 Unauthorized'));
    await until(app, 'the token refused', (text) => text.includes('NOT AUTHORIZED') && text.includes('check --token-file'));
    fake.answer(firstStatus());
    await until(app, 'live again', (text) => text.includes('Live') && text.includes('sys-libs/zlib-1.3.1'));
  });

  it('reconnects a dropped event stream from the last event it delivered', async () => {
    const fake = fakeClient(firstStatus());
    const app = mount(fake, PLAIN, { retryMs: 20 });
    await until(app, 'the drones', (text) => text.includes('> d1'));
    fake.events.push({ id: '7-0', type: 'leader', at: T, fields: { orchestrator: 'orch-a', epoch: '3' } });
    await until(app, 'the event', (text) => text.includes('Last event'));
    fake.events.end();
    await until(app, 'the stream down', (text) => text.includes('EVENTS DOWN: the gateway closed the event stream'));
    const deadline = Date.now() + 3000;
    while (fake.calls.events.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(fake.calls.events[1]?.since).toBe('7-0');
  });

  it('uses no colour at all with NO_COLOR, and colour without it', async () => {
    const plain = mount(fakeClient(firstStatus()), PLAIN);
    await until(plain, 'the drones', (text) => text.includes('> d1'));
    plain.stdin.write(KEYS.tab);
    await until(plain, 'the queue focused', (text) => text.includes('[Queue'));
    expect(plain.frames.filter((frame) => SGR.test(frame))).toEqual([]);
    plain.unmount();
    const coloured = mount(fakeClient(firstStatus()), COLOUR);
    const frame = await until(coloured, 'the drones', (text) => text.includes('d1'));
    expect(frame).toMatch(SGR);
  });

  it('fits an 80x24 console and follows resizes', async () => {
    const app = mount(fakeClient(firstStatus()));
    await until(app, 'the drones', (text) => text.includes('> d1'));
    for (const [columns, rows] of [
      [80, 24],
      [132, 43],
      [80, 24],
    ] as const) {
      resize(app, columns, rows);
      const frame = await until(app, `a ${columns}x${rows} screen`, (text) => text.split('\n')[0]?.length === columns);
      const lines = frame.split('\n');
      expect(lines.length, frame).toBe(rows);
      expect(lines.filter((line) => line.length > columns), frame).toEqual([]);
      expect(frame).toContain('sys-libs/zlib-1.3.1');
      expect(frame).toContain('net-misc/curl-8.11.0');
      expect(frame).toContain('q: quit');
    }
  });
});

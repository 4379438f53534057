import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBtrfsDisk } from '../support/btrfs-target.ts';
import { installFakeEmerge } from '../support/debian-target.ts';
import { PROJECT, runBuiltCli, type CliRun } from '../support/run-cli.ts';

interface UpdateReport {
  outcome: string;
  preSnapshot?: number;
  postSnapshot?: number;
  loginOk: boolean | null;
  proof: string[];
  repaired?: { restored: boolean; restore?: { replacedCopy: string; portage?: { matches: boolean; reinstall: string } } };
  packages: { planned: number; merged: number; mergedCpvs: string[]; failed: string[] };
  verify?: { cryptOk: boolean; canary: string; canaryFailure?: string };
  refusedBy: { id: string }[];
  phases: { id: string; status: string }[];
  logDir: string;
}

const PLAN = join(PROJECT, 'test/fixtures/preflight/update-world.plan');
const LIB = 'usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0';

const btrfs = useBtrfsDisk();

/** A binhost index (local PKGDIR) with a binary for each planned package, as `emaint binhost` would write. */
function indexFor(cpvs: readonly [string, string][]): string {
  const header = 'ARCH: amd64\nCHOST: x86_64-pc-linux-gnu\nPACKAGES: 3\nTIMESTAMP: 1733000000\nVERSION: 0\n\n';
  return header + cpvs.map(([cpv, use]) => `BUILD_ID: 1\nCPV: ${cpv}\nPATH: ${cpv}-1.gpkg.tar\nSIZE: 1024\nUSE: ${use}\nMTIME: 1733000000\nREPO: gentoo\n\n`).join('');
}
const FULL_INDEX: [string, string][] = [
  ['app-editors/nano-8.2', 'amd64 ncurses nls spell unicode'],
  ['app-misc/tmux-3.5a', 'amd64'],
  ['sys-libs/libxcrypt-4.4.36', 'abi_x86_64 amd64 compat elibc_glibc kernel_linux system'],
];

async function updatableRoot(name: string, emerge: Record<string, string>, index = FULL_INDEX, withCanary = true): Promise<string> {
  const root = await btrfs().makeRoot(name);
  await installFakeEmerge(root, emerge);
  await copyFile(PLAN, join(root, 'etc/argo-fake-emerge.plan'));
  await mkdir(join(root, 'var/cache/argo-test-binhost'), { recursive: true });
  await writeFile(join(root, 'var/cache/argo-test-binhost/Packages'), indexFor(index));
  await mkdir(join(root, 'etc/portage/package.use'), { recursive: true });
  await writeFile(join(root, 'etc/portage/package.use/libxcrypt'), 'sys-libs/libxcrypt compat system\n');
  if (!withCanary) return root;
  const canary = await runBuiltCli('apkg', ['canary', 'setup', '--root', root]);
  expect(canary.code, canary.stderr).toBe(0);
  return root;
}

async function update(root: string, extra: string[] = [], options: Parameters<typeof runBuiltCli>[2] = {}): Promise<{ run: CliRun; report: UpdateReport }> {
  const run = await runBuiltCli('apkg', ['update', '--root', root, '--json', '--binhost', '/var/cache/argo-test-binhost', ...extra], options);
  try {
    return { run, report: JSON.parse(run.stdout) as UpdateReport };
  } catch {
    throw new Error(`no JSON report (exit ${run.code}):\n${run.stderr}`);
  }
}

async function pamLogin(root: string, password: string): Promise<number | null> {
  const child = spawn('chroot', [root, 'pamtester', 'login', 'alice', 'authenticate'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(`${password}\n`);
  return new Promise((resolve) => child.once('exit', resolve));
}

async function snapshotList(root: string): Promise<{ id: number; kind: string; userdata: Record<string, string> }[]> {
  const run = await runBuiltCli('argo', ['snapshot', 'list', '--root', root, '--json']);
  return (JSON.parse(run.stdout) as { snapshots: { id: number; kind: string; userdata: Record<string, string> }[] }).snapshots;
}

const statuses = (report: UpdateReport) => Object.fromEntries(report.phases.map((phase) => [phase.id, phase.status]));

describe('apkg update on a real btrfs root', () => {
  it('updates cleanly: snapshots before and after, progress shown, login proven', async () => {
    const root = await updatableRoot('clean', { BINARY: 'ok' });
    const { run, report } = await update(root);
    expect(run.code, run.stderr).toBe(0);
    expect(report.outcome).toBe('updated');
    expect(report.loginOk).toBe(true);
    expect(report.proof).toEqual(['crypt', 'pam-modules', 'canary-login']);
    expect(report.verify).toMatchObject({ cryptOk: true, canary: 'ok' });
    expect(report.packages).toMatchObject({ planned: 3, merged: 3, mergedCpvs: ['sys-libs/libxcrypt-4.4.36', 'app-editors/nano-8.2', 'app-misc/tmux-3.5a'], failed: [] });
    // Exactly the judged plan: libxcrypt alone first, then the rest as =CPV atoms, never a fresh @world resolution.
    const emergeLog = await readFile(join(root, 'var/log/emerge.log'), 'utf8');
    const invocations = emergeLog.split('\n').filter((line) => line.includes('*** emerge '));
    expect(invocations).toEqual([
      expect.stringMatching(/--oneshot.* =sys-libs\/libxcrypt-4\.4\.36$/),
      expect.stringMatching(/--oneshot.* =app-editors\/nano-8\.2 =app-misc\/tmux-3\.5a$/),
    ]);
    expect(emergeLog).not.toContain('@world');
    expect(statuses(report)).toMatchObject({ gate: 'succeeded', 'pre-snapshot': 'succeeded', 'critical-first': 'succeeded', update: 'succeeded', verify: 'succeeded', repair: 'skipped', 'post-snapshot': 'succeeded' });
    const snapshots = await snapshotList(root);
    expect(snapshots.map((snapshot) => [snapshot.id, snapshot.kind, snapshot.userdata['argo-status'] ?? ''])).toEqual([
      [report.preSnapshot, 'pre', ''],
      [report.postSnapshot, 'post', 'ok'],
    ]);
    expect(await pamLogin(root, 'correct horse')).toBe(0);
    // The proof opened the canary only for itself: on disk it is as locked and expired as setup left it.
    const canary = (await readFile(join(root, 'etc/shadow'), 'utf8')).split('\n').find((line) => line.startsWith('argo-canary:'));
    expect(canary).toMatch(/^argo-canary:!\$6\$[^:]+:\d+:::::1:$/);
  });

  it('logs the progress of emerge from its own output, with an ETA (the console draws it: test/e2e/conventions)', async () => {
    const root = await updatableRoot('progress', { BINARY: 'ok' });
    const run = await runBuiltCli('apkg', ['update', '--root', root, '--binhost', '/var/cache/argo-test-binhost']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^UPDATED: 3 of 3 packages merged; a real login was proven afterwards\./);
    const logDir = /^logs: (.+)$/m.exec(run.stdout)?.[1] ?? '';
    const progress = (await readFile(join(logDir, 'main.log'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((event) => event['event'] === 'progress' && event['task'] === 'emerge');
    expect(progress[0]).toMatchObject({ unit: 'packages', done: 0, total: 2, state: 'running', etaMs: expect.any(Number) });
    expect(progress.at(-1)).toMatchObject({ done: 2, total: 2, state: 'done' });
  });

  it('on Ctrl-C stops emerge, and still verifies the login path and takes the post snapshot', async () => {
    const root = await updatableRoot('interrupted', { BINARY: 'ok', WORLD_SECONDS_PER_PACKAGE: '4' });
    const { run, report } = await update(root, [], {
      during: (pid) => {
        const poll = setInterval(() => {
          void readFile(join(root, 'var/log/emerge.log'), 'utf8')
            .catch(() => '')
            .then((log) => {
              if (!log.includes('>>> emerge (1 of 2)')) return;
              clearInterval(poll);
              try {
                process.kill(pid, 'SIGINT');
              } catch {
                // already finished: the assertions say so
              }
            });
        }, 100);
      },
    });
    expect(run.code).toBe(130);
    expect(report.outcome).toBe('failed');
    expect(statuses(report)).toMatchObject({ update: 'failed', verify: 'succeeded', 'post-snapshot': 'succeeded' });
    expect(report.loginOk).toBe(true);
    expect((await snapshotList(root)).at(-1)?.userdata['argo-status']).toBe('failed');
  });

  it('catches an update that breaks libcrypt, restores it from the pre snapshot, and logins work again', async () => {
    const root = await updatableRoot('breaking', { BINARY: 'ok', WORLD_LIBXCRYPT: 'broken' });
    const { run, report } = await update(root);
    expect(run.code).toBe(1);
    expect(report.outcome).toBe('repaired');
    expect(report.verify).toMatchObject({ cryptOk: false });
    expect(report.loginOk).toBe(true);
    expect(statuses(report)).toMatchObject({ 'critical-first': 'failed', update: 'skipped', verify: 'succeeded', repair: 'succeeded', 'post-snapshot': 'succeeded' });
    expect((await snapshotList(root)).at(-1)?.userdata['argo-status']).toBe('failed');
    expect(await pamLogin(root, 'correct horse')).toBe(0);
    const summary = await readFile(join(report.logDir, 'summary.txt'), 'utf8');
    expect(summary).toMatch(/^REPAIRED/);
    // The broken library is kept, root-only, and the summary says Portage's record of the file is now stale.
    const kept = report.repaired?.restore?.replacedCopy ?? '';
    expect(kept).not.toBe('');
    expect(await readFile(join(root, kept))).toBeDefined();
    expect(report.repaired?.restore?.portage).toMatchObject({ matches: false, reinstall: expect.stringContaining('sys-libs/libxcrypt') });
    expect(summary).toContain('no longer matches');
  });

  it('without a canary account says that no real login was proven, and preflight says how to create one', async () => {
    const root = await updatableRoot('no-canary', { BINARY: 'ok' }, FULL_INDEX, false);
    const preflight = await runBuiltCli('argo', ['preflight', '--root', root, '--json', '--binhost', '/var/cache/argo-test-binhost']);
    const canaryCheck = (JSON.parse(preflight.stdout) as { checks: { id: string; status: string; advice?: string }[] }).checks.find((check) => check.id === 'canary');
    expect(canaryCheck).toMatchObject({ status: 'warn', advice: expect.stringContaining('apkg canary setup') });
    const { run, report } = await update(root);
    expect(run.code, run.stderr).toBe(0);
    expect(report.outcome).toBe('updated');
    expect(report.loginOk).toBeNull();
    expect(report.proof).toEqual(['crypt', 'pam-modules']);
    const summary = await readFile(join(report.logDir, 'summary.txt'), 'utf8');
    expect(summary).toMatch(/^UPDATED: 3 of 3 packages merged; logins NOT proven/);
    expect(summary).toContain('apkg canary setup');
    expect(summary).not.toMatch(/logins work/);
  });

  it('never swaps libcrypt when crypt works and only the canary login fails: it reports the failure', async () => {
    const root = await updatableRoot('stale-canary', { BINARY: 'ok' });
    await writeFile(join(root, 'var/lib/argo/canary-password'), 'not the canary password\n');
    const { run, report } = await update(root);
    expect(run.code).toBe(1);
    expect(report.outcome).toBe('failed');
    expect(report.loginOk).toBe(false);
    expect(report.verify).toMatchObject({ cryptOk: true, pamOk: true, canary: 'failed', canaryFailure: expect.stringMatching(/^auth: /) });
    expect(report.repaired).toBeUndefined();
    const repair = report.phases.find((phase) => phase.id === 'repair') as { status: string; reason?: string };
    expect(repair.status).toBe('skipped');
    expect(repair.reason).toContain('crypt(3) works, so libcrypt is left as it is');
    // Nothing was put back: no copy of a replaced library next to the live one.
    expect((await readdir(join(root, LIB, '..'))).filter((name) => name.includes('argo-replaced'))).toEqual([]);
    const summary = await readFile(join(report.logDir, 'summary.txt'), 'utf8');
    expect(summary).toContain('login: BROKEN');
    expect(summary).toContain('the argo-canary login FAILED');
  });

  it('stops when emerge wants to merge something the checklist never judged, before it merges anything of it', async () => {
    const root = await updatableRoot('drift', { BINARY: 'ok', WORLD_PULLS: 'dev-libs/surprise-1.0' });
    const { run, report } = await update(root);
    expect(run.code).toBe(1);
    expect(report.outcome).toBe('failed');
    const main = report.phases.find((phase) => phase.id === 'update') as { status: string; error?: { code: string; message: string } };
    expect(main).toMatchObject({ status: 'failed', error: { code: 'ARGO_PLAN_CHANGED', message: expect.stringContaining('dev-libs/surprise-1.0') } });
    expect(await readFile(join(root, 'usr/share/argo-fake-emerge/installed/surprise-1.0'), 'utf8').catch((error: NodeJS.ErrnoException) => error.code)).toBe('ENOENT');
    expect(await readFile(join(root, 'var/log/emerge.log'), 'utf8')).not.toContain('::: completed emerge (1 of 3) dev-libs/surprise-1.0');
  });

  it('refuses with exit 3 when a critical package is missing from the binhost: nothing changed, no snapshot', async () => {
    const root = await updatableRoot('refused', { BINARY: 'ok' }, FULL_INDEX.filter(([cpv]) => !cpv.startsWith('sys-libs/libxcrypt')));
    const before = await readFile(join(root, LIB));
    const { run, report } = await update(root);
    expect(run.code).toBe(3);
    expect(report.outcome).toBe('refused');
    expect(report.refusedBy.map((check) => check.id)).toContain('binhost-coverage');
    // Nothing was checked after a refusal: the report does not claim a working login.
    expect(report.loginOk).toBeNull();
    expect(report.proof).toEqual([]);
    expect(run.stdout).toContain('"loginOk": null');
    expect(await snapshotList(root)).toEqual([]);
    expect((await readFile(join(root, LIB))).equals(before)).toBe(true);
  });

  it('records a half-done update as failed, tags the post snapshot, and rollback restores the pre state', { timeout: 600_000 }, async () => {
    const root = await updatableRoot('half', { BINARY: 'ok', WORLD_FAIL_AT: '2' });
    const { run, report } = await update(root);
    expect(run.code).toBe(1);
    expect(report.outcome).toBe('failed');
    expect(report.packages.failed).toEqual(['app-misc/tmux-3.5a']);
    expect((await snapshotList(root)).at(-1)?.userdata['argo-status']).toBe('failed');
    const rollback = await runBuiltCli('apkg', ['rollback', '--root', root, '--json']);
    expect(rollback.code, rollback.stderr).toBe(0);
    const undone = JSON.parse(rollback.stdout) as { restored: { path: string }[] };
    expect(undone.restored.some((change) => change.path.startsWith('/var/db/pkg/app-editors/nano-'))).toBe(true);
    expect(await readFile(join(root, 'var/db/pkg/app-editors'), 'utf8').catch((error: NodeJS.ErrnoException) => error.code)).toBe('ENOENT');
  });

  // Rollback walks the whole root to diff it: tens of seconds on a loaded machine.
  it('rolls a clean update back to the packages of its pre snapshot', { timeout: 600_000 }, async () => {
    const root = await updatableRoot('rollback', { BINARY: 'ok' });
    const { report } = await update(root);
    expect(report.outcome).toBe('updated');
    const rollback = await runBuiltCli('apkg', ['rollback', '--root', root, '--json']);
    expect(rollback.code, rollback.stderr).toBe(0);
    const diff = await runBuiltCli('argo', ['snapshot', 'diff', String(report.preSnapshot), '--root', root, '--json']);
    // What the packages own is back as it was; what no package owns (build folders in /var/tmp) is left alone.
    const changes = (JSON.parse(diff.stdout) as { changes: { path: string }[] }).changes.filter((change) => /^\/(var\/db\/pkg|usr\/share\/argo-fake-emerge\/installed|usr\/lib)\//.test(change.path));
    expect(changes).toEqual([]);
  });
});

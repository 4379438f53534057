import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile, appendFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyTarget, installFakeEmerge, type TargetCopy } from '../support/debian-target.ts';
import { PROJECT, runBuiltCli, type CliRun } from '../support/run-cli.ts';

interface Report {
  verdict: 'go' | 'no-go';
  checks: { id: string; status: string; summary: string; details: Record<string, unknown> }[];
}

const FIXTURES = join(PROJECT, 'test/fixtures/preflight');
let server: Server;
let binhost: string;
const requests: string[] = [];
/** What the binhost serves: a path → bytes map the tests set. */
let served = new Map<string, Buffer>();

beforeAll(async () => {
  server = createServer((request, response) => {
    requests.push(request.url ?? '');
    const body = served.get(request.url ?? '');
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  binhost = `http://127.0.0.1:${(server.address() as AddressInfo).port}/amd64`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const targets: TargetCopy[] = [];
afterEach(async () => {
  for (const target of targets.splice(0)) await target.remove();
});

/** A healthy desktop: the base root, libxcrypt pinned, two boot entries, a hardened fstab, a plan to update. */
async function healthyDesktop(): Promise<TargetCopy> {
  const target = await copyTarget('base');
  targets.push(target);
  await installFakeEmerge(target.root, { BINARY: 'ok' });
  await copyFile(join(FIXTURES, 'world-update.plan'), join(target.root, 'etc/argo-fake-emerge.plan'));
  await mkdir(join(target.root, 'etc/portage/package.use'), { recursive: true });
  await writeFile(join(target.root, 'etc/portage/package.use/libxcrypt'), 'sys-libs/libxcrypt compat system\n');
  await mkdir(join(target.root, 'boot/grub'), { recursive: true });
  await writeFile(join(target.root, 'boot/grub/grub.cfg'), "menuentry 'Gentoo GNU/Linux' {\n}\nmenuentry 'Gentoo GNU/Linux, with Linux 6.6.58-gentoo (previous)' {\n}\n");
  await writeFile(join(target.root, 'etc/fstab'), 'UUID=1 / ext4 noatime 0 1\nLABEL=homedisk /home/shared ext4 defaults,nofail 0 2\n');
  return target;
}

function serveIndex(text: string, gzip: boolean): void {
  served = new Map([[`/amd64/${gzip ? 'Packages.gz' : 'Packages'}`, gzip ? gzipSync(text) : Buffer.from(text)]]);
}

async function preflight(root: string, extra: string[] = []): Promise<{ run: CliRun; report: Report; check: (id: string) => Report['checks'][number] }> {
  const run = await runBuiltCli('argo', ['preflight', '--root', root, '--json', '--binhost', binhost, ...extra]);
  const report = JSON.parse(run.stdout) as Report;
  return { run, report, check: (id) => report.checks.find((check) => check.id === id) as Report['checks'][number] };
}

const indexText = () => readFile(join(FIXTURES, 'Packages'), 'utf8');

describe('argo preflight', () => {
  it('lets a healthy, fully covered update through, apart from the snapshot it cannot take on ext4', async () => {
    const target = await healthyDesktop();
    serveIndex(await indexText(), true);
    requests.length = 0;
    const { run, report, check } = await preflight(target.root);
    expect(check('binhost-coverage')).toMatchObject({ status: 'pass', details: { total: 6, available: 6, missing: [], percent: 100 } });
    expect(requests).toEqual(['/amd64/Packages.gz']);
    for (const id of ['libcrypt', 'pam-stack', 'glibc', 'libxcrypt-pin', 'fstab', 'disk-space', 'news', 'config-updates', 'preserved-libs', 'boot-fallback', 'console']) {
      expect(check(id).status, `${id}: ${check(id).summary}`).toBe('pass');
    }
    expect(check('gui-session').status).toBe('skip');
    // No canary account in this root: the update could not prove a real login, and preflight says so.
    expect(check('canary')).toMatchObject({ status: 'warn', advice: 'Create it once with: apkg canary setup' });
    expect(check('snapshot')).toMatchObject({ status: 'fail', summary: expect.stringContaining('no snapshot possible') });
    expect(report.verdict).toBe('no-go');
    expect(run.code).toBe(3);
    expect(report.checks.map((entry) => entry.id).sort()).toEqual(
      ['snapshot', 'binhost-coverage', 'gui-session', 'console', 'libcrypt', 'pam-stack', 'glibc', 'libxcrypt-pin', 'fstab', 'disk-space', 'news', 'config-updates', 'preserved-libs', 'boot-fallback', 'canary'].sort(),
    );
  });

  it('fails when a critical package would be compiled in place, and warns for the rest', async () => {
    const target = await healthyDesktop();
    const text = await indexText();
    const withoutGlibcAndTmux = text
      .split('\n\n')
      .filter((stanza) => !stanza.includes('CPV: sys-libs/glibc-') && !stanza.includes('CPV: app-misc/tmux-'))
      .join('\n\n');
    serveIndex(withoutGlibcAndTmux, false);
    requests.length = 0;
    const { check } = await preflight(target.root);
    expect(requests).toEqual(['/amd64/Packages.gz', '/amd64/Packages']);
    expect(check('binhost-coverage')).toMatchObject({
      status: 'fail',
      details: { total: 6, available: 4, missing: ['sys-libs/glibc-2.40-r5', 'app-misc/tmux-3.5a'], criticalMissing: ['sys-libs/glibc-2.40-r5'], percent: 66.6 },
    });
  });

  it('fails on the really broken libcrypt and on the package.env that broke it', async () => {
    const target = await copyTarget('broken');
    targets.push(target);
    await installFakeEmerge(target.root, { BINARY: 'ok' });
    await copyFile(join(FIXTURES, 'world-update.plan'), join(target.root, 'etc/argo-fake-emerge.plan'));
    serveIndex(await indexText(), true);
    const { check } = await preflight(target.root);
    expect(check('libcrypt')).toMatchObject({ status: 'fail', summary: expect.stringContaining('cannot verify $6$') });
    expect(check('libxcrypt-pin')).toMatchObject({ status: 'fail', summary: expect.stringContaining('without SHA512-crypt') });
  });

  it('warns about what is advice: unpinned libxcrypt, fstab without nofail, news, ._cfg files, preserved libs', async () => {
    const target = await healthyDesktop();
    serveIndex(await indexText(), true);
    await rm(join(target.root, 'etc/portage/package.use/libxcrypt'));
    await writeFile(join(target.root, 'etc/fstab'), 'UUID=1 / ext4 noatime 0 1\nLABEL=homedisk /home/shared ext4 defaults 0 2\n');
    await mkdir(join(target.root, 'var/lib/gentoo/news'), { recursive: true });
    await writeFile(join(target.root, 'var/lib/gentoo/news/news-gentoo.unread'), '2024-10-23-python-3.13\n2025-01-10-profile-23\n');
    await writeFile(join(target.root, 'etc/._cfg0000_shadow'), 'x');
    await mkdir(join(target.root, 'var/lib/portage'), { recursive: true });
    await writeFile(join(target.root, 'var/lib/portage/preserved_libs_registry'), '{"dev-libs/icu:0": ["dev-libs/icu-74.2", "1", ["/usr/lib64/libicuuc.so.74"]]}');
    const { check } = await preflight(target.root);
    expect(check('libxcrypt-pin').status).toBe('warn');
    expect(check('fstab')).toMatchObject({ status: 'warn', summary: expect.stringContaining('/home/shared') });
    expect(check('news')).toMatchObject({ status: 'warn', summary: expect.stringContaining('2 unread news items') });
    expect(check('config-updates')).toMatchObject({ status: 'warn', details: { files: ['/etc/._cfg0000_shadow'] } });
    expect(check('preserved-libs').status).toBe('warn');
  });

  it('fails when the plan would change libxcrypt\'s USE', async () => {
    const target = await healthyDesktop();
    serveIndex(await indexText(), true);
    const plan = (await readFile(join(FIXTURES, 'world-update.plan'), 'utf8')).replace('USE="compat system -headers-only', 'USE="compat -system* -headers-only');
    await writeFile(join(target.root, 'etc/argo-fake-emerge.plan'), plan);
    const { check } = await preflight(target.root);
    expect(check('libxcrypt-pin')).toMatchObject({ status: 'fail', summary: expect.stringContaining("changes libxcrypt's USE (-system)") });
  });
});

describe('argo preflight on the running system', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  it('sees a graphical session from real processes named like a compositor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'argo-gui-'));
    try {
      const procRoot = join(dir, 'proc');
      await mkdir(procRoot);
      for (const name of ['kwin_wayland', 'plasmashell']) {
        await copyFile('/bin/sleep', join(dir, name));
        const child = spawn(join(dir, name), ['300'], { stdio: 'ignore' });
        children.push(child);
        await symlink(`/proc/${child.pid}`, join(procRoot, String(child.pid)));
      }
      // Wait until each child has really become the program (exec done), however slow the machine is.
      for (const child of children) {
        while (!['kwin_wayland', 'plasmashell'].includes((await readFile(`/proc/${child.pid}/comm`, 'utf8').catch(() => '')).trim())) {
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      const run = await runBuiltCli('argo', ['preflight', '--root', '/', '--json', '--proc-root', procRoot]);
      const report = JSON.parse(run.stdout) as Report;
      const gui = report.checks.find((check) => check.id === 'gui-session');
      expect(gui).toMatchObject({ status: 'fail', summary: expect.stringContaining('kwin_wayland') });
      expect(report.verdict).toBe('no-go');
      expect(run.code).toBe(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

void appendFile;

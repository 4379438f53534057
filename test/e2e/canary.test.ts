import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyTarget, type TargetCopy } from '../support/debian-target.ts';
import { runBuiltCli } from '../support/run-cli.ts';

const targets: TargetCopy[] = [];
afterEach(async () => {
  for (const target of targets.splice(0)) await target.remove();
});

/** unix_chkpwd inside the target, the password NUL-terminated on stdin as pam_unix sends it. */
async function unixChkpwd(root: string, user: string, password: string): Promise<number | null> {
  const child = spawn('chroot', [root, 'unix_chkpwd', user, 'nullok'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(`${password}\0`);
  return new Promise((resolve) => child.once('exit', resolve));
}

describe('apkg canary setup', () => {
  it('creates a no-shell system account whose root-only password really logs in, and re-keys it on a second run', async () => {
    const target = await copyTarget('base');
    targets.push(target);
    const first = await runBuiltCli('apkg', ['canary', 'setup', '--root', target.root, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ user: 'argo-canary', created: true, verifiedWith: 'unix_chkpwd' });
    const passwd = (await readFile(join(target.root, 'etc/passwd'), 'utf8')).split('\n').find((line) => line.startsWith('argo-canary:')) as string;
    expect(passwd).toMatch(/^argo-canary:x:\d+:\d+:argo login canary:\/var\/empty:\/(usr\/)?sbin\/nologin$/);
    const file = join(target.root, 'var/lib/argo/canary-password');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const password = (await readFile(file, 'utf8')).trim();
    expect(await unixChkpwd(target.root, 'argo-canary', password)).toBe(0);
    expect(await unixChkpwd(target.root, 'argo-canary', 'wrong')).not.toBe(0);

    const second = await runBuiltCli('apkg', ['canary', 'setup', '--root', target.root, '--json']);
    expect(JSON.parse(second.stdout)).toMatchObject({ created: false });
    const rekeyed = (await readFile(file, 'utf8')).trim();
    expect(rekeyed).not.toBe(password);
    expect(await unixChkpwd(target.root, 'argo-canary', rekeyed)).toBe(0);
    // Re-keying does not pile up copies of old hashes in /etc: one root-only backup, the state before the first.
    const backups = (await readdir(join(target.root, 'etc'))).filter((name) => name.startsWith('shadow.argo-'));
    expect(backups).toEqual(['shadow.argo-canary']);
    expect((await stat(join(target.root, 'etc/shadow.argo-canary'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(target.root, 'etc/shadow.argo-canary'), 'utf8')).not.toContain('argo-canary:$6$');
  });

  it('refuses on a broken libcrypt and leaves /etc/shadow as it was', async () => {
    const target = await copyTarget('broken');
    targets.push(target);
    const shadow = await readFile(join(target.root, 'etc/shadow'), 'utf8');
    const run = await runBuiltCli('apkg', ['canary', 'setup', '--root', target.root]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("The target's crypt cannot verify SHA-512-crypt");
    const after = await readFile(join(target.root, 'etc/shadow'), 'utf8');
    expect(after.split('\n').filter((line) => !line.startsWith('argo-canary:'))).toEqual(shadow.split('\n'));
    expect(after.split('\n').find((line) => line.startsWith('argo-canary:'))).toMatch(/^argo-canary:[!*]/);
  });
});

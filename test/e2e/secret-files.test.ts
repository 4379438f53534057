import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHashWithTargetCrypt, readPasswordFile, readPasswordHashFile } from '../../src/login-path/password-hash.ts';
import { openSystem, type System } from '../../src/system/open-system.ts';
import { copyTarget, type TargetCopy } from '../support/debian-target.ts';
import { createMemoryLogger } from '../support/memory-logger.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp('/var/tmp/argo-secrets-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function secretFile(name: string, text: string | Buffer, mode = 0o600, uid = 0): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  await chmod(file, mode);
  await chown(file, uid, uid);
  return file;
}

describe('readPasswordFile', () => {
  it.each([
    ['LF', 'correct horse\n'],
    ['CRLF', 'correct horse\r\n'],
    ['no newline', 'correct horse'],
  ])('reads one line ending in %s', async (name, text) => {
    expect(await readPasswordFile(await secretFile(`ok-${name}`, text))).toBe('correct horse');
  });

  it.each([
    ['world-readable', 'secret\n', 0o644, 0, /lets group or others/],
    ['group-readable', 'secret\n', 0o640, 0, /lets group or others/],
    ['owned by nobody', 'secret\n', 0o600, 65534, /owned by uid 65534/],
    ['empty', '', 0o600, 0, /it is empty/],
    ['only a newline', '\n', 0o600, 0, /it is empty/],
    ['two lines', 'one\ntwo\n', 0o600, 0, /more than one line/],
    ['a carriage return inside', 'one\rtwo\n', 0o600, 0, /carriage return/],
    ['huge', Buffer.alloc(1024 * 1024, 0x61), 0o600, 0, /larger than 4096 bytes/],
  ])('refuses a file that is %s', async (name, text, mode, uid, reason) => {
    const file = await secretFile(`bad-${name}`, text, mode, uid);
    await expect(readPasswordFile(file)).rejects.toMatchObject({ code: 'ARGO_SECRET_FILE_UNSAFE', message: expect.stringMatching(reason) });
  });

  it('refuses a symlink, a FIFO (without hanging) and a folder', async () => {
    const real = await secretFile('real', 'secret\n');
    await symlink(real, join(dir, 'link'));
    execFileSync('mkfifo', ['-m', '600', join(dir, 'fifo')]);
    await expect(readPasswordFile(join(dir, 'link'))).rejects.toMatchObject({ code: 'ARGO_SECRET_FILE_UNSAFE', message: expect.stringMatching(/symbolic link/) });
    await expect(readPasswordFile(join(dir, 'fifo'))).rejects.toMatchObject({ code: 'ARGO_SECRET_FILE_UNSAFE', message: expect.stringMatching(/not a regular file/) });
    await expect(readPasswordFile(dir)).rejects.toMatchObject({ code: 'ARGO_SECRET_FILE_UNSAFE' });
  });
});

describe('readPasswordHashFile', () => {
  it('reads a hash (CRLF tolerated) and refuses anything that is not one', async () => {
    const hash = '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1';
    expect(await readPasswordHashFile(await secretFile('hash', `${hash}\r\n`))).toBe(hash);
    await expect(readPasswordHashFile(await secretFile('not-hash', 'correct horse\n'))).rejects.toMatchObject({ code: 'ARGO_SECRET_FILE_UNSAFE' });
    await expect(readPasswordHashFile(await secretFile('hash-open', `${hash}\n`, 0o644))).rejects.toMatchObject({ code: 'ARGO_SECRET_FILE_UNSAFE' });
  });
});

describe("checkHashWithTargetCrypt (the target's real libcrypt)", () => {
  let broken: TargetCopy;
  let system: System;
  beforeAll(async () => {
    broken = await copyTarget('broken');
    system = openSystem({ root: broken.root, logger: createMemoryLogger().logger });
  });
  afterAll(async () => {
    await system.close();
    await broken.remove();
  });
  const signal = new AbortController().signal;
  const sha512 = execFileSync('openssl', ['passwd', '-6', '-salt', 'abcdefgh', 'pw'], { encoding: 'utf8' }).trim();
  const sha256 = execFileSync('openssl', ['passwd', '-5', '-salt', 'abcdefgh', 'pw'], { encoding: 'utf8' }).trim();

  it('refuses a $6$ hash where the libcrypt was built without sha512crypt', async () => {
    await expect(checkHashWithTargetCrypt(system.commands, sha512, signal)).rejects.toMatchObject({ code: 'ARGO_HASH_UNSUPPORTED' });
  });

  it('accepts a $5$ hash the same libcrypt verifies, and refuses one whose setting it rejects or whose method it has no test for', async () => {
    await checkHashWithTargetCrypt(system.commands, sha256, signal);
    await expect(checkHashWithTargetCrypt(system.commands, '$2b$99$CCCCCCCCCCCCCCCCCCCCC.z6PrHbuSsMSSwIGFy1JGevQZf6CqJ1y', signal)).rejects.toMatchObject({ code: 'ARGO_HASH_UNSUPPORTED' });
    await expect(checkHashWithTargetCrypt(system.commands, '$9$unknown$method', signal)).rejects.toMatchObject({ code: 'ARGO_HASH_UNSUPPORTED' });
  });
});

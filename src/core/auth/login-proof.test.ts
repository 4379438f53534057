import { describe, expect, it } from 'vitest';
import { judgeTally, judgeUnixChkpwd, pamRunsChkpwdForRoot, pamtesterOutcome, parseDriverOutput, parseFaillockConf, parseTallyFile, serviceOutcome, shellProblem } from './login-proof.ts';

const step = (service: string, name: string, code: number, text: string) => JSON.stringify({ kind: 'step', service, step: name, code, text });
const message = (service: string, name: string, style: number, text: string) => JSON.stringify({ kind: 'message', service, step: name, style, text });

describe('serviceOutcome', () => {
  it('passes auth, account and session when every step returned PAM_SUCCESS', () => {
    const lines = parseDriverOutput([step('login', 'start', 0, 'Success'), message('login', 'auth', 1, 'Password: '), step('login', 'auth', 0, 'Success'), step('login', 'account', 0, 'Success'), step('login', 'session', 0, 'Success'), step('login', 'session-close', 0, 'Success')].join('\n'));
    expect(serviceOutcome('login', lines)).toEqual({ service: 'login', passed: ['auth', 'account', 'session'], messages: [] });
  });

  it('names the failing step, the PAM code and what PAM said, without the password prompt', () => {
    const lines = parseDriverOutput([step('login', 'start', 0, 'Success'), message('login', 'auth', 1, 'Password: '), step('login', 'auth', 0, 'Success'), message('login', 'account', 3, 'Your account has expired; please contact your system administrator.'), step('login', 'account', 7, 'Authentication failure')].join('\n'));
    expect(serviceOutcome('login', lines).failed).toEqual({ step: 'account', service: 'login', reason: 'Authentication failure (PAM code 7) (PAM said: Your account has expired; please contact your system administrator.)' });
  });

  it.each([
    ['nothing at all', [] as string[], 'auth'],
    ['only pam_start', [step('login', 'start', 0, 'Success')], 'auth'],
    ['no session close', [step('login', 'start', 0, 'Success'), step('login', 'auth', 0, 'Success'), step('login', 'account', 0, 'Success'), step('login', 'session', 0, 'Success')], 'session'],
  ])('treats a driver that stopped early (%s) as a failure: unknown is not success', (_name, lines, failedStep) => {
    expect(serviceOutcome('login', parseDriverOutput(lines.join('\n'))).failed?.step).toBe(failedStep);
  });

  it('reads the unavailable line and ignores what is not the driver’s', () => {
    expect(parseDriverOutput('Traceback\n{"kind":"unavailable","what":"ctypes","text":"No module named \'ctypes\'"}\n{broken')).toEqual([{ kind: 'unavailable', what: 'ctypes', text: "No module named 'ctypes'" }]);
  });
});

describe('pamtesterOutcome', () => {
  it('reads a full success', () => {
    const tail = ['pamtester: invoking pam_start(login, alice, ...)', 'pamtester: performing operation - authenticate', 'Password: pamtester: successfully authenticated', 'pamtester: performing operation - acct_mgmt', 'pamtester: account management done.', 'pamtester: performing operation - open_session', 'Linux vm', 'pamtester: successfully opened a session', 'pamtester: performing operation - close_session', 'pamtester: session has successfully been closed.'];
    const outcome = pamtesterOutcome('login', tail, 0);
    expect(outcome.passed).toEqual(['auth', 'account', 'session']);
    expect(outcome.failed).toBeUndefined();
  });

  it('names the operation that failed', () => {
    const tail = ['pamtester: invoking pam_start(login, alice, ...)', 'pamtester: performing operation - authenticate', 'Password: pamtester: performing operation - acct_mgmt', 'You are required to change your password immediately (administrator enforced).', 'pamtester: Authentication token is no longer valid; new one required'];
    expect(pamtesterOutcome('login', tail, 1)).toMatchObject({
      passed: ['auth'],
      failed: { step: 'account', service: 'login', reason: 'Authentication token is no longer valid; new one required (PAM said: You are required to change your password immediately (administrator enforced).)' },
    });
  });
});

describe('shellProblem', () => {
  it.each([
    [{ shell: '/bin/bash', mode: 0o100755, isFile: true, listedInShells: true }, undefined],
    [{ shell: '/bin/zsh', mode: undefined, isFile: false, listedInShells: true }, 'the login shell /bin/zsh does not exist in the target'],
    [{ shell: '/bin/bash', mode: 0o100644, isFile: true, listedInShells: true }, 'the login shell /bin/bash is not executable (mode 0644)'],
    [{ shell: '/bin/bash', mode: 0o100755, isFile: true, listedInShells: false }, 'the login shell /bin/bash is not listed in /etc/shells'],
    [{ shell: '', mode: undefined, isFile: false, listedInShells: false }, 'the user has no login shell in /etc/passwd'],
  ])('%o → %s', (facts, problem) => {
    expect(shellProblem(facts)).toBe(problem);
  });
});

describe('judgeUnixChkpwd', () => {
  const base = { path: '/sbin/unix_chkpwd', uid: 0, gid: 42, group: 'shadow', hasFileCapability: undefined, shadowGid: 42, shadowMode: 0o100640 };
  it.each([
    [{ ...base, mode: 0o102755 }, 'setgid', false],
    [{ ...base, mode: 0o102755, shadowMode: 0o100600 }, 'setgid', true],
    [{ ...base, mode: 0o104755, gid: 0 }, 'setuid-root', false],
    [{ ...base, mode: 0o100755, hasFileCapability: true }, 'file-capability', false],
    [{ ...base, mode: 0o100755 }, 'none', true],
    [{ ...base, path: undefined, mode: undefined }, 'none', true],
  ])('%o → %s (problem: %s)', (facts, privilege, problem) => {
    const verdict = judgeUnixChkpwd(facts);
    expect(verdict.privilege).toBe(privilege);
    expect(verdict.problem !== undefined).toBe(problem);
  });

  it.each([['1.5.2', false], ['1.6.0', true], ['1.7.2', true], [undefined, true]])('pam %s runs unix_chkpwd for root: %s', (version, expected) => {
    expect(pamRunsChkpwdForRoot(version)).toBe(expected);
  });
});

describe('faillock', () => {
  it('reads faillock.conf with its defaults', () => {
    expect(parseFaillockConf('# deny = 5\ndeny = 4\nunlock_time = never\ndir = /var/lib/faillock\n')).toEqual({ dir: '/var/lib/faillock', deny: 4, failInterval: 900, unlockTime: 0 });
    expect(parseFaillockConf(undefined)).toEqual({ dir: '/run/faillock', deny: 3, failInterval: 900, unlockTime: 600 });
  });

  it('counts valid recent failures in the tally file and says when they lock the user', () => {
    const now = 2_000_000_000;
    const bytes = Buffer.alloc(64 * 4);
    const records = [
      [0x1 | 0x4, now - 10],
      [0x1 | 0x4, now - 20],
      [0x4, now - 5],
      [0x1 | 0x4, now - 30],
    ] as const;
    records.forEach(([status, time], index) => {
      bytes.write('tty1', index * 64);
      bytes.writeUInt16LE(status, index * 64 + 54);
      bytes.writeBigUInt64LE(BigInt(time), index * 64 + 56);
    });
    const parsed = parseTallyFile(bytes);
    expect(parsed.map((record) => record.source)).toEqual(['tty1', 'tty1', 'tty1', 'tty1']);
    const settings = parseFaillockConf(undefined);
    expect(judgeTally('/run/faillock/alice', parsed, settings, now)).toEqual({ file: '/run/faillock/alice', failures: 3, recentFailures: 3, deny: 3, locked: true });
    expect(judgeTally('/run/faillock/alice', parsed, settings, now + 3600).locked).toBe(false);
  });
});

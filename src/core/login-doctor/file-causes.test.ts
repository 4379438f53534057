import { describe, expect, it } from 'vitest';
import { checkPasswdFile, checkRootFilesystem, checkShadowFile, checkUnixChkpwd, hasShadowCapability } from './file-causes.ts';

const GROUPS = new Map([[0, 'root'], [42, 'shadow'], [100, 'users']]);
const groupName = (gid: number) => GROUPS.get(gid);
const file = (mode: number, uid = 0, gid = 0) => ({ isFile: true, mode: 0o100000 | mode, uid, gid });
const DEBIAN_SHADOW = { path: '/etc/shadow', stat: file(0o640, 0, 42) };
const DEBIAN_CHKPWD = { path: '/usr/sbin/unix_chkpwd', stat: file(0o2755, 0, 42), capabilities: '' };

describe('checkUnixChkpwd', () => {
  it.each([
    ['Debian: setgid shadow', DEBIAN_CHKPWD, DEBIAN_SHADOW, undefined],
    ['Gentoo: setuid root', { ...DEBIAN_CHKPWD, stat: file(0o4711) }, { path: '/etc/shadow', stat: file(0o600) }, undefined],
    ['a file capability', { ...DEBIAN_CHKPWD, stat: file(0o755), capabilities: 'cap_dac_override=ep' }, DEBIAN_SHADOW, undefined],
    ['old getcap syntax', { ...DEBIAN_CHKPWD, stat: file(0o755), capabilities: '= cap_dac_override+ep' }, DEBIAN_SHADOW, undefined],
    ['chmod g-s', { ...DEBIAN_CHKPWD, stat: file(0o755, 0, 42) }, DEBIAN_SHADOW, 'blocks'],
    ['chmod g-s, capabilities unreadable', { ...DEBIAN_CHKPWD, stat: file(0o755, 0, 42), capabilities: undefined }, DEBIAN_SHADOW, 'warns'],
    ['setgid to the wrong group', { ...DEBIAN_CHKPWD, stat: file(0o2755, 0, 100) }, DEBIAN_SHADOW, 'blocks'],
    ['setgid shadow but /etc/shadow lost its group (a shadow-permissions cause)', DEBIAN_CHKPWD, { path: '/etc/shadow', stat: file(0o600) }, undefined],
  ])('%s → %s', (_, chkpwd, shadow, severity) => {
    const causes = checkUnixChkpwd(chkpwd, shadow, groupName);
    expect(causes[0]?.severity).toBe(severity);
    if (severity !== undefined) expect(causes[0]?.id).toBe('unix-chkpwd-unprivileged');
  });

  it('reports a missing unix_chkpwd', () => {
    expect(checkUnixChkpwd({ path: undefined, stat: undefined, capabilities: undefined }, DEBIAN_SHADOW, groupName)).toMatchObject([{ id: 'unix-chkpwd-missing', severity: 'blocks' }]);
  });

  it.each([['cap_dac_override=ep', true], ['cap_chown,cap_dac_read_search=eip', true], ['cap_dac_override=p', false], ['cap_net_raw=ep', false], ['', false]])('%s → %s', (caps, expected) => {
    expect(hasShadowCapability(caps)).toBe(expected);
  });
});

describe('checkShadowFile and checkPasswdFile', () => {
  it.each([
    ['Debian root:shadow 0640', DEBIAN_SHADOW, DEBIAN_CHKPWD, undefined],
    ['Gentoo root:root 0600', { path: '/etc/shadow', stat: file(0o600) }, { ...DEBIAN_CHKPWD, stat: file(0o4711) }, undefined],
    ['world-readable', { path: '/etc/shadow', stat: file(0o644, 0, 42) }, DEBIAN_CHKPWD, 'warns'],
    ['chgrp root under a setgid-shadow unix_chkpwd', { path: '/etc/shadow', stat: file(0o640) }, DEBIAN_CHKPWD, 'blocks'],
    ['chmod 0600 under a setgid-shadow unix_chkpwd', { path: '/etc/shadow', stat: file(0o600, 0, 42) }, DEBIAN_CHKPWD, 'blocks'],
    ['readable by group users', { path: '/etc/shadow', stat: file(0o640, 0, 100) }, { ...DEBIAN_CHKPWD, stat: file(0o4711) }, 'warns'],
    ['missing', { path: '/etc/shadow', stat: undefined }, DEBIAN_CHKPWD, 'blocks'],
  ])('shadow %s → %s', (_, shadow, chkpwd, severity) => {
    expect(checkShadowFile(shadow, chkpwd, groupName)[0]?.severity).toBe(severity);
  });

  it.each([
    [file(0o644), undefined],
    [file(0o600), 'blocks'],
    [file(0o666), 'warns'],
    [file(0o644, 1000), 'warns'],
    [undefined, 'blocks'],
  ])('passwd %j → %s', (stat, severity) => {
    expect(checkPasswdFile({ path: '/etc/passwd', stat })[0]?.severity).toBe(severity);
  });
});

describe('checkRootFilesystem', () => {
  it.each([
    [{ availableBytes: 5e9, totalBytes: 1e10, freeInodes: 1000, readOnly: false, mountPoint: '/' }, []],
    [{ availableBytes: 4096, totalBytes: 1e10, freeInodes: 1000, readOnly: false, mountPoint: '/' }, [['root-full', 'blocks']]],
    [{ availableBytes: 5e9, totalBytes: 1e10, freeInodes: 0, readOnly: false, mountPoint: '/' }, [['root-full', 'blocks']]],
    [{ availableBytes: 5e9, totalBytes: 1e10, freeInodes: undefined, readOnly: true, mountPoint: '/mnt/gentoo' }, [['root-read-only', 'warns']]],
  ])('%j', (facts, expected) => {
    expect(checkRootFilesystem(facts).map((cause) => [cause.id, cause.severity])).toEqual(expected);
  });
});

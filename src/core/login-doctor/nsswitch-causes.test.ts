import { describe, expect, it } from 'vitest';
import { checkNsswitch, parseNsswitch } from './nsswitch-causes.ts';

const installed = (names: string[]) => (name: string) => names.includes(name);

describe('parseNsswitch', () => {
  it('reads sources and their criteria, skipping comments', () => {
    const databases = parseNsswitch('# comment\npasswd:   files sss [UNAVAIL=return NOTFOUND=continue] systemd\nhosts: files dns\n');
    expect(databases.get('passwd')?.map((source) => [source.name, Object.fromEntries(source.actions)])).toEqual([
      ['files', {}],
      ['sss', { unavail: 'return', notfound: 'continue' }],
      ['systemd', {}],
    ]);
  });
});

describe('checkNsswitch', () => {
  it.each([
    ['Debian default', 'passwd: files\ngroup: files\nshadow: files\n', [], true, []],
    ['systemd installed', 'passwd: files systemd\n', ['systemd'], true, []],
    ['sss after files, absent', 'passwd: files sss\n', [], true, [['nsswitch-source-missing', 'warns', 'passwd']]],
    ['sss before files, absent (UNAVAIL continues)', 'passwd: sss files\n', [], true, [['nsswitch-source-missing', 'warns', 'passwd']]],
    ['sss absent with [UNAVAIL=return] before files', 'passwd: sss [UNAVAIL=return] files\n', [], true, [['nsswitch-source-missing', 'blocks', 'passwd']]],
    ['ldap only, absent', 'shadow: ldap\n', [], true, [['nsswitch-source-missing', 'blocks', 'shadow']]],
    ['a remote user whose source is absent', 'passwd: files ldap\n', [], false, [['nsswitch-source-missing', 'blocks', 'passwd']]],
    ['a group source absent never blocks', 'group: ldap\n', [], true, [['nsswitch-source-missing', 'warns', 'group']]],
    ['hosts is not a login database', 'hosts: files mdns4_minimal\n', [], true, []],
    ['compat installed', 'passwd: compat\n', ['compat'], true, []],
  ])('%s', (_, text, names, local, expected) => {
    const causes = checkNsswitch(parseNsswitch(text), installed(names), 'alice', local);
    expect(causes.map((cause) => [cause.id, cause.severity, cause.evidence['database']])).toEqual(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { replaySendStream } from './btrfs-send-replay.ts';
import { SEND_ATTRIBUTE, type SendCommand, type SendCommandName, type SendStream } from './btrfs-send-stream.ts';

type Step = readonly [SendCommandName, string | Buffer] | readonly ['rename' | 'link', string | Buffer, string | Buffer];

/** A parsed incremental stream: `snapshot` first, then the steps (a second path is rename's PATH_TO, link's PATH_LINK). */
function streamOf(...steps: Step[]): SendStream {
  const commands: SendCommand[] = [['snapshot', 'post'] as const, ...steps].map((step, offset) => {
    const attributes = new Map<number, Buffer>([[SEND_ATTRIBUTE.path, Buffer.from(step[1])]]);
    if (step.length === 3) attributes.set(step[0] === 'rename' ? SEND_ATTRIBUTE.pathTo : SEND_ATTRIBUTE.pathLink, Buffer.from(step[2]));
    return { name: step[0], offset, attributes };
  });
  return { version: 1, commands };
}

describe('replaySendStream', () => {
  it.each<[string, Step[], string[]]>([
    ['a new file made under an orphan name and renamed into place', [['mkfile', 'o257-7-0'], ['rename', 'o257-7-0', 'etc/new'], ['update_extent', 'etc/new'], ['chown', 'etc/new'], ['chmod', 'etc/new'], ['utimes', 'etc']], ['/etc/new', '/o257-7-0']],
    ['content, mode and owner changes in place', [['update_extent', 'etc/motd'], ['chmod', 'etc/hostname'], ['chown', 'etc/passwd'], ['truncate', 'etc/group']], ['/etc/group', '/etc/hostname', '/etc/motd', '/etc/passwd']],
    ['times, xattrs and flags only: no candidate', [['utimes', 'etc/motd'], ['set_xattr', 'etc/motd'], ['remove_xattr', 'usr/bin/ping'], ['fileattr', 'etc'], ['utimes', '']], []],
    ['the top folder itself: never a candidate (the tree walk starts below it)', [['chmod', ''], ['chown', '']], []],
    ['a renamed folder, then a file in it changed under its new name', [['rename', 'usr/share/Europe', 'usr/share/Europa'], ['update_extent', 'usr/share/Europa/Berlin']], ['/usr/share/Europa', '/usr/share/Europa/Berlin', '/usr/share/Europe', '/usr/share/Europe/Berlin']],
    ['two names swapped through an orphan name', [['rename', 'a', 'o300-5-0'], ['rename', 'b', 'a'], ['rename', 'o300-5-0', 'b']], ['/a', '/b', '/o300-5-0']],
    ['a folder moved below a folder that is itself new', [['mkdir', 'o261-9-0'], ['rename', 'o261-9-0', 'opt/new'], ['rename', 'usr/old', 'opt/new/old'], ['chmod', 'opt/new/old/bin']], ['/o261-9-0', '/opt/new', '/opt/new/old', '/opt/new/old/bin', '/usr/old', '/usr/old/bin']],
    ['a new hard link to an unchanged file', [['link', 'etc/b', 'etc/a']], ['/etc/b']],
    ['a hard-linked file changed through its other name', [['link', 'etc/b', 'etc/a'], ['update_extent', 'etc/b']], ['/etc/a', '/etc/b']],
    ['a file and a folder removed', [['unlink', 'd/f'], ['rmdir', 'd']], ['/d', '/d/f']],
    ['a folder put aside under an orphan name, emptied and removed, a new one in its place', [['rename', 'd', 'o258-1-0'], ['mkdir', 'o259-1-0'], ['rename', 'o259-1-0', 'd'], ['unlink', 'o258-1-0/f'], ['rmdir', 'o258-1-0']], ['/d', '/d/f', '/o258-1-0', '/o259-1-0']],
    ['a file replaced by a folder with content', [['unlink', 'x'], ['mkdir', 'o260-1-0'], ['rename', 'o260-1-0', 'x'], ['mkfile', 'o261-1-0'], ['rename', 'o261-1-0', 'x/child']], ['/o260-1-0', '/o261-1-0', '/x', '/x/child']],
    ['a symlink retargeted (a new inode under the old name)', [['unlink', 'lib/libz.so.1'], ['symlink', 'o270-3-0'], ['rename', 'o270-3-0', 'lib/libz.so.1']], ['/lib/libz.so.1', '/o270-3-0']],
    ['names with spaces, newlines and backslashes', [['update_extent', 'a dir/x\ny'], ['rename', 'back\\slash', 'tab\tname']], ['/a dir/x\ny', '/back\\slash', '/tab\tname']],
  ])('%s', (_name, steps, expected) => {
    expect(replaySendStream(streamOf(...steps))).toEqual({ paths: expected, unrepresentable: [] });
  });

  it('keeps names that are not UTF-8 apart, shown with U+FFFD, and everything below them', () => {
    const latin1 = Buffer.from('caf\xe9', 'latin1');
    const result = replaySendStream(streamOf(['mkdir', 'o257-1-0'], ['rename', 'o257-1-0', latin1], ['mkfile', 'o258-1-0'], ['rename', 'o258-1-0', Buffer.concat([latin1, Buffer.from('/menu')])], ['update_extent', 'café']));
    expect(result).toEqual({ paths: ['/café', '/o257-1-0', '/o258-1-0'], unrepresentable: ['/caf\uFFFD', '/caf\uFFFD/menu'] });
  });

  it.each<[string, Step[], RegExp]>([
    ['a path below a removed folder', [['rmdir', 'd'], ['unlink', 'd/f']], /names a folder the stream removed or never made/],
    ['a name the stream removed', [['unlink', 'f'], ['unlink', 'f']], /unlink at byte 2 names "f", which does not exist at that point/],
    ['a path with ..', [['update_extent', 'etc/../shadow']], /not a plain relative path/],
    ['a second snapshot command', [['snapshot', 'other']], /not expected/],
  ])('refuses %s', (_name, steps, message) => {
    expect(() => replaySendStream(streamOf(...steps))).toThrow(expect.objectContaining({ code: 'ARGO_INVALID_INPUT', message: expect.stringMatching(message) }));
  });

  it('refuses a stream that is not incremental (no snapshot command first)', () => {
    const stream = streamOf(['unlink', 'f']);
    expect(() => replaySendStream({ ...stream, commands: stream.commands.slice(1) })).toThrow(/not an incremental stream/);
  });
});

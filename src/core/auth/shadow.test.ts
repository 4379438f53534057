import { describe, expect, it } from 'vitest';
import { CRYPT_VECTORS, hashPrefixOf } from './crypt-vectors.ts';
import { describeShadow, hashPrefixesInUse, replaceShadowPassword } from './shadow.ts';

const SHADOW = [
  'root:$6$Ab3dEf$PtBXhQuAq6fCYPSGq6v8vSGkd0VtdgRbY7Lx0GRy3ZvU6hE1.S4OQ5K0.4FXHrh0O.hW7nTXaPAxBNKzbiRIA1:19000:0:99999:7:::',
  'daemon:*:19000:0:99999:7:::',
  'alice:$y$j9T$abc$def:19500:0:90:7::20000:',
  'bob:!$6$salt$hash:19000::::::',
  'carol::19000:0:99999:7:::',
  'dave:$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234:19000:0:99999:7:::',
  'sshd:!:19000::::::',
].join('\n') + '\n';

describe('describeShadow', () => {
  it('gives the shape of each entry and never the hash', () => {
    const shapes = describeShadow(SHADOW, 19600);
    expect(shapes.map((shape) => [shape.user, shape.state, shape.prefix])).toEqual([
      ['root', 'hashed', '$6$'],
      ['daemon', 'no-login', undefined],
      ['alice', 'hashed', '$y$'],
      ['bob', 'locked', '$6$'],
      ['carol', 'empty', undefined],
      ['dave', 'hashed', '$2b$'],
      ['sshd', 'no-login', undefined],
    ]);
    expect(JSON.stringify(shapes)).not.toContain('PtBXhQ');
    expect(shapes.find((shape) => shape.user === 'alice')).toMatchObject({ passwordExpired: true, accountExpired: false, lastChange: 19500, line: 3 });
  });

  it('lists the hash methods in use, locked hashes included', () => {
    expect(hashPrefixesInUse(SHADOW)).toEqual(['$2b$', '$6$', '$y$']);
  });
});

describe('replaceShadowPassword', () => {
  it('changes only the hash and the last-change day of one line', () => {
    const updated = replaceShadowPassword(SHADOW, 'alice', '$6$newsalt$newhash', 20411);
    const before = SHADOW.split('\n');
    const after = updated.split('\n');
    expect(after).toHaveLength(before.length);
    after.forEach((line, index) => {
      if (index === 2) expect(line).toBe('alice:$6$newsalt$newhash:20411:0:90:7::20000:');
      else expect(line).toBe(before[index]);
    });
  });

  it('keeps a missing trailing newline missing', () => {
    expect(replaceShadowPassword('a:x:1::::::\nb:y:2::::::', 'b', '$6$s$h', 3)).toBe('a:x:1::::::\nb:$6$s$h:3::::::');
  });

  it('does not mistake a user whose name starts the same', () => {
    expect(replaceShadowPassword('alice2:x:1::::::\nalice:y:2::::::\n', 'alice', '$6$s$h', 3)).toBe('alice2:x:1::::::\nalice:$6$s$h:3::::::\n');
  });

  it.each([
    ['nobody', 'There is no entry for nobody'],
    ['dup', 'has 2 entries for dup'],
  ])('refuses %s', (user, message) => {
    expect(() => replaceShadowPassword('dup:x:1::::::\ndup:x:1::::::\n', user, '$6$s$h', 3)).toThrow(message);
  });

  it('refuses a hash that would break the file format', () => {
    expect(() => replaceShadowPassword(SHADOW, 'alice', 'x:y', 1)).toThrow(expect.objectContaining({ code: 'ARGO_INVALID_INPUT' }));
  });
});

describe('hashPrefixOf', () => {
  it.each(CRYPT_VECTORS.map((vector) => [vector.expected, vector.prefix]))('knows the method of %s', (hash, prefix) => {
    expect(hashPrefixOf(hash)).toBe(prefix);
  });

  it.each([['*'], ['!'], [''], ['x'], ['$unknown']])('has no method for %j', (hash) => {
    expect(hashPrefixOf(hash)).toBeUndefined();
  });
});

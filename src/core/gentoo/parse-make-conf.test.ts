import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLUSTERHQ_ROOT } from '../../../test/support/gentoo-fixtures.ts';
import { parseMakeConf } from './parse-make-conf.ts';

/**
 * Expected values come from running the same texts through a copy of Portage's getconfig/varexpand
 * (lib/portage/util/__init__.py) on Python's shlex; `stops` marks texts on which Portage raises.
 */
const PORTAGE_CASES: [string, string, Record<string, string>, Record<string, string>, boolean][] = [
  ['expansion and quoting', 'A=1\nB="$A 2"\nC=\'${A}\'\nD="\\$A"\nE=\'\\$A\'\n', {}, { A: '1', B: '1 2', C: '1', D: '$A', E: '$A' }, false],
  ['an apostrophe in a value stops expansion after it', 'A="it\'s $B"\nB=2\nC="x\\"y"\nD=a\\\nb\n', {}, { A: "it's $B", B: '2', C: 'x"y', D: 'a b' }, false],
  ['export and spaces around =', 'export A=1\nexport B = 2\n', {}, { A: '1', B: '2' }, false],
  ['comments, also inside a word', 'A=1 # comment\nB="# not a comment"\nC=a#b\nD=x\n', {}, { A: '1', B: '# not a comment', C: 'a', D: 'x' }, false],
  ['unknown variables and a lone $', 'A="${NOPE}-$NOPE-x"\nB="cost: $"\nC="a \\\\ b"\n', {}, { A: '--x', B: 'cost: $', C: 'a \\ b' }, false],
  ['a bad substitution empties the value', 'A="x $- y"\nB=ok\n', {}, { A: '', B: 'ok' }, false],
  ['newlines in values become spaces', 'A="line one\nline two"\n', {}, { A: 'line one line two' }, false],
  ['variables from env (profile make.defaults)', 'CFLAGS="${CFLAGS} -O2 -pipe"\nCXXFLAGS="${CFLAGS}"\n', { CFLAGS: '-march=native' }, { CFLAGS: '-march=native -O2 -pipe', CXXFLAGS: '-march=native -O2 -pipe' }, false],
  ['VAR= takes the next word', 'FOO=\nBAR=baz\n', {}, { FOO: 'BAR' }, true],
  ['invalid names are skipped', 'A=1\n1B=2\nC-D=3\nE=4\n', {}, { A: '1', E: '4' }, false],
  ['a word without = stops the file', 'A=1\nB\nC=3\n', {}, { A: '1' }, true],
  ['an unclosed quote stops the file', 'A=1\nB="open\nC=3\n', {}, { A: '1' }, true],
  ['a parenthesis is a word of its own', 'A=(x y)\nB=2\n', {}, { A: '(' }, true],
  ['a real router make.conf', 'USE="-* nls unicode ipv6 verify-sig"\nPYTHON_TARGETS="python3_10"\n', {}, { USE: '-* nls unicode ipv6 verify-sig', PYTHON_TARGETS: 'python3_10' }, false],
];

const STOP = /stops reading here|refuses the file from here on/;

describe('parseMakeConf', () => {
  it.each(PORTAGE_CASES)('%s', (_name, text, env, vars, stops) => {
    const result = parseMakeConf(text, { env });
    expect(result.vars).toEqual(vars);
    expect(result.diagnostics.some((diagnostic) => STOP.test(diagnostic.message))).toBe(stops);
  });

  it('reads the real Prefix make.conf with the profile CFLAGS', () => {
    const text = readFileSync(join(CLUSTERHQ_ROOT, 'etc/portage/make.conf'), 'utf8');
    const result = parseMakeConf(text, { file: '/etc/portage/make.conf', env: { CFLAGS: '-O2 -pipe' } });
    expect(result.diagnostics).toEqual([]);
    expect(result.vars).toEqual({
      USE: 'unicode nls',
      CFLAGS: '-O2 -pipe -O2 -pipe',
      CXXFLAGS: '-O2 -pipe -O2 -pipe',
      MAKEOPTS: '',
      CONFIG_SHELL: '/home/core/gentoo/bin/bash',
      PREFIX_DISABLE_GEN_USR_LDSCRIPT: 'yes',
      FEATURES: 'parallel-install',
      USE_PYTHON: '2.7',
      PYTHON_TARGETS: 'python2_7',
      PORTDIR_OVERLAY: '/home/core/gentoo/usr/local/portage/ ',
      PORTAGE_INST_UID: '500',
      PORTAGE_INST_GID: '500',
    });
    expect(result.origins.FEATURES).toEqual({ file: '/etc/portage/make.conf', line: 11 });
    expect(result.vars.CHOST).toBeUndefined();
  });

  it('follows source through readFile, relative to the including file, with expansion', () => {
    const files: Record<string, string> = {
      '/etc/portage/make.conf.d/base.conf': 'CFLAGS="-O2"\nsource ../${EXTRA}',
      '/etc/portage/extra.conf': 'USE="${USE} x"\n',
    };
    const result = parseMakeConf('USE="a"\nEXTRA=extra.conf\nsource /etc/portage/make.conf.d/base.conf\nCXXFLAGS="${CFLAGS}"\n', {
      file: '/etc/portage/make.conf',
      readFile: (path) => files[path],
    });
    expect(result.diagnostics).toEqual([]);
    expect(result.vars).toEqual({ USE: 'a x', EXTRA: 'extra.conf', CFLAGS: '-O2', CXXFLAGS: '-O2' });
    expect(result.sourced).toEqual(['/etc/portage/make.conf.d/base.conf', '/etc/portage/extra.conf']);
    expect(result.origins.USE).toEqual({ file: '/etc/portage/extra.conf', line: 1 });
  });

  it('reports a missing sourced file and carries on', () => {
    const result = parseMakeConf('source /etc/nope\nA=1\n', { readFile: () => undefined });
    expect(result.vars).toEqual({ A: '1' });
    expect(result.diagnostics).toEqual([expect.objectContaining({ field: '/etc/nope', message: 'a sourced file does not exist', line: 1 })]);
  });

  it('follows `. file` but says that Portage refuses it', () => {
    const result = parseMakeConf('. /etc/x\nB=2\n', { readFile: (path) => (path === '/etc/x' ? 'A=1' : undefined) });
    expect(result.vars).toEqual({ A: '1', B: '2' });
    expect(result.diagnostics).toEqual([expect.objectContaining({ message: 'Portage reads only `source`; with `.` emerge refuses this file', action: 'kept' })]);
  });

  it('stops a file that sources itself', () => {
    const result = parseMakeConf('A=1\nsource /etc/loop\n', { readFile: () => 'source /etc/loop\n' });
    expect(result.vars).toEqual({ A: '1' });
    expect(result.diagnostics.some((diagnostic) => diagnostic.message.includes('nest too deeply'))).toBe(true);
  });

  it.each(['source', 'A=1\nsource "$NOTHING"\n'])('stops at a source without a file name (%j), where Portage crashes', (text) => {
    expect(parseMakeConf(text).diagnostics).toEqual([expect.objectContaining({ message: expect.stringContaining('is not followed by a file name') })]);
  });

  it('reports the line of each problem', () => {
    const result = parseMakeConf('A=1\n\n# x\nB="x $- y"\nC\nD=1\n', { file: '/etc/portage/make.conf' });
    expect(result.diagnostics).toEqual([
      expect.objectContaining({ file: '/etc/portage/make.conf', line: 4, field: 'B', action: 'defaulted' }),
      expect.objectContaining({ file: '/etc/portage/make.conf', line: 6, field: 'C D' }),
    ]);
  });

  it('never throws or hangs on arbitrary text', () => {
    const pieces = fc.constantFrom('A', '=', '"', "'", '$', '{', '}', '\\', '\n', ' ', '#', 'export ', 'source ', '. ', '(', 'x');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(pieces, { maxLength: 40 }).map((parts) => parts.join(''))), (text) => {
        const result = parseMakeConf(text, { readFile: (path) => (path.endsWith('x') ? 'X=1' : undefined) });
        expect(typeof result.vars).toBe('object');
      }),
      { numRuns: 3000 },
    );
  });
});

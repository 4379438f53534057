import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleStyleFor, decideColour, isNocolorValue, needsMakeConf, readMakeConfNocolor, type ColourInputs } from './console-style.ts';

const TTY = { isTTY: true };
const PIPE = { isTTY: false };

describe('decideColour: --color beats the environment beats make.conf beats the terminal', () => {
  it.each<[string, { isTTY: boolean }, Record<string, string>, ColourInputs, boolean, string]>([
    ['a terminal', TTY, {}, {}, true, 'terminal'],
    ['a pipe', PIPE, {}, {}, false, 'not a terminal'],
    ['--color y on a pipe', PIPE, {}, { flag: 'y' }, true, '--color'],
    ['--color n on a terminal', TTY, {}, { flag: 'n' }, false, '--color'],
    ['--color y over NO_COLOR', TTY, { NO_COLOR: '1' }, { flag: 'y' }, true, '--color'],
    ['--color y over TERM=dumb', TTY, { TERM: 'dumb' }, { flag: 'y' }, true, '--color'],
    ['--color y over make.conf', TTY, {}, { flag: 'y', makeConfNocolor: true }, true, '--color'],
    ['NO_COLOR', TTY, { NO_COLOR: '1' }, {}, false, 'NO_COLOR'],
    ['NO_COLOR with any value', TTY, { NO_COLOR: 'false' }, {}, false, 'NO_COLOR'],
    ['an empty NO_COLOR (no-color.org: ignored)', TTY, { NO_COLOR: '' }, {}, true, 'terminal'],
    ['NOCOLOR=true in the environment', TTY, { NOCOLOR: 'true' }, {}, false, 'NOCOLOR'],
    ['NOCOLOR=yes in the environment', TTY, { NOCOLOR: 'yes' }, {}, false, 'NOCOLOR'],
    ['NOCOLOR=false in the environment', TTY, { NOCOLOR: 'false' }, {}, true, 'terminal'],
    ['TERM=dumb', TTY, { TERM: 'dumb' }, {}, false, 'TERM=dumb'],
    ['the environment over make.conf', TTY, { NO_COLOR: '1' }, { makeConfNocolor: false }, false, 'NO_COLOR'],
    ['make.conf NOCOLOR on a terminal', TTY, {}, { makeConfNocolor: true }, false, 'make.conf NOCOLOR'],
    ['make.conf NOCOLOR="false"', TTY, {}, { makeConfNocolor: false }, true, 'terminal'],
    ['make.conf never turns colour on for a pipe', PIPE, {}, { makeConfNocolor: false }, false, 'not a terminal'],
  ])('%s', (_name, stream, env, inputs, colour, by) => {
    expect(decideColour(stream, env, inputs)).toEqual({ colour, by });
    expect(consoleStyleFor(stream, env, inputs).colour).toBe(colour);
  });

  it.each([
    ['true', true],
    ['yes', true],
    ['YES', true],
    [' true ', true],
    ['false', false],
    ['no', false],
    ['1', false],
    ['', false],
  ])('NOCOLOR=%j counts as set: %s', (value, set) => {
    expect(isNocolorValue(value)).toBe(set);
  });

  it('reads make.conf only when nothing stronger decided', () => {
    expect(needsMakeConf(TTY, {}, undefined)).toBe(true);
    expect(needsMakeConf(TTY, {}, 'y')).toBe(false);
    expect(needsMakeConf(TTY, { NO_COLOR: '1' }, undefined)).toBe(false);
    expect(needsMakeConf(TTY, { TERM: 'dumb' }, undefined)).toBe(false);
    expect(needsMakeConf(PIPE, {}, undefined)).toBe(false);
  });

  it('picks symbols from the locale', () => {
    expect(consoleStyleFor(TTY, { LANG: 'en_US.UTF-8' }).unicode).toBe(true);
    expect(consoleStyleFor(TTY, { LC_ALL: 'C', LANG: 'en_US.UTF-8' }).unicode).toBe(false);
  });
});

describe('readMakeConfNocolor', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'argo-nocolor-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  async function rootWith(name: string, files: Record<string, string>): Promise<string> {
    const root = join(scratch, name);
    for (const [file, text] of Object.entries(files)) {
      await mkdir(join(root, file, '..'), { recursive: true });
      await writeFile(join(root, file), text);
    }
    return root;
  }

  it.each([
    ['true', 'NOCOLOR="true"\n', true],
    ['yes, unquoted', 'NOCOLOR=yes\n', true],
    ['false', 'NOCOLOR="false"\n', false],
    ['a later line wins', 'NOCOLOR="true"\nNOCOLOR="false"\n', false],
    ['from a variable', 'PLAIN="yes"\nNOCOLOR="${PLAIN}"\n', true],
  ])('a make.conf file: %s', async (name, text, expected) => {
    const root = await rootWith(`file-${name.replace(/\W+/g, '-')}`, { 'etc/portage/make.conf': text });
    expect(await readMakeConfNocolor(root)).toBe(expected);
  });

  it('is undefined when make.conf does not set it, or there is none', async () => {
    expect(await readMakeConfNocolor(await rootWith('unset', { 'etc/portage/make.conf': 'USE="-X"\n' }))).toBeUndefined();
    expect(await readMakeConfNocolor(await rootWith('none', { 'etc/hostname': 'x\n' }))).toBeUndefined();
    expect(await readMakeConfNocolor(join(scratch, 'no-such-root'))).toBeUndefined();
  });

  it('reads a make.conf folder, and a file it sources, inside the root', async () => {
    const root = await rootWith('folder', { 'etc/portage/make.conf/00-base': 'source /etc/portage/colours\n', 'etc/portage/colours': 'NOCOLOR=true\n' });
    expect(await readMakeConfNocolor(root)).toBe(true);
  });

  it('never follows a symlink out of the root onto the host', async () => {
    const host = await rootWith('host-file', { 'make.conf': 'NOCOLOR="true"\n' });
    const root = await rootWith('escape', { 'etc/hostname': 'x\n' });
    await mkdir(join(root, 'etc/portage'), { recursive: true });
    // An absolute link is re-rooted: it names <root>/<host path>, which does not exist.
    await symlink(join(host, 'make.conf'), join(root, 'etc/portage/make.conf'));
    expect(await readMakeConfNocolor(root)).toBeUndefined();
  });
});

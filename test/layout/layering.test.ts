import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT } from '../support/run-cli.ts';

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts')) files.push(full);
  }
  return files;
}

const importsOf = (text: string): string[] => [...text.matchAll(/^(?:import|export)[^'"]*from\s+'([^']+)'/gm)].map((match) => match[1] as string);

describe('source layout', () => {
  it('keeps the System port below the phased runner: nothing in src/system imports src/phases', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(join(PROJECT, 'src/system'))) {
      for (const specifier of importsOf(await readFile(file, 'utf8'))) {
        if (/(^|\/)phases\//.test(specifier)) offenders.push(`${relative(PROJECT, file)} imports ${specifier}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('keeps the System port below logging: nothing in src/system imports src/logging (the event catalogue is in src/core)', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(join(PROJECT, 'src/system'))) {
      if (file.endsWith('.test.ts')) continue;
      for (const specifier of importsOf(await readFile(file, 'utf8'))) {
        if (/(^|\/)logging\//.test(specifier)) offenders.push(`${relative(PROJECT, file)} imports ${specifier}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('keeps src/core pure: no disk, process, network or clock module, and no layer above it', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(join(PROJECT, 'src/core'))) {
      if (file.endsWith('.test.ts')) continue;
      for (const specifier of importsOf(await readFile(file, 'utf8'))) {
        if (/^node:(fs|child_process|net|http|https|dgram|os)(\/|$)/.test(specifier) || /^(execa|zx|ioredis|bullmq)$/.test(specifier) || /(^|\/)(system|logging|phases|cli|update|preflight|snapshot|login-path)\//.test(specifier)) {
          offenders.push(`${relative(PROJECT, file)} imports ${specifier}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('keeps side effects in src/system: outside it (and logging and the process shell), no file or process module', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(join(PROJECT, 'src'))) {
      const name = relative(PROJECT, file);
      if (file.endsWith('.test.ts') || /^src\/(system|logging)\//.test(name) || name === 'src/cli/start-cli.ts') continue;
      for (const match of (await readFile(file, 'utf8')).matchAll(/^import (?!type )[^'"]*from\s+'(node:(?:fs|fs\/promises|child_process|readline|tty))'/gm)) {
        offenders.push(`${name} imports ${match[1]}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('compiles no test code into dist/: nothing outside *.test.ts under src/ imports vitest', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(join(PROJECT, 'src'))) {
      if (file.endsWith('.test.ts')) continue;
      if (importsOf(await readFile(file, 'utf8')).includes('vitest')) offenders.push(relative(PROJECT, file));
    }
    expect(offenders).toEqual([]);
  });
});

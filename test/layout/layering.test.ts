import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
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

/** `file imports specifier` for each import under `dir` (of non-test files unless `withTests`) that `forbidden` matches. */
async function forbiddenImports(dir: string, forbidden: (specifier: string, file: string) => boolean, imports = importsOf, withTests = false): Promise<string[]> {
  const offenders: string[] = [];
  for (const file of await sourceFiles(join(PROJECT, dir))) {
    if (!withTests && file.endsWith('.test.ts')) continue;
    for (const specifier of imports(await readFile(file, 'utf8'))) {
      if (forbidden(specifier, file)) offenders.push(`${relative(PROJECT, file)} imports ${specifier}`);
    }
  }
  return offenders;
}

/** Value imports only: `import type` of a Node.js module carries no side effect. */
const valueImportsOf = (text: string): string[] => [...text.matchAll(/^import (?!type )[^'"]*from\s+'([^']+)'/gm)].map((match) => match[1] as string);

describe('source layout', () => {
  it('keeps the System port below the phased runner: nothing in src/system imports src/phases', async () => {
    expect(await forbiddenImports('src/system', (specifier) => /(^|\/)phases\//.test(specifier), importsOf, true)).toEqual([]);
  });

  it('keeps the System port below logging: nothing in src/system imports src/logging (the event catalogue is in src/core)', async () => {
    expect(await forbiddenImports('src/system', (specifier) => /(^|\/)logging\//.test(specifier))).toEqual([]);
  });

  it('keeps src/core pure: no disk, process, network or clock module, and no layer above it', async () => {
    // A relative import is judged by where it lands: src/core/update/ is core, src/update/ is not.
    const outsideCore = (specifier: string, file: string): boolean => specifier.startsWith('.') && !resolve(dirname(file), specifier).startsWith(join(PROJECT, 'src/core/'));
    const forbidden = (specifier: string, file: string): boolean =>
      /^node:(fs|child_process|net|http|https|dgram|os)(\/|$)/.test(specifier) || /^(execa|zx|ioredis|bullmq)$/.test(specifier) || outsideCore(specifier, file);
    expect(await forbiddenImports('src/core', forbidden)).toEqual([]);
  });

  it('keeps side effects in src/system: outside it (and logging and the process shell), no file or process module', async () => {
    const sideEffects = (specifier: string): boolean => /^node:(fs|fs\/promises|child_process|readline|tty)$/.test(specifier);
    const offenders = (await forbiddenImports('src', sideEffects, valueImportsOf)).filter((line) => !/^src\/(system|logging)\//.test(line) && !line.startsWith('src/cli/start-cli.ts '));
    expect(offenders).toEqual([]);
  });

  it('compiles no test code into dist/: nothing outside *.test.ts under src/ imports vitest', async () => {
    expect(await forbiddenImports('src', (specifier) => specifier === 'vitest')).toEqual([]);
  });
});

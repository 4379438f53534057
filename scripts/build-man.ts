/**
 * Writes the man pages of argo, apkg and build-swarm to dist/man/man1/ from the built command definitions
 * (dist/cli/*-cli.js, rendered by dist/cli/man-page.js). Run by scripts/copy-assets.ts, so by `npm run build`,
 * scripts/setup.sh and the test suite's set-up, after tsc. Read them with `man -l dist/man/man1/argo.1`, or
 * put dist/man on MANPATH. The footer's date comes from SOURCE_DATE_EPOCH when set (reproducible builds).
 */

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const project = join(import.meta.dirname, '..');
const dist = join(project, 'dist');
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(join(dist, 'cli', file)).href)) as T;

type Definition = { readonly name: string };
const { renderManPage } = await load<{ renderManPage(definition: Definition, options: { version: string; date?: string }): string }>('man-page.js');
const definitions = [
  (await load<{ argoCli: Definition }>('argo-cli.js')).argoCli,
  (await load<{ apkgCli: Definition }>('apkg-cli.js')).apkgCli,
  (await load<{ buildSwarmCli: Definition }>('build-swarm-cli.js')).buildSwarmCli,
];
const { version } = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { version: string };
const epoch = Number(process.env['SOURCE_DATE_EPOCH']);
const date = Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000).toISOString().slice(0, 10) : '';

const folder = join(dist, 'man', 'man1');
mkdirSync(folder, { recursive: true });
for (const definition of definitions) {
  const page = join(folder, `${definition.name}.1`);
  // Written aside and renamed: a build killed half-way leaves the old page, never half of a new one.
  const partial = `${page}.partial`;
  try {
    writeFileSync(partial, renderManPage(definition, { version, date }));
    renameSync(partial, page);
  } finally {
    rmSync(partial, { force: true });
  }
}

/**
 * Copies the files tsc does not emit (the dashboard's HTML, CSS and browser JavaScript) from src/ into dist/,
 * after `tsc -p tsconfig.build.json`, and makes the man pages (build-man.ts). Run by `npm run build`,
 * scripts/setup.sh and the test suite's set-up.
 */

import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const ASSET_FOLDERS = ['gateway/dashboard'];

const project = join(import.meta.dirname, '..');
for (const folder of ASSET_FOLDERS) {
  const from = join(project, 'src', folder);
  const to = join(project, 'dist', folder);
  rmSync(to, { recursive: true, force: true });
  if (existsSync(from)) cpSync(from, to, { recursive: true, filter: (source) => !source.endsWith('.ts') });
}

await import('./build-man.ts');

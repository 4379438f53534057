import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Builds dist/ once per test run (incrementally), so that end-to-end tests run the CLI exactly as a user
 * would, from the built files. Heavy fixtures (Debian roots) are built by scripts/setup.sh, not here.
 */
export default function setup(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('The test suite mounts filesystems and builds chroots: run it as root (sudo bash scripts/test.sh).');
  }
  const project = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, [`${project}node_modules/typescript/bin/tsc`, '-p', `${project}tsconfig.build.json`], { stdio: 'inherit' });
  execFileSync(process.execPath, [`${project}scripts/copy-assets.ts`], { stdio: 'inherit' });
}

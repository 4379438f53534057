/**
 * The entry of the single-file executable (dist/argo-linux-x64, built by scripts/build-executable.sh): one
 * file holding Node.js and this code, for a live USB that has no Node.js. It answers as `apkg` when started
 * under that name (a symbolic or hard link named apkg) or with `apkg` as its first argument, and as `argo`
 * otherwise. build-swarm is not in the file: it runs on the gateway and drone machines, which have Node.js.
 *
 * Node.js runs a single executable's main script as CommonJS, so this entry has no top-level await and
 * imports everything statically; esbuild bundles it into one script.
 */
import { basename } from 'node:path';
import { apkgCli } from './apkg-cli.ts';
import { argoCli } from './argo-cli.ts';
import type { CliDefinition } from './run-cli.ts';
import { startCli } from './start-cli.ts';

// A hung-up terminal must not stop a run (start-cli keeps ignoring SIGHUP).
process.on('SIGHUP', () => undefined);

/** Which CLI a start means: by the name it was started under, or by a first argument naming it. */
function chooseCli(): CliDefinition | string {
  const name = basename(process.argv0);
  if (name === 'apkg') return apkgCli;
  if (name === 'build-swarm') return 'build-swarm';
  const first = process.argv[2];
  if (first === 'apkg' || first === 'argo') {
    // startCli reads the arguments after the program name: drop the word that chose the CLI.
    process.argv.splice(2, 1);
    return first === 'apkg' ? apkgCli : argoCli;
  }
  if (first === 'build-swarm') return 'build-swarm';
  return argoCli;
}

const chosen = chooseCli();
if (typeof chosen === 'string') {
  process.stderr.write(
    `error: ${chosen} is not part of the single-file executable [ARGO_USAGE]\n` +
      `hint: run build-swarm from the argo-toolkit package with Node.js (npm install argo-toolkit); this file answers as argo and apkg.\n`,
  );
  process.exitCode = 2;
} else {
  startCli(chosen).catch((error: unknown) => {
    process.stderr.write(`internal error (a bug, please report it):\n${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}

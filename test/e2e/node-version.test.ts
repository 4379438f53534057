import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSupportedNode, MINIMUM_NODE } from '../../src/cli/require-node.ts';
import { PROJECT, runBuiltCli } from '../support/run-cli.ts';

describe('the Node.js version the code needs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'argo-node-version-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is the same number in package.json engines and in the start-up check', async () => {
    const manifest = JSON.parse(await readFile(join(PROJECT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const engines = /^>=(\d+)\.(\d+)(?:\.(\d+))?$/.exec(manifest.engines.node);
    expect(engines, manifest.engines.node).not.toBeNull();
    expect(`${engines?.[1]}.${engines?.[2]}.${engines?.[3] ?? 0}`).toBe(MINIMUM_NODE);
  });

  it.each([
    ['22.14.0', false],
    ['22.15.0', true],
    ['v22.15.1', true],
    ['22.9.0', false],
    ['23.0.0', true],
    ['20.19.2', false],
  ] as const)('%s is supported: %s', (version, supported) => {
    expect(isSupportedNode(version)).toBe(supported);
  });

  it.each(['argo', 'apkg', 'build-swarm'] as const)('%s on Node.js 22.14 (no zstd in node:zlib) says so in one line and exits 2', async (name) => {
    const older = join(dir, 'node-22.14.mjs');
    await writeFile(older, "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '22.14.0' } });\nObject.defineProperty(process, 'version', { value: 'v22.14.0' });\n");
    const run = await runBuiltCli(name, ['--version'], { env: { NODE_OPTIONS: `--import=${older}` } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: this program needs Node\.js 22\.15\.0 or newer, but runs on v22\.14\.0 \[ARGO_USAGE\]\n/);
    expect(run.stdout).toBe('');
  });
});

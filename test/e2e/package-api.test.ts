import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PROJECT } from '../support/run-cli.ts';

/** Runs a module snippet with Node's own resolution, so `argo-toolkit/gentoo` resolves through package.json exports. */
function evaluate(code: string): unknown {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: PROJECT, encoding: 'utf8' });
  return JSON.parse(out);
}

describe('the argo-toolkit/gentoo subpath', () => {
  it('exports the documented API from the built package', () => {
    const names = evaluate(`const api = await import('argo-toolkit/gentoo'); console.log(JSON.stringify(Object.keys(api).sort()));`) as string[];
    for (const name of [
      'compareVersions', 'parseAtom', 'parseDepSpec', 'parsePackagesIndex', 'formatPackagesIndex', 'readGpkg', 'writeGpkg', 'readXpak',
      'parseEmergeLog', 'parseEmergePlan', 'parsePackageUse', 'parseMakeConf',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('works as a user of the package would use it', () => {
    const result = evaluate(`
      import { readFileSync } from 'node:fs';
      const { compareVersions, parsePackagesIndex, formatPackagesIndex, parseEmergeLog } = await import('argo-toolkit/gentoo');
      const text = readFileSync('test/fixtures/gentoo/joepasss-gpkg-binhost/amd64/Packages', 'utf8');
      const log = readFileSync('test/fixtures/gentoo/clusterhq-prefix/var/log/emerge.log', 'utf8');
      console.log(JSON.stringify({
        order: compareVersions('1.0_rc1', '1.0'),
        identical: formatPackagesIndex(parsePackagesIndex(text)) === text,
        builds: parseEmergeLog(log).builds.length,
      }));
    `);
    expect(result).toEqual({ order: -1, identical: true, builds: 649 });
  });

  it('exports the System port and the runner from the package root', () => {
    const names = evaluate(`const api = await import('argo-toolkit'); console.log(JSON.stringify(Object.keys(api)));`) as string[];
    expect(names).toEqual(expect.arrayContaining(['openSystem', 'runPhases', 'createChrootSession', 'ArgoError', 'readVdb']));
  });
});

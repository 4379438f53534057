import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shellQuote } from '../shell-quote.ts';
import { diagnoseBlocked, diagnoseLog, solveRequiredUse, type CauseClass, type Finding } from './diagnose-blocked.ts';
import type { PackageStatus } from './swarm-status.ts';

const FIXTURES = new URL('../../../test/fixtures/emerge-failures/', import.meta.url);
const sample = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const CONTEXT = { profile: 'desktop', configRoot: '/var/lib/argo/drone/desktop' };
const USE_FILE = '/var/lib/argo/drone/desktop/etc/portage/package.use/argo-swarm';
const KEYWORDS_FILE = '/var/lib/argo/drone/desktop/etc/portage/package.accept_keywords/argo-swarm';

/** What a shell would see outside single quotes: every interpolated value must have gone inside them. */
function unquoted(command: string): string {
  let out = '';
  let quoted = false;
  for (let index = 0; index < command.length; index += 1) {
    const char = command[index] as string;
    if (char === "'") quoted = !quoted;
    else if (!quoted && char === '\\') {
      index += 1;
      out += '_';
    } else if (!quoted) out += char;
  }
  expect(quoted, `unbalanced quotes in ${command}`).toBe(false);
  return out;
}

function expectSafe(commands: readonly string[]): void {
  for (const command of commands) {
    const bare = unquoted(command);
    expect(bare.replaceAll(' >> ', ' '), command).not.toMatch(/[;&|$`()<>*?!#~\n"{}[\]]/);
  }
}

describe('diagnoseLog on real emerge output', () => {
  it.each<[string, CauseClass, string, string]>([
    ['portage-autounmask-use-change.txt', 'use-change', '>=dev-libs/B-1 foo', `echo '>=dev-libs/B-1 foo' >> ${USE_FILE}`],
    ['portage-autounmask-required-use.txt', 'required-use', '    exactly-one-of ( qt4 qt5 )', `echo '>=x11-libs/qscintilla-2.9.4 qt5 -qt4' >> ${USE_FILE}`],
    ['portage-missing-use-flags.txt', 'missing-dependency', '- app-misc/D-0::test_repo (Change USE: +foo)', `echo '>=app-misc/D-0 foo' >> ${USE_FILE}`],
    ['portage-slot-conflict.txt', 'slot-conflict', 'app-misc/D:0', "env PORTAGE_CONFIGROOT=/var/lib/argo/drone/desktop ROOT=/var/lib/argo/drone/desktop emerge --pretend --verbose --verbose-conflicts --backtrack=30 =app-misc/A-0"],
    ['portage-keyword-change-and-missing.txt', 'masked', '=dev-libs/A-2 ~x86', `echo '=dev-libs/A-2 ~x86' >> ${KEYWORDS_FILE}`],
    ['portage-circular-dependencies.txt', 'circular-dependency', '(dev-libs/jsoncpp-1.9.2:0/0::test_repo, ebuild scheduled for merge) depends on', ''],
    ['synthetic-keyword-masked.txt', 'masked', '- dev-lang/rust-1.81.0::gentoo (masked by: ~amd64 keyword)', `echo '=dev-lang/rust-1.81.0 ~amd64' >> ${KEYWORDS_FILE}`],
    ['synthetic-fetch-failure.txt', 'fetch', "!!! Couldn't download 'libexample-2.4.1.tar.xz'. Aborting.", 'build-swarm sync'],
    ['deepin-overlay-issue-120-compile-failure.txt', 'compile', '* ERROR: dde-base/dde-file-manager-5.2.0.82::deepin failed (compile phase):', 'build-swarm logs app-misc/A-0'],
    ['gentoo-dotnet-issue-482-setup-failure.txt', 'compile', '* ERROR: app-editors/visual-studio-code-1.50.0::dotnet failed (setup phase):', 'build-swarm logs app-misc/A-0'],
  ])('%s: %s, with its evidence and command', (file, cause, evidence, command) => {
    const findings = diagnoseLog('app-misc/A-0', sample(file), undefined, CONTEXT);
    const [headline] = findings;
    expect(headline?.cause).toBe(cause);
    expect(headline?.evidence).toContain(evidence);
    if (command === '') expect(headline?.fix.commands).toEqual([]);
    else expect(headline?.fix.commands).toContain(command);
    expectSafe(findings.flatMap((finding) => finding.fix.commands));
  });

  it('names the build.log of a phase that died, and the die message', () => {
    const [finding] = diagnoseLog('dde-base/dde-file-manager-5.2.0.82', sample('deepin-overlay-issue-120-compile-failure.txt'), undefined, CONTEXT);
    expect(finding?.summary).toBe('the compile phase of dde-base/dde-file-manager-5.2.0.82 died: emake failed');
    expect(finding?.evidence).toContain('build.log on the drone: /var/tmp/portage/dde-base/dde-file-manager-5.2.0.82/temp/build.log');
  });

  it('reports every cause a log shows, the most fundamental first', () => {
    expect(diagnoseLog('x/y-1', sample('portage-keyword-change-and-missing.txt'), undefined, CONTEXT).map((finding) => finding.cause)).toEqual(['masked', 'missing-dependency']);
    expect(diagnoseLog('x/y-1', sample('portage-slot-conflict.txt'), undefined, CONTEXT).map((finding) => finding.cause)).toEqual(['slot-conflict', 'use-change']);
  });

  it('folds the USE change into the REQUIRED_USE fix instead of repeating the change that breaks it', () => {
    const findings = diagnoseLog('sci-mathematics/octave-4.2.2', sample('portage-autounmask-required-use.txt'), undefined, CONTEXT);
    expect(findings.map((finding) => finding.cause)).toEqual(['required-use']);
    expect(findings[0]?.summary).toContain('with the USE change emerge suggested: qt5');
  });

  it('names the slot and both instances of a slot conflict', () => {
    const [finding] = diagnoseLog('app-misc/A-0', sample('portage-slot-conflict.txt'), undefined, CONTEXT);
    expect(finding?.summary).toBe('slot conflict in app-misc/D:0: app-misc/D-0 and app-misc/D-1 are both pulled in');
  });

  it('prefers a ~arch keyword to a live ebuild when every version is masked', () => {
    const [finding] = diagnoseLog('dev-util/cargo-c-0.10.3', sample('synthetic-keyword-masked.txt'), undefined, CONTEXT);
    expect(finding?.fix.commands.join('\n')).not.toContain('9999');
  });

  it('says when the drones lack the ebuild of the package itself', () => {
    const [finding] = diagnoseLog('dev-libs/foo-1.2', '\nemerge: there are no ebuilds to satisfy "=dev-libs/foo-1.2".\n', undefined, CONTEXT);
    expect(finding).toMatchObject({ cause: 'missing-dependency', summary: "the drones' repository has no ebuild of dev-libs/foo-1.2", fix: { commands: ['build-swarm sync'] } });
  });

  it('reads the drone\'s own lines: budget, silence, no binary', () => {
    const log = [
      '>>> argo drone d1: emerge ended: emerge --oneshot --buildpkg --usepkg … ran past its budget of 21600000 ms',
      '>>> argo drone d2: no binary package of dev-libs/foo-1 in /var/lib/argo/drone/desktop/var/cache/binpkgs after the build (is FEATURES=buildpkg honoured?)',
    ].join('\n');
    const findings = diagnoseLog('dev-libs/foo-1', log, undefined, CONTEXT);
    expect(findings.map((finding) => finding.cause)).toEqual(['infrastructure', 'infrastructure']);
    expect(findings[0]?.fix.summary).toContain('drone.build_budget_ms');
    expect(findings[1]?.fix.summary).toContain('FEATURES=buildpkg');
  });

  it('falls back to the last lines, or the swarm\'s reason when no log could be read', () => {
    const [some] = diagnoseLog('dev-libs/foo-1', 'one\n\ntwo\nthree\nfour\n', undefined, CONTEXT);
    expect(some).toMatchObject({ cause: 'unknown', evidence: ['two', 'three', 'four'], fix: { commands: ['build-swarm logs dev-libs/foo-1'] } });
    const [none] = diagnoseLog('dev-libs/foo-1', undefined, 'failed on d1, d2: emerge exited with status 1', CONTEXT);
    expect(none).toMatchObject({ cause: 'unknown', evidence: ['failed on d1, d2: emerge exited with status 1'] });
  });

  it('removes colour codes and control characters before reading', () => {
    const log = '\x1b[32;01mThe following USE changes are necessary to proceed:\x1b[0m\n (see "package.use" in the portage(5) man page for more details)\n# required by dev-libs/A-1::gentoo\n\x1b[33;01m>=dev-libs/B-1 foo\x1b[0m\n';
    const [finding] = diagnoseLog('dev-libs/A-1', log, undefined, CONTEXT);
    expect(finding?.fix.commands).toContain(`echo '>=dev-libs/B-1 foo' >> ${USE_FILE}`);
    expect(finding?.evidence.join('\n')).not.toContain('\x1b');
  });
});

describe('hostile text never reaches a command unquoted', () => {
  const hostile = [
    'The following USE changes are necessary to proceed:',
    ' (see "package.use" in the portage(5) man page for more details)',
    '>=dev-libs/foo-1;rm -rf / bar',
    ">=dev-libs/good-1 $(touch${IFS}/tmp/pwned) `id`",
    '',
    'The following keyword changes are necessary to proceed:',
    "=dev-libs/evil-1'; reboot; ' ~amd64",
    '',
    '!!! All ebuilds that could satisfy "dev-libs/x$(id)" have been masked.',
    '- dev-libs/x$(id)-1::gentoo (masked by: ~amd64 keyword)',
    '',
    'emerge: there are no ebuilds built with USE flags to satisfy "a/b[c]".',
    '- a/b-1|sh::gentoo (Change USE: +foo;id)',
    '',
    ' * Error: circular dependencies:',
    '- dev-libs/c-1 (Change USE: -doc$(id))',
  ].join('\n');

  it('refuses atoms and flags that do not parse, and says so', () => {
    const findings = diagnoseLog('dev-libs/target-1', hostile, undefined, CONTEXT);
    const commands = findings.flatMap((finding) => finding.fix.commands);
    expectSafe(commands);
    expect(commands.filter((command) => command.startsWith('echo '))).toEqual([]);
    const use = findings.find((finding) => finding.cause === 'use-change') as Finding;
    expect(use.fix.summary).toContain('dev-libs/foo-1;rm is not a valid package atom');
    expect(use.fix.summary).toContain('$(touch${IFS}/tmp/pwned) is not a valid USE flag');
  });

  it('quotes a CPV, a profile and a drone root with shell syntax in them', () => {
    const cpv = "dev-libs/x-1'; reboot; '";
    const context = { profile: 'desk top$(id)', configRoot: "/srv/it's here/desk top$(id)" };
    const findings = [
      ...diagnoseLog(cpv, sample('portage-autounmask-use-change.txt'), undefined, context),
      ...diagnoseLog(cpv, sample('portage-slot-conflict.txt'), undefined, context),
      ...diagnoseLog(cpv, sample('deepin-overlay-issue-120-compile-failure.txt'), undefined, context),
    ];
    const commands = findings.flatMap((finding) => finding.fix.commands);
    expect(commands.length).toBeGreaterThan(3);
    expectSafe(commands);
    expect(commands).toContain(`build-swarm logs 'dev-libs/x-1'\\''; reboot; '\\'''`);
    expect(commands).toContain(`echo '>=dev-libs/B-1 foo' >> '/srv/it'\\''s here/desk top$(id)/etc/portage/package.use/argo-swarm'`);
  });

  it.each(['plain/word-1.0', "it's", '$(id) `id` ; | & > <', '-n', '~amd64', 'a\nb', "''", ''])('shellQuote(%j) reaches a real shell as one word, unchanged', (word) => {
    const echoed = execFileSync('sh', ['-c', `printf '%s' ${shellQuote(word)}`], { encoding: 'utf8' });
    expect(echoed).toBe(word);
  });
});

describe('solveRequiredUse', () => {
  it.each<[string, string[], [string, boolean][], string[] | undefined]>([
    ['exactly-one-of ( qt4 qt5 )', ['qt4'], [['qt5', true]], ['qt5', '-qt4']],
    ['exactly-one-of ( qt4 qt5 )', [], [], ['qt4']],
    ['any-of ( gtk qt5 )', [], [], ['gtk']],
    ['at-most-one-of ( a b c )', ['a', 'b', 'c'], [['b', true]], ['-a', '-c']],
    ['amd64? ( !dmd-2_098 )', ['dmd-2_098'], [], ['-dmd-2_098']],
    ['ssl? ( openssl )', ['ssl'], [['openssl', false]], ['-ssl']],
    ['^^ ( a b ) a? ( c )', ['a', 'b'], [], ['-b', 'c']],
    ['exactly-one-of ( a b )', [], [['a', false], ['b', false]], undefined],
    ['exactly-one-of ( a b', [], [], undefined],
  ])('%s with USE %j and pinned %j: %j', (expression, enabled, pinned, expected) => {
    expect(solveRequiredUse(expression, new Set(enabled), new Map(pinned))).toEqual(expected);
  });
});

describe('diagnoseBlocked: blocked packages under their root failures', () => {
  const pkg = (cpv: string, state: PackageStatus['state'], extra: Partial<PackageStatus> = {}): PackageStatus => ({ cpv, state, since: 0, attempt: 1, failures: 0, logs: [], expected: 10, heavy: false, ...extra });
  // a (failed) <- c (blocked) <- d (blocked); b (failed) <- e (blocked, needs c and b); g (built) <- f (blocked, no failed root)
  const packages = [
    pkg('x/a-1', 'failed', { reason: 'failed on d1, d2: emerge exited with status 1', logs: ['/api/v1/logs/c1/x/a-1/2/d2'] }),
    pkg('x/b-1', 'failed', { reason: 'failed on d1: emerge exited with status 1' }),
    pkg('x/c-1', 'blocked', { reason: 'needs x/a-1, which failed' }),
    pkg('x/d-1', 'blocked', { reason: 'needs x/a-1, which failed' }),
    pkg('x/e-1', 'blocked', { reason: 'needs x/b-1, which failed' }),
    pkg('x/f-1', 'blocked', { reason: 'needs x/gone-1, which failed' }),
    pkg('x/g-1', 'built'),
    pkg('x/h-1', 'blocked', { reason: 'needs x/b-1, which failed' }),
  ];
  const graph = {
    nodes: [
      { cpv: 'x/a-1', deps: [] },
      { cpv: 'x/b-1', deps: ['x/g-1'] },
      { cpv: 'x/c-1', deps: ['x/a-1', 'x/g-1'] },
      { cpv: 'x/d-1', deps: ['x/c-1'] },
      { cpv: 'x/e-1', deps: ['x/c-1', 'x/b-1'] },
      { cpv: 'x/f-1', deps: ['x/g-1'] },
      { cpv: 'x/g-1', deps: [] },
      { cpv: 'x/h-1', deps: ['x/b-1', 'x/g-1'] },
    ],
  };
  const cycle = { id: 'c1', profile: 'desktop', status: 'finished' as const, packages };
  const logs = new Map([['x/a-1', { path: '/api/v1/logs/c1/x/a-1/2/d2', text: sample('portage-autounmask-use-change.txt') }]]);

  it('walks the DAG through blocked packages to every failed root, grouped, shortest first', () => {
    const report = diagnoseBlocked({ cycle, graph, logs, droneRoot: '/var/lib/argo/drone' });
    expect(report.traced).toBe('graph');
    expect(report.counts).toEqual({ failed: 2, blocked: 5 });
    expect(report.failed.map((entry) => [entry.cpv, entry.cause, entry.blocks])).toEqual([
      ['x/b-1', 'unknown', ['x/h-1']],
      ['x/a-1', 'use-change', ['x/c-1', 'x/d-1']],
    ]);
    expect(report.failed[1]?.log).toBe('/api/v1/logs/c1/x/a-1/2/d2');
    expect(report.blockedBySeveral).toEqual([{ cpv: 'x/e-1', waitsOn: ['x/a-1', 'x/b-1'], reason: 'needs x/b-1, which failed' }]);
    expect(report.unexplained.map((entry) => entry.cpv)).toEqual(['x/f-1']);
    expect(report.retry).toBe('build-swarm fresh --profile desktop');
  });

  it('without the DAG, reads the failure each blocked package names', () => {
    const report = diagnoseBlocked({ cycle, graph: undefined, logs, droneRoot: '/var/lib/argo/drone' });
    expect(report.traced).toBe('reasons');
    expect(report.failed.map((entry) => [entry.cpv, entry.blocks])).toEqual([
      ['x/a-1', ['x/c-1', 'x/d-1']],
      ['x/b-1', ['x/e-1', 'x/h-1']],
    ]);
    expect(report.unexplained.map((entry) => entry.cpv)).toEqual(['x/f-1']);
  });

  it('has nothing to say about a clean cycle', () => {
    const report = diagnoseBlocked({ cycle: { ...cycle, packages: [pkg('x/g-1', 'built')] }, graph, logs: new Map(), droneRoot: '/var/lib/argo/drone' });
    expect(report).toMatchObject({ failed: [], blockedBySeveral: [], unexplained: [], counts: { failed: 0, blocked: 0 } });
  });
});

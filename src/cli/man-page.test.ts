import { describe, expect, it } from 'vitest';
import { completionScript } from './completion-script.ts';
import { describeCli } from './describe-cli.ts';
import { renderManPage, roffText } from './man-page.ts';
import type { CliDefinition } from './run-cli.ts';

const noop = async () => ({ exitCode: 0 as const });

/** A small CLI defined the way argo's is: the tree these tests walk. */
const tiny: CliDefinition = {
  name: 'tiny',
  description: 'A tiny CLI for the tests.',
  manual: { environment: [['TINY_HOME', 'where it keeps things']], files: [['/etc/tiny.conf', 'its settings']], seeAlso: ['argo(1)'] },
  commands: (cli, bind) =>
    cli
      .command(
        'fix <what> [how..]',
        'Fix something',
        (sub) =>
          sub
            .positional('what', { choices: ['login', 'boot'] as const, describe: 'what to fix' })
            .positional('how', { type: 'string', array: true, describe: 'how' })
            .option('pretend', { alias: ['p', 'dry-run'], type: 'boolean', default: false, describe: 'show; change nothing' })
            .option('level', { type: 'number', default: 3, describe: 'how hard' })
            .option('secret-test-knob', { type: 'string', hidden: true, describe: 'tests only' })
            .example('$0 fix login -p', 'look first')
            .epilog('More words.\n\nA second paragraph.'),
        bind(noop),
      )
      .command('list', 'List things', (sub) => sub.option('tag', { type: 'string', array: true, choices: ['a', 'b'] as const, describe: 'only these' }), bind(noop)),
};

describe('describeCli', () => {
  it('reads every command, positional and option back from yargs, with types, defaults, aliases and examples', () => {
    const reference = describeCli(tiny);
    expect(reference.commands.map((command) => command.name)).toEqual(['fix', 'list', 'completion']);
    const fix = reference.commands[0];
    expect(fix?.usage).toBe('fix <what> [how..]');
    expect(fix?.positionals.map((option) => [option.name, option.choices, option.array])).toEqual([
      ['what', ['login', 'boot'], false],
      ['how', undefined, true],
    ]);
    expect(fix?.options.find((option) => option.name === 'pretend')).toMatchObject({ aliases: ['p', 'dry-run'], type: 'boolean', default: false, hidden: false });
    expect(fix?.options.find((option) => option.name === 'level')).toMatchObject({ type: 'number', default: 3 });
    expect(fix?.options.find((option) => option.name === 'secret-test-knob')).toMatchObject({ hidden: true });
    expect(fix?.examples).toEqual([{ command: 'tiny fix login -p', description: 'look first' }]);
    expect(fix?.epilogs).toEqual(['More words.\n\nA second paragraph.']);
    expect(reference.globalOptions.map((option) => option.name)).toEqual(['root', 'json', 'log-file', 'verbose', 'quiet', 'color', 'version', 'help']);
    // A command's own options only: those of every command are listed once, as global.
    expect(fix?.options.map((option) => option.name)).not.toContain('root');
  });
});

describe('renderManPage', () => {
  it.each([
    ['a-b', 'a\\-b'],
    ['C:\\path', 'C:\\epath'],
    ['.starts with a dot', '\\&.starts with a dot'],
    ["'quote first", "\\&'quote first"],
    ['✓ ≥', '\\[u2713] \\[u2265]'],
  ])('escapes %j for roff', (text, escaped) => {
    expect(roffText(text)).toBe(escaped);
  });

  it('documents what is not hidden, with the sections of a man page', () => {
    const page = renderManPage(tiny, { version: '9.9.9', date: '2026-11-30' });
    expect(page).toMatch(/^\.TH TINY 1 "2026\\-11\\-30" "argo\\-toolkit 9\.9\.9" "Argo toolkit"$/m);
    for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'OPTIONS', '"EXIT STATUS"', 'ENVIRONMENT', 'FILES', '"SEE ALSO"']) expect(page).toContain(`.SH ${section}\n`);
    expect(page).toContain('\\fB\\-p\\fR, \\fB\\-\\-pretend\\fR, \\fB\\-\\-dry\\-run\\fR');
    expect(page).toContain('\\fB\\-\\-level\\fR \\fInumber\\fR');
    expect(page).toContain('Default: 3.');
    expect(page).toContain('\\fB\\-\\-tag\\fR \\fBa\\fR|\\fBb\\fR ...');
    expect(page).not.toContain('secret');
    expect(page).toContain('tiny fix login \\-p');
    expect(page).toContain('TINY_HOME');
    expect(page).toContain('\\fBargo\\fR(1), \\fBemerge\\fR(1), \\fBmake.conf\\fR(5)');
    // No line of text may start a roff request by accident.
    for (const line of page.split('\n')) if (/^[.']/.test(line)) expect(line).toMatch(/^\.(\\"|TH|SH|SS|TP|PP|RS|RE|nf|fi|br|nh)( |$)/);
  });
});

describe('completionScript', () => {
  it('completes the commands, options, and choices of the definitions, and leaves hidden options out', () => {
    const bash = completionScript(tiny, 'bash');
    expect(bash).toContain('compgen -W "fix list completion"');
    expect(bash).toContain('-p --pretend --dry-run --level');
    expect(bash).toContain('fix) case $positionals in 0) COMPREPLY=( $(compgen -W "login boot" -- "$cur") ) ;; esac ;;');
    expect(bash).not.toContain('secret-test-knob');
    const zsh = completionScript(tiny, 'zsh');
    expect(zsh).toContain("'(-p --pretend --dry-run)'{-p,--pretend,--dry-run}'[show; change nothing]'");
    expect(zsh).toContain("'*--tag[only these]:tag:(a b)'");
    expect(zsh).toContain("'1:what:(login boot)'");
  });

  it('refuses a name that could become shell code rather than quoting it', () => {
    const hostile: CliDefinition = { ...tiny, commands: (cli, bind) => cli.command('list', 'List', (sub) => sub.option('x', { type: 'string', choices: ['$(reboot)'] }), bind(noop)) };
    expect(() => completionScript(hostile, 'bash')).toThrow(/cannot go into a completion script/);
  });
});

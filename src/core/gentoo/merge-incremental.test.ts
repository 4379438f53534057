import { describe, expect, it } from 'vitest';
import { mergeIncremental } from './merge-incremental.ts';

describe('mergeIncremental', () => {
  it.each<[(string | string[])[], string[]]>([
    [['a b c'], ['a', 'b', 'c']],
    [['a b c', '-b'], ['a', 'c']],
    [['a b', '-* c'], ['c']],
    [['a', '+b'], ['a', 'b']],
    [['a  \n b', ''], ['a', 'b']],
    [[['a', 'b'], ['-a', 'a']], ['b', 'a']],
    [['video_cards_intel video_cards_radeon nls', '-video_cards_* video_cards_amdgpu'], ['nls', 'video_cards_amdgpu']],
    [['-nothing'], []],
  ])('stacks %j into %j', (layers, expected) => {
    expect(mergeIncremental(layers)).toEqual(expected);
  });

  it('stacks profile, make.conf, package.use and USE from the environment in order', () => {
    const profile = 'acl crypt ipv6 ncurses nls pam readline ssl unicode';
    const makeConf = '-* nls unicode ipv6 verify-sig';
    const packageUse = ['system', '-static-libs', 'compat'];
    expect(mergeIncremental([profile, makeConf, packageUse, 'test'])).toEqual(['nls', 'unicode', 'ipv6', 'verify-sig', 'system', 'compat', 'test']);
  });

  it('expands prefix_* wildcards against IUSE, and keeps them when nothing matches', () => {
    const iuse = ['+python_targets_python3_12', 'python_targets_python3_13', 'doc'];
    expect(mergeIncremental(['python_targets_* -python_targets_python3_13'], { iuse })).toEqual(['python_targets_python3_12']);
    expect(mergeIncremental(['l10n_*'], { iuse })).toEqual(['l10n_*']);
    expect(mergeIncremental(['l10n_*'])).toEqual(['l10n_*']);
  });
});

/**
 * Canonical text of an atom, in the order PMS and Portage write it:
 * blocker, operator, `category/name`, `-version`, `*`, `:slot/subslot=`, `::repo`, `[use,deps]`.
 * The version keeps its written form (`-r0`, leading zeros), so formatting a parsed canonical atom gives the same
 * text back and `tryParseAtom(formatAtom(atom))` gives an equal atom.
 */

import type { Atom, UseDep } from './parse-atom.ts';

const USE_DEP_PREFIX: Readonly<Record<UseDep['kind'], string>> = {
  enabled: '',
  disabled: '-',
  'if-enabled': '',
  'if-disabled': '!',
  equal: '',
  'not-equal': '!',
};

const USE_DEP_SUFFIX: Readonly<Record<UseDep['kind'], string>> = {
  enabled: '',
  disabled: '',
  'if-enabled': '?',
  'if-disabled': '?',
  equal: '=',
  'not-equal': '=',
};

export function formatUseDep(dep: UseDep): string {
  const missing = dep.missing === undefined ? '' : dep.missing === 'enabled' ? '(+)' : '(-)';
  return `${USE_DEP_PREFIX[dep.kind]}${dep.flag}${missing}${USE_DEP_SUFFIX[dep.kind]}`;
}

export function formatAtom(atom: Atom): string {
  let text = atom.blocker === 'strong' ? '!!' : atom.blocker === 'weak' ? '!' : '';
  if (atom.operator !== undefined) text += atom.operator === '=*' ? '=' : atom.operator;
  text += atom.cp;
  if (atom.versionPattern !== undefined) text += `-${atom.versionPattern}`;
  else if (atom.version !== undefined) text += `-${atom.version.text}${atom.operator === '=*' ? '*' : ''}`;
  if (atom.slot !== undefined || atom.slotOperator !== undefined) {
    text += `:${atom.slot ?? ''}${atom.subSlot === undefined ? '' : `/${atom.subSlot}`}${atom.slotOperator ?? ''}`;
  }
  if (atom.repo !== undefined) text += `::${atom.repo}`;
  if (atom.use.length > 0) text += `[${atom.use.map(formatUseDep).join(',')}]`;
  return text;
}

/**
 * Dependency specifications (PMS 8.2) into a tree: DEPEND, RDEPEND, BDEPEND, PDEPEND, IDEPEND with atom leaves,
 * and LICENSE, RESTRICT, PROPERTIES, REQUIRED_USE, SRC_URI with plain token leaves (`leaves: 'tokens'`).
 *
 * Grammar (whitespace-separated tokens): a leaf, `( … )` all-of group, `|| ( … )` any-of, `^^ ( … )` exactly-one-of,
 * `?? ( … )` at-most-one-of, `flag? ( … )` and `!flag? ( … )` USE conditionals.
 *
 * Portage's `use_reduce` rejects the whole string on the first error. This parser reports each problem as a
 * diagnostic and carries on with what is left: an unmatched `)` is ignored, groups still open at the end are closed,
 * an operator without its `(` is dropped, an invalid atom or an empty group is dropped. A string with no
 * diagnostics is one Portage accepts, EAPI-specific rules aside (`^^`/`??` outside REQUIRED_USE get a diagnostic but
 * are kept).
 */

import type { Diagnostic } from './diagnostics.ts';
import { tryParseAtom, type Atom } from './parse-atom.ts';

export type DepGroupKind = 'all-of' | 'any-of' | 'exactly-one-of' | 'at-most-one-of';

export interface DepAtomNode {
  readonly kind: 'atom';
  readonly atom: Atom;
}

export interface DepTokenNode {
  readonly kind: 'token';
  readonly text: string;
}

export interface DepConditionalNode {
  readonly kind: 'conditional';
  readonly flag: string;
  /** `!flag? ( … )` */
  readonly negated: boolean;
  readonly children: readonly DepNode[];
}

export interface DepGroupNode {
  readonly kind: DepGroupKind;
  readonly children: readonly DepNode[];
}

export type DepNode = DepAtomNode | DepTokenNode | DepConditionalNode | DepGroupNode;

export interface ParseDepSpecOptions {
  /** `atoms` (default) for *DEPEND, `tokens` for LICENSE, RESTRICT, REQUIRED_USE and the like. */
  readonly leaves?: 'atoms' | 'tokens';
  /** Copied into diagnostics. */
  readonly file?: string;
  readonly line?: number;
  /** The variable the text came from, e.g. `RDEPEND`. */
  readonly field?: string;
}

export interface DepSpec {
  readonly nodes: readonly DepNode[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Portage `_get_useflag_re`. */
const USE_FLAG = /^[A-Za-z0-9][A-Za-z0-9+_@-]*$/;

const GROUP_OPERATORS: Readonly<Record<string, DepGroupKind>> = {
  '||': 'any-of',
  '^^': 'exactly-one-of',
  '??': 'at-most-one-of',
};

type Opener =
  | { readonly kind: DepGroupKind }
  | { readonly kind: 'conditional'; readonly flag: string; readonly negated: boolean };

interface Frame {
  readonly opener: Opener;
  readonly children: DepNode[];
}

export function isValidUseFlag(flag: string): boolean {
  return USE_FLAG.test(flag);
}

function close(frame: Frame): DepNode {
  const { opener, children } = frame;
  return opener.kind === 'conditional'
    ? { kind: 'conditional', flag: opener.flag, negated: opener.negated, children }
    : { kind: opener.kind, children };
}

export function parseDepSpec(text: string, options: ParseDepSpecOptions = {}): DepSpec {
  const diagnostics: Diagnostic[] = [];
  const report = (message: string, token: string, action: Diagnostic['action']): void => {
    diagnostics.push({
      ...(options.file === undefined ? {} : { file: options.file }),
      ...(options.line === undefined ? {} : { line: options.line }),
      field: options.field === undefined ? token : `${options.field}: ${token}`,
      message,
      action,
    });
  };
  const atoms = (options.leaves ?? 'atoms') === 'atoms';

  const root: DepNode[] = [];
  const stack: Frame[] = [];
  const current = (): DepNode[] => stack[stack.length - 1]?.children ?? root;
  let pending: { readonly opener: Opener; readonly token: string } | undefined;

  const dropPending = (token: string): void => {
    if (pending === undefined) return;
    report('an operator or USE conditional is not followed by (', `${pending.token} ${token}`, 'dropped');
    pending = undefined;
  };

  for (const token of text.split(/\s+/)) {
    if (token === '') continue;
    if (token === '(') {
      stack.push({ opener: pending?.opener ?? { kind: 'all-of' }, children: [] });
      pending = undefined;
      continue;
    }
    if (token === ')') {
      dropPending(token);
      const frame = stack.pop();
      if (frame === undefined) {
        report('a ) has no matching (', token, 'ignored');
        continue;
      }
      if (frame.children.length === 0) {
        report('a group is empty', token, 'dropped');
        continue;
      }
      current().push(close(frame));
      continue;
    }
    const operator = GROUP_OPERATORS[token];
    if (operator !== undefined) {
      dropPending(token);
      if (atoms && operator !== 'any-of') report('^^ and ?? groups are only valid in REQUIRED_USE', token, 'kept');
      pending = { opener: { kind: operator }, token };
      continue;
    }
    if (token.endsWith('?')) {
      dropPending(token);
      const negated = token.startsWith('!');
      const flag = token.slice(negated ? 1 : 0, -1);
      if (!USE_FLAG.test(flag)) report('a USE conditional names an invalid USE flag', token, 'kept');
      pending = { opener: { kind: 'conditional', flag, negated }, token };
      continue;
    }
    dropPending(token);
    if (!atoms) {
      current().push({ kind: 'token', text: token });
      continue;
    }
    const atom = tryParseAtom(token);
    if (atom.ok) {
      current().push({ kind: 'atom', atom: atom.value });
    } else if (/^(\(|\)|\|\|)|(\(|\)|\|\|)$/.test(token)) {
      report('missing whitespace around a parenthesis or ||', token, 'dropped');
    } else {
      report(`invalid atom: ${atom.reason}`, token, 'dropped');
    }
  }

  if (pending !== undefined) {
    report('the text ends after an operator or USE conditional', pending.token, 'dropped');
  }
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    report('a ( is never closed', '(', 'kept');
    if (frame.children.length > 0) current().push(close(frame));
  }
  return { nodes: root, diagnostics };
}

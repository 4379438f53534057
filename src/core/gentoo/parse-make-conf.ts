/**
 * make.conf (and make.defaults, make.globals) as Portage reads it: `getconfig` in lib/portage/util/__init__.py,
 * which is Python's `shlex` in POSIX mode plus `varexpand`, not a shell. What that means, reproduced here:
 *
 * - words are made of letters, digits and `~!@#$%*_\:;?,./-+{}`; any other character (`=`, `(`, `|` ...) is a word
 *   of its own, so `VAR="v"`, `VAR = "v"` and `export VAR="v"` are all one assignment;
 * - `'…'` and `"…"` quote (quotes are removed, then the value is expanded: single quotes do not stop `${VAR}`
 *   expansion, a backslash does: `\$`); a backslash-newline continues a line; `#` starts a comment, even
 *   inside a word;
 * - `${VAR}` and `$VAR` expand to variables set earlier in the file or given in `env` (make.globals, profile
 *   make.defaults, env.d); unknown variables expand to nothing; a newline in a value becomes a space;
 *   `$` followed by neither a name nor `{name}` makes the whole value empty ("bad substitution");
 * - `source FILE` (anywhere a word is read, as shlex does) reads FILE through `readFile`, relative paths from the
 *   directory of the current file, after variable expansion;
 * - `VAR=` followed by a newline takes the next word as its value, as shlex skips newlines.
 *
 * Portage stops with a ParseError at the first syntax error (a word without `=` after it, a missing value, an
 * unclosed quote); here that becomes a diagnostic and the variables read so far are returned. An invalid variable
 * name is reported and skipped, as Portage's tolerant mode does. `. FILE` is also followed, with a diagnostic:
 * Portage does not know `.` and refuses the whole file.
 */

import { posix } from 'node:path';
import type { Diagnostic } from './diagnostics.ts';

export interface ParseMakeConfOptions {
  /** Path of the text inside the target root; used for diagnostics and to resolve relative `source` paths. */
  readonly file?: string;
  /** Variables known before this file (make.globals, profile make.defaults); they are not part of `vars`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Returns the text of a sourced file (a path inside the target root), or undefined when it does not exist. */
  readonly readFile?: (path: string) => string | undefined;
}

export interface MakeConfOrigin {
  readonly file?: string;
  readonly line: number;
}

export interface MakeConf {
  /** Variables assigned by this file and the files it sources, expanded. */
  readonly vars: Readonly<Record<string, string>>;
  /** Where each variable was last assigned. */
  readonly origins: Readonly<Record<string, MakeConfOrigin>>;
  /** Files read through `source` (or `.`), in order. */
  readonly sourced: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

/** `string.digits + string.ascii_letters + r"~!@#$%*_\:;?,./-+{}"` plus the Latin-1 letters shlex adds in POSIX mode. */
const WORD_CHARS = new Set(
  '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ~!@#$%*_\\:;?,./-+{}' +
    'ßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞ',
);
const WHITESPACE = new Set([' ', '\t', '\r', '\n']);
const VARIABLE_NAME_CHARS = /[A-Za-z0-9_]/;
/** Portage `_invalid_var_name_re`. */
const INVALID_VARIABLE_NAME = /^\d|\W/;
const MAX_SOURCE_DEPTH = 16;

interface Token {
  readonly text: string;
  readonly line: number;
  readonly file: string | undefined;
}

class SyntaxProblem extends Error {}

interface Source {
  readonly text: string;
  readonly file: string | undefined;
  pos: number;
  line: number;
}

/** Python's shlex.shlex(posix=True) with Portage's word characters, reduced to what getconfig uses. */
class ConfigLexer {
  private readonly stack: Source[] = [];
  private pushback: Token[] = [];

  constructor(text: string, file: string | undefined) {
    this.stack.push({ text, file, pos: 0, line: 1 });
  }

  get depth(): number {
    return this.stack.length;
  }

  get current(): Source {
    return this.stack[this.stack.length - 1] as Source;
  }

  pushSource(text: string, file: string): void {
    this.stack.push({ text, file, pos: 0, line: 1 });
  }

  /** The next word, or undefined at the end of the outermost text; ends of sourced files are crossed silently. */
  readRaw(): Token | undefined {
    const pushed = this.pushback.shift();
    if (pushed !== undefined) return pushed;
    for (;;) {
      const token = this.readToken(this.current);
      if (token !== undefined || this.stack.length === 1) return token;
      this.stack.pop();
    }
  }

  private readToken(source: Source): Token | undefined {
    const { text } = source;
    let word = '';
    let quoted = false;
    let state: 'space' | 'word' | "'" | '"' = 'space';
    let startLine = source.line;
    const take = (): string | undefined => {
      if (source.pos >= text.length) return undefined;
      const char = text[source.pos] as string;
      source.pos += 1;
      if (char === '\n') source.line += 1;
      return char;
    };
    const skipComment = (): void => {
      const newline = text.indexOf('\n', source.pos);
      source.pos = newline === -1 ? text.length : newline + 1;
      source.line += 1;
    };
    const emit = (): Token | undefined =>
      word !== '' || quoted ? { text: word, line: startLine, file: source.file } : undefined;
    for (;;) {
      const char = take();
      if (state === 'space') {
        if (char === undefined) return emit();
        if (WHITESPACE.has(char)) continue;
        startLine = source.line;
        if (char === '#') {
          skipComment();
        } else if (char === '\\') {
          const next = take();
          if (next === undefined) throw new SyntaxProblem('the text ends after a backslash');
          word += next;
          state = 'word';
        } else if (WORD_CHARS.has(char)) {
          word = char;
          state = 'word';
        } else if (char === "'" || char === '"') {
          state = char;
        } else {
          return { text: char, line: startLine, file: source.file };
        }
      } else if (state === "'" || state === '"') {
        quoted = true;
        if (char === undefined) throw new SyntaxProblem('a quote is never closed');
        if (char === state) {
          state = 'word';
        } else if (char === '\\' && state === '"') {
          const next = take();
          if (next === undefined) throw new SyntaxProblem('the text ends after a backslash');
          // POSIX: inside double quotes only the quote and the backslash itself can be escaped.
          word += next === '"' || next === '\\' ? next : `\\${next}`;
        } else {
          word += char;
        }
      } else {
        if (char === undefined) return emit();
        if (WHITESPACE.has(char)) return emit();
        if (char === '#') {
          skipComment();
          return emit();
        }
        if (char === "'" || char === '"') {
          state = char;
        } else if (char === '\\') {
          const next = take();
          if (next === undefined) throw new SyntaxProblem('the text ends after a backslash');
          word += next;
        } else if (WORD_CHARS.has(char)) {
          word += char;
        } else {
          this.pushback.push({ text: char, line: source.line, file: source.file });
          return emit();
        }
      }
    }
  }
}

/** A value expanded past this is cut: `A="$A$A"` repeated doubles each time and would exhaust memory. */
const MAX_EXPANDED_LENGTH = 1024 * 1024;

/** Portage `varexpand`: `${VAR}`/`$VAR` expansion, backslash removal for `\$` and `\\`, newlines to spaces. */
function expandValue(value: string, known: Readonly<Record<string, string>>): { text: string; problem?: string } {
  let out = '';
  let inSingle = false;
  let inDouble = false;
  let pos = 0;
  const length = value.length;
  while (pos < length) {
    if (out.length > MAX_EXPANDED_LENGTH) return { text: out.slice(0, MAX_EXPANDED_LENGTH), problem: `the value expands to more than ${MAX_EXPANDED_LENGTH} characters; it is cut there` };
    const char = value[pos] as string;
    // Quote characters still in the value (escaped or nested ones; shlex removed the others) are kept and switch
    // single-quote mode, in which nothing is expanded.
    if (char === "'" || char === '"') {
      if (char === "'" && !inDouble) inSingle = !inSingle;
      if (char === '"' && !inSingle) inDouble = !inDouble;
      out += char;
      pos += 1;
      continue;
    }
    if (inSingle) {
      out += char;
      pos += 1;
      continue;
    }
    if (char === '\n') {
      out += ' ';
      pos += 1;
    } else if (char === '\\') {
      if (pos + 1 >= length) {
        out += char;
        break;
      }
      const next = value[pos + 1] as string;
      pos += 2;
      if (next === '$') {
        out += '$';
      } else if (next === '\\') {
        out += '\\';
        const after = value[pos];
        if (after === "'" || after === '"' || after === '$') {
          out += after;
          pos += 1;
        }
      } else if (next !== '\n') {
        out += char + next;
      }
    } else if (char === '$') {
      pos += 1;
      if (pos === length) {
        out += '$';
        continue;
      }
      const braced = value[pos] === '{';
      if (braced) {
        pos += 1;
        if (pos === length) return { text: '', problem: "unexpected end of text while looking for the closing } of ${" };
      }
      const start = pos;
      while (pos < length && VARIABLE_NAME_CHARS.test(value[pos] as string)) pos += 1;
      const name = value.slice(start, pos);
      if (braced) {
        if (value[pos] !== '}') return { text: '', problem: "unexpected end of text while looking for the closing } of ${" };
        pos += 1;
      }
      if (name === '') return { text: '', problem: 'bad substitution: $ is not followed by a variable name' };
      out += known[name] ?? '';
    } else {
      out += char;
      pos += 1;
    }
  }
  return { text: out };
}

export function parseMakeConf(text: string, options: ParseMakeConfOptions = {}): MakeConf {
  const vars: Record<string, string> = {};
  const origins: Record<string, MakeConfOrigin> = {};
  const known: Record<string, string> = { ...options.env };
  const sourced: string[] = [];
  const diagnostics: Diagnostic[] = [];
  const report = (
    at: { file?: string | undefined; line?: number },
    message: string,
    action?: Diagnostic['action'],
    field?: string,
  ): void => {
    diagnostics.push({
      ...(at.file === undefined ? {} : { file: at.file }),
      ...(at.line === undefined ? {} : { line: at.line }),
      ...(field === undefined ? {} : { field }),
      message,
      ...(action === undefined ? {} : { action }),
    });
  };

  // Portage appends a newline when the text lacks one, so that a final `source` line works.
  const lexer = new ConfigLexer(text.endsWith('\n') || text === '' ? text : `${text}\n`, options.file);

  const include = (nameToken: Token | undefined, keyword: Token): void => {
    const expanded = nameToken === undefined ? '' : expandValue(nameToken.text, known).text;
    // Portage crashes on a `source` without a file name, or whose name expands to nothing.
    if (nameToken === undefined || expanded === '') throw new SyntaxProblem(`${keyword.text} is not followed by a file name`);
    // Always absolute here (the base is), so posix.resolve never consults the working directory.
    const target = posix.resolve(posix.dirname(nameToken.file ?? '/'), expanded);
    if (lexer.depth >= MAX_SOURCE_DEPTH) {
      report(nameToken, 'source files nest too deeply (a file sources itself?)', 'ignored', target);
      return;
    }
    const content = options.readFile?.(target);
    if (content === undefined) {
      report(nameToken, 'a sourced file does not exist', 'ignored', target);
      return;
    }
    sourced.push(target);
    lexer.pushSource(content.endsWith('\n') || content === '' ? content : `${content}\n`, target);
  };

  /** shlex `get_token`: a `source` word anywhere reads the next word as a file to include. */
  const next = (): Token | undefined => {
    let token = lexer.readRaw();
    while (token !== undefined && token.text === 'source') {
      include(lexer.readRaw(), token);
      token = lexer.readRaw();
    }
    return token;
  };

  try {
    for (;;) {
      let key = next();
      if (key?.text === 'export') key = next();
      if (key === undefined) break;
      if (key.text === '.') {
        report(key, 'Portage reads only `source`; with `.` emerge refuses this file', 'kept', '.');
        include(lexer.readRaw(), key);
        continue;
      }
      const equals = next();
      if (equals === undefined || equals.text === '') {
        report(key, 'the text ends after a variable name; Portage stops reading here', 'ignored', key.text);
        break;
      }
      if (equals.text !== '=') {
        const words = `${key.text} ${equals.text}`;
        report(equals, 'a word is not followed by =; Portage refuses the file from here on', 'ignored', words);
        break;
      }
      const value = next();
      if (value === undefined) {
        report(key, 'the text ends before the value of a variable; Portage stops reading here', 'ignored', key.text);
        break;
      }
      if (value.line > equals.line || value.file !== equals.file) {
        report(value, 'an assignment has no value on its line, so Portage takes the next word as its value', 'kept', key.text);
      }
      if (INVALID_VARIABLE_NAME.test(key.text)) {
        report(key, 'invalid variable name', 'ignored', key.text);
        continue;
      }
      const expanded = expandValue(value.text, known);
      if (expanded.problem !== undefined) report(value, expanded.problem, 'defaulted', key.text);
      vars[key.text] = expanded.text;
      known[key.text] = expanded.text;
      origins[key.text] = { ...(key.file === undefined ? {} : { file: key.file }), line: key.line };
    }
  } catch (error) {
    if (!(error instanceof SyntaxProblem)) throw error;
    const at = { file: lexer.current.file, line: lexer.current.line };
    report(at, `${error.message}; Portage refuses the file from here on`, 'ignored');
  }
  return { vars, origins, sourced, diagnostics };
}

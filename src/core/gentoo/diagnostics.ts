/**
 * What a parser could not read. Parsers carry on where Portage would and return these alongside their
 * result instead of throwing: a caller decides whether a diagnostic matters.
 */
export interface Diagnostic {
  /** The file the text came from, when the caller said (parsers take it as an option). */
  readonly file?: string;
  /** 1-based line number in that text. */
  readonly line?: number;
  /** The key, field or token that was not understood. */
  readonly field?: string;
  /** Static description of the problem. */
  readonly message: string;
  /** What Portage does with it: the line is ignored, the key dropped, a default used. */
  readonly action?: 'ignored' | 'dropped' | 'defaulted' | 'kept';
}

/** A parser's list of diagnostics and the one way it adds to it, with the file filled in. */
export function collectDiagnostics(file: string | undefined, action: Diagnostic['action'] = 'ignored') {
  const diagnostics: Diagnostic[] = [];
  const report = (line: number, message: string, field?: string): void => {
    diagnostics.push({ ...(file === undefined ? {} : { file }), line, ...(field === undefined ? {} : { field }), message, action });
  };
  return { diagnostics, report };
}

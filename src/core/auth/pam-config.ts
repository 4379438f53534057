/**
 * /etc/pam.d/<service> (pam.conf(5)): `[-]type control module-path [args…]`, where control is a keyword or
 * a `[value=action …]` bracket, `include`/`substack` name another service file, and Debian's `@include`
 * lines pull in a file. A leading `-` on the type makes a missing module silently ignored.
 */
export interface PamRule {
  readonly service: string;
  readonly line: number;
  readonly type: string;
  /** `-auth`: PAM skips the rule when its module is missing. */
  readonly optionalModule: boolean;
  readonly control: string;
  readonly module: string;
  readonly args: readonly string[];
}

export interface PamFile {
  readonly rules: readonly PamRule[];
  /** Services this file pulls in (`include`, `substack`, `@include`). */
  readonly includes: readonly string[];
  readonly problems: readonly { readonly line: number; readonly message: string }[];
}

const TYPES = new Set(['auth', 'account', 'password', 'session']);

/** Splits a line into tokens, keeping a `[ … ]` control together. */
function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let index = 0;
  while (index < line.length) {
    while (line[index] === ' ' || line[index] === '\t') index += 1;
    if (index >= line.length) break;
    const end = line[index] === '[' ? line.indexOf(']', index) + 1 : -1;
    if (end > 0) {
      tokens.push(line.slice(index, end));
      index = end;
      continue;
    }
    let stop = index;
    while (stop < line.length && line[stop] !== ' ' && line[stop] !== '\t') stop += 1;
    tokens.push(line.slice(index, stop));
    index = stop;
  }
  return tokens;
}

export function parsePamFile(service: string, text: string): PamFile {
  const rules: PamRule[] = [];
  const includes: string[] = [];
  const problems: { line: number; message: string }[] = [];
  // Backslash-newline continues a rule on the next line.
  const physical = text.split('\n');
  for (let index = 0; index < physical.length; index += 1) {
    const lineNumber = index + 1;
    let raw = physical[index] as string;
    while (raw.endsWith('\\') && index + 1 < physical.length) {
      index += 1;
      raw = `${raw.slice(0, -1)} ${physical[index] as string}`;
    }
    const content = raw.replace(/#.*$/, '').trim();
    if (content === '') continue;
    const tokens = tokenize(content);
    if (tokens[0] === '@include') {
      if (tokens[1]) includes.push(tokens[1]);
      else problems.push({ line: lineNumber, message: '@include without a file name' });
      continue;
    }
    const [typeToken = '', control = '', module = '', ...args] = tokens;
    const optionalModule = typeToken.startsWith('-');
    const type = optionalModule ? typeToken.slice(1) : typeToken;
    if (!TYPES.has(type) || control === '' || module === '') {
      problems.push({ line: lineNumber, message: `not a PAM rule: ${content.slice(0, 60)}` });
      continue;
    }
    if (control === 'include' || control === 'substack') {
      includes.push(module);
      continue;
    }
    rules.push({ service, line: lineNumber, type, optionalModule, control, module, args });
  }
  return { rules, includes, problems };
}

/**
 * The rules of a service with its includes followed, in order, each include read once (a cycle is cut).
 * `readService` returns a file's text or undefined when it does not exist.
 */
export function resolvePamStack(
  service: string,
  readService: (name: string) => string | undefined,
): { rules: PamRule[]; missingIncludes: string[]; problems: { service: string; line: number; message: string }[] } {
  const seen = new Set<string>();
  const rules: PamRule[] = [];
  const missingIncludes: string[] = [];
  const problems: { service: string; line: number; message: string }[] = [];
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const text = readService(name);
    if (text === undefined) {
      missingIncludes.push(name);
      return;
    }
    const file = parsePamFile(name, text);
    problems.push(...file.problems.map((problem) => ({ service: name, ...problem })));
    // Rules and includes interleave in the file; PAM evaluates them in file order. The order matters little
    // for "is every module present", so rules come first, then what each include brings.
    rules.push(...file.rules);
    for (const include of file.includes) visit(include);
  };
  visit(service);
  return { rules, missingIncludes, problems };
}

/** Folders where a PAM module without a path is looked for, by distribution layout. */
export const PAM_MODULE_DIRS: readonly string[] = [
  '/lib64/security',
  '/usr/lib64/security',
  '/lib/security',
  '/usr/lib/security',
  '/lib/x86_64-linux-gnu/security',
  '/usr/lib/x86_64-linux-gnu/security',
  '/lib/aarch64-linux-gnu/security',
  '/usr/lib/aarch64-linux-gnu/security',
];

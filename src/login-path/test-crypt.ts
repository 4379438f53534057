import { CRYPT_TEST_PASSWORD, CRYPT_VECTORS, vectorFor, type CryptVector } from '../core/auth/crypt-vectors.ts';
import { CommandError, type CommandRunner } from '../system/run-command.ts';

export type CryptTool = 'perl' | 'python3';

export interface PrefixResult {
  readonly prefix: string;
  readonly method: string;
  /** crypt() returned exactly the known answer. */
  readonly ok: boolean;
  /** `*0`/`*1`: libxcrypt's "not supported" token; `other`: some other wrong answer. */
  readonly got: 'expected' | 'failure-token' | 'other';
}

export interface CryptTestResult {
  /** The program that ran the test inside the target, or undefined when none could. */
  readonly tool: CryptTool | undefined;
  readonly results: readonly PrefixResult[];
  /** Prefixes we have no known-answer vector for (reported, not tested). */
  readonly untested: readonly string[];
  /** Why each program that was tried could not run the test (e.g. "perl: libcrypt.so.1 cannot be loaded"). */
  readonly attempts: readonly { readonly tool: CryptTool; readonly outcome: 'ran' | 'missing' | 'failed'; readonly reason?: string }[];
  /** A program started but could not load libcrypt at all. */
  readonly libcryptMissing: boolean;
  /** Every tested prefix verified (false when nothing could be tested). */
  readonly allOk: boolean;
}

/** perl links libcrypt: `crypt` is its own builtin. Settings come as arguments, one answer per line. */
const PERL_PROGRAM = 'my $p = shift @ARGV; for my $s (@ARGV) { my $r = crypt($p, $s); print((defined $r ? $r : "(undef)"), "\\n") }';

/** Python without the deprecated crypt module: libcrypt through ctypes. */
const PYTHON_PROGRAM = [
  'import ctypes, ctypes.util, sys',
  'name = ctypes.util.find_library("crypt") or "libcrypt.so.1"',
  'lib = ctypes.CDLL(name)',
  'lib.crypt.restype = ctypes.c_char_p',
  'lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]',
  'for s in sys.argv[2:]:',
  '    r = lib.crypt(sys.argv[1].encode(), s.encode())',
  '    print(r.decode() if r is not None else "(null)")',
].join('\n');

/**
 * Tests the target's own crypt(3) with known-answer vectors for each prefix, running a program *inside*
 * the target (perl, then python3 ctypes), so that the library actually loaded is the one PAM will load.
 */
export async function testCrypt(commands: CommandRunner, prefixes: readonly string[], signal: AbortSignal): Promise<CryptTestResult> {
  const wanted = [...new Set(['$6$', ...prefixes])];
  const vectors = wanted.map(vectorFor).filter((vector): vector is CryptVector => vector !== undefined);
  const untested = wanted.filter((prefix) => vectorFor(prefix) === undefined);
  const settings = vectors.map((vector) => vector.setting);
  const attempts: { tool: CryptTool; outcome: 'ran' | 'missing' | 'failed'; reason?: string }[] = [];
  let libcryptMissing = false;

  const programs: readonly [CryptTool, string, readonly string[]][] = [
    ['perl', 'perl', ['-e', PERL_PROGRAM, CRYPT_TEST_PASSWORD, ...settings]],
    ['python3', 'python3', ['-c', PYTHON_PROGRAM, CRYPT_TEST_PASSWORD, ...settings]],
  ];
  for (const [tool, file, args] of programs) {
    try {
      const result = await commands.run(file, args, { signal, budgetMs: 60_000, mutates: false });
      const answers = result.stdout.split('\n');
      const results = vectors.map((vector, index) => judge(vector, answers[index] ?? ''));
      attempts.push({ tool, outcome: 'ran' });
      return { tool, results, untested, attempts, libcryptMissing: false, allOk: results.every((entry) => entry.ok) };
    } catch (error) {
      if (!(error instanceof CommandError) || error.code === 'ARGO_INTERRUPTED') throw error;
      if (error.code === 'ARGO_COMMAND_NOT_FOUND') {
        attempts.push({ tool, outcome: 'missing', reason: `${tool} is not installed in the target` });
        continue;
      }
      const loadError = error.result.tail.find((line) => /libcrypt\.so/.test(line));
      if (loadError !== undefined) libcryptMissing = true;
      attempts.push({ tool, outcome: 'failed', reason: loadError ?? error.message });
    }
  }
  return { tool: undefined, results: [], untested, attempts, libcryptMissing, allOk: false };
}

function judge(vector: CryptVector, answer: string): PrefixResult {
  const got = answer === vector.expected ? 'expected' : answer === '*0' || answer === '*1' ? 'failure-token' : 'other';
  return { prefix: vector.prefix, method: vector.method, ok: got === 'expected', got };
}

/** Every prefix the test knows, for callers that want the full capability picture. */
export const ALL_CRYPT_PREFIXES: readonly string[] = CRYPT_VECTORS.map((vector) => vector.prefix);

/**
 * emerge's command line, for the subset build drones use, read the way Portage reads it (lib/_emerge/main.py):
 * `insert_optional_args` first gives every y/n option its value (`--buildpkg` -> `--buildpkg True`, `-1bkg` ->
 * `-b True -1kg` and so on), then argparse reads the result: `--opt=value`, unique prefixes of long options,
 * choices checked as they are read, unknown options collected into one `unrecognized arguments:` error.
 *
 * Options Portage knows but this fake does not implement are refused as unrecognized: the fake would otherwise
 * pretend to honour them.
 */

export type YesNo = 'True' | 'y' | 'n';

export interface EmergeArgs {
  /** The one positional argument, unchecked. */
  readonly atom: string;
  readonly oneshot: boolean;
  readonly nospinner: boolean;
  /** Absent when the option was not given. */
  readonly buildpkg?: YesNo;
  readonly usepkg?: YesNo;
  readonly getbinpkg?: YesNo;
  readonly quietBuild?: YesNo;
  readonly verbose?: YesNo;
  readonly color?: 'y' | 'n';
  /** `--usepkg-exclude ATOMS` (repeatable, space-separated atoms): never take these from a binary package. */
  readonly usepkgExclude: readonly string[];
}

export type ParseEmergeArgsResult =
  | { readonly ok: true; readonly args: EmergeArgs }
  /** `message` is what argparse prints after `emerge: error: `. */
  | { readonly ok: false; readonly message: string };

/** Portage's `default_arg_opts` entries for the options this fake knows: the value is optional. */
const OPTIONAL_VALUE_LONG: ReadonlySet<string> = new Set(['--buildpkg', '--getbinpkg', '--quiet-build', '--usepkg', '--verbose']);
/** Portage's `short_arg_opts_n`, in its order (the first letter found in a cluster is expanded first). */
const OPTIONAL_VALUE_SHORT = ['a', 'A', 'b', 'g', 'G', 'k', 'K', 'q', 'v', 'w', 'W'];
/** Portage's `short_arg_opts` (numbers): listed so clusters are split as Portage splits them. */
const NUMERIC_SHORT = ['D', 'j', 'l'];
const Y_OR_N: ReadonlySet<string> = new Set(['y', 'n']);

type OptionKind = 'flag' | 'yes-no' | 'color' | 'append';

interface OptionSpec {
  readonly long: string;
  readonly short?: string;
  readonly kind: OptionKind;
  readonly key: keyof Omit<EmergeArgs, 'atom'>;
}

const OPTIONS: readonly OptionSpec[] = [
  { long: '--oneshot', short: '-1', kind: 'flag', key: 'oneshot' },
  { long: '--nospinner', kind: 'flag', key: 'nospinner' },
  { long: '--buildpkg', short: '-b', kind: 'yes-no', key: 'buildpkg' },
  { long: '--usepkg', short: '-k', kind: 'yes-no', key: 'usepkg' },
  { long: '--getbinpkg', short: '-g', kind: 'yes-no', key: 'getbinpkg' },
  { long: '--quiet-build', kind: 'yes-no', key: 'quietBuild' },
  { long: '--verbose', short: '-v', kind: 'yes-no', key: 'verbose' },
  { long: '--color', kind: 'color', key: 'color' },
  { long: '--usepkg-exclude', kind: 'append', key: 'usepkgExclude' },
];

const CHOICES: Readonly<Record<Exclude<OptionKind, 'flag' | 'append'>, readonly string[]>> = {
  'yes-no': ['True', 'y', 'n'],
  color: ['y', 'n'],
};

/** Portage's `insert_optional_args`, for its y/n options (numeric ones keep their letters, unexpanded). */
export function insertOptionalArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  const stack = [...argv].reverse();
  while (stack.length > 0) {
    const arg = stack.pop() as string;
    if (OPTIONAL_VALUE_LONG.has(arg)) {
      out.push(arg);
      const next = stack[stack.length - 1];
      out.push(next !== undefined && Y_OR_N.has(next) ? (stack.pop() as string) : 'True');
      continue;
    }
    if (!arg.startsWith('-') || arg.startsWith('--')) {
      out.push(arg);
      continue;
    }
    const letters = arg.slice(1);
    if (NUMERIC_SHORT.some((letter) => letters.includes(letter))) {
      out.push(arg);
      continue;
    }
    const match = OPTIONAL_VALUE_SHORT.find((letter) => letters.includes(letter));
    if (match === undefined) {
      out.push(arg);
      continue;
    }
    if (arg.length === 2) {
      out.push(arg);
      const next = stack[stack.length - 1];
      out.push(next !== undefined && Y_OR_N.has(next) ? (stack.pop() as string) : 'True');
      continue;
    }
    out.push(`-${match}`, 'True');
    // Portage: when the letter leads the cluster the rest follows it, otherwise every copy of the letter goes.
    const saved = arg[1] === match ? arg.slice(2) : letters.replaceAll(match, '');
    if (saved !== '') stack.push(`-${saved}`);
  }
  return out;
}

function findLong(name: string): OptionSpec | undefined | 'ambiguous' {
  const exact = OPTIONS.find((option) => option.long === name);
  if (exact !== undefined) return exact;
  const prefixed = OPTIONS.filter((option) => option.long.startsWith(name));
  if (prefixed.length > 1) return 'ambiguous';
  return prefixed[0];
}

export function parseEmergeArgs(argv: readonly string[]): ParseEmergeArgsResult {
  const tokens = insertOptionalArgs(argv);
  const values: Record<string, string | boolean> = {};
  const excluded: string[] = [];
  const positional: string[] = [];
  const unrecognized: string[] = [];
  const fail = (message: string): ParseEmergeArgsResult => ({ ok: false, message });

  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index] as string;
    if (token === '--') {
      positional.push(...tokens.slice(index + 1));
      break;
    }
    if (!token.startsWith('-') || token === '-') {
      positional.push(token);
      continue;
    }
    let spec: OptionSpec | undefined;
    let explicit: string | undefined;
    if (token.startsWith('--')) {
      const equals = token.indexOf('=');
      const name = equals === -1 ? token : token.slice(0, equals);
      explicit = equals === -1 ? undefined : token.slice(equals + 1);
      const found = findLong(name);
      if (found === 'ambiguous') {
        const candidates = OPTIONS.filter((option) => option.long.startsWith(name)).map((option) => option.long);
        return fail(`ambiguous option: ${name} could match ${candidates.join(', ')}`);
      }
      spec = found;
    } else {
      spec = OPTIONS.find((option) => option.short === token);
    }
    if (spec === undefined) {
      unrecognized.push(token);
      continue;
    }
    const shown = spec.short === undefined ? spec.long : `${spec.long}/${spec.short}`;
    if (spec.kind === 'flag') {
      if (explicit !== undefined) return fail(`argument ${shown}: ignored explicit argument '${explicit}'`);
      values[spec.key] = true;
      continue;
    }
    let value = explicit;
    if (value === undefined) {
      const next = tokens[index + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-')) return fail(`argument ${shown}: expected one argument`);
      value = next;
      index += 1;
    }
    if (spec.kind === 'append') {
      excluded.push(...value.split(/\s+/).filter((word) => word !== ''));
      continue;
    }
    const choices = CHOICES[spec.kind];
    if (!choices.includes(value)) {
      return fail(`argument ${shown}: invalid choice: '${value}' (choose from ${choices.map((choice) => `'${choice}'`).join(', ')})`);
    }
    values[spec.key] = value;
  }

  if (unrecognized.length > 0) return fail(`unrecognized arguments: ${unrecognized.join(' ')}`);
  if (positional.length !== 1) {
    return fail(`this fake emerge takes exactly one =CATEGORY/PF atom, got ${positional.length}`);
  }
  const pick = <T extends string>(key: string): T | undefined => values[key] as T | undefined;
  return {
    ok: true,
    args: {
      atom: positional[0] as string,
      oneshot: values.oneshot === true,
      nospinner: values.nospinner === true,
      ...(pick('buildpkg') === undefined ? {} : { buildpkg: pick<YesNo>('buildpkg') as YesNo }),
      ...(pick('usepkg') === undefined ? {} : { usepkg: pick<YesNo>('usepkg') as YesNo }),
      ...(pick('getbinpkg') === undefined ? {} : { getbinpkg: pick<YesNo>('getbinpkg') as YesNo }),
      ...(pick('quietBuild') === undefined ? {} : { quietBuild: pick<YesNo>('quietBuild') as YesNo }),
      ...(pick('verbose') === undefined ? {} : { verbose: pick<YesNo>('verbose') as YesNo }),
      ...(pick('color') === undefined ? {} : { color: pick<'y' | 'n'>('color') as 'y' | 'n' }),
      usepkgExclude: excluded,
    },
  };
}

export interface EffectiveOptions {
  readonly buildpkg: boolean;
  readonly usepkg: boolean;
  readonly getbinpkg: boolean;
  /** The option words of the ` *** emerge ...` line of emerge.log, in the order Portage writes them. */
  readonly logWords: readonly string[];
}

const isYes = (value: YesNo | undefined): boolean => value === 'True' || value === 'y';

/**
 * What the options mean once FEATURES is known, as `parse_opts` and `run_action` settle them: `--buildpkg` (or
 * FEATURES=buildpkg unless `--buildpkg n`), `--getbinpkg` (or FEATURES=getbinpkg unless `--getbinpkg n`), which
 * implies `--usepkg`. `logWords` follows `parse_opts`: store-true options first, then valued options in the order
 * of Portage's option table, `True` written bare and anything else as `--opt=value` (so `--usepkg n` is logged
 * `--usepkg=False`, as Portage logs it).
 */
export function settleOptions(args: EmergeArgs, features: ReadonlySet<string>): EffectiveOptions {
  const opts = new Map<string, string | boolean>();
  if (args.nospinner) opts.set('--nospinner', true);
  if (args.oneshot) opts.set('--oneshot', true);
  if (args.buildpkg !== undefined) opts.set('--buildpkg', isYes(args.buildpkg) ? true : args.buildpkg);
  if (args.color !== undefined) opts.set('--color', args.color);
  if (args.getbinpkg !== undefined) opts.set('--getbinpkg', isYes(args.getbinpkg));
  if (args.quietBuild !== undefined) opts.set('--quiet-build', isYes(args.quietBuild) ? 'y' : args.quietBuild);
  if (args.usepkg !== undefined) opts.set('--usepkg', isYes(args.usepkg));
  if (args.verbose !== undefined && isYes(args.verbose)) opts.set('--verbose', true);

  if (features.has('getbinpkg') && opts.get('--getbinpkg') !== false) opts.set('--getbinpkg', true);
  if (opts.get('--getbinpkg') === true) opts.set('--usepkg', true);

  const buildpkg = opts.get('--buildpkg') === true || (features.has('buildpkg') && args.buildpkg !== 'n');
  const logWords = [...opts].map(([option, value]) =>
    value === true ? option : `${option}=${value === false ? 'False' : value}`,
  );
  return { buildpkg, usepkg: opts.get('--usepkg') === true, getbinpkg: opts.get('--getbinpkg') === true, logWords };
}

import * as path from 'node:path/posix';
import { resolvePamStack, type PamRule } from '../auth/pam-config.ts';
import type { CauseSeverity, LoginCause } from './causes.ts';

/** A rule of the login stack, and whether it decides the console login (reached from `login` and Gentoo's system-* files). */
export interface StackRule extends PamRule {
  /** False for rules only reached from `other` while a `login` file exists: they matter for other services. */
  readonly decidesLogin: boolean;
}

export interface LoginStack {
  /** `login`, or `other` when /etc/pam.d/login does not exist (libpam then uses `other`). */
  readonly service: string;
  readonly loginFileMissing: boolean;
  readonly rules: readonly StackRule[];
  /** Services named by an include that have no file, and the root services (`other`) that are absent. */
  readonly missingServices: readonly string[];
  readonly problems: readonly { readonly service: string; readonly line: number; readonly message: string }[];
}

/** Gentoo's pambase files every login goes through; on Debian they do not exist. */
const GENTOO_LOGIN_SERVICES = ['system-login', 'system-auth'];

/**
 * The stack of the `login` service with includes followed (`include`, `substack`, `@include`), plus Gentoo's
 * system-login and system-auth, plus `other`. `readService` returns a file's text, undefined when absent.
 */
export function buildLoginStack(readService: (name: string) => string | undefined): LoginStack {
  const loginFileMissing = readService('login') === undefined;
  const service = loginFileMissing ? 'other' : 'login';
  const byKey = new Map<string, StackRule>();
  const missing = new Set<string>();
  const problems = new Map<string, { service: string; line: number; message: string }>();
  const visit = (root: string, decidesLogin: boolean): void => {
    if (readService(root) === undefined) {
      if (root === 'other') missing.add('other');
      return;
    }
    const stack = resolvePamStack(root, readService);
    for (const rule of stack.rules) {
      const key = `${rule.service}:${rule.line}`;
      const known = byKey.get(key);
      if (known === undefined || (!known.decidesLogin && decidesLogin)) byKey.set(key, { ...rule, decidesLogin });
    }
    for (const name of stack.missingIncludes) missing.add(name);
    for (const problem of stack.problems) problems.set(`${problem.service}:${problem.line}`, problem);
  };
  visit(service, true);
  for (const name of GENTOO_LOGIN_SERVICES) visit(name, true);
  if (!loginFileMissing) visit('other', false);
  return { service, loginFileMissing, rules: [...byKey.values()], missingServices: [...missing], problems: [...problems.values()] };
}

const KEYWORD_CONTROLS = new Set(['required', 'requisite', 'sufficient', 'optional']);

/** Return values a `[value=action]` control may name (pam.conf(5)). */
const RETURN_VALUES = new Set([
  'success', 'open_err', 'symbol_err', 'service_err', 'system_err', 'buf_err', 'perm_denied', 'auth_err', 'cred_insufficient',
  'authinfo_unavail', 'user_unknown', 'maxtries', 'new_authtok_reqd', 'acct_expired', 'session_err', 'cred_unavail',
  'cred_expired', 'cred_err', 'no_module_data', 'conv_err', 'authtok_err', 'authtok_recover_err', 'authtok_lock_busy',
  'authtok_disable_aging', 'try_again', 'ignore', 'abort', 'authtok_expired', 'module_unknown', 'bad_item', 'conv_again',
  'incomplete', 'default',
]);

const ACTIONS = /^(ignore|bad|die|ok|done|reset|[1-9][0-9]*)$/;

/** The `value=action` pairs of a bracketed control, or undefined when libpam could not parse it. */
export function parseBracketControl(control: string): Map<string, string> | undefined {
  if (!control.startsWith('[') || !control.endsWith(']')) return undefined;
  const pairs = new Map<string, string>();
  for (const token of control.slice(1, -1).trim().split(/\s+/)) {
    if (token === '') continue;
    const match = /^([a-z_]+)=(.+)$/.exec(token);
    if (match === null || !RETURN_VALUES.has(match[1] as string) || !ACTIONS.test(match[2] as string)) return undefined;
    pairs.set(match[1] as string, match[2] as string);
  }
  return pairs.size === 0 ? undefined : pairs;
}

export function isValidControl(control: string): boolean {
  return KEYWORD_CONTROLS.has(control) || parseBracketControl(control) !== undefined;
}

/**
 * What a rule does when its module cannot be loaded: libpam runs it as a faulty module that returns
 * PAM_MODULE_UNKNOWN (libpam/pam_dispatch.c). `required`/`requisite` fail the stack; `sufficient`/`optional`
 * are ignored; a bracket takes its `module_unknown` action, else `default`, else `bad`, and a rule whose
 * success jumps over later rules fails when the module cannot load: the rules it skips run instead.
 */
export function missingModuleOutcome(control: string): 'fails' | 'ignored' {
  if (control === 'required' || control === 'requisite') return 'fails';
  if (control === 'sufficient' || control === 'optional') return 'ignored';
  const pairs = parseBracketControl(control);
  if (pairs === undefined) return 'fails';
  const action = pairs.get('module_unknown') ?? pairs.get('default') ?? 'bad';
  if (action === 'bad' || action === 'die') return 'fails';
  // `[success=1 default=ignore] pam_unix.so` then `requisite pam_deny.so` (Debian's common-auth, Gentoo's
  // system-auth): success jumps over the deny; a module that cannot load does not jump, and the deny runs.
  const success = pairs.get('success') ?? pairs.get('default') ?? 'bad';
  return /^[1-9]/.test(success) && action !== success ? 'fails' : 'ignored';
}

/** The host-independent path libpam loads for a module name: absolute as written, else in the module folder. */
export function modulePath(module: string, moduleDir: string): string {
  return module.startsWith('/') ? module : path.join(moduleDir, module);
}

/** What the target holds at one module path: absent, or present with the libraries `ldd` could not find. */
export interface ModuleFacts {
  readonly present: boolean;
  /** Sonames `ldd` reported as "not found"; undefined when ldd was not run or could not read the file. */
  readonly missingLibraries?: readonly string[] | undefined;
}

function severityOf(rules: readonly StackRule[]): CauseSeverity {
  // A `password` rule runs only when a password is changed: it does not stop a login.
  return rules.some((rule) => rule.decidesLogin && rule.type !== 'password' && missingModuleOutcome(rule.control) === 'fails') ? 'blocks' : 'warns';
}

function usedBy(rules: readonly StackRule[]): string[] {
  return rules.map((rule) => `${rule.service}:${rule.line} ${rule.type} ${rule.control}`);
}

/** The rules as records the repair reads: `fails` when the rule's failure stops the login (the rule to comment out). */
function ruleRecords(rules: readonly StackRule[]): { service: string; line: number; type: string; control: string; fails: boolean }[] {
  return rules.map((rule) => ({ service: rule.service, line: rule.line, type: rule.type, control: rule.control, fails: rule.decidesLogin && rule.type !== 'password' && missingModuleOutcome(rule.control) === 'fails' }));
}

/** Modules the stack names that are absent, or present but with libraries that are not installed. */
export function checkPamModules(stack: LoginStack, moduleDir: string, facts: ReadonlyMap<string, ModuleFacts>): LoginCause[] {
  const byPath = new Map<string, StackRule[]>();
  for (const rule of stack.rules) {
    // `-type`: libpam skips the rule silently when the module is missing (PAM_HT_SILENT_MODULE).
    if (rule.optionalModule) continue;
    const file = modulePath(rule.module, moduleDir);
    byPath.set(file, [...(byPath.get(file) ?? []), rule]);
  }
  const causes: LoginCause[] = [];
  for (const [file, rules] of byPath) {
    const fact = facts.get(file);
    if (fact === undefined) continue;
    const module = (rules[0] as StackRule).module;
    const severity = severityOf(rules);
    if (!fact.present) {
      causes.push({
        id: 'pam-module-missing',
        severity,
        summary: `PAM module ${module} is not installed (${file}), and ${severity === 'blocks' ? 'a rule that must pass names it' : 'only rules that may fail name it'}`,
        evidence: { module, path: file, moduleDir, usedBy: usedBy(rules), rules: ruleRecords(rules) },
        repair: `reinstall the package that provides ${module}, or comment out the line${rules.length > 1 ? 's' : ''} ${rules.map((rule) => `${rule.service}:${rule.line}`).join(', ')} with an "# argo:" note`,
      });
    } else if (fact.missingLibraries !== undefined && fact.missingLibraries.length > 0) {
      causes.push({
        id: 'pam-module-unloadable',
        severity,
        summary: `PAM module ${module} cannot be loaded: ${fact.missingLibraries.join(', ')} not found`,
        evidence: { module, path: file, missingLibraries: fact.missingLibraries, usedBy: usedBy(rules), rules: ruleRecords(rules) },
        repair: `reinstall the package that provides ${fact.missingLibraries.join(', ')} (or rebuild ${module}'s package against the installed libraries: emerge @preserved-rebuild)`,
      });
    }
  }
  return causes;
}

/** Lines libpam cannot parse (an unknown type, a missing module path, an unknown control): it fails the whole stack. */
export function checkPamLines(stack: LoginStack): LoginCause[] {
  const found = [
    ...stack.problems.map((problem) => ({ service: problem.service, line: problem.line, message: problem.message })),
    ...stack.rules
      .filter((rule) => !isValidControl(rule.control))
      .map((rule) => ({ service: rule.service, line: rule.line, message: `unknown control ${rule.control}` })),
  ];
  return found.map((problem) => ({
    id: 'pam-line-unparsable' as const,
    severity: 'blocks' as const,
    summary: `/etc/pam.d/${problem.service} line ${problem.line} cannot be parsed by PAM: ${problem.message}`,
    evidence: { service: problem.service, line: problem.line, message: problem.message },
    repair: `restore /etc/pam.d/${problem.service} from its package, or comment out line ${problem.line} with an "# argo:" note`,
  }));
}

function denies(rules: readonly StackRule[]): boolean {
  return rules.some((rule) => (rule.type === 'auth' || rule.type === 'account') && path.basename(rule.module) === 'pam_deny.so' && (rule.control === 'required' || rule.control === 'requisite'));
}

/** /etc/pam.d/login absent (so `other` applies: on Gentoo it denies), or a file an include names absent. */
export function checkPamServices(stack: LoginStack): LoginCause[] {
  const causes: LoginCause[] = [];
  if (stack.loginFileMissing) {
    const otherMissing = stack.missingServices.includes('other');
    const blocks = otherMissing || denies(stack.rules.filter((rule) => rule.service === 'other'));
    causes.push({
      id: 'pam-service-missing',
      severity: blocks ? 'blocks' : 'warns',
      summary: otherMissing ? '/etc/pam.d/login and /etc/pam.d/other do not exist: PAM refuses the login' : `/etc/pam.d/login does not exist, so the "other" stack applies${blocks ? ', and it denies' : ''}`,
      evidence: { service: 'login', fallback: otherMissing ? null : 'other', fallbackDenies: blocks },
      repair: "restore /etc/pam.d/login from its package's own copy (sys-apps/shadow on Gentoo)",
    });
  }
  for (const name of stack.missingServices) {
    if (name === 'other' && stack.loginFileMissing) continue;
    causes.push({
      id: 'pam-service-missing',
      severity: name === 'other' ? 'warns' : 'blocks',
      summary: name === 'other' ? '/etc/pam.d/other does not exist: services without their own file are refused' : `/etc/pam.d/${name} is included by the login stack but does not exist`,
      evidence: { service: name, included: name !== 'other' },
      repair: `restore /etc/pam.d/${name} from its package's own copy (sys-auth/pambase on Gentoo)`,
    });
  }
  return causes;
}

/**
 * The rules of the login stack that run `module` (by file name) while authenticating or checking the account
 * and whose refusal fails the login: required/requisite, or a bracket whose default is bad/die.
 */
export function enforcingRules(stack: LoginStack, module: string): StackRule[] {
  return stack.rules.filter(
    (rule) =>
      rule.decidesLogin &&
      (rule.type === 'auth' || rule.type === 'account') &&
      path.basename(rule.module) === module &&
      !rule.optionalModule &&
      missingModuleOutcome(rule.control) === 'fails',
  );
}

/** Arguments of every rule of the stack that runs `module`, in stack order (for settings such as deny=). */
export function argsOfModule(stack: LoginStack, module: string): string[] {
  return stack.rules.filter((rule) => rule.decidesLogin && path.basename(rule.module) === module).flatMap((rule) => rule.args);
}

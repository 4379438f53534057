import type { Verdict } from '../../core/recovery/verdict.ts';
import type { LoginState } from '../../login-path/read-login-state.ts';

const yesNo = (value: boolean): string => (value ? 'yes' : 'no');

/** The human text of diagnostics.log and system-state.log: every finding on one line, then the raw JSON. */
export function renderLoginState(title: string, root: string, state: LoginState, verdict?: Verdict): string {
  const lines: string[] = [`# ${title}`, `root: ${root}`, ''];
  lines.push('## crypt(3) known-answer test inside the target');
  lines.push(`tool: ${state.crypt.tool ?? 'none could run'}`);
  for (const attempt of state.crypt.attempts) lines.push(`  ${attempt.tool}: ${attempt.outcome}${attempt.reason ? ` (${attempt.reason})` : ''}`);
  for (const result of state.crypt.results) lines.push(`  ${result.prefix} ${result.method}: ${result.ok ? 'verifies' : `FAILS (${result.got})`}`);
  if (state.crypt.untested.length > 0) lines.push(`  untested (no known-answer vector): ${state.crypt.untested.join(' ')}`);
  lines.push(`hash methods in /etc/shadow: ${state.hashPrefixesInUse.join(' ') || '(none)'}`);
  lines.push('', '## user');
  const user = state.user;
  lines.push(`${user.name}: exists ${yesNo(user.exists)}, uid ${user.uid ?? '-'}, shell ${user.shell ?? '-'} (exists ${yesNo(user.shellExists)}, in /etc/shells ${yesNo(user.shellListed)})`);
  if (user.shadow) {
    lines.push(`shadow entry: ${user.shadow.state}${user.shadow.prefix ? ` ${user.shadow.prefix}` : ''}, last change day ${user.shadow.lastChange ?? '-'}, account expired ${yesNo(user.shadow.accountExpired)}, password expired ${yesNo(user.shadow.passwordExpired)}`);
  } else lines.push('shadow entry: none');
  lines.push('', '## PAM');
  lines.push(`module folder: ${state.pam.moduleDir ?? 'NOT FOUND'}; stacks checked: ${state.pam.servicesChecked.join(' ')}`);
  for (const missing of state.pam.missingModules) lines.push(`MISSING module ${missing.module} (used by ${missing.usedBy.join(', ')})`);
  for (const include of state.pam.missingIncludes) lines.push(`MISSING include ${include}`);
  lines.push(`unix_chkpwd: ${state.pam.unixChkpwd.path ?? 'MISSING'} mode ${state.pam.unixChkpwd.mode ?? '-'} privileged ${yesNo(state.pam.unixChkpwd.privileged)}`);
  lines.push('', '## system');
  lines.push(`/etc/nologin: ${yesNo(state.nologin)}; read-only root: ${yesNo(state.readOnly)}; free space: ${state.freeBytes === undefined ? 'unknown' : `${Math.round(state.freeBytes / 1048576)} MiB`}; init: ${state.init}`);
  for (const [name, pkg] of Object.entries(state.packages)) {
    lines.push(`${name}: ${pkg.cpv} USE="${pkg.use.join(' ')}"${pkg.extraEconf ? ` EXTRA_ECONF="${pkg.extraEconf}"` : ''}`);
  }
  const dm = state.displayManager;
  lines.push(`display manager: configured ${dm.configured ?? '-'}, installed ${dm.installed.join(' ') || 'none'}, enabled ${yesNo(dm.enabled)}`);
  if (verdict) {
    lines.push('', '## verdict');
    if (verdict.causes.length === 0) lines.push('no cause found');
    for (const cause of verdict.causes) lines.push(`- ${cause.text}${cause.advice ? `\n  what to do: ${cause.advice}` : ''}`);
    for (const [phase, reason] of Object.entries(verdict.skipReasons)) lines.push(`${phase}: ${reason === undefined ? 'needed' : `not needed: ${reason}`}`);
  }
  lines.push('', '## raw', JSON.stringify({ state, verdict }, null, 2), '');
  return lines.join('\n');
}

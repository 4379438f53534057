import { describe, expect, it } from 'vitest';
import { appendMissingLines, argoNote, clearAccountExpiry, commentOutRule, dropNsswitchSources, isInsideJump, setLoginShell, unlockPassword } from './repair-edits.ts';

const NOTE = argoNote('recovery-1', 'pam_tally2.so is not installed');

describe('the login doctor’s text edits', () => {
  it('comments out one rule with its continuation lines, the note on its own line: the line count stays', () => {
    const text = 'auth required pam_env.so\nauth required pam_tally2.so \\\n  deny=3 onerr=fail\nauth sufficient pam_unix.so\n';
    const edited = commentOutRule(text, 2, NOTE, (rule) => rule.includes('pam_tally2.so'));
    expect(edited).toBe(`auth required pam_env.so\n${NOTE}: auth required pam_tally2.so \\\n#  deny=3 onerr=fail\nauth sufficient pam_unix.so\n`);
    expect(edited?.split('\n')).toHaveLength(text.split('\n').length);
    // The line holds another rule than the diagnosis saw (the file changed): nothing is touched.
    expect(commentOutRule(text, 4, NOTE, (rule) => rule.includes('pam_tally2.so'))).toBeUndefined();
    // A comment, a blank line or a line past the end: nothing to comment out.
    expect(commentOutRule('# auth x\n\n', 1, NOTE)).toBeUndefined();
    expect(commentOutRule(text, 40, NOTE)).toBeUndefined();
    expect(NOTE).toBe('# argo: pam_tally2.so is not installed (argo recover recovery-1; undo: argo recover --undo recovery-1)');
  });

  it('drops missing NSS sources with their actions, keeps the old line as a comment, and never leaves a database without a source', () => {
    const text = 'passwd:         sss [UNAVAIL=return] files systemd # local\ngroup: files\n';
    expect(dropNsswitchSources(text, 'passwd', ['sss', 'systemd'], '# argo: x')).toBe('# argo: x\n#passwd:         sss [UNAVAIL=return] files systemd # local\npasswd:         files # local\ngroup: files\n');
    expect(dropNsswitchSources('shadow: ldap\n', 'shadow', ['ldap'], '# argo: x')).toBe('# argo: x\n#shadow: ldap\nshadow:         files\n');
    expect(dropNsswitchSources(text, 'hosts', ['sss'], '# argo: x')).toBe(text);
    expect(dropNsswitchSources('group: files\n', 'group', ['sss'], '# argo: x')).toBe('group: files\n');
  });

  it('appends only the lines that are missing, and creates the file when there is none', () => {
    expect(appendMissingLines('/bin/sh\n/bin/bash\n', ['/bin/bash'], '# argo: x')).toBe('/bin/sh\n/bin/bash\n');
    expect(appendMissingLines('ttyS0', ['console', 'tty1'], '# argo: x')).toBe('ttyS0\n# argo: x\nconsole\ntty1\n');
    expect(appendMissingLines(undefined, ['/bin/bash'], '# argo: x')).toBe('# argo: x\n/bin/bash\n');
  });

  it('edits one field of one user, as chage -E -1, usermod -U and usermod -s do', () => {
    const shadow = 'root:!:19000:0:99999:7:::\nalice:!$6$s$h:19000:0:99999:7::19001:\nalicex:x:1:::::5:\n';
    expect(clearAccountExpiry(shadow, 'alice')).toBe('root:!:19000:0:99999:7:::\nalice:!$6$s$h:19000:0:99999:7:::\nalicex:x:1:::::5:\n');
    expect(unlockPassword(shadow, 'alice')).toContain('\nalice:$6$s$h:19000:');
    // `!` alone is no password, not an empty one: it stays locked.
    expect(unlockPassword(shadow, 'root')).toBe(shadow);
    expect(setLoginShell('alice:x:1000:1000::/home/alice:/bin/zsh\n', 'alice', '/bin/bash')).toBe('alice:x:1000:1000::/home/alice:/bin/bash\n');
    expect(setLoginShell('bob:x:1:1::/:/bin/sh\n', 'alice', '/bin/bash')).toBe('bob:x:1:1::/:/bin/sh\n');
  });

  it('knows when a rule lies inside an earlier [success=N] jump of its type (an include makes every jump count)', () => {
    const stack = 'auth [success=2 default=ignore] pam_unix.so\nauth [success=1 default=ignore] pam_x.so\nauth requisite pam_deny.so\nauth required pam_permit.so\nsession required pam_y.so\n';
    expect(isInsideJump(stack, 'common-auth', 2)).toBe(true);
    expect(isInsideJump(stack, 'common-auth', 3)).toBe(true);
    expect(isInsideJump(stack, 'common-auth', 4)).toBe(false);
    expect(isInsideJump(stack, 'common-auth', 5)).toBe(false);
    expect(isInsideJump('auth required pam_x.so\nauth required pam_unix.so\n', 'login', 1)).toBe(false);
    expect(isInsideJump('auth [success=1 default=ignore] pam_unix.so\n@include common-extra\nauth required pam_permit.so\nauth required pam_x.so\n', 'login', 4)).toBe(true);
  });
});

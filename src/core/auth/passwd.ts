/** One line of /etc/passwd (passwd(5)). */
export interface PasswdEntry {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [user = '', , uid = '', gid = '', , home = '', shell = ''] = line.split(':');
    entries.push({ user, uid: Number(uid), gid: Number(gid), home, shell });
  }
  return entries;
}

/** Shells listed in /etc/shells: pam_shells refuses a login whose shell is not among them. */
export function parseShells(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** A valid user name for useradd and shadow: nothing that could become shell syntax or break the file. */
export function isValidUserName(name: string): boolean {
  return /^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(name);
}

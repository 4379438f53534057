/**
 * verify-debian-target.ts - check, inside a fixture root made by build-debian-target.ts, whether SHA-512 crypt
 * and PAM logins work. Run as root: node test/chroot-fixtures/verify-debian-target.ts [--expect good|broken] ROOT
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mountsBelow } from '../../scripts/lib/mounts.ts';
import { $, input, secondsSince } from '../../scripts/lib/shell.ts';

const USAGE = `Usage: verify-debian-target.ts [--expect good|broken] <root>

Without --expect, a root whose sys-libs/libxcrypt vdb entry has an EXTRA_ECONF lacking sha512crypt is expected
to be broken, any other good.
  good:   crypt("$6$...") gives the glibc test vector, pamtester and unix_chkpwd accept alice's and root's
          passwords
  broken: crypt gives "*0", pamtester and unix_chkpwd reject them
A wrong password must be rejected on both (control).

Nothing is mounted: every command used works in a debootstrap root without /proc or a /dev mount (debootstrap
creates static /dev nodes). The script checks before and after that nothing is mounted below the root.
Exit status: 0 when every check matches the expectation, 1 otherwise, 2 for a usage error.
`;

const SHA512_EXPECTED = '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1';
const LIBCRYPT = '/lib/x86_64-linux-gnu/libcrypt.so.1.1.0';
const IN_ROOT_ENV = ['env', '-i', 'HOME=/root', 'LC_ALL=C', 'TERM=dumb', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'];

function usageError(message?: string): never {
  if (message !== undefined) process.stderr.write(`verify-debian-target: ${message}\n`);
  else process.stderr.write(USAGE);
  process.exit(2);
}

let expect = 'auto';
const rest: string[] = [];
const argv = process.argv.slice(2);
for (let index = 0; index < argv.length; index += 1) {
  const arg = argv[index] as string;
  if (arg === '--expect') {
    expect = argv[index + 1] ?? usageError('--expect needs good or broken');
    index += 1;
  } else if (arg.startsWith('--expect=')) expect = arg.slice('--expect='.length);
  else if (arg === '-h' || arg === '--help') {
    process.stdout.write(USAGE);
    process.exit(0);
  } else if (arg.startsWith('-') && rest.length === 0) usageError(`unknown option ${arg}`);
  else rest.push(arg);
}
if (rest.length !== 1) usageError();
let root: string;
try {
  root = realpathSync(rest[0] as string);
} catch {
  root = rest[0] as string;
}
if (!existsSync(join(root, 'usr/bin/perl'))) usageError(`${root} is not a fixture root`);
if (process.getuid?.() !== 0) usageError('must run as root (chroot)');

/** user -> password from credentials.txt beside the root (user:password lines), with the fixture's defaults. */
function passwordOf(user: string, fallback: string): string {
  try {
    const line = readFileSync(join(dirname(root), 'credentials.txt'), 'utf8').split('\n').find((entry) => entry.startsWith(`${user}:`));
    return line?.slice(user.length + 1) || fallback;
  } catch {
    return fallback;
  }
}
const alicePassword = passwordOf('alice', 'correct horse');
const rootPassword = passwordOf('root', 'argo fixture root');

const sysLibs = join(root, 'var/db/pkg/sys-libs');
const vdbs = existsSync(sysLibs) ? readdirSync(sysLibs).filter((name) => name.startsWith('libxcrypt-')).map((name) => join(sysLibs, name)) : [];
const extraEconf = (vdb: string | undefined): string | undefined => {
  try {
    return vdb === undefined ? undefined : readFileSync(join(vdb, 'EXTRA_ECONF'), 'utf8');
  } catch {
    return undefined;
  }
};
if (expect === 'auto') {
  const econf = extraEconf(vdbs[0]);
  expect = econf !== undefined && econf.includes('--enable-hashes=') && !/sha512crypt|=all\b/.test(econf) ? 'broken' : 'good';
}
if (expect !== 'good' && expect !== 'broken') usageError('--expect must be good or broken');

let passed = 0;
let failed = 0;
function result(ok: boolean, description: string): void {
  if (ok) passed += 1;
  else failed += 1;
  console.log(`    => ${ok ? 'PASS' : 'FAIL'}: ${description}`);
}
/** Runs a command in the root with `stdin` on its standard input; prints it, its output and exit code. */
async function run(label: string, stdin: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  const started = performance.now();
  console.log(`--- ${label}`);
  console.log(`    $ chroot ${root} ${args.map((arg) => (/^[\w/.,:=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)).join(' ')}`);
  const output = await input(stdin, { nothrow: true })`${IN_ROOT_ENV} chroot ${root} ${args} 2>&1`;
  const out = output.stdout.replace(/\n+$/, '');
  console.log(out === '' ? '    | (no output)' : out.split('\n').map((line) => `    | ${line}`).join('\n'));
  const code = output.exitCode ?? 128;
  console.log(`    exit=${code} time=${secondsSince(started, 2)}s`);
  return { code, out };
}

console.log(`=== verify ${root} (expect: ${expect})`);
if (mountsBelow(root).length > 0) {
  console.log(`refusing: something is mounted below ${root}:\n${mountsBelow(root).join('\n')}`);
  process.exit(1);
}
const libcrypt1 = (await $`dpkg-query --admindir=${join(root, 'var/lib/dpkg')} -W -f=${'${Version}'} libcrypt1`.nothrow()).stdout;
console.log(`debian: ${readFileSync(join(root, 'etc/debian_version'), 'utf8').trim()}  libcrypt1 ${libcrypt1}`);
const real = (await $`${IN_ROOT_ENV} chroot ${root} readlink -f /lib/x86_64-linux-gnu/libcrypt.so.1`).stdout.trim();
const diskMd5 = createHash('md5').update(readFileSync(root + real)).digest('hex');
console.log(`libcrypt.so.1 -> ${real}  md5 ${diskMd5}`);
if (vdbs.length === 1) {
  const vdb = vdbs[0] as string;
  console.log(`vdb: ${vdb.slice(root.length)}  EXTRA_ECONF: ${extraEconf(vdb)?.replace(/\n+$/, '') ?? '(none)'}`);
  const vdbMd5 = readFileSync(join(vdb, 'CONTENTS'), 'utf8').split('\n').map((line) => line.split(/\s+/)).find((fields) => fields[0] === 'obj' && fields[1] === LIBCRYPT)?.[2] ?? '';
  console.log(`--- CONTENTS md5 of ${LIBCRYPT}: ${vdbMd5}`);
  result(vdbMd5 === diskMd5, 'vdb CONTENTS md5 matches the file on disk');
} else {
  result(false, `exactly one sys-libs/libxcrypt-* vdb entry (found ${vdbs.length})`);
}

const crypt = await run('SHA-512 crypt via perl', '', ['perl', '-e', 'print crypt("Hello world!", q($6$saltstring))']);
if (expect === 'good') result(crypt.out === SHA512_EXPECTED, 'crypt gives the glibc SHA-512 test vector');
else result(crypt.out === '*0', 'crypt gives *0 (sha512crypt missing)');

// pamtester reads the password from stdin when stdin is not a tty (libpam_misc's misc_conv prints the
// "Password: " prompt on stderr and reads a line).
const login = await run('pamtester login alice authenticate (correct password on stdin)', alicePassword, ['pamtester', 'login', 'alice', 'authenticate']);
if (expect === 'good') result(login.code === 0, 'alice can log in (exit 0)');
else result(login.code !== 0, 'alice can NOT log in (exit non-zero)');

const wrong = await run('pamtester login alice authenticate (wrong password, control)', 'not the password', ['pamtester', 'login', 'alice', 'authenticate']);
result(wrong.code !== 0, 'a wrong password is rejected');

// unix_chkpwd wants the password NUL-terminated on stdin (pam_unix writes it so); without the NUL it checks
// an empty password and fails with 7.
for (const [user, password] of [['alice', alicePassword], ['root', rootPassword]] as const) {
  const check = await run(`unix_chkpwd ${user} nullok (password + NUL on stdin)`, `${password}\0`, ['/sbin/unix_chkpwd', user, 'nullok']);
  if (expect === 'good') result(check.code === 0, `unix_chkpwd accepts ${user} (exit 0)`);
  else result(check.code === 7, `unix_chkpwd rejects ${user} (exit 7 = PAM_AUTH_ERR)`);
}

result(mountsBelow(root).length === 0, `nothing mounted below ${root}`);
console.log(`=== ${root}: ${passed} passed, ${failed} failed (expect: ${expect})`);
process.exitCode = failed === 0 ? 0 : 1;

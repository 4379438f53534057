import { randomBytes } from 'node:crypto';
import { hashPrefixOf, vectorFor } from '../core/auth/crypt-vectors.ts';
import { ArgoError } from '../core/errors.ts';
import { readPrivateFile } from '../system/read-private-file.ts';
import type { CommandRunner } from '../system/run-command.ts';
import { testCrypt } from './test-crypt.ts';

const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A 16-character SHA-crypt salt from the CSPRNG (the maximum sha512crypt uses). */
export function generateSalt(): string {
  return [...randomBytes(16)].map((byte) => CRYPT_ALPHABET[byte & 63]).join('');
}

/** A password for --generate-password: 20 characters from the CSPRNG, without look-alikes (0/O, 1/l/I). */
export function generatePassword(): string {
  const alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const out: string[] = [];
  while (out.length < 20) {
    for (const byte of randomBytes(32)) {
      // Rejection sampling keeps every character equally likely.
      if (byte < Math.floor(256 / alphabet.length) * alphabet.length && out.length < 20) out.push(alphabet[byte % alphabet.length] as string);
    }
  }
  return out.join('');
}

/** PAM hands at most PAM_MAX_RESP_SIZE (512) bytes to a module; a secret file is allowed some slack past that. */
export const MAX_SECRET_FILE_BYTES = 4096;

/**
 * The one line of a secret file: a trailing `\n` or `\r\n` is dropped; an empty line, a second line, a
 * carriage return elsewhere or a NUL byte is refused with the reason.
 */
function oneLine(text: string, file: string, what: string): string {
  const line = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  const reason = line === '' ? 'it is empty' : line.includes('\n') ? 'it holds more than one line' : line.includes('\r') ? 'it holds a carriage return inside the line' : line.includes('\0') ? 'it holds a NUL byte' : undefined;
  if (reason !== undefined) {
    throw new ArgoError('ARGO_SECRET_FILE_UNSAFE', `The ${what} ${file} must hold one non-empty line: ${reason}`, {
      hint: "Write the secret alone on the first line, e.g. printf '%s\\n' 'new password' > FILE; chmod 600 FILE",
      details: { file, reason },
    });
  }
  return line;
}

/** A password read from a file: one trailing newline (LF or CRLF) is dropped; an empty one or one with a newline is refused. */
export function passwordFromFile(text: string, file: string): string {
  return oneLine(text, file, 'password file');
}

/** A crypt(3) hash read from a file: one line, a known method prefix, no `:` and no white space. */
export function hashFromFile(text: string, file: string): string {
  const hash = oneLine(text, file, 'password hash file');
  if (hashPrefixOf(hash) === undefined || /[:\s]/.test(hash)) {
    throw new ArgoError('ARGO_SECRET_FILE_UNSAFE', `The password hash file ${file} does not hold a crypt(3) hash`, {
      hint: "Make one with: openssl passwd -6 > FILE (then chmod 600 FILE); the file holds the hash alone, e.g. '$6$salt$…'.",
      details: { file, reason: 'not a crypt(3) hash' },
    });
  }
  return hash;
}

/** --password-file: the password from a private regular file of root (see readPrivateFile), checked as passwordFromFile. */
export async function readPasswordFile(file: string): Promise<string> {
  return passwordFromFile(await readPrivateFile(file, MAX_SECRET_FILE_BYTES, 'password file'), file);
}

/** --password-hash-file: the hash from a private regular file of root, so that it never appears in `ps`. */
export async function readPasswordHashFile(file: string): Promise<string> {
  return hashFromFile(await readPrivateFile(file, MAX_SECRET_FILE_BYTES, 'password hash file'), file);
}

/**
 * Refuses a given hash the target's own crypt(3) cannot verify: its method must pass the known-answer test
 * (crypt-vectors.ts) inside the target, and crypt must accept the hash's own setting (a cost or rounds value
 * out of range gives the failure token). Writing such a hash would lock the user out.
 */
export async function checkHashWithTargetCrypt(commands: CommandRunner, hash: string, signal: AbortSignal): Promise<void> {
  const prefix = hashPrefixOf(hash);
  const refuse = (reason: string): ArgoError =>
    new ArgoError('ARGO_HASH_UNSUPPORTED', `The given password hash (method ${prefix ?? 'unknown'}) cannot be verified by the target's crypt: ${reason}`, {
      hint: "Give a SHA-512-crypt hash (openssl passwd -6), or repair libcrypt first (argo recover repairs $6$).",
      details: { prefix, reason },
    });
  if (prefix === undefined || vectorFor(prefix) === undefined) throw refuse('argo has no known-answer test for this method');
  const test = await testCrypt(commands, [prefix], signal);
  const result = test.results.find((entry) => entry.prefix === prefix);
  if (test.tool === undefined) throw refuse('no crypt test could run inside the target (perl or python3)');
  if (result === undefined || !result.ok) throw refuse(`crypt() does not support ${prefix} (${result?.got ?? 'untested'})`);
  const program = 'my $h = <STDIN>; chomp($h); my $r = crypt("argo-setting-check", $h); print((defined $r ? $r : "(undef)"), "\\n")';
  const answer = (await commands.run('perl', ['-e', program], { input: `${hash}\n`, signal, budgetMs: 30_000, mutates: false })).stdout.trim();
  const setting = hash.slice(0, settingLength(hash, prefix));
  if (answer.length !== hash.length || !answer.startsWith(setting)) throw refuse("crypt() rejects this hash's setting (salt, rounds or cost)");
}

/** The length of the setting part of a hash: everything up to the last `$`, 9 characters for BSDi, 2 for DES. */
function settingLength(hash: string, prefix: string): number {
  if (prefix === 'des') return 2;
  if (prefix === '_') return 9;
  return hash.lastIndexOf('$') + 1;
}

/**
 * SHA-512-crypt of `password` with `openssl passwd -6`, the password on stdin (never in argv or a log).
 * OpenSSL computes it without libcrypt, so it works while the target's libcrypt is broken.
 */
export async function hashPasswordWithOpenssl(commands: CommandRunner, password: string, salt: string, signal: AbortSignal): Promise<string> {
  const result = await commands.run('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], {
    input: `${password}\n`,
    signal,
    budgetMs: 30_000,
    mutates: false,
  });
  const hash = result.stdout.trim();
  if (!hash.startsWith(`$6$${salt}$`) || hash.length < 90) {
    throw new ArgoError('ARGO_COMMAND_FAILED', 'openssl passwd -6 did not print a SHA-512-crypt hash', { hint: 'Check the openssl version (1.1.1 or newer).' });
  }
  return hash;
}

/** Whether the target's own crypt(3) accepts `password` for `hash` (both on stdin). */
export async function verifyWithTargetCrypt(commands: CommandRunner, password: string, hash: string, signal: AbortSignal): Promise<boolean> {
  const program = 'my $p = <STDIN>; my $h = <STDIN>; chomp($p); chomp($h); my $r = crypt($p, $h); print((defined $r && $r eq $h) ? "match\\n" : "mismatch\\n")';
  const result = await commands.run('perl', ['-e', program], { input: `${password}\n${hash}\n`, signal, budgetMs: 30_000, mutates: false });
  return result.stdout.trim() === 'match';
}

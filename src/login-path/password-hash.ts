import { randomBytes } from 'node:crypto';
import { ArgoError } from '../core/errors.ts';
import type { CommandRunner } from '../system/run-command.ts';

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

/** A password read from a file: one trailing newline is dropped; an empty one or one with a newline is refused. */
export function passwordFromFile(text: string, file: string): string {
  const password = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  if (password === '' || password.includes('\n') || password.includes('\0')) {
    throw new ArgoError('ARGO_INVALID_INPUT', `The password file ${file} must hold one non-empty line`, {
      hint: "Write the password alone on the first line, e.g. printf '%s\\n' 'new password' > FILE; chmod 600 FILE",
      details: { file },
    });
  }
  return password;
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

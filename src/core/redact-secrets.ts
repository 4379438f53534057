/**
 * Password hashes and tokens must never reach a log. pino's `redact` removes known keys; this catches the
 * same secrets where they hide inside text: a command line, an output line, an error message.
 */

/** crypt(3) hashes with a `$id$` prefix (`$6$`, `$y$`, `$2b$`, `$gy$`, `$sha1$`, `$md5$`, ...). */
const CRYPT_HASH = /\$(?:1|2[abxy]?|3|5|6|7|y|gy|sha1|md5)\$[./0-9A-Za-z$=,]{2,}/g;

/** `key=value` / `key: value` pairs whose key names a secret. */
const SECRET_ASSIGNMENT = /\b(password|passwd|token|secret|api[-_]?key)(\s*[=:]\s*)(\S+)/gi;

/** The password of a URL's userinfo (`https://client:TOKEN@swarm/binhost/…`, as Portage binhost URLs carry tokens). */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)([^\s/@]+)@/gi;

export const REDACTED = '[redacted]';

/** Field names whose values are always secret, whatever they look like. */
export const SECRET_KEYS: readonly string[] = ['password', 'passwordHash', 'hash', 'token', 'secret', 'apiKey'];

export function redactSecretsInText(text: string): string {
  if (!text.includes('$') && !text.includes('@') && !/pass|token|secret|key/i.test(text)) return text;
  return text.replace(CRYPT_HASH, REDACTED).replace(SECRET_ASSIGNMENT, `$1$2${REDACTED}`).replace(URL_PASSWORD, `$1${REDACTED}@`);
}

/** A deep copy of `value` with secret keys replaced and secrets inside strings redacted. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecretsInText(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  if (value instanceof Error) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = SECRET_KEYS.includes(key) ? REDACTED : redactSecrets(item, depth + 1);
  }
  return copy;
}

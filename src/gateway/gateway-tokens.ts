/**
 * Bearer tokens of the gateway, from a file only root can read:
 *
 *     # name   scopes          token
 *     admin    admin           3f1c…(at least 32 characters)
 *     drone-a  drone           9a0b…
 *     grafana  read            77e1…
 *
 * Scopes: `read` (status, logs, verify, events, metrics), `drone` (uploads and logs of builds), `request` (a
 * client asking for builds: start a cycle, finalize through verify without force; implies `read`), `admin`
 * (cycles, drones, finalize, force, rollback; implies the others but `drone`). Tokens are compared by their SHA-256 digests with
 * `timingSafeEqual`, every token each time, and never logged: only the name of the token that matched is.
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ArgoError } from '../core/errors.ts';
import { readPrivateFile } from '../system/read-private-file.ts';

/** Where `build-swarm gateway` looks for its tokens without --tokens. */
export const DEFAULT_TOKENS_FILE = '/etc/argo/gateway-tokens';

export const SCOPES = ['read', 'drone', 'request', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface TokenHolder {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
}

interface StoredToken extends TokenHolder {
  readonly digest: Buffer;
}

export interface TokenTable {
  /** The holder of `token`, or undefined. Takes as long for a wrong token as for a right one. */
  authenticate(token: string): TokenHolder | undefined;
  readonly size: number;
}

const MIN_TOKEN_LENGTH = 32;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function allows(holder: TokenHolder, scope: Scope): boolean {
  if (holder.scopes.has(scope)) return true;
  if (scope === 'read') return holder.scopes.has('admin') || holder.scopes.has('request');
  return scope === 'request' && holder.scopes.has('admin');
}

export function parseTokens(text: string, file: string): TokenTable {
  const stored: StoredToken[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${index + 1}`;
    const words = line.split(/\s+/);
    const [name, scopeList, token] = words;
    if (words.length !== 3 || name === undefined || scopeList === undefined || token === undefined) {
      throw invalid(where, 'expected three fields: NAME SCOPES TOKEN');
    }
    if (!NAME.test(name)) throw invalid(where, `the name ${JSON.stringify(name)} is not a plain word`);
    const scopes = scopeList.split(',');
    const unknown = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0) throw invalid(where, `unknown scope ${unknown.join(', ')} (scopes: ${SCOPES.join(', ')})`);
    if (token.length < MIN_TOKEN_LENGTH) throw invalid(where, `the token of ${name} is shorter than ${MIN_TOKEN_LENGTH} characters`);
    if (stored.some((entry) => entry.name === name)) throw invalid(where, `the name ${name} is used twice`);
    stored.push({ name, scopes: new Set(scopes as Scope[]), digest: digestOf(token) });
  });
  return {
    size: stored.length,
    authenticate(token) {
      const digest = digestOf(token);
      let found: StoredToken | undefined;
      for (const entry of stored) if (timingSafeEqual(entry.digest, digest) && found === undefined) found = entry;
      return found === undefined ? undefined : { name: found.name, scopes: found.scopes };
    },
  };
}

/** Reads the tokens file, refusing one that is not a private regular file of root (ARGO_SECRET_FILE_UNSAFE). */
export async function readTokens(file: string): Promise<TokenTable> {
  return parseTokens(await readPrivateFile(file, 1024 * 1024, 'gateway tokens file'), file);
}

/** A new token: 32 random bytes, hex. */
export function newToken(): string {
  return randomBytes(32).toString('hex');
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function invalid(where: string, problem: string): ArgoError {
  return new ArgoError('ARGO_CONFIG_INVALID', `${where}: ${problem}`, { hint: 'Each line of the tokens file is NAME SCOPES TOKEN, scopes comma-separated from read, drone, request, admin; lines starting with # are comments.' });
}

/**
 * The one place the fake talks HTTP: a GET through Node's global fetch, guarded by an inactivity timeout that
 * aborts the request (a silent server is cut off, not merely left behind), with a failure described by what went
 * wrong (refused, unresolvable, timed out, untrusted certificate) so that each client Portage runs can word it
 * as that client does (urlopen.ts for Python's urllib, wget-fetch.ts for wget).
 *
 * A binhost URL may carry credentials (`http://drone:TOKEN@host/...`). Node's fetch refuses such URLs, so the
 * userinfo is split off here, exactly as Python's `urlsplit` does (what precedes the last `@` of the authority,
 * user and password split at the first `:`, neither percent-decoded), and sent only as the clients send it: in an
 * `Authorization: Basic` header after the server asked for Basic credentials.
 */

import { Buffer } from 'node:buffer';
import type { ReadableStreamReadResult } from 'node:stream/web';

export interface RemoteUrl {
  /** The URL without its userinfo. */
  readonly url: string;
  /** Host as written in the URL (an IPv6 address keeps its brackets). */
  readonly host: string;
  /** The port, the scheme's default when the URL names none. */
  readonly port: number;
  /** Userinfo before the first `:`; undefined when the URL has no `@`. */
  readonly user?: string;
  /** Userinfo after the first `:`; undefined when there is no `:` (urllib then sends nothing). */
  readonly password?: string;
}

/** An http(s) URL split as Python's urlsplit splits it; undefined when it is not one. */
export function parseRemoteUrl(uri: string): RemoteUrl | undefined {
  const match = /^(https?):\/\/([^/?#]*)(.*)$/is.exec(uri);
  if (match === null) return undefined;
  const [, scheme, netloc, rest] = match as unknown as [string, string, string, string];
  const at = netloc.lastIndexOf('@');
  const hostinfo = at === -1 ? netloc : netloc.slice(at + 1);
  const stripped = `${scheme.toLowerCase()}://${hostinfo}${rest}`;
  let parsed: URL;
  try {
    parsed = new URL(stripped);
  } catch {
    return undefined;
  }
  if (parsed.hostname === '') return undefined;
  const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
  const remote = { url: stripped, host: parsed.hostname, port };
  if (at === -1) return remote;
  const userinfo = netloc.slice(0, at);
  const colon = userinfo.indexOf(':');
  return colon === -1 ? { ...remote, user: userinfo } : { ...remote, user: userinfo.slice(0, colon), password: userinfo.slice(colon + 1) };
}

/** The `Authorization` value both clients send: `Basic base64(user:password)`. */
export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** The challenges of a `WWW-Authenticate` value (fetch joins several headers with ", "), one string each. */
export function splitChallenges(value: string | null): string[] {
  if (value === null || value.trim() === '') return [];
  // A challenge starts with an auth-scheme token followed by a space or the end; an auth-param is `name=value`.
  return value
    .split(/,\s*(?=[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:[ \t]|$))/)
    .map((challenge) => challenge.trim())
    .filter((challenge) => challenge !== '');
}

/** Why a request got no (complete) answer. */
export interface NetworkFailure {
  /** `ECONNREFUSED`, `ENOTFOUND`, `EAI_AGAIN`, `ETIMEDOUT`, `ECONNRESET`, a TLS verification code, ... */
  readonly code: string;
  /** Where it failed: looking the host up, connecting, checking its certificate, or waiting for data. */
  readonly stage: 'resolve' | 'connect' | 'tls' | 'response';
  /** Node's own words, for failures the clients' wording is not known for. */
  readonly message: string;
}

/** Node's codes for a certificate that does not verify. */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

class IdleTimeout extends Error {}

function describe(error: unknown, signal: AbortSignal): NetworkFailure {
  if (signal.aborted && signal.reason instanceof IdleTimeout) return { code: 'ETIMEDOUT', stage: 'response', message: 'timed out' };
  const cause = (error instanceof Error && error.cause instanceof Error ? error.cause : error) as NodeJS.ErrnoException;
  const code = typeof cause?.code === 'string' ? cause.code : 'EIO';
  const message = cause instanceof Error ? cause.message : String(cause);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { code, stage: 'resolve', message };
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { code, stage: 'connect', message };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { code: 'ETIMEDOUT', stage: 'connect', message };
  if (TLS_CODES.has(code)) return { code, stage: 'tls', message };
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') return { code: 'ECONNRESET', stage: 'response', message };
  return { code, stage: 'response', message };
}

/** A response whose body has not been read yet; the inactivity timeout keeps running until it is. */
export interface OpenResponse {
  readonly response: Response;
  /**
   * Reads the body chunk by chunk into `sink`; every chunk restarts the inactivity timeout. Resolves with the
   * failure that cut it short, if any. Always ends the request.
   */
  readonly readBody: (sink: (chunk: Uint8Array) => Promise<void> | void) => Promise<NetworkFailure | undefined>;
  /** Ends the request without reading the body. */
  readonly discard: () => Promise<void>;
}

/**
 * GET `url` with `headers`. `idleMs` bounds every wait (connecting, the response head, each chunk of the body), as
 * a socket timeout does in both clients; when it passes the request is aborted.
 */
export async function sendGet(url: string, headers: Readonly<Record<string, string>>, idleMs: number): Promise<{ ok: true; open: OpenResponse } | { ok: false; failure: NetworkFailure }> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new IdleTimeout()), idleMs);
  };
  const disarm = (): void => clearTimeout(timer);
  arm();
  let response: Response;
  try {
    response = await fetch(url, { headers, signal: controller.signal, redirect: 'follow' });
  } catch (error) {
    disarm();
    return { ok: false, failure: describe(error, controller.signal) };
  }
  const discard = async (): Promise<void> => {
    disarm();
    await response.body?.cancel().catch(() => undefined);
  };
  const readBody = async (sink: (chunk: Uint8Array) => Promise<void> | void): Promise<NetworkFailure | undefined> => {
    if (response.body === null) {
      disarm();
      return undefined;
    }
    const reader = response.body.getReader();
    let finished = false;
    try {
      for (;;) {
        arm();
        let step: ReadableStreamReadResult<Uint8Array>;
        try {
          step = await reader.read();
        } catch (error) {
          finished = true;
          return describe(error, controller.signal);
        }
        if (step.done) {
          finished = true;
          return undefined;
        }
        // The sink's own errors (a full disk) are not network failures: they propagate.
        await sink(step.value);
      }
    } finally {
      disarm();
      if (!finished) await reader.cancel().catch(() => undefined);
    }
  };
  return { ok: true, open: { response, readBody, discard } };
}

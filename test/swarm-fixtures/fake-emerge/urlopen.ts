/**
 * `portage.util._urlopen.urlopen` as Python's urllib runs it, which is how bintree fetches a binhost's
 * `Packages.gz`/`Packages`: a 10-second socket timeout, `User-Agent: Gentoo Portage`, redirects followed, and the
 * URL's credentials given to an `HTTPBasicAuthHandler`, which sends them only when a 401 asks for them with a Basic
 * challenge that names a realm. Failures come back as the `str(err)` Portage prints; a 401 whose challenges are
 * all of another scheme is urllib's ValueError, which Portage turns into a fatal ParseError.
 */

import { Buffer } from 'node:buffer';
import { basicAuthorization, sendGet, splitChallenges, type NetworkFailure, type RemoteUrl } from './http-request.ts';

/** `urlopen(url, timeout=10)` in portage.util._urlopen. */
const TIMEOUT_MS = 10_000;

export type UrlopenResult =
  /** `lastModified`: the answer had a Last-Modified header, which bintree takes for the index's timestamp. */
  | { readonly ok: true; readonly body: Uint8Array; readonly lastModified: boolean }
  /** An OSError: HTTPError (with its status) or URLError and friends; `message` is `str(err)`. */
  | { readonly ok: false; readonly kind: 'os-error'; readonly status?: number; readonly message: string }
  /** A ValueError raised by urllib. */
  | { readonly ok: false; readonly kind: 'value-error'; readonly message: string };

/**
 * CPython's `AbstractBasicAuthHandler.rx`: a scheme, then `realm=` with an optional quote. A challenge without a
 * realm does not match, and urllib then never answers it.
 */
const REALM_CHALLENGE = /(?:^|,)[ \t]*([^ \t,]+)[ \t]+realm=(["']?)([^"']*)\2/gi;

/** What `http_error_auth_reqed` decides for a 401: retry with Basic credentials, give up, or raise ValueError. */
function answerChallenge(header: string | null): 'basic' | 'none' | { unsupported: string } {
  let unsupported: string | undefined;
  let lastScheme = '';
  for (const challenge of splitChallenges(header)) {
    const matches = [...challenge.matchAll(REALM_CHALLENGE)];
    const found: [string, string | undefined][] = matches.length > 0 ? matches.map((match) => [match[1] as string, match[3]]) : [[challenge.split(/\s+/)[0] ?? '', undefined]];
    for (const [scheme, realm] of found) {
      lastScheme = scheme;
      if (scheme.toLowerCase() !== 'basic') {
        unsupported = scheme;
        continue;
      }
      if (realm !== undefined) return 'basic';
    }
  }
  // CPython names the scheme of the loop's last challenge in its message.
  return unsupported === undefined ? 'none' : { unsupported: lastScheme };
}

/** `str()` of what urllib raises when the request got no answer (wording of CPython 3.11 on Linux). */
export function urllibFailureText(failure: NetworkFailure): string {
  const urlError = (reason: string): string => `<urlopen error ${reason}>`;
  switch (failure.code) {
    case 'ECONNREFUSED':
      return urlError('[Errno 111] Connection refused');
    case 'ENOTFOUND':
      return urlError('[Errno -2] Name or service not known');
    case 'EAI_AGAIN':
      return urlError('[Errno -3] Temporary failure in name resolution');
    case 'EHOSTUNREACH':
      return urlError('[Errno 113] No route to host');
    case 'ENETUNREACH':
      return urlError('[Errno 101] Network is unreachable');
    case 'ETIMEDOUT':
      // A connect timeout is wrapped in URLError; a read timeout is the bare TimeoutError.
      return failure.stage === 'connect' ? urlError('timed out') : 'timed out';
    case 'ECONNRESET':
      return 'Remote end closed connection without response';
    default:
      break;
  }
  if (failure.stage === 'tls') {
    const reasons: Record<string, string> = {
      DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
      SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
      UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
      UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to get local issuer certificate',
      CERT_HAS_EXPIRED: 'certificate has expired',
      CERT_NOT_YET_VALID: 'certificate is not yet valid',
    };
    const reason = reasons[failure.code] ?? failure.message;
    return urlError(`[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: ${reason} (_ssl.c:1006)`);
  }
  return urlError(failure.message);
}

/** `urlopen(url)` for an http(s) binhost file: the body, or the error Portage would catch. */
export async function urlopen(remote: RemoteUrl): Promise<UrlopenResult> {
  // CompressedResponseProcessor asks for compressed bodies and undoes a Content-Encoding (fetch does the latter).
  const headers: Record<string, string> = { 'user-agent': 'Gentoo Portage', 'accept-encoding': 'bzip2,gzip,deflate' };
  for (;;) {
    const sent = await sendGet(remote.url, headers, TIMEOUT_MS);
    if (!sent.ok) return { ok: false, kind: 'os-error', message: urllibFailureText(sent.failure) };
    const { response } = sent.open;
    if (response.status === 401) {
      const answer = answerChallenge(response.headers.get('www-authenticate'));
      await sent.open.discard();
      if (typeof answer === 'object') {
        return { ok: false, kind: 'value-error', message: `AbstractBasicAuthHandler does not support the following scheme: '${answer.unsupported}'` };
      }
      const authorization = remote.user !== undefined && remote.password !== undefined ? basicAuthorization(remote.user, remote.password) : undefined;
      // The same credentials refused once are not sent again (`retry_http_basic_auth`).
      if (answer === 'basic' && authorization !== undefined && headers.authorization !== authorization) {
        headers.authorization = authorization;
        continue;
      }
      return { ok: false, kind: 'os-error', status: 401, message: `HTTP Error 401: ${response.statusText}` };
    }
    if (response.status < 200 || response.status >= 300) {
      await sent.open.discard();
      return { ok: false, kind: 'os-error', status: response.status, message: `HTTP Error ${response.status}: ${response.statusText}` };
    }
    const chunks: Uint8Array[] = [];
    const failure = await sent.open.readBody((chunk) => {
      chunks.push(chunk);
    });
    if (failure !== undefined) return { ok: false, kind: 'os-error', message: urllibFailureText(failure) };
    return { ok: true, body: Buffer.concat(chunks), lastModified: (response.headers.get('last-modified') ?? '') !== '' };
  }
}

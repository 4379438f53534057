/**
 * BinpkgFetcher's download of a binary package from an http(s) binhost. Portage runs FETCHCOMMAND, wget (`-t 3
 * -T 60 -U "Portage (Gentoo, https://www.gentoo.org) distfile-fetch" -O FILE URI`), which writes FILE from the
 * start, sends the URL's credentials only once a 401 asks for Basic ones (with or without a realm), and prints its
 * transcript, which Portage passes on to stdout. This does the same download through Node's fetch and prints
 * wget's lines (see wgetLines in portage-messages.ts for what is left out). Retries (`-t 3`) are not made.
 */

import { lookup } from 'node:dns/promises';
import { open } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basicAuthorization, sendGet, splitChallenges, type NetworkFailure, type RemoteUrl } from './http-request.ts';
import { wgetLines } from './portage-messages.ts';

/** `-T 60`. */
const TIMEOUT_MS = 60_000;
const USER_AGENT = 'Portage (Gentoo, https://www.gentoo.org) distfile-fetch';

/** The strerror / gai_strerror text wget prints for a failure. */
function reasonOf(failure: Pick<NetworkFailure, 'code' | 'message'>): string {
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'Connection refused',
    EHOSTUNREACH: 'No route to host',
    ENETUNREACH: 'Network is unreachable',
    ETIMEDOUT: 'Connection timed out',
    ECONNRESET: 'Connection reset by peer',
    ENOTFOUND: 'Name or service not known',
    EAI_AGAIN: 'Temporary failure in name resolution',
  };
  return reasons[failure.code] ?? failure.message;
}

/**
 * Downloads `uri` (its credentials split off in `remote`) into `file`, printing wget's transcript with `out`.
 * Resolves true when the whole body was saved. `file` is created first, as `-O` does, and left for the caller to
 * remove on failure.
 */
export async function wgetDownload(uri: string, remote: RemoteUrl, file: string, out: (line: string) => void): Promise<boolean> {
  const handle = await open(file, 'w', 0o644);
  try {
    out(wgetLines.start(new Date(), uri));
    const bare = remote.host.replace(/^\[(.*)\]$/, '$1');
    const hostPort = `${remote.host}:${remote.port}`;
    let target = hostPort;
    if (isIP(bare) === 0) {
      let addresses: string[];
      try {
        addresses = (await lookup(bare, { all: true })).map((entry) => entry.address);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'ENOTFOUND';
        for (const line of wgetLines.resolveFailed(bare, reasonOf({ code, message: String(error) }))) out(line);
        return false;
      }
      out(wgetLines.resolving(bare, addresses));
      target = `${bare} (${bare})|${addresses[0]}|:${remote.port}`;
    }

    const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: '*/*', 'accept-encoding': 'identity' };
    let connected = false;
    for (;;) {
      const sent = await sendGet(remote.url, headers, TIMEOUT_MS);
      if (!sent.ok) {
        const { failure } = sent;
        if (!connected && (failure.stage === 'connect' || failure.stage === 'resolve')) {
          out(wgetLines.connecting(target, `failed: ${reasonOf(failure)}.`));
          return false;
        }
        if (!connected) out(wgetLines.connecting(target, 'connected.'));
        if (failure.stage === 'tls') out(wgetLines.untrusted(bare));
        else for (const line of wgetLines.readErrorInHeaders(reasonOf(failure))) out(line);
        return false;
      }
      if (!connected) out(wgetLines.connecting(target, 'connected.'));
      connected = true;
      const { response } = sent.open;
      out(wgetLines.awaiting(`${response.status} ${response.statusText}`));

      if (response.status === 401) {
        await sent.open.discard();
        if (headers.authorization === undefined && remote.user !== undefined && remote.password !== undefined) {
          const basic = splitChallenges(response.headers.get('www-authenticate')).find((challenge) => /^basic(?:[ \t]|$)/i.test(challenge));
          if (basic !== undefined) {
            out(wgetLines.authSelected(basic));
            headers.authorization = basicAuthorization(remote.user, remote.password);
            out(wgetLines.reusing(hostPort));
            continue;
          }
          out(wgetLines.unknownAuth);
        }
        for (const line of wgetLines.authFailed) out(line);
        return false;
      }
      if (response.status < 200 || response.status >= 300) {
        await sent.open.discard();
        for (const line of wgetLines.httpError(new Date(), response.status, response.statusText)) out(line);
        return false;
      }

      const length = response.headers.get('content-length');
      const total = length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
      out(wgetLines.length(total, response.headers.get('content-type')));
      for (const line of wgetLines.savingTo(file)) out(line);
      const began = performance.now();
      let bytes = 0;
      const failure = await sent.open.readBody(async (chunk) => {
        await handle.write(chunk);
        bytes += chunk.byteLength;
      });
      const seconds = (performance.now() - began) / 1000;
      if (failure !== undefined) {
        for (const line of wgetLines.readError(new Date(), bytes, seconds, total, reasonOf(failure))) out(line);
        return false;
      }
      for (const line of wgetLines.saved(new Date(), bytes, seconds, file, total)) out(line);
      return true;
    }
  } finally {
    await handle.close();
  }
}

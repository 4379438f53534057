import { ArgoError } from '../core/errors.ts';
import { gunzipPackagesIndex } from '../core/gentoo/packages-index-gzip.ts';
import { redactSecretsInText } from '../core/redact-secrets.ts';
import type { RootedFs } from './rooted-fs.ts';

export interface FetchedIndex {
  readonly url: string;
  readonly text: string;
}

/**
 * A binhost's `Packages` index, the way Portage's client asks for it: `<base>/Packages.gz` first, then
 * `<base>/Packages` (a 404 on the .gz is not an error). A local PKGDIR (a path, or file://) is read from
 * the target root instead. The only network access of the code base.
 */
export async function fetchBinhostIndex(base: string, target: RootedFs, signal: AbortSignal): Promise<FetchedIndex> {
  if (base.startsWith('/') || base.startsWith('file://')) {
    const dir = base.replace(/^file:\/\//, '').replace(/\/$/, '');
    const text = await target.readTextIfExists(`${dir}/Packages`);
    if (text === undefined) {
      throw new ArgoError('ARGO_FILE_NOT_FOUND', `No Packages index in ${dir}`, { hint: 'Run emaint binhost --fix in the PKGDIR, or give the binhost URL.' });
    }
    return { url: `${dir}/Packages`, text };
  }
  // Portage takes a binhost's credentials from its URL (`https://client:TOKEN@swarm:8470/binhost/desktop`); fetch()
  // refuses a URL with userinfo, so they go in an Authorization header, and only the URL without them is shown.
  const { url: plain, headers } = withoutCredentials(base);
  const root = plain.replace(/\/+$/, '');
  const failures: string[] = [];
  for (const name of ['Packages.gz', 'Packages']) {
    const url = `${root}/${name}`;
    let response: Response;
    try {
      response = await fetch(url, { signal, redirect: 'follow', headers });
    } catch (error) {
      if (signal.aborted) throw error;
      failures.push(`${url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
      continue;
    }
    if (response.status === 404) {
      failures.push(`${url}: 404`);
      continue;
    }
    if (!response.ok) {
      failures.push(`${url}: HTTP ${response.status}`);
      continue;
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { url, text: name.endsWith('.gz') ? gunzipPackagesIndex(bytes, { file: url }) : new TextDecoder().decode(bytes) };
  }
  throw new ArgoError('ARGO_INVALID_INPUT', `The binhost ${root} serves no Packages index (${failures.join('; ')})`, {
    hint: 'Check the URL (it is the folder that holds Packages) and that the binhost is reachable.',
    details: { base: root, failures },
  });
}

/** The URL without its userinfo, and HTTP Basic credentials from it (percent-decoded, as Python's urllib does). */
function withoutCredentials(base: string): { readonly url: string; readonly headers: Record<string, string> } {
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new ArgoError('ARGO_INVALID_INPUT', `Not a binhost URL: ${redactSecretsInText(base)}`, { hint: 'Give an http(s) URL of the folder that holds Packages, or a local PKGDIR path.' });
  }
  if (parsed.username === '' && parsed.password === '') return { url: base, headers: {} };
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.toString(), headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` } };
}

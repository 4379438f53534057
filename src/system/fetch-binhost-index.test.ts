import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBinhostIndex } from './fetch-binhost-index.ts';
import type { RootedFs } from './rooted-fs.ts';

const TOKEN = 'Tok3n-with/slash+plus=-and-more-than-32-chars';
const INDEX = 'ARCH: amd64\nVERSION: 0\n\nCPV: app-misc/a-1\n\n';
let server: Server;
let port: number;
const seen: (string | undefined)[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push(request.headers.authorization);
    const expected = `Basic ${Buffer.from(`client:${TOKEN}`).toString('base64')}`;
    if (request.headers.authorization !== expected) {
      response.writeHead(401, { 'www-authenticate': 'Basic realm="argo"' }).end();
      return;
    }
    if (request.url === '/binhost/desktop/Packages') response.writeHead(200).end(INDEX);
    else response.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.close();
});

const target = {} as RootedFs;

describe('fetchBinhostIndex', () => {
  it('sends the credentials of a binhost URL as Basic auth, as Portage does, and shows the URL without them', async () => {
    const fetched = await fetchBinhostIndex(`http://client:${encodeURIComponent(TOKEN)}@127.0.0.1:${port}/binhost/desktop/`, target, AbortSignal.timeout(10_000));
    expect(fetched.text).toBe(INDEX);
    expect(fetched.url).toBe(`http://127.0.0.1:${port}/binhost/desktop/Packages`);
    expect(seen.at(-1)).toBe(`Basic ${Buffer.from(`client:${TOKEN}`).toString('base64')}`);
  });

  it('never puts the token in its error', async () => {
    const error = await fetchBinhostIndex(`http://client:wrong-${encodeURIComponent(TOKEN)}@127.0.0.1:${port}/binhost/desktop/`, target, AbortSignal.timeout(10_000)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ARGO_INVALID_INPUT', message: expect.stringContaining('HTTP 401') });
    expect(JSON.stringify(error)).not.toContain('wrong-');
    expect(String((error as Error).message)).not.toContain('wrong-');
  });
});

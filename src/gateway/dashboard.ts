/**
 * The web dashboard, served by the gateway at `/` with its assets under `/dashboard/`: static files only (HTML,
 * CSS, browser ES modules from src/gateway/dashboard/, copied into dist/ by scripts/copy-assets.ts). The page
 * reads the API itself with the token the operator gives it, so these routes are public: they hold no data.
 *
 * Every answer carries a Content-Security-Policy that allows only the gateway's own files (no inline script or
 * style, no other origin), and is never framed.
 */

import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** The folder of index.html and its assets, beside this module in src/ (vitest) and in dist/. */
const ASSETS = fileURLToPath(new URL('./dashboard/', import.meta.url));

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export async function registerDashboard(app: FastifyInstance): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply, payload) => {
      void reply.header('content-security-policy', DASHBOARD_CSP);
      void reply.header('x-content-type-options', 'nosniff');
      void reply.header('referrer-policy', 'no-referrer');
      void reply.header('x-frame-options', 'DENY');
      return payload;
    });
    // Revalidated on every load (ETag): an upgraded gateway never serves a page with the previous scripts.
    // The gateway's own @fastify/static may already give replies sendFile (it takes a root per call).
    const decorateReply = !scope.hasReplyDecorator('sendFile');
    await scope.register(fastifyStatic, { root: ASSETS, prefix: '/dashboard/', decorateReply, dotfiles: 'deny', index: false, redirect: false, cacheControl: true, maxAge: 0 });
    scope.get('/', async (_request, reply) => {
      void reply.header('cache-control', 'no-cache');
      return reply.sendFile('index.html', ASSETS, { dotfiles: 'deny', cacheControl: false });
    });
  });
}

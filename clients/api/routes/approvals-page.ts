import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';

/** The static files of the approvals page (clients/web): plain HTML, CSS and JS, no build step, nothing from a CDN. */
const WEB_DIR = path.resolve(__dirname, '..', '..', 'web');

const ASSETS = [
  { url: '/approvals', file: 'approvals.html', type: 'text/html; charset=utf-8' },
  { url: '/web/approvals.js', file: 'approvals.js', type: 'text/javascript; charset=utf-8' },
  { url: '/web/approvals.css', file: 'approvals.css', type: 'text/css; charset=utf-8' },
] as const;

/**
 * Only this origin's own script and style, and fetches to this origin's API: an injected inline script or a
 * key-stealing request elsewhere is refused by the browser. Links to the Temporal UI are navigations, not fetches.
 */
export const APPROVALS_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': APPROVALS_PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // small files that change with a deploy; revalidating keeps a stale script from talking to a newer API
  'cache-control': 'no-cache',
};

/**
 * GET /approvals: the trade approvals page. Public (a shell with no data): every data call goes from the browser
 * to /v1/approvals with the API key the user typed, kept in sessionStorage and sent only as a Bearer header.
 * The files are read once at start-up, so a missing asset stops the API at once instead of 404-ing later.
 */
export function approvalsPageRoutes(): FastifyPluginAsync {
  const assets = ASSETS.map((a) => ({ ...a, body: readFileSync(path.join(WEB_DIR, a.file)) }));
  return async (app) => {
    for (const asset of assets) {
      app.get(asset.url, { schema: { hide: true } }, async (_request, reply) => reply.headers(SECURITY_HEADERS).type(asset.type).send(asset.body));
    }
  };
}

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';

/**
 * Only this origin's own scripts and styles, and fetches to this origin's API: an injected inline script or a
 * key-stealing request elsewhere is refused by the browser. Links elsewhere (the Temporal UI) are navigations,
 * not fetches. The web pages (approvals, results) all serve under it.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // files that change with a deploy; revalidating (a 304 by ETag) keeps a stale script from talking to a newer API
  'cache-control': 'no-cache',
};

export const WEB_TYPES = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
} as const;

export interface WebAsset {
  /** one URL, or several serving the same file (a page's paths) */
  url: string | readonly string[];
  /** absolute path */
  file: string;
  type: string;
}

/**
 * Static files of the web pages: read once at start-up (a missing file stops the API at once rather than 404-ing
 * later), served with the page headers and an ETag. Hidden from the OpenAPI document, public: a page is a shell
 * with no data, which it fetches from /v1 with the key the user types.
 */
export function webAssetRoutes(assets: readonly WebAsset[]): FastifyPluginAsync {
  const loaded = assets.map((a) => {
    const body = readFileSync(a.file);
    return { ...a, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
  });
  return async (app) => {
    for (const asset of loaded) {
      for (const url of [asset.url].flat()) {
        app.get(url, { schema: { hide: true } }, async (request, reply) => {
          reply.headers(PAGE_HEADERS).header('etag', asset.etag);
          if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
          return reply.type(asset.type).send(asset.body);
        });
      }
    }
  };
}

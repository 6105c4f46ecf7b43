import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { PAGE_CSP, WEB_TYPES, webAssetRoutes } from '../web-assets';

/** The static files of the approvals page (clients/web): plain HTML, CSS and JS, no build step, nothing from a CDN. */
const WEB_DIR = path.resolve(__dirname, '..', '..', 'web');

/** The pages' policy (see web-assets.ts): this origin's own scripts, styles and API only. */
export const APPROVALS_PAGE_CSP = PAGE_CSP;

/**
 * GET /approvals: the trade approvals page. Public (a shell with no data): every data call goes from the browser
 * to /v1/approvals with the API key the user typed, kept in sessionStorage and sent only as a Bearer header.
 */
export function approvalsPageRoutes(): FastifyPluginAsync {
  return webAssetRoutes([
    { url: '/approvals', file: path.join(WEB_DIR, 'approvals.html'), type: WEB_TYPES.html },
    { url: '/web/approvals.js', file: path.join(WEB_DIR, 'approvals.js'), type: WEB_TYPES.js },
    { url: '/web/approvals.css', file: path.join(WEB_DIR, 'approvals.css'), type: WEB_TYPES.css },
  ]);
}

import type { FastifyInstance } from 'fastify';

export interface RouteEntry {
  method: string;
  /** as registered, e.g. /v1/backtests/:id/cancel */
  url: string;
  /** left out of the OpenAPI document (docs UI, the approvals page) */
  hidden: boolean;
}

/** `:name` matches one path segment, `*` the rest. */
function patternOf(url: string): RegExp {
  const body = url
    .split('/')
    .map((seg) => (seg === '*' ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}/?$`);
}

/**
 * Every route of the app, recorded as it is added (onRoute), so that an unknown method on a known path is a 405
 * with Allow rather than a 404, and so that tests can walk every route, including routes added later.
 */
export class RouteTable {
  readonly routes: RouteEntry[] = [];
  private readonly patterns: Array<{ method: string; re: RegExp }> = [];

  add(entry: RouteEntry): void {
    this.routes.push(entry);
    this.patterns.push({ method: entry.method, re: patternOf(entry.url) });
  }

  /** The methods served at a concrete path (query string ignored), sorted; empty when no route matches. */
  methodsAt(rawUrl: string): string[] {
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const out = new Set<string>();
    for (const p of this.patterns) if (p.re.test(path)) out.add(p.method);
    return [...out].sort();
  }
}

const tables = new WeakMap<FastifyInstance, RouteTable>();

/** Records every route added to `app` from now on. */
export function installRouteTable(app: FastifyInstance): RouteTable {
  const table = new RouteTable();
  tables.set(app, table);
  app.addHook('onRoute', (route) => {
    const hidden = Boolean((route.schema as { hide?: boolean } | undefined)?.hide);
    for (const method of [route.method].flat()) table.add({ method: String(method).toUpperCase(), url: route.url, hidden });
  });
  return table;
}

/** The routes of an app built by buildApp. */
export function routeTableOf(app: FastifyInstance): RouteTable {
  const table = tables.get(app);
  if (!table) throw new Error('this app has no route table (build it with buildApp)');
  return table;
}

import { randomUUID } from 'node:crypto';
import { cyclePage } from '../../db/sql/deployment-cycles';
import type { Queryable } from '../../db/sql/queryable';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { AUTH, startApi, type ApiHarness } from './harness';

/**
 * GET /v1/deployments/:id/cycles against real Postgres: keyset pages that together are exactly the rows, newest bar
 * close first; the action and bar-close filters; clear 400s for bad input (cursors included) and a 404 for an unknown
 * deployment; and, on a deployment with 100,000 rows, a plan that reads an index in order rather than every row.
 */
let h: ApiHarness;
const big = randomUUID(); // 25,000 cycles x 4 symbols
const small = randomUUID(); // 60 cycles x 3 symbols, two cycles sharing a bar close
const empty = randomUUID();
const T0 = Date.parse('2026-11-02T14:31:00Z');
const MIN = 60_000;

async function insertDeployment(id: string): Promise<void> {
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', symbols: ['IDX'], timeframe: '1m', accountId: 'cycles-test' });
  await h.db.query(
    `INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, 'cycles-test', 'paper', 'sma-cross', $3, 'stopped', 'test')`,
    [id, `deployment-${id}`, JSON.stringify(spec)],
  );
}

/** Cycles 1..n, one row per symbol: every 10th an order, every 25th rejected (with a verdict), the rest holds and skips. */
async function insertCycles(id: string, n: number, symbols: string[], sameCloseAs?: [number, number]): Promise<void> {
  await h.db.query(
    `INSERT INTO deployment_cycles (deployment_id, cycle_seq, symbol, bar_close, action, reason, signal, indicators, risk, client_order_ids, params_version, position_qty, realized_pnl, latency_ms)
     SELECT $1, c, s, to_timestamp(($2::float8 + (CASE WHEN c = $5 THEN $6 ELSE c END) * 60000) / 1000.0),
            CASE WHEN c % 25 = 0 THEN 'rejected' WHEN c % 10 = 0 THEN 'order' WHEN c % 3 = 0 THEN 'skip' ELSE 'hold' END,
            CASE WHEN c % 25 = 0 THEN 'maxPositionQty: at the limit' WHEN c % 3 = 0 THEN 'no-signal: flat' ELSE NULL END,
            CASE WHEN c % 2 = 0 THEN 1 ELSE -1 END, jsonb_build_object('fast', c, 'slow', c + 1),
            CASE WHEN c % 25 = 0 THEN '{"decision":"reject","qty":0,"breaker":"none","forceClose":false,"reasons":[{"rule":"maxPositionQty","detail":"at the limit"}]}'::jsonb
                 WHEN c % 10 = 0 THEN '{"decision":"allow","qty":1,"breaker":"none","forceClose":false,"reasons":[]}'::jsonb END,
            CASE WHEN c % 10 = 0 AND c % 25 <> 0 THEN ARRAY['o-' || c || '-' || s] ELSE '{}' END, 1 + c / 1000, 0, 0, 7
     FROM generate_series(1, $3::int) AS c, unnest($4::text[]) AS s`,
    [id, T0, n, symbols, sameCloseAs?.[0] ?? -1, sameCloseAs?.[1] ?? -1],
  );
}

interface Row {
  cycle: number;
  symbol: string;
  barClose: string;
  action: string;
  risk: { decision: string; qty: number; breaker: string; reasons: string[] } | null;
  clientOrderIds: string[];
  paramsVersion: number;
  indicators: Record<string, number>;
}
interface Page {
  cycles: Row[];
  nextCursor: string | null;
  limit: number;
}

const get = (url: string, headers: Record<string, string> = AUTH.viewer) => h.app.inject({ method: 'GET', url, headers });
async function page(url: string): Promise<Page> {
  const res = await get(url);
  expect({ url, status: res.statusCode, body: res.statusCode === 200 ? '' : res.body }).toEqual({ url, status: 200, body: '' });
  return res.json<Page>();
}

/** Every page from `query` on, following nextCursor. */
async function allPages(id: string, query: string, from: string | null = null): Promise<Row[]> {
  const rows: Row[] = [];
  let cursor: string | null = from;
  for (let i = 0; i < 1000; i++) {
    const p: Page = await page(`/v1/deployments/${id}/cycles?${query}${cursor ? `&cursor=${cursor}` : ''}`);
    rows.push(...p.cycles);
    cursor = p.nextCursor;
    if (!cursor) return rows;
  }
  throw new Error('more than 1000 pages');
}

const keyOf = (r: { cycle: number; symbol: string }) => `${r.cycle}/${r.symbol}`;

beforeAll(async () => {
  h = await startApi();
  for (const id of [big, small, empty]) await insertDeployment(id);
  await insertCycles(big, 25_000, ['AAA', 'BBB', 'CCC', 'DDD']);
  // cycle 30 ran at cycle 31's bar close (as a flatten can): the order must still be total
  await insertCycles(small, 60, ['IDX', 'ABC', 'XYZ'], [30, 31]);
  await h.db.query('ANALYZE deployment_cycles');
}, 60_000);

afterAll(async () => {
  await h?.db.query('DELETE FROM deployment_cycles WHERE deployment_id = ANY($1)', [[big, small, empty]]);
  await h?.db.query('DELETE FROM deployments WHERE id = ANY($1)', [[big, small, empty]]);
  await h?.close();
});

describe('GET /v1/deployments/:id/cycles', () => {
  test('pages through every row exactly once, newest bar close first, at any page size', async () => {
    const { rows: want } = await h.db.query<{ cycle_seq: number; symbol: string }>(
      'SELECT cycle_seq, symbol FROM deployment_cycles WHERE deployment_id = $1 ORDER BY bar_close DESC, cycle_seq DESC, symbol DESC',
      [small],
    );
    expect(want).toHaveLength(180);
    for (const limit of [1, 7, 50, 500]) {
      const got = await allPages(small, `limit=${limit}`);
      expect(got.map(keyOf)).toEqual(want.map((r) => `${r.cycle_seq}/${r.symbol}`));
    }
    const first = await page(`/v1/deployments/${small}/cycles?limit=3`);
    expect(first.cycles.map(keyOf)).toEqual(['60/XYZ', '60/IDX', '60/ABC']);
    expect(first.cycles[0]).toMatchObject({ barClose: new Date(T0 + 60 * MIN).toISOString(), action: 'order', clientOrderIds: ['o-60-XYZ'], indicators: { fast: 60, slow: 61 }, risk: { decision: 'allow', qty: 1, breaker: 'none', reasons: [] } });
    expect(first.limit).toBe(3);
    const last = await page(`/v1/deployments/${small}/cycles?limit=500`);
    expect(last.nextCursor).toBeNull();
  });

  test('rows written after the first page do not shift the pages that follow', async () => {
    const p1 = await page(`/v1/deployments/${small}/cycles?limit=10`);
    await h.db.query(
      `INSERT INTO deployment_cycles (deployment_id, cycle_seq, symbol, bar_close, action, params_version) VALUES ($1, 61, 'IDX', $2, 'hold', 1)`,
      [small, new Date(T0 + 61 * MIN)],
    );
    try {
      const rest = await allPages(small, 'limit=10', p1.nextCursor);
      const seen = [...p1.cycles, ...rest].map(keyOf);
      expect(seen).toHaveLength(180);
      expect(new Set(seen).size).toBe(180);
      expect(seen).not.toContain('61/IDX');
    } finally {
      await h.db.query('DELETE FROM deployment_cycles WHERE deployment_id = $1 AND cycle_seq = 61', [small]);
    }
  });

  test('filters by action and by bar close (inclusive), and pages within the filter', async () => {
    const orders = await allPages(small, 'action=order&limit=4');
    expect(orders.map(keyOf)).toEqual([60, 40, 30, 20, 10].flatMap((c) => ['XYZ', 'IDX', 'ABC'].map((s) => `${c}/${s}`)));
    const rejectedOrOrders = await allPages(small, 'action=rejected,order&limit=5');
    expect(new Set(rejectedOrOrders.map((r) => r.action))).toEqual(new Set(['order', 'rejected']));
    expect(rejectedOrOrders).toHaveLength(3 * (5 + 2));
    const rejected = rejectedOrOrders.find((r) => r.action === 'rejected')!;
    expect(rejected.risk).toEqual({ decision: 'reject', qty: 0, breaker: 'none', reasons: ['maxPositionQty: at the limit'] });

    const from = new Date(T0 + 10 * MIN).toISOString();
    const to = new Date(T0 + 12 * MIN).toISOString();
    const ranged = await allPages(small, `from=${from}&to=${to}&limit=2`);
    expect(ranged.map((r) => r.cycle)).toEqual([12, 12, 12, 11, 11, 11, 10, 10, 10]);
    const day = await allPages(small, 'from=2026-11-02&to=2026-11-02&action=skip,hold&limit=100');
    expect(day).toHaveLength(180 - 3 * 7);
    expect(await allPages(small, 'from=2026-11-03')).toEqual([]);
    expect(await allPages(empty, '')).toEqual([]);
  });

  test('bad input is a 400 naming the parameter; an unknown deployment a 404; no key a 401', async () => {
    const base = `/v1/deployments/${small}/cycles`;
    const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
    const cases: Array<[string, RegExp]> = [
      [`${base}?cursor=not-a-cursor`, /cursor is not one this endpoint gave out/],
      [`${base}?cursor=${b64('{"a":1}')}`, /cursor is not one this endpoint gave out/],
      [`${base}?cursor=${b64(['2026-11-02T14:31:00.000000Z', -1, 'IDX'])}`, /cursor is not one this endpoint gave out/],
      [`${base}?cursor=${b64(['2026-13-45T99:99:99.000000Z', 1, 'IDX'])}`, /cursor is not one this endpoint gave out/],
      [`${base}?cursor=${'A'.repeat(400)}`, /cursor/],
      [`${base}?cursor=%27%3B%20DROP%20TABLE%20deployment_cycles%3B--`, /cursor/],
      [`${base}?limit=0`, /limit must be at least 1/],
      [`${base}?limit=501`, /limit must be at most 500/],
      [`${base}?limit=abc`, /limit must be a number/],
      [`${base}?action=buy`, /action must be one or more of order, hold, skip, rejected, approval, cancelled/],
      [`${base}?action=order%27%20OR%201%3D1--`, /action must be one or more of/],
      [`${base}?from=yesterday`, /from must be an ISO date/],
      [`${base}?from=2026-11-03&to=2026-11-02`, /from must not be after to/],
      [`${base}?offset=10`, /offset/],
      [`/v1/deployments/not-a-uuid/cycles`, /must be a UUID/],
    ];
    for (const [url, message] of cases) {
      const res = await get(url);
      expect({ url, status: res.statusCode, body: res.body }).toEqual({ url, status: 400, body: expect.stringMatching(message) });
    }
    // a well-formed cursor with hostile content is only a key: compared, never spliced into SQL
    const hostile = await page(`${base}?cursor=${b64(['2026-11-02T15:00:00.000000Z', 5, "IDX'; DROP TABLE deployment_cycles;--"])}`);
    expect(hostile.cycles[0]).toMatchObject({ cycle: 28, symbol: 'XYZ' });
    const unknown = await get(`/v1/deployments/${randomUUID()}/cycles`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<{ error: { message: string } }>().error.message).toMatch(/^no deployment /);
    expect((await get(base, {})).statusCode).toBe(401);
    expect((await get(base, AUTH.trader)).statusCode).toBe(200);
  });

  test('on 100,000 rows a page reads an index in order: under 1,000 buffers (8 MB) whichever page or filter', async () => {
    // the statement cyclePage sends, explained with the same parameters
    const plans: Array<{ plan: string; buffers: number; rows: number }> = [];
    const explain: Queryable = {
      query: async (text: string, values?: unknown[]) => {
        const { rows } = await h.db.query<{ 'QUERY PLAN': Array<{ Plan: Record<string, unknown> }> }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values);
        const root = rows[0]!['QUERY PLAN'][0]!.Plan;
        const text2 = JSON.stringify(root);
        plans.push({ plan: text2, buffers: Number(root['Shared Hit Blocks'] ?? 0) + Number(root['Shared Read Blocks'] ?? 0), rows: Number(root['Actual Rows']) });
        return { rows: [], rowCount: 0 };
      },
    };
    const middle = { barClose: new Date(T0 + 12_345 * MIN).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'), cycle: 12_345, symbol: 'BBB' };
    const filters = [
      {},
      { after: middle },
      { actions: ['order'] },
      { actions: ['order'], after: middle },
      { actions: ['rejected', 'order'], after: middle },
      { actions: ['cancelled'] }, // none at all: without an index on action, every row of the deployment
      { from: new Date(T0 + 20_000 * MIN).toISOString(), to: new Date(T0 + 20_100 * MIN).toISOString() },
    ];
    for (const f of filters) await cyclePage(explain, big, f, 51);
    for (const [i, p] of plans.entries()) {
      expect({ filter: filters[i], seqScan: p.plan.includes('Seq Scan') }).toEqual({ filter: filters[i], seqScan: false });
      expect({ filter: filters[i], index: /deployment_cycles_by_(close|action)/.test(p.plan) }).toEqual({ filter: filters[i], index: true });
      expect({ filter: filters[i], buffers: p.buffers < 1000 ? 'few' : p.plan }).toEqual({ filter: filters[i], buffers: 'few' });
      expect(p.rows).toBe(filters[i]!.actions?.[0] === 'cancelled' ? 0 : 51);
    }
    console.log(`cycles page plans on 100k rows: buffers ${plans.map((p) => p.buffers).join(', ')}`);
  });
});

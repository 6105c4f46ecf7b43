import type { WorkerOptions } from '@temporalio/worker';
import { actWakesOfHistory } from '../../harness/history-events';
import { recordCommand } from '../../services/deployment-command-records';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { createTestDeployment, ioWorker, nextDay, storeSineBars, taskFailures } from '../helpers/batch-env';
import { uniqueSymbol } from '../helpers/db';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A batch-evaluated deployment under floods sent straight to Temporal, in the time-skipping environment with the real
 * IO activities. Its evaluator's wake arrives while 300 forged act ids fill its act queue (the deployment is held in
 * the read of one of them until the wake is in its history, as the signal it is sent again as when its update is not
 * taken): the real action is still performed at its close. Forged
 * look signals leave one audit row per read, with their count; a look with arguments is refused as malformed; the
 * evaluator's own look, for a command whose message was lost, leaves none.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchflood' });
const SETTLE = 1_015; // this file's evaluation group
const MIN = 60_000;
const audit = async (subject: string, action: string) =>
  (await ctx.pool.query<{ detail: Record<string, unknown> }>('SELECT detail FROM audit_log WHERE subject = $1 AND action = $2 ORDER BY id', [subject, action])).rows.map((r) => r.detail);
const until = async (what: () => Promise<boolean>) => {
  for (let i = 0; i < 300 && !(await what()); i++) await new Promise((r) => setTimeout(r, 50));
};

/** Holds the deployment's read of the act ids `hold-*` until the test lets it go: its signals pile up meanwhile. */
class Gate {
  private held = new Map<string, { entered: () => void; release: Promise<void>; open: () => void }>();
  entered(id: string): Promise<void> {
    return new Promise((entered) => {
      let open!: () => void;
      const release = new Promise<void>((r) => (open = r));
      this.held.set(id, { entered, release, open });
    });
  }
  open(id: string): void {
    this.held.get(id)?.open();
  }
  async pass(actionId: unknown): Promise<void> {
    const h = typeof actionId === 'string' ? this.held.get(actionId) : undefined;
    if (!h) return;
    h.entered();
    await h.release;
  }
}

test('a real wake is not lost to a flood of forged act ids; forged looks leave counted audit rows', async () => {
  const { day, all } = await nextDay(ctx);
  const symbol = uniqueSymbol('AFL');
  await storeSineBars(ctx, [symbol], all);
  const gate = new Gate();
  let dep: Awaited<ReturnType<typeof createTestDeployment>> | undefined;
  let real: string | undefined;
  let flooded: Promise<void> | undefined;
  // Right after the evaluator stored the deployment's first action, before it sends the wake: hold the deployment in the
  // read of a forged id, flood it, and let it go once the evaluator's wake is in its history (behind the flood).
  const flood = async (actionId: string) => {
    const d = dep!;
    const entered = gate.entered('hold-1');
    await d.handle.signal('deploymentAct', { actionId: 'hold-1' });
    await entered;
    await Promise.all(Array.from({ length: 300 }, (_, i) => d.handle.signal('deploymentAct', { actionId: `forged-${i}` })));
    flooded = (async () => {
      await until(async () => JSON.stringify((await d.handle.fetchHistory()).events?.filter((e) => e.workflowExecutionSignaledEventAttributes).map((e) => Buffer.from(e.workflowExecutionSignaledEventAttributes!.input?.payloads?.[0]?.data ?? []).toString())).includes(actionId));
      gate.open('hold-1');
    })();
  };
  const interceptors: WorkerOptions['interceptors'] = {
    activity: [
      (actx) => ({
        inbound: {
          async execute(input, next) {
            // the wake's read (actOnDeploymentAction), and its fallback read should the held one time out
            if (['actOnDeploymentAction', 'loadDeploymentAction'].includes(actx.info.activityType)) await gate.pass((input.args[0] as { actionId?: unknown }).actionId);
            const result = await next(input);
            if (actx.info.activityType === 'evaluateBarClose' && dep && real === undefined) {
              const mine = (result as { wake: Array<{ workflowId: string; actionId: string }> }).wake.find((w) => w.workflowId === dep!.workflowId);
              if (mine) {
                real = mine.actionId;
                await flood(mine.actionId);
              }
            }
            return result;
          },
        },
      }),
    ],
  };
  const worker = await ioWorker(ctx, { interceptors });
  await worker.runUntil(async () => {
    dep = await createTestDeployment(ctx, symbol, { settleDelayMs: SETTLE });
    const d = dep;
    await ctx.env.sleep(day.open - (await ctx.env.currentTimeMs()));
    // A minute at a time: once the flood is sent, the clock must not reach the next close before the check below.
    for (let i = 0; i < 240 && real === undefined; i++) await ctx.env.sleep(MIN);
    expect(real).toBeDefined();
    await flooded;
    // Held in a read, the deployment took no update within the wake's wait: the wake came again as a signal.
    expect(actWakesOfHistory((await d.handle.fetchHistory()).events ?? []).filter((w) => w.actionId === real).map((w) => w.via)).toContain('signal');
    const close = Number(real!.split(':')[1]);
    const state = async () => (await ctx.pool.query<{ state: string; cycle: number }>('SELECT state, cycle FROM deployment_actions WHERE id = $1', [real])).rows[0];
    await until(async () => (await state())?.state === 'done');
    // Performed at its close: before the clock reached the next one (whose evaluation would wake it again).
    expect(await ctx.env.currentTimeMs()).toBeLessThan(close + 5 * MIN);
    expect((await state())?.state).toBe('done');
    const orders = await ctx.pool.query('SELECT 1 FROM order_ledger WHERE deployment_id = $1 AND cycle_seq = $2', [d.id, (await state())!.cycle]);
    expect(orders.rowCount).toBeGreaterThan(0);

    // Forged looks while it is held again: they arrive together and cost one read and one audit row with their count.
    const entered = gate.entered('hold-2');
    await d.handle.signal('deploymentAct', { actionId: 'hold-2' });
    await entered;
    await Promise.all(Array.from({ length: 40 }, () => d.handle.signal('deploymentLook')));
    for (const bad of [{}, 'x']) await d.handle.signal('deploymentLook', bad as never);
    gate.open('hold-2');
    await until(async () => (await audit(d.id, 'deployment.look.unfounded')).length > 0 && (await audit(d.id, 'deployment.command.malformed')).length === 2);
    expect((await audit(d.id, 'deployment.look.unfounded')).map((r) => r.looks)).toEqual([40]);
    expect((await audit(d.id, 'deployment.command.malformed')).map((r) => r.name)).toEqual(['deploymentLook', 'deploymentLook']);

    // A command whose message was lost: its evaluator's look at the next close finds it, and that look leaves no row.
    const lost = await recordCommand(ctx.pool, { deploymentId: d.id, kind: 'params', by: 'test', params: { fast: 3, slow: 7 } });
    await ctx.env.sleep(6 * MIN);
    const commandState = async () => (await ctx.pool.query<{ state: string }>('SELECT state FROM deployment_commands WHERE id = $1', [lost!.command.id])).rows[0]?.state;
    await until(async () => (await commandState()) === 'applied');
    expect(await commandState()).toBe('applied');
    const looks = (await d.handle.fetchHistory()).events?.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'deploymentLook').length;
    expect(looks).toBe(43); // 40 forged, 2 malformed, the evaluator's
    expect((await audit(d.id, 'deployment.look.unfounded')).map((r) => r.looks)).toEqual([40]);

    await issueDeploymentCommand({ db: ctx.pool, temporal: ctx.env.client }, { deploymentId: d.id, kind: 'stop', by: 'test' });
    expect((await d.handle.result()).status).toBe('stopped');
    // Every forged id refused once or counted as dropped (the real wake took the place of one, which counts as dropped).
    const refused = await audit(d.id, 'deployment.act.refused');
    const dropped = (await audit(d.id, 'deployment.message.flood')).reduce((n, r) => n + Number(r.dropped), 0);
    expect(refused.filter((r) => r.actionId === real)).toEqual([]);
    expect(dropped).toBeGreaterThan(0);
    expect(refused.length + dropped).toBe(302);
    expect((await taskFailures(ctx, d.workflowId)).failures).toBe(0);
  });
}, 120_000);

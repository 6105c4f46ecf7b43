import * as wf from '@temporalio/workflow';
import type { ApprovalActivities } from '../../activities/approvals';
import type { createCycleActivities } from '../../activities/cycle';
import type { createDeploymentActivities, RiskSnapshot } from '../../activities/deployments';
import type { LoadRecentBarsResult, MarketDataActivities } from '../../activities/market-data';
import type { createOrderActivities, SyncOrdersResult } from '../../activities/orders';
import { barsBetween, barsDigest, extendWindow } from '../../domain/bar-window';
import { allocateBars } from '../../domain/bars';
import { localDate, nextBarClose, timeframeMs } from '../../domain/calendar';
import { decideCycle } from '../../domain/deployment/cycle';
import { requiredApprovals } from '../../domain/approvals/policy';
import { drawdown, evaluateRisk, isExposureReducing, resetBreaker, type OrderIntent, type RiskVerdict } from '../../domain/risk/gate';
import { approvalRequestId, clientOrderId } from '../../domain/ids';
import { tradeApprovalWorkflow } from '../approval/workflow';
import { brokerCall, dbWrite, localBrokerCall, localDbStep, localMarketDataRead, marketDataRead } from '../activity-options';
import { SEARCH_ATTRIBUTES } from '../search-attributes';
import { TASK_QUEUES } from '../task-queues';
import { workflowNow } from '../time';
import { deploymentControlSignal, deploymentStateQuery, resetBreakerSignal, updateDeploymentParamsSignal } from './messages';
import type { CycleRecord, DeploymentCarry, DeploymentWorkflowInput } from './messages';

type OrderActivities = ReturnType<typeof createOrderActivities>;
type CycleActivities = ReturnType<typeof createCycleActivities>;
type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;

/**
 * Orders are always ordinary activities (see localBrokerCall for why). The broker sync before a decision is one too in
 * runs started before patch 'cycle-one-task'; since then it is a local activity, so a cycle that places no order is
 * one workflow task. At a bar close hundreds of deployments wake at once, and every extra task-queue round trip costs
 * the server and the worker more CPU than the cycle's own work (bench/runtime.ts compares it with a floor workflow).
 */
const { placeOrder, syncOrders: syncOrdersTask } = wf.proxyActivities<OrderActivities>(brokerCall);
const { syncOrders: syncOrdersLocal } = wf.proxyLocalActivities<OrderActivities>(localBrokerCall);
const { loadCycleInputs } = wf.proxyLocalActivities<CycleActivities>(localBrokerCall);
const { requestApproval } = wf.proxyActivities<ApprovalActivities>(dbWrite);
const { setDeploymentStatus, verifyRecordedControl, recordRuntimeAudit } = wf.proxyActivities<DeploymentActivities>(dbWrite);
/**
 * The cycle's own reads and writes (bars, risk snapshot, paper prices, audit rows): a few ms of Redis or Postgres
 * each. As local activities they run inside the workflow task, with no task-queue round trip; when hundreds of
 * deployments close a bar at the same instant those round trips are what the latency is made of. Runs started
 * before this change keep scheduling them as ordinary activities (patch 'cycle-steps-local').
 */
// (Proxies have no own keys to spread: pick each function.)
const tasks = { md: wf.proxyActivities<MarketDataActivities>(marketDataRead), db: wf.proxyActivities<DeploymentActivities>(dbWrite) };
const locals = { md: wf.proxyLocalActivities<MarketDataActivities>(localMarketDataRead), db: wf.proxyLocalActivities<DeploymentActivities>(localDbStep) };
const cycleSteps = ({ md, db }: typeof tasks) => ({ loadRecentBars: md.loadRecentBars, loadRiskSnapshot: db.loadRiskSnapshot, recordCycle: db.recordCycle, setPaperPrices: db.setPaperPrices });

/** Bars fetched per cycle: enough for every strategy's warm-up at its default and common parameters. */
const WINDOW_BARS = 300;
const DEFAULT_CYCLES_PER_RUN = 200;
const MAX_HANDLED_IDS = 500;

/**
 * One long-running runtime per deployment (workflow id `deployment-<id>`): wait for each bar close in the
 * exchange session (plus a settle delay), run a cycle, and continue-as-new every `cyclesPerRun` cycles,
 * carrying its state and the ids of the control messages it has applied.
 */
export async function deploymentWorkflow(input: DeploymentWorkflowInput): Promise<{ cycles: number; status: string }> {
  const { spec, deploymentId, clock } = input;
  const workflowId = wf.workflowInfo().workflowId;
  const { loadRecentBars, loadRiskSnapshot, recordCycle, setPaperPrices } = cycleSteps(wf.patched('cycle-steps-local') ? locals : tasks);
  const oneTask = wf.patched('cycle-one-task');
  const syncOrders = oneTask ? syncOrdersLocal : syncOrdersTask;
  const inputsOneStep = oneTask && wf.patched('cycle-inputs-one-step');
  // Since patch 'cycle-bars-incremental' the run keeps each symbol's window of recent bars here and each cycle reads
  // only the bars after it (a new run starts with a whole window).
  const barsIncremental = inputsOneStep && wf.patched('cycle-bars-incremental');
  const barWindows = new Map<string, LoadRecentBarsResult['bars']>();
  /**
   * Wall time the cycle's last local activity finished. Workflow time stands still during a workflow task, and the
   * next timer starts when the task completes: measured from the task's start it would fire late by the cycle's length.
   */
  let lastStepAt = 0;
  const stepDone = (at: number | undefined) => {
    if (oneTask && at !== undefined) lastStepAt = Math.max(lastStepAt, at);
  };
  const tfMs = timeframeMs(spec.timeframe);
  const carry: DeploymentCarry = input.carry ?? {
    cycle: 0,
    status: 'running',
    params: spec.params,
    paramsVersion: input.paramsVersion,
    handledMessageIds: [],
    breaker: 'none',
    equityPeak: spec.riskLimits.maxExposure,
    day: '',
    dayStartPnl: 0,
    lastBarClose: 0,
  };
  const recent: CycleRecord[] = [];
  let nextClose: number | null = null;
  let interrupted = false;
  let flattenRequested = false;
  const pendingResets: Array<{ messageId: string }> = [];

  const firstTime = (messageId: string) => {
    if (carry.handledMessageIds.includes(messageId)) return false;
    carry.handledMessageIds = [...carry.handledMessageIds, messageId].slice(-MAX_HANDLED_IDS);
    return true;
  };
  wf.setHandler(deploymentControlSignal, ({ messageId, action }) => {
    if (!firstTime(messageId) || carry.status === 'stopped') return;
    if (action === 'pause') carry.status = 'paused';
    else if (action === 'resume') carry.status = 'running';
    else if (action === 'stop') carry.status = 'stopped';
    else flattenRequested = true;
    interrupted = true;
  });
  wf.setHandler(updateDeploymentParamsSignal, ({ messageId, params, version }) => {
    if (!firstTime(messageId) || version <= carry.paramsVersion) return;
    carry.params = params;
    carry.paramsVersion = version;
  });
  wf.setHandler(resetBreakerSignal, ({ messageId }) => {
    if (!firstTime(messageId)) return;
    pendingResets.push({ messageId });
    interrupted = true;
  });
  wf.setHandler(deploymentStateQuery, () => ({
    deploymentId,
    status: carry.status,
    cycle: carry.cycle,
    paramsVersion: carry.paramsVersion,
    breaker: carry.breaker,
    nextBarClose: nextClose,
    blockedBy: carry.blockedBy ?? [],
    lastCycles: recent.slice(-10),
  }));

  // Data time: the workflow clock, or the replayed feed's clock running `speed` times faster.
  const dataNow = () => (clock ? clock.dataStartMs + (workflowNow() - clock.wallStartMs) * clock.speed : workflowNow());
  const wallMsUntil = (dataMs: number) => Math.ceil((dataMs - dataNow()) / (clock?.speed ?? 1));
  const remember = (r: CycleRecord) => {
    recent.push(r);
    if (recent.length > 20) recent.shift();
  };

  const order = async (cycle: number, leg: number, intent: OrderIntent) => {
    const id = clientOrderId(workflowId, cycle, leg, 1);
    const placed = await placeOrder({
      clientOrderId: id, deploymentId, workflowId, cycle, leg, intentVersion: 1, broker: spec.broker, accountId: spec.accountId,
      symbol: intent.symbol, side: intent.side, qty: intent.qty, orderType: 'market', timeInForce: 'day',
    });
    return placed;
  };

  /** Closes every position of this deployment (a human's flatten, or the hard drawdown breaker). */
  const flatten = async (barClose: number) => {
    const cycle = ++carry.cycle;
    await syncOrders({ deploymentId, broker: spec.broker, accountId: spec.accountId });
    const snap = await loadRiskSnapshot({ deploymentId, accountId: spec.accountId, prices: {} });
    let leg = 0;
    for (const symbol of spec.symbols) {
      const qty = snap.positions[symbol] ?? 0;
      if (Math.abs(qty) < 1e-9) continue;
      const placed = await order(cycle, leg++, { symbol, side: qty > 0 ? 'sell' : 'buy', qty: Math.abs(qty), price: 0, reason: 'flatten' });
      const record: CycleRecord = { cycle, barClose, symbol, action: placed.state === 'REJECTED' ? 'rejected' : 'order', reason: 'flatten', clientOrderIds: [placed.clientOrderId] };
      remember(record);
      await recordCycle({ deploymentId, paramsVersion: carry.paramsVersion, latencyMs: 0, positions: snap.positions, totalPnl: snap.totalPnl, record });
    }
    await syncOrders({ deploymentId, broker: spec.broker, accountId: spec.accountId });
  };

  /** Applies breaker resets the API recorded; a reset nobody recorded (sent by hand) only leaves a 'forged' audit row. */
  const applyResets = async () => {
    while (pendingResets.length) {
      const { messageId } = pendingResets.shift()!;
      const recorded = await verifyRecordedControl({ deploymentId, messageId, action: 'deployment.breaker-reset' });
      if (!recorded) continue;
      const equity = carry.lastEquity ?? carry.equityPeak;
      const { audit } = resetBreaker(
        { positionQty: 0, accountOpenPositions: 0, deploymentExposure: 0, accountExposure: 0, realizedPnlToday: 0, unrealizedPnl: 0, equityPeak: carry.equityPeak, equity, barsSinceStopLoss: null, breaker: carry.breaker },
        recorded.by,
        recorded.reason ?? 'no reason given',
      );
      carry.breaker = 'none';
      carry.equityPeak = audit.newPeak;
      await recordRuntimeAudit({ deploymentId, action: 'deployment.breaker-reset.applied', key: messageId, detail: { ...audit, messageId, cycle: carry.cycle } });
    }
  };

  /**
   * Puts an order the risk gate allowed to humans, when the policy asks for it: records the request (which
   * notifies approvers) and starts its tradeApprovalWorkflow, which outlives this run (continue-as-new) and
   * places the order itself if approved. Returns undefined when no approval is needed.
   */
  const askApproval = async (cycle: number, leg: number, intent: OrderIntent, verdict: RiskVerdict, positionQty: number, equity: number, record: CycleRecord) => {
    if (spec.approvalPolicy.mode === 'none') return undefined;
    const need = requiredApprovals(spec.approvalPolicy, {
      notional: verdict.qty * intent.price,
      exposureReducing: isExposureReducing(positionQty, { side: intent.side, qty: verdict.qty }),
      lossStreak: carry.lossStreak ?? 0,
      drawdownPct: drawdown({ equity, equityPeak: carry.equityPeak }),
    });
    if (need.approvals === 0) return undefined;
    const policy = spec.approvalPolicy;
    const approvalId = approvalRequestId(workflowId, cycle, leg);
    const expiresAtMs = workflowNow() + policy.expiresAfterMs;
    const reason = { signal: record.signal ?? null, indicators: record.indicators ?? {}, risk: verdict, rule: need.rule, strategy: spec.strategy, paramsVersion: carry.paramsVersion };
    const request = await requestApproval({
      id: approvalId, deploymentId, workflowId: `approval-${approvalId}`, deploymentWorkflowId: workflowId, cycle, leg, accountId: spec.accountId,
      symbol: intent.symbol, side: intent.side, qty: verdict.qty, price: intent.price, reason, requiredApprovals: need.approvals, expiresAtMs,
    });
    if (!request.created) return { approvalId: null, rule: need.rule };
    await wf.startChild(tradeApprovalWorkflow, {
      workflowId: `approval-${approvalId}`,
      taskQueue: TASK_QUEUES.io,
      parentClosePolicy: wf.ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.jobType, value: 'approval' },
        { key: SEARCH_ATTRIBUTES.deploymentId, value: deploymentId },
        { key: SEARCH_ATTRIBUTES.accountId, value: spec.accountId },
        { key: SEARCH_ATTRIBUTES.symbol, value: intent.symbol },
      ],
      args: [{
        approvalId, deploymentId, deploymentWorkflowId: workflowId, cycle, leg, broker: spec.broker, accountId: spec.accountId, timeframe: spec.timeframe,
        intent: { ...intent, qty: verdict.qty }, reason, riskLimits: spec.riskLimits, breaker: carry.breaker, equityPeak: carry.equityPeak, dayStartPnl: carry.dayStartPnl,
        requiredApprovals: need.approvals, expiresAtMs, maxPriceDriftPct: policy.maxPriceDriftPct, ...(clock ? { clock } : {}),
      }],
    });
    return { approvalId, rule: need.rule };
  };

  /** Counts losing round trips in a row (the approval auto-pilot tightens on a streak). */
  const trackTrades = (positions: Record<string, number>, totalPnl: number) => {
    const before = carry.positions ?? {};
    const pnlAtOpen = { ...carry.pnlAtOpen };
    for (const symbol of spec.symbols) {
      const was = before[symbol] ?? 0;
      const now = positions[symbol] ?? 0;
      if (Math.abs(was) < 1e-9 && Math.abs(now) >= 1e-9) pnlAtOpen[symbol] = totalPnl;
      if (Math.abs(was) >= 1e-9 && Math.abs(now) < 1e-9) {
        carry.lossStreak = totalPnl < (pnlAtOpen[symbol] ?? totalPnl) ? (carry.lossStreak ?? 0) + 1 : 0;
        delete pnlAtOpen[symbol];
      }
    }
    carry.positions = { ...positions };
    carry.pnlAtOpen = pnlAtOpen;
  };

  /** Enters or leaves the reconciliation block (unknown broker orders or fills on the account). */
  const updateBlock = async (blockedBy: string[]) => {
    const was = (carry.blockedBy ?? []).length > 0;
    carry.blockedBy = blockedBy;
    if (was === blockedBy.length > 0) return;
    await setDeploymentStatus({
      deploymentId,
      status: blockedBy.length ? 'blocked' : 'running',
      by: 'runtime',
      reason: blockedBy.length ? `reconciliation: ${blockedBy.join('; ')}` : 'reconciliation findings resolved',
    });
  };

  const runCycle = async (barClose: number) => {
    const startedAt = workflowNow();
    const cycle = ++carry.cycle;
    // The broker wins: bring open orders and fills up to date before deciding anything new. Then the bars, and the
    // risk snapshot marked at their closes: one local activity since patch 'cycle-inputs-one-step', step by step before.
    let sync: SyncOrdersResult;
    let snap: RiskSnapshot;
    let prices: Record<string, number> = {};
    const windows = new Map<string, LoadRecentBarsResult | string>();
    const barsArgs = { timeframe: spec.timeframe, limit: WINDOW_BARS, asOfMs: barClose - tfMs, maxStaleBars: spec.staleAfterBars, calendar: spec.calendar };
    // The paper broker fills at the prices the cycle read. Since 'cycle-one-task' they are sent only when they can
    // matter: before this cycle's first order or approval request, or while orders or approvals are open.
    let pricesSent = false;
    const sendPrices = async () => {
      if (spec.broker !== 'paper' || Object.keys(prices).length === 0 || pricesSent) return;
      pricesSent = true;
      await setPaperPrices(prices);
    };
    if (inputsOneStep) {
      const knownUntil: Record<string, number> = {};
      for (const [symbol, held] of barWindows) if (held.length) knownUntil[symbol] = held[held.length - 1]!.ts;
      const inputs = await loadCycleInputs({ deploymentId, broker: spec.broker, accountId: spec.accountId, symbols: spec.symbols, bars: barsArgs, ...(barsIncremental ? { knownUntil } : {}) });
      ({ sync, snap, prices } = inputs);
      stepDone(snap.at);
      for (const [i, symbol] of spec.symbols.entries()) {
        let w = inputs.windows[i]!;
        if (typeof w !== 'string' && 'continuesFrom' in w) {
          const held = barWindows.get(symbol) ?? [];
          w =
            barsDigest(barsBetween(held, w.overlapFrom, w.continuesFrom)) === w.overlapDigest
              ? { ...w, bars: extendWindow(held, w.bars, WINDOW_BARS) }
              : await loadRecentBars({ symbol, ...barsArgs }).catch((err: Error) => `market data unavailable: ${err.message}`); // an older bar was revised
        }
        if (barsIncremental) {
          if (typeof w === 'string') barWindows.delete(symbol);
          else barWindows.set(symbol, w.bars);
        }
        windows.set(symbol, w);
      }
      if (sync.blockedBy !== undefined) await updateBlock(sync.blockedBy);
    } else {
      sync = await syncOrders({ deploymentId, broker: spec.broker, accountId: spec.accountId });
      stepDone(sync.at);
      if (sync.blockedBy !== undefined) await updateBlock(sync.blockedBy);
      for (const symbol of spec.symbols) {
        try {
          const md = await loadRecentBars({ symbol, ...barsArgs });
          windows.set(symbol, md);
          if (md.bars.length) prices[symbol] = md.bars[md.bars.length - 1]!.close;
        } catch (err) {
          windows.set(symbol, `market data unavailable: ${(err as Error).message}`);
        }
      }
      if (!oneTask) await sendPrices();
      snap = await loadRiskSnapshot({ deploymentId, accountId: spec.accountId, prices });
      stepDone(snap.at);
    }
    if (sync.open > 0 || (snap.pendingApprovals?.length ?? 0) > 0) await sendPrices();
    const day = String(localDate(spec.calendar, barClose));
    if (day !== carry.day) {
      carry.day = day;
      carry.dayStartPnl = snap.totalPnl;
    }
    const equity = spec.riskLimits.maxExposure + snap.totalPnl; // the deployment's capital is its exposure limit
    carry.equityPeak = Math.max(carry.equityPeak, equity);
    carry.lastEquity = equity;
    if (spec.approvalPolicy.mode !== 'none') trackTrades(snap.positions, snap.totalPnl);
    const blocked = (carry.blockedBy ?? []).length > 0;

    let leg = 0;
    for (const symbol of spec.symbols) {
      const md = windows.get(symbol)!;
      const record: CycleRecord = { cycle, barClose, symbol, action: 'skip', clientOrderIds: [] };
      if (typeof md === 'string') {
        record.reason = md;
      } else if (blocked) {
        record.reason = `blocked by reconciliation: ${carry.blockedBy!.join('; ')}`;
      } else {
        const bars = allocateBars(md.bars.length);
        for (const b of md.bars) {
          const i = bars.length++;
          bars.ts[i] = b.ts;
          bars.open[i] = b.open;
          bars.high[i] = b.high;
          bars.low[i] = b.low;
          bars.close[i] = b.close;
          bars.volume[i] = b.volume;
        }
        const positionQty = snap.positions[symbol] ?? 0;
        const decision = decideCycle({
          bars, nowMs: dataNow(), timeframeMs: tfMs, spec, params: carry.params, symbol, positionQty, pendingOrder: snap.pendingSymbols.includes(symbol), entryPrice: snap.entryPrices?.[symbol],
        });
        if (decision.action === 'skip') {
          Object.assign(record, { reason: `${decision.reason}: ${decision.detail}`, signal: decision.signal, indicators: decision.indicators });
        } else if (decision.action === 'hold') {
          Object.assign(record, { action: 'hold', signal: decision.signal, indicators: decision.indicators });
        } else {
          const verdict = evaluateRisk(
            decision.intent,
            {
              positionQty, accountOpenPositions: snap.accountOpenPositions, deploymentExposure: snap.deploymentExposure, accountExposure: snap.accountExposure,
              realizedPnlToday: snap.totalPnl - carry.dayStartPnl, unrealizedPnl: 0, equityPeak: carry.equityPeak, equity,
              barsSinceStopLoss: carry.stopLossCycles?.[symbol] !== undefined ? cycle - carry.stopLossCycles[symbol] : null, breaker: carry.breaker,
            },
            spec.riskLimits,
            snap.kill,
          );
          carry.breaker = verdict.breaker;
          if (verdict.forceClose) flattenRequested = true;
          Object.assign(record, { signal: decision.signal, indicators: decision.indicators, risk: verdict });
          const reducing = isExposureReducing(positionQty, { side: decision.intent.side, qty: verdict.qty });
          // Never a second request in flight for one symbol (an exit still goes out: it needs no approval).
          const awaiting = verdict.qty > 0 && !reducing && snap.pendingApprovals?.includes(symbol) === true;
          const approval = verdict.qty > 0 && !awaiting ? await askApproval(cycle, leg, decision.intent, verdict, positionQty, equity, record) : undefined;
          if (awaiting) {
            record.reason = `approval-pending: a request for ${symbol} awaits a decision`;
          } else if (approval) {
            leg++;
            if (approval.approvalId) {
              Object.assign(record, { action: 'approval', approvalId: approval.approvalId, reason: `awaiting approval (${approval.rule})` });
              await sendPrices(); // an approver may decide before the next cycle
            }
            else record.reason = `approval-pending: a request for ${symbol} is already open`;
          } else if (verdict.qty > 0) {
            await sendPrices();
            const placed = await order(cycle, leg++, { ...decision.intent, qty: verdict.qty });
            stepDone(placed.at);
            record.clientOrderIds = [placed.clientOrderId];
            record.action = placed.state === 'REJECTED' ? 'rejected' : 'order';
            record.reason = placed.state === 'REJECTED' ? placed.rejectReason : decision.intent.reason;
            if (decision.intent.reason === 'stop-loss' && placed.state !== 'REJECTED') carry.stopLossCycles = { ...carry.stopLossCycles, [symbol]: cycle };
          } else {
            record.action = 'rejected';
            record.reason = verdict.reasons.map((r) => `${r.rule}: ${r.detail}`).join('; ');
          }
        }
      }
      remember(record);
      const recorded = await recordCycle({ deploymentId, paramsVersion: carry.paramsVersion, latencyMs: Math.max(workflowNow(), lastStepAt) - startedAt, positions: snap.positions, totalPnl: snap.totalPnl, record });
      stepDone(recorded?.at);
    }
    if (leg > 0) stepDone((await syncOrders({ deploymentId, broker: spec.broker, accountId: spec.accountId })).at);
  };

  let cyclesThisRun = 0;
  while (carry.status !== 'stopped') {
    if (pendingResets.length) {
      await applyResets();
      continue;
    }
    if (flattenRequested) {
      flattenRequested = false;
      await flatten(dataNow());
      continue;
    }
    if (carry.status === 'paused') {
      nextClose = null;
      await wf.condition(() => carry.status !== 'paused' || flattenRequested || pendingResets.length > 0);
      continue;
    }
    // The bar after the last one handled, so a slow cycle never drops a bar; when far behind (after a pause or
    // an outage) jump to the present instead of trading on old bars.
    // Patched: runs started before this change keep their original rule (the next close after now), so their
    // histories still replay.
    if (wf.patched('next-bar-after-last-handled')) {
      nextClose = nextBarClose(spec.calendar, carry.lastBarClose || dataNow(), spec.timeframe);
      if (nextClose < dataNow() - spec.staleAfterBars * tfMs) nextClose = nextBarClose(spec.calendar, dataNow(), spec.timeframe);
    } else {
      nextClose = nextBarClose(spec.calendar, Math.max(dataNow(), carry.lastBarClose), spec.timeframe);
    }
    interrupted = false;
    const waitMs = wallMsUntil(nextClose + spec.settleDelayMs) - Math.max(0, lastStepAt - workflowNow());
    if (waitMs > 0 && (await wf.condition(() => interrupted, waitMs))) continue; // a control message: look again
    carry.lastBarClose = nextClose;
    await runCycle(nextClose);
    if (++cyclesThisRun >= (input.cyclesPerRun ?? DEFAULT_CYCLES_PER_RUN) || wf.workflowInfo().continueAsNewSuggested) {
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof deploymentWorkflow>({ ...input, carry });
    }
  }
  await setDeploymentStatus({ deploymentId, status: 'stopped', by: 'runtime' });
  return { cycles: carry.cycle, status: carry.status };
}

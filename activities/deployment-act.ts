import { orderInputOf, simpleOrderAct, type ActFacts } from '../domain/deployment/decided-act';
import type { PlaceDecidedOrderAndRecordArgs, PlaceDecidedOrderAndRecordResult } from './decided-orders';
import type { LoadedAction, WakeLine } from './deployment-actions';

export interface ActOnDeploymentActionArgs {
  deploymentId: string;
  actionId: string;
  runKey: string;
  workflowId: string;
  broker: string;
  accountId: string;
  /** what the workflow knows now: whether the action's decisions still go out (domain/deployment/decided-act.ts) */
  facts: ActFacts;
  /** workflow ms the wake's task started: the cycle row's latency starts here */
  startedAt: number;
  /** the order's line its wake carried (shown as this activity's summary), with the deployment's strategy: checked against the stored action */
  wakeLine?: WakeLine;
}

export interface ActOnDeploymentActionResult {
  loaded: LoadedAction;
  /** present when the action was the common case and its order went out with its cycle row (ending the action) */
  placed?: PlaceDecidedOrderAndRecordResult;
}

interface Steps {
  loadDeploymentAction(args: { deploymentId: string; actionId: string; runKey: string; wakeLine?: WakeLine }): Promise<LoadedAction>;
  placeDecidedOrderAndRecord(args: PlaceDecidedOrderAndRecordArgs): Promise<PlaceDecidedOrderAndRecordResult>;
}

/**
 * A batch deployment's order wake as one local activity (workflows/deployment/acts.ts): the action read by id (a
 * forged or done id, or a wake whose line is not the stored action's, refused with its audit row), and when it is one symbol's order with nothing else to do
 * (simpleOrderAct), that order and its cycle row ending the action, as placeDecidedOrderAndRecord does. Anything else
 * is only read: the workflow performs it. One marker and one activation round trip fewer per order wake.
 */
export function createDeploymentActActivities({ loadDeploymentAction, placeDecidedOrderAndRecord }: Steps) {
  return {
    async actOnDeploymentAction(args: ActOnDeploymentActionArgs): Promise<ActOnDeploymentActionResult> {
      const { deploymentId, actionId, runKey, facts, wakeLine } = args;
      const loaded = await loadDeploymentAction({ deploymentId, actionId, runKey, ...(wakeLine ? { wakeLine } : {}) });
      if (!loaded.ok) return { loaded };
      const p = loaded.payload;
      const act = simpleOrderAct(p, facts);
      if (!act) return { loaded };
      const { record, action } = act;
      const order = orderInputOf({ ...args, cycle: p.cycle, leg: 0, intentVersion: 1, intent: action.intent, reducing: action.reducing, dataTs: facts.dataNow });
      const row: PlaceDecidedOrderAndRecordArgs['row'] = {
        deploymentId, paramsVersion: p.paramsVersion, positions: p.snapshot.positions, totalPnl: p.snapshot.totalPnl, record, why: action.intent.reason,
        startedAt: args.startedAt, finishAction: { actionId, state: 'done' },
      };
      return { loaded, placed: await placeDecidedOrderAndRecord({ order, row }) };
    },
  };
}

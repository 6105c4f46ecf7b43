import { condition, proxyLocalActivities, setHandler, defineSignal } from '@temporalio/workflow';

/** Workflow of `npm run bench -- workflow-calls`: a deployment's wake in miniature (a signal, then a local activity). */
export const pokeSignal = defineSignal('poke');
const { touch } = proxyLocalActivities<{ touch(n: number): Promise<number> }>({ startToCloseTimeout: '10 seconds' });

export async function pokedWorkflow(pokes: number): Promise<number> {
  let received = 0;
  let done = 0;
  setHandler(pokeSignal, () => void received++);
  while (done < pokes) {
    await condition(() => received > done);
    done = await touch(done + 1);
  }
  return done;
}

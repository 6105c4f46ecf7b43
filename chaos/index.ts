/**
 * What other folders may import from chaos/: the scenario runner and the scenarios. test/chaos runs short
 * versions of r3, r4, r6, r7 and r12 through it on the test servers; `npm run chaos` (run.ts) runs the full ones.
 * Everything under chaos/lib and chaos/scenarios is internal (.dependency-cruiser.cjs enforces it).
 */
import type { ScenarioDef } from './lib/run-scenario';
import { r1 } from './scenarios/r1';
import { r12 } from './scenarios/r12';
import { r13 } from './scenarios/r13';
import { r3 } from './scenarios/r3';
import { r4 } from './scenarios/r4';
import { r5 } from './scenarios/r5';
import { r6 } from './scenarios/r6';
import { r7 } from './scenarios/r7';

export { runScenario, type ChaosEvaluation, type ScenarioResult } from './lib/run-scenario';
export { r12, r3, r4, r6, r7 };

/** Every scenario at its full size, by the name `npm run chaos -- <name>` takes. */
export const SCENARIOS: Record<string, () => ScenarioDef> = { r1: () => r1(), r3: () => r3(), r4: () => r4(), r5: () => r5(), r6: () => r6(), r7: () => r7(), r12: () => r12({ disruptEveryMs: null }), 'r12-restarts': () => r12(), r13: () => r13() };

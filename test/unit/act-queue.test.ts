import { admitAct, isTimelyWake, TIMELY_WAKE_BARS } from '../../domain/deployment/act-queue';

const MIN = 60_000;
const DEP = 'dep-1';
const timing = { calendar: 'XNYS' as const, timeframe: '5m' as const, staleAfterBars: 2 };
const OPEN = Date.UTC(2025, 2, 11, 13, 30); // Tuesday 9:30 New York (EDT)
const NOW = OPEN + 60 * MIN + 1_500; // 10:30 plus a settle delay
const CLOSE = OPEN + 60 * MIN;

describe('isTimelyWake', () => {
  test('an id of this deployment naming a recent bar close is timely', () => {
    expect(isTimelyWake(`${DEP}:${CLOSE}`, DEP, timing, NOW)).toBe(true);
    expect(isTimelyWake(`${DEP}:${CLOSE - 5 * MIN}`, DEP, timing, NOW)).toBe(true);
    // Exactly staleAfterBars back is not late yet (workflows/deployment/acts.ts perform); a moment later it is.
    expect(isTimelyWake(`${DEP}:${CLOSE - 10 * MIN}`, DEP, timing, CLOSE)).toBe(true);
    expect(isTimelyWake(`${DEP}:${CLOSE - 10 * MIN}`, DEP, timing, NOW)).toBe(false);
  });

  test('anything else is not: another deployment, not a close, too old, in the future, not a number', () => {
    expect(isTimelyWake(`dep-2:${CLOSE}`, DEP, timing, NOW)).toBe(false);
    expect(isTimelyWake(`${DEP}:${CLOSE - 60_000}`, DEP, timing, NOW)).toBe(false);
    expect(isTimelyWake(`${DEP}:${CLOSE - 15 * MIN}`, DEP, timing, NOW)).toBe(false);
    expect(isTimelyWake(`${DEP}:${CLOSE + 5 * MIN}`, DEP, timing, NOW)).toBe(false);
    for (const bad of [`${DEP}:`, `${DEP}:0${CLOSE}`, `${DEP}:${CLOSE}.0`, `${DEP}:1e12`, `${DEP}:${CLOSE}:x`, 'forged-1', '']) expect(isTimelyWake(bad, DEP, timing, NOW)).toBe(false);
  });

  test('a large staleAfterBars still lets at most TIMELY_WAKE_BARS + 1 closes count', () => {
    const wide = { ...timing, staleAfterBars: 10_000 };
    const candidates = Array.from({ length: 100 }, (_, i) => `${DEP}:${CLOSE - i * 5 * MIN}`);
    expect(candidates.filter((id) => isTimelyWake(id, DEP, wide, CLOSE))).toHaveLength(TIMELY_WAKE_BARS + 1);
    expect(candidates.filter((id) => isTimelyWake(id, DEP, wide, NOW))).toHaveLength(TIMELY_WAKE_BARS);
  });
});

describe('admitAct', () => {
  const timely = (id: string) => id.startsWith('real-');

  test('queues an id once; a full queue drops what is not timely', () => {
    const q: string[] = [];
    expect(admitAct(q, 'f1', 3, timely)).toBe(0);
    expect(admitAct(q, 'f1', 3, timely)).toBe(0);
    expect(admitAct(q, 'f2', 3, timely)).toBe(0);
    expect(admitAct(q, 'f3', 3, timely)).toBe(0);
    expect(admitAct(q, 'f4', 3, timely)).toBe(1);
    expect(q).toEqual(['f1', 'f2', 'f3']);
  });

  test('a timely wake at a full queue takes the place of the newest id that is not, ahead of the others but never first', () => {
    const q = ['f1', 'f2', 'f3'];
    expect(admitAct(q, 'real-1', 3, timely)).toBe(1);
    expect(q).toEqual(['f1', 'real-1', 'f2']);
    expect(admitAct(q, 'real-2', 3, timely)).toBe(1);
    expect(q).toEqual(['f1', 'real-1', 'real-2']);
    // Only timely ones after the first: nothing to evict, the new one is dropped (and counted).
    expect(admitAct(q, 'real-3', 3, timely)).toBe(1);
    expect(q).toEqual(['f1', 'real-1', 'real-2']);
  });

  test('with room, a timely wake goes after the timely ones already queued, before the rest', () => {
    const q = ['real-0', 'f1', 'f2'];
    expect(admitAct(q, 'real-1', 10, timely)).toBe(0);
    expect(admitAct(q, 'f3', 10, timely)).toBe(0);
    expect(admitAct(q, 'real-2', 10, timely)).toBe(0);
    expect(q).toEqual(['real-0', 'real-1', 'real-2', 'f1', 'f2', 'f3']);
    const empty: string[] = [];
    expect(admitAct(empty, 'real-1', 10, timely)).toBe(0);
    expect(empty).toEqual(['real-1']);
  });

  test('with at most one id queued the check is not made (its first call is costly in a workflow) and the order is the same', () => {
    const asked: string[] = [];
    const counting = (id: string) => (asked.push(id), timely(id));
    const q: string[] = [];
    admitAct(q, 'f1', 10, counting);
    admitAct(q, 'real-1', 10, counting);
    expect(asked).toEqual([]);
    expect(q).toEqual(['f1', 'real-1']);
    admitAct(q, 'real-2', 10, counting);
    expect(asked).toContain('real-2');
    expect(q).toEqual(['f1', 'real-1', 'real-2']);
    // a queue of one with no room still decides by the check
    const full = ['f1'];
    expect(admitAct(full, 'f2', 1, counting)).toBe(1);
    expect(full).toEqual(['f1']);
  });
});

import { allocateBars, appendBar, barAt, sliceBars } from '../../domain/bars';

const bar = (i: number) => ({ ts: i * 60_000, open: 10 + i, high: 11 + i, low: 9 + i, close: 10.5 + i, volume: i });

describe('appendBar', () => {
  test('appends past the allocated capacity, keeping every bar', () => {
    const bars = allocateBars(2);
    for (let i = 0; i < 100; i++) appendBar(bars, bar(i));
    expect(bars.length).toBe(100);
    expect(bars.ts.length).toBeGreaterThanOrEqual(100);
    expect(Array.from({ length: 100 }, (_, i) => barAt(bars, i))).toEqual(Array.from({ length: 100 }, (_, i) => bar(i)));
  });

  test('from empty columns, and onto a slice without writing into the columns it views', () => {
    const empty = allocateBars(0);
    appendBar(empty, bar(1));
    expect(barAt(empty, 0)).toEqual(bar(1));
    const whole = allocateBars(3);
    for (let i = 0; i < 3; i++) appendBar(whole, bar(i));
    const head = sliceBars(whole, 0, 2);
    appendBar(head, bar(7));
    expect(barAt(head, 2)).toEqual(bar(7));
    expect(barAt(whole, 2)).toEqual(bar(2));
  });
});

import { barsBetween, barsDigest, extendWindow } from '../../domain/bar-window';
import type { Bar } from '../../domain/bars';

const MIN = 60_000;
const bars = (n: number, from = 0): Bar[] =>
  Array.from({ length: n }, (_, i) => {
    const k = from + i;
    return { ts: k * MIN, open: 100 + k * 0.25, high: 101 + k * 0.25, low: 99 + k * 0.25, close: 100.5 + k * 0.25, volume: 1000 + k };
  });

test('extending a window by the bars after it gives the same window as reading the latest bars whole', () => {
  const store = bars(400);
  let held = store.slice(0, 300);
  for (let last = 300; last + 7 <= 400; last += 7) {
    const fresh = store.slice(held.length ? store.indexOf(held[held.length - 1]!) + 1 : 0, last + 7);
    held = extendWindow(held, fresh, 300);
    expect(held).toEqual(store.slice(Math.max(0, last + 7 - 300), last + 7));
  }
  // no new bars: the window stays as it is
  expect(extendWindow(held, [], 300)).toEqual(held);
  // a short window grows up to the limit
  expect(extendWindow(store.slice(0, 10), store.slice(10, 20), 300)).toEqual(store.slice(0, 20));
});

test('the digest of an overlap matches only when every bar in it is the same', () => {
  const store = bars(300);
  const held = store.slice(0, 250);
  // the activity read bars 50..299 and the runtime holds up to 249: the overlap is 50..249
  const overlap = store.slice(50, 250);
  expect(barsDigest(barsBetween(held, 50 * MIN, 249 * MIN))).toBe(barsDigest(overlap));
  // a revised close, a revised volume, a missing bar or an extra one: all differ
  const revised = overlap.map((b, i) => (i === 120 ? { ...b, close: b.close + 0.01 } : b));
  expect(barsDigest(revised)).not.toBe(barsDigest(overlap));
  expect(barsDigest(overlap.map((b, i) => (i === 3 ? { ...b, volume: b.volume + 1 } : b)))).not.toBe(barsDigest(overlap));
  expect(barsDigest(overlap.filter((_, i) => i !== 77))).not.toBe(barsDigest(overlap));
  expect(barsDigest([...overlap, store[250]!])).not.toBe(barsDigest(overlap));
  // it survives the JSON round trip a payload makes
  expect(barsDigest(JSON.parse(JSON.stringify(overlap)) as Bar[])).toBe(barsDigest(overlap));
  expect(barsDigest([])).toBe(0);
});

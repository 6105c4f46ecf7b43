/**
 * Display text for Temporal's user metadata and other one-line logs (workflows/summaries.ts): deterministic (no Intl,
 * no clock: workflow code builds it and replays must produce the same text) and short.
 */

const MAX = 190;

/** One line of at most `max` (190) characters. */
export function line(text: string, max = MAX): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** 3580.5 -> "3,580.5" (at most 4 decimals); by hand, as Intl's output may differ between Node builds and replays must not. */
export function grouped(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const [int, frac] = String(Math.round(n * 1e4) / 1e4).split('.');
  return int!.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (frac ? `.${frac}` : '');
}

/** "BUY 10 IDX @ 3,620" (no price when there is none, e.g. a flatten's market order). */
export function tradeText(t: { side: string; qty: number; symbol: string; price?: number }): string {
  const at = t.price !== undefined && t.price > 0 ? ` @ ${grouped(t.price)}` : '';
  return `${t.side.toUpperCase()} ${grouped(t.qty)} ${t.symbol}${at}`;
}

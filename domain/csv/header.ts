/**
 * The header line of an OHLCV CSV: which column holds what. Names are matched case-insensitively, with spaces,
 * underscores and dashes ignored; columns may come in any order.
 */

const KNOWN_FORMATS = [
  'Date,Open,High,Low,Close,Adj Close,Volume',
  'Date,Time,Open,High,Low,Close,Volume,OpenInterest',
  'Date,Open,High,Low,Close,Volume,OpenInterest',
  'ts,open,high,low,close,volume (ts may be timestamp or datetime: ISO 8601 or epoch s/ms)',
] as const;

type ColumnKind = 'date' | 'time' | 'ts' | 'open' | 'high' | 'low' | 'close' | 'volume' | 'ignore';

const ALIASES: Record<string, ColumnKind> = {
  date: 'date',
  day: 'date',
  time: 'time',
  ts: 'ts',
  timestamp: 'ts',
  datetime: 'ts',
  open: 'open',
  o: 'open',
  high: 'high',
  h: 'high',
  low: 'low',
  l: 'low',
  close: 'close',
  c: 'close',
  volume: 'volume',
  vol: 'volume',
  v: 'volume',
  adjclose: 'ignore',
  adjustedclose: 'ignore',
  openinterest: 'ignore',
  oi: 'ignore',
};

/** Column indexes (-1 when absent) of a recognised header, and its normalised names. */
export interface Layout {
  columns: number;
  date: number;
  time: number;
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  names: string[];
}

function normalizeName(raw: string): string {
  let s = raw.trim();
  if (s.length >= 2 && s.charCodeAt(0) === 34 && s.charCodeAt(s.length - 1) === 34) s = s.slice(1, -1);
  return s.toLowerCase().replace(/[\s_-]+/g, '');
}

function headerError(line: string, why: string): Error {
  return new Error(`unrecognised CSV header: "${line}" (${why}); expected one of: ${KNOWN_FORMATS.map((f) => `"${f}"`).join(', ')}`);
}

/** The layout of a header line; throws naming the known formats when it is not one. */
export function parseHeader(line: string): Layout {
  const names = line.split(',').map(normalizeName);
  const layout: Layout = { columns: names.length, date: -1, time: -1, ts: -1, open: -1, high: -1, low: -1, close: -1, volume: -1, names };
  const hasDate = names.includes('date') || names.includes('day');
  names.forEach((name, idx) => {
    let kind = ALIASES[name];
    if (kind === undefined) throw headerError(line, `unknown column "${name}"`);
    if (kind === 'time' && !hasDate) kind = 'ts'; // a lone "time" column holds full timestamps
    if (kind === 'ignore') return;
    if (layout[kind] !== -1) throw headerError(line, `column "${name}" given twice`);
    layout[kind] = idx;
  });
  if (layout.date === -1 && layout.ts === -1) throw headerError(line, 'no date/timestamp column');
  if (layout.date !== -1 && layout.ts !== -1) throw headerError(line, 'both a date and a timestamp column');
  for (const k of ['open', 'high', 'low', 'close'] as const) {
    if (layout[k] === -1) throw headerError(line, `no ${k} column`);
  }
  return layout;
}

/** The layout with a Time column inserted right after Date (header without Time, rows with it). */
export function withImplicitTime(l: Layout): Layout {
  const shift = (idx: number) => (idx > l.date ? idx + 1 : idx);
  return {
    columns: l.columns + 1,
    date: l.date,
    time: l.date + 1,
    ts: -1,
    open: shift(l.open),
    high: shift(l.high),
    low: shift(l.low),
    close: shift(l.close),
    volume: l.volume === -1 ? -1 : shift(l.volume),
    names: [...l.names.slice(0, l.date + 1), 'time', ...l.names.slice(l.date + 1)],
  };
}

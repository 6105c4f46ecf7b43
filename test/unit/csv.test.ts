import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validateBar } from '../../domain/bars';
import { OhlcvCsvParser, parseOhlcvCsv } from '../../domain/csv';
import { parseDateTime, parseDecimal, parseTimestamp } from '../../domain/csv/scalars';
import { ZoneConverter } from '../../domain/time/zone';

const DATA = path.resolve(__dirname, '../../../shared/data');
const read = (f: string) => readFileSync(path.join(DATA, f), 'utf8');
const iso = (ms: number) => new Date(ms).toISOString();

describe('the real files in ../shared/data', () => {
  const files: Array<[string, number, string, string, string]> = [
    ['orcl-1995-2014.txt', 5036, 'date,open,high,low,close,adjclose,volume', '1995-01-03', '2014-12-31'],
    ['yhoo-1996-2015.txt', 4965, 'date,open,high,low,close,adjclose,volume', '1996-04-12', '2015-12-31'],
    ['nvda-1999-2014.txt', 4012, 'date,open,high,low,close,adjclose,volume', '1999-01-22', '2014-12-31'],
    ['2006-day-001.txt', 255, 'date,open,high,low,close,volume,openinterest', '2006-01-02', '2006-12-29'],
    ['2006-min-005.txt', 2142, 'date,time,open,high,low,close,volume,openinterest', '2006-01-02T09:05', '2006-01-30T17:30'],
    // header without Time, rows with it (and CRLF line ends)
    ['2006-01-02-volume-min-001.txt', 30889, 'date,time,open,high,low,close,volume,openinterest', '2006-01-02T09:01', '2006-02-27T22:00'],
  ];

  test.each(files)('%s: %d rows, no rejections', (file, rows, layout, first, last) => {
    const r = parseOhlcvCsv(read(file));
    expect(r).toMatchObject({ accepted: rows, rejected: 0, duplicates: 0, rejections: [], layout });
    expect(r.bars.length).toBe(rows);
    expect(r.bars.ts.length).toBe(rows);
    expect(iso(r.bars.ts[0]).startsWith(first)).toBe(true);
    expect(iso(r.bars.ts[rows - 1]).startsWith(last)).toBe(true);
    for (let i = 1; i < rows; i++) expect(r.bars.ts[i]).toBeGreaterThan(r.bars.ts[i - 1]);
  });

  test('values are read exactly', () => {
    const r = parseOhlcvCsv(read('nvda-1999-2014.txt'));
    // 1999-01-22,1.750000,1.953125,1.552083,1.640625,1.518424,67867200
    expect([r.bars.open[0], r.bars.high[0], r.bars.low[0], r.bars.close[0], r.bars.volume[0]]).toEqual([1.75, 1.953125, 1.552083, 1.640625, 67867200]);
    const m = parseOhlcvCsv(read('2006-min-005.txt'));
    // 2006-01-02,09:05:00,3578.73,3587.88,3578.73,3582.99,0,0
    expect(iso(m.bars.ts[0])).toBe('2006-01-02T09:05:00.000Z');
    expect([m.bars.open[0], m.bars.high[0], m.bars.low[0], m.bars.close[0], m.bars.volume[0]]).toEqual([3578.73, 3587.88, 3578.73, 3582.99, 0]);
  });

  test('streaming in small chunks (lines split anywhere) gives the same bars', () => {
    const text = read('2006-01-02-volume-min-001.txt');
    const whole = parseOhlcvCsv(text);
    const p = new OhlcvCsvParser();
    for (let i = 0; i < text.length; i += 37) p.push(text.slice(i, i + 37));
    const chunked = p.finish();
    expect(chunked.accepted).toBe(whole.accepted);
    expect(Array.from(chunked.bars.ts)).toEqual(Array.from(whole.bars.ts));
    expect(Array.from(chunked.bars.close)).toEqual(Array.from(whole.bars.close));
  });
});

describe('layouts', () => {
  test('separate Date and Time columns', () => {
    const r = parseOhlcvCsv('Date,Time,Open,High,Low,Close,Volume,OpenInterest\n2024-03-01,09:30:00,10,11,9,10.5,100,0\n2024-03-01,9:31,10.5,10.6,10.4,10.4,50,0\n');
    expect(Array.from(r.bars.ts).map(iso)).toEqual(['2024-03-01T09:30:00.000Z', '2024-03-01T09:31:00.000Z']);
    expect(r.accepted).toBe(2);
  });

  test('generic ts / timestamp / datetime columns: ISO 8601 with or without zone, epoch s and ms; any order, case-insensitive', () => {
    const r = parseOhlcvCsv(
      [
        'Close,TimeStamp,open,HIGH,low,Volume',
        '10,2024-03-01T10:00:00Z,10,10,10,1',
        '10,2024-03-01T11:00:00+01:00,10,10,10,1',
        '10,2024-03-01 12:00,10,10,10,1',
        '10,1709298000,10,10,10,1',
        '10,1709301600000,10,10,10,1',
        '10,1709305200.5,10,10,10,1',
      ].join('\n'),
    );
    expect(Array.from(r.bars.ts).map(iso)).toEqual([
      '2024-03-01T10:00:00.000Z',
      '2024-03-01T12:00:00.000Z',
      '2024-03-01T13:00:00.000Z',
      '2024-03-01T14:00:00.000Z',
      '2024-03-01T15:00:00.500Z',
    ]);
    expect(r.duplicates).toBe(1); // 11:00+01:00 is 10:00Z again
    expect(r.rejections).toEqual([{ line: 3, reason: 'duplicate timestamp 2024-03-01T10:00:00.000Z (first on line 2)' }]);
  });

  test('a Time column missing from the header is recognised in the rows, even after a malformed first row', () => {
    const r = parseOhlcvCsv('Date,Open,High,Low,Close,Volume,OpenInterest\n2006-01-02,09:00:00,1\n2006-01-02,09:01:00,10,11,9,10,5,0\n2006-01-02,09:02:00,10,11,9,10,5,0\n');
    expect(r.layout).toBe('date,time,open,high,low,close,volume,openinterest');
    expect(Array.from(r.bars.ts).map(iso)).toEqual(['2006-01-02T09:01:00.000Z', '2006-01-02T09:02:00.000Z']);
    expect(r.rejections).toEqual([{ line: 2, reason: 'expected 7 columns (date,open,high,low,close,volume,openinterest), got 3' }]);
  });

  test('volume is optional; Adj Close and OpenInterest are ignored', () => {
    const r = parseOhlcvCsv('datetime,open,high,low,close\n2024-01-02,1,2,0.5,1.5\n');
    expect(r.bars.volume[0]).toBe(0);
    expect(r.bars.close[0]).toBe(1.5);
  });

  test('unknown header: a clear error listing the expected formats', () => {
    expect(() => parseOhlcvCsv('when,price\n2024-01-01,5\n')).toThrow(/unrecognised CSV header: "when,price" \(unknown column "when"\); expected one of: "Date,Open,High,Low,Close,Adj Close,Volume"/);
    expect(() => parseOhlcvCsv('Date,Open,High,Low\n')).toThrow(/no close column/);
    expect(() => parseOhlcvCsv('')).toThrow(/header line is required/);
  });

  test('empty lines, CRLF and a byte order mark are fine', () => {
    const r = parseOhlcvCsv('\uFEFFDate,Open,High,Low,Close,Volume\r\n\r\n2024-01-02,1,2,0.5,1.5,10\r\n   \r\n2024-01-03,1,2,0.5,1.5,10');
    expect(r.accepted).toBe(2);
    expect(r.rejected).toBe(0);
  });
});

describe('time zones', () => {
  const one = (line: string, timeZone: string) => iso(parseOhlcvCsv(`Date,Time,Open,High,Low,Close,Volume\n${line},1,1,1,1,1\n`, { timeZone }).bars.ts[0]);

  test('exchange-local times become UTC; date-only rows are local midnight', () => {
    expect(one('2024-01-15,09:30', 'America/New_York')).toBe('2024-01-15T14:30:00.000Z'); // EST, UTC-5
    expect(one('2024-07-15,09:30', 'America/New_York')).toBe('2024-07-15T13:30:00.000Z'); // EDT, UTC-4
    expect(one('2024-07-15,09:00', 'Europe/Berlin')).toBe('2024-07-15T07:00:00.000Z');
    expect(one('2024-07-15,09:00', 'Asia/Tokyo')).toBe('2024-07-15T00:00:00.000Z');
    const daily = parseOhlcvCsv('Date,Open,High,Low,Close,Volume\n2024-01-15,1,1,1,1,1\n2024-07-15,1,1,1,1,1\n', { timeZone: 'America/New_York' });
    expect(Array.from(daily.bars.ts).map(iso)).toEqual(['2024-01-15T05:00:00.000Z', '2024-07-15T04:00:00.000Z']);
  });

  test('New York DST change days (2024-03-10 and 2024-11-03)', () => {
    const ny = 'America/New_York';
    expect(one('2024-03-10,01:59', ny)).toBe('2024-03-10T06:59:00.000Z'); // still EST
    expect(one('2024-03-10,03:00', ny)).toBe('2024-03-10T07:00:00.000Z'); // EDT from 03:00
    expect(one('2024-03-10,02:30', ny)).toBe('2024-03-10T07:30:00.000Z'); // does not exist: shifted forward (03:30 EDT)
    expect(one('2024-03-10,09:30', ny)).toBe('2024-03-10T13:30:00.000Z');
    expect(one('2024-11-03,00:30', ny)).toBe('2024-11-03T04:30:00.000Z');
    expect(one('2024-11-03,01:30', ny)).toBe('2024-11-03T05:30:00.000Z'); // happens twice: the first (EDT)
    expect(one('2024-11-03,02:30', ny)).toBe('2024-11-03T07:30:00.000Z'); // EST
    expect(one('2024-11-04,09:30', ny)).toBe('2024-11-04T14:30:00.000Z');
  });

  test('a continuous minute series across the spring-forward day in New York', () => {
    const lines = ['Date,Time,Open,High,Low,Close,Volume'];
    for (let m = 0; m < 24 * 60; m += 30) lines.push(`2024-03-10,${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')},1,1,1,1,1`);
    const r = parseOhlcvCsv(lines.join('\n'), { timeZone: 'America/New_York' });
    // 02:00 and 02:30 do not exist and land on 03:00 and 03:30, which the file also has: duplicates
    expect(r.duplicates).toBe(2);
    expect(r.accepted).toBe(46);
    expect(r.rejections.map((x) => x.line)).toEqual([8, 9]);
  });

  test('round trip with Intl for every hour of a year; only the repeated hour maps to its first occurrence', () => {
    for (const zone of ['Europe/London', 'America/New_York', 'Australia/Sydney']) {
      const z = new ZoneConverter(zone);
      const dtf = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
      const earlier: string[] = [];
      for (let t = Date.UTC(2023, 0, 1); t < Date.UTC(2024, 0, 1); t += 3_600_000) {
        const [d, hm] = dtf.format(t).split(', ');
        const [dd, mm, yyyy] = d.split('/');
        const back = z.toUtc(Date.parse(`${yyyy}-${mm}-${dd}T${hm}:00Z`));
        if (back !== t) {
          expect(back).toBe(t - 3_600_000);
          earlier.push(iso(t));
        }
      }
      expect(earlier).toHaveLength(1); // the second pass through the fall-back hour
    }
  });

  test('unknown zone', () => {
    expect(() => parseOhlcvCsv('Date,Open,High,Low,Close\n', { timeZone: 'Mars/Olympus' })).toThrow(/unknown time zone "Mars\/Olympus"/);
  });
});

describe('rejections', () => {
  test('malformed rows are counted with their line numbers; good rows kept', () => {
    const text = [
      'Date,Open,High,Low,Close,Adj Close,Volume', // 1
      '2024-01-02,10,11,9,10.5,10.5,100', // 2 ok
      '2024-01-03,10,11,9,10.5,100', // 3 six columns
      '2024-01-04,10,abc,9,10.5,10.5,100', // 4 bad number
      '2024-13-05,10,11,9,10.5,10.5,100', // 5 bad date
      '2024-01-06,0,11,9,10.5,10.5,100', // 6 non-positive price
      '2024-01-07,10,10.2,9,10.5,10.5,100', // 7 high < close
      '2024-01-08,10,11,10.2,10.5,10.5,100', // 8 low > open
      '2024-01-09,10,11,9,10.5,10.5,-1', // 9 negative volume
      '', // 10 empty: ignored
      '2024-01-02,10,11,9,10.5,10.5,100', // 11 duplicate of line 2 (out of order)
      '2024-01-10,10,11,9,10.5,10.5,100', // 12 ok
      '2024-02-30,10,11,9,10.5,10.5,100', // 13 no such day
      '2024-01-11,10,8,9,10.5,10.5,100', // 14 high < low
    ].join('\n');
    const r = parseOhlcvCsv(text);
    expect(r.accepted).toBe(2);
    expect(r.rejected).toBe(10);
    expect(r.duplicates).toBe(1);
    expect(r.rejections.map((x) => x.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 11, 13, 14]);
    const reasons = Object.fromEntries(r.rejections.map((x) => [x.line, x.reason]));
    expect(reasons[3]).toBe('expected 7 columns (date,open,high,low,close,adjclose,volume), got 6');
    expect(reasons[4]).toBe('invalid number in column high: "abc"');
    expect(reasons[5]).toBe('invalid date "2024-13-05"');
    expect(reasons[6]).toMatch(/prices must be positive/);
    expect(reasons[7]).toBe('high 10.2 < max(open 10, close 10.5)');
    expect(reasons[8]).toBe('low 10.2 > min(open 10, close 10.5)');
    expect(reasons[9]).toBe('volume must be a number >= 0, got -1');
    expect(reasons[11]).toBe('duplicate timestamp 2024-01-02T00:00:00.000Z (first on line 2)');
    expect(reasons[14]).toBe('high 8 < low 9');
    expect(Array.from(r.bars.ts).map(iso)).toEqual(['2024-01-02T00:00:00.000Z', '2024-01-10T00:00:00.000Z']);
  });

  test('at most maxRejectionSamples samples, all counted', () => {
    const rows = ['Date,Open,High,Low,Close'];
    for (let i = 0; i < 250; i++) rows.push('2024-01-01,x,1,1,1');
    const r = parseOhlcvCsv(rows.join('\n'));
    expect(r.rejected).toBe(250);
    expect(r.rejections).toHaveLength(100);
    expect(parseOhlcvCsv(rows.join('\n'), { maxRejectionSamples: 5 }).rejections).toHaveLength(5);
  });

  test('duplicates keep the first row; unsorted input is sorted, newest-first input reversed', () => {
    const r = parseOhlcvCsv('Date,Open,High,Low,Close\n2024-01-03,3,3,3,3\n2024-01-01,1,1,1,1\n2024-01-03,9,9,9,9\n2024-01-02,2,2,2,2\n');
    expect(Array.from(r.bars.close)).toEqual([1, 2, 3]);
    expect(r.duplicates).toBe(1);
    expect(r.rejections).toEqual([{ line: 4, reason: 'duplicate timestamp 2024-01-03T00:00:00.000Z (first on line 2)' }]);
    const desc = parseOhlcvCsv('Date,Open,High,Low,Close\n2024-01-03,3,3,3,3\n2024-01-02,2,2,2,2\n2024-01-01,1,1,1,1\n');
    expect(Array.from(desc.bars.close)).toEqual([1, 2, 3]);
  });
});

describe('scalars', () => {
  test('validateBar', () => {
    expect(validateBar(10, 11, 9, 10, 0)).toBeNull();
    expect(validateBar(10, 10, 10, 10, 5)).toBeNull();
    expect(validateBar(-1, 11, 9, 10, 0)).toMatch(/positive/);
    expect(validateBar(10, 11, 9, 12, 0)).toMatch(/^high 11 < max/);
    expect(validateBar(10, 11, 10.5, 10.7, 0)).toMatch(/^low 10.5 > min/);
    expect(validateBar(10, 11, 9, 10, -3)).toMatch(/volume/);
    expect(validateBar(10, 11, 9, NaN, 0)).toMatch(/positive/);
  });

  test('parseDecimal equals Number() on what it accepts and rejects the rest', () => {
    for (const s of ['0', '1', '3602.00', '1.953125', '-4.5', '+7', '.5', '5.', '123456789012345', '1234567890.123456789', '1e3', '2.5E-4', ' 12.5 ', '"3.25"', '0.1', '20.370001']) {
      expect(parseDecimal(s, 0, s.length)).toBe(Number(s.trim().replace(/"/g, '')));
    }
    for (const s of ['', 'abc', '1.2.3', '0x10', '1,5', 'Infinity', '-', '.']) expect(parseDecimal(s, 0, s.length)).toBeNaN();
  });

  test('dates and timestamps say whether the text carried its own zone', () => {
    const at = (f: typeof parseDateTime, s: string) => f(s, 0, s.length);
    expect(at(parseDateTime, '2024-03-10 02:30')).toEqual({ ms: Date.UTC(2024, 2, 10, 2, 30), zoned: false });
    expect(at(parseDateTime, '20240310')).toEqual({ ms: Date.UTC(2024, 2, 10), zoned: false });
    expect(at(parseDateTime, '2024-03-10T02:30:00Z')).toEqual({ ms: Date.UTC(2024, 2, 10, 2, 30), zoned: true });
    expect(at(parseDateTime, '2024-03-10T02:30-05:00')).toEqual({ ms: Date.UTC(2024, 2, 10, 7, 30), zoned: true });
    expect(at(parseTimestamp, '1710037800')).toEqual({ ms: Date.UTC(2024, 2, 10, 2, 30), zoned: true });
    expect(at(parseTimestamp, '2024-03-10T02:30')).toEqual({ ms: Date.UTC(2024, 2, 10, 2, 30), zoned: false });
    for (const s of ['2024-02-30', '2024-03-10T25:00', '2024-03-10T02:30Zx', 'soon']) expect(at(parseTimestamp, s).ms).toBeNaN();
  });

  test('the flag belongs to each call: a zoned value does not leak into the next one', () => {
    const zoned = '2024-01-02T10:00:00Z';
    const local = '2024-01-02T10:00:00';
    expect(parseDateTime(zoned, 0, zoned.length).zoned).toBe(true);
    expect(parseDateTime(local, 0, local.length).zoned).toBe(false);
    const r = parseOhlcvCsv(`ts,open,high,low,close\n${zoned},1,1,1,1\n2024-01-02T11:00:00,1,1,1,1\n`, { timeZone: 'America/New_York' });
    expect(Array.from(r.bars.ts)).toEqual([Date.UTC(2024, 0, 2, 10), Date.UTC(2024, 0, 2, 16)]);
  });
});

describe('parsing while the rows are used (db/csv-import.ts)', () => {
  const text = read('2006-01-02-volume-min-001.txt');
  const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => v === b[i]);

  test('parsed() gives the rows accepted so far, in order, with their lines; finish() gives the same rows', () => {
    const whole = parseOhlcvCsv(text);
    const p = new OhlcvCsvParser();
    let seen = 0;
    for (let i = 0; i < text.length; i += 4099) {
      p.push(text.slice(i, i + 4099));
      const { bars, lines } = p.parsed();
      expect(bars.length).toBeGreaterThanOrEqual(seen);
      expect(p.inOrder).toBe(true);
      // a prefix of the final result, lines included
      const k = bars.length;
      expect(same(bars.ts, whole.bars.ts.subarray(0, k)) && same(bars.close, whole.bars.close.subarray(0, k))).toBe(true);
      expect(same(lines, whole.lines.subarray(0, k))).toBe(true);
      seen = k;
    }
    const done = p.finish();
    expect(Array.from(done.bars.close)).toEqual(Array.from(whole.bars.close));
  });

  test('inOrder turns false at the first row earlier than the one before, and stays false; a repeated time is a duplicate, not disorder', () => {
    const p = new OhlcvCsvParser();
    p.push('Date,Open,High,Low,Close\n2024-01-01,1,1,1,1\n2024-01-02,2,2,2,2\n2024-01-02,9,9,9,9\n');
    expect(p.inOrder).toBe(true);
    expect(p.parsed().bars.length).toBe(2);
    p.push('2023-12-31,0.5,0.5,0.5,0.5\n2024-01-03,3,3,3,3\n');
    expect(p.inOrder).toBe(false);
    const r = p.finish();
    expect(Array.from(r.bars.close)).toEqual([0.5, 1, 2, 3]);
    expect(r.duplicates).toBe(1);
  });

  test('expectedLength sizes the columns from the first rows: the same result, over- or under-estimated', () => {
    const whole = parseOhlcvCsv(text);
    for (const expectedLength of [text.length, Math.floor(text.length / 3), text.length * 5, 1]) {
      const p = new OhlcvCsvParser({ expectedLength });
      for (let i = 0; i < text.length; i += 65_536) p.push(text.slice(i, i + 65_536));
      const r = p.finish();
      expect(r.accepted).toBe(whole.accepted);
      expect(same(r.bars.ts, whole.bars.ts) && same(r.bars.volume, whole.bars.volume) && same(r.lines, whole.lines)).toBe(true);
    }
  });
});

test('a 200,000-row file parses completely (its speed is measured by `npm run bench -- import`, not here)', () => {
  const rows = 200_000;
  const parts = ['Date,Time,Open,High,Low,Close,Volume,OpenInterest\n'];
  const t0 = Date.UTC(2020, 0, 1);
  for (let i = 0; i < rows; i++) {
    const d = new Date(t0 + i * 60_000).toISOString();
    parts.push(`${d.slice(0, 10)},${d.slice(11, 19)},3600.25,3601.50,3599.75,3600.00,${i % 1000},0\n`);
  }
  const r = parseOhlcvCsv(parts.join(''));
  expect(r.accepted).toBe(rows);
  expect(r.bars.close[rows - 1]).toBe(3600);
});

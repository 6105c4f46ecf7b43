/**
 * Named historical crisis windows for black-swan scans, inclusive calendar dates (UTC days, the dates of daily
 * bars). Each is reported separately wherever the data covers it.
 *
 * Sources: peak and trough dates of the S&P 500 (NASDAQ Composite for the dot-com crash) as recorded by the
 * index providers and the financial press; the named events and their dates (9/11 and the market closure of
 * Sept 11-14 2001, the May 6 2010 flash crash, the S&P downgrade of US debt on Aug 5 2011, the yuan devaluation
 * of Aug 11 2015 and the Aug 24 2015 open, the Feb 5 2018 VIX spike, the COVID peak of Feb 19 2020 and trough of
 * Mar 23 2020). LEAN's report (QuantConnect/Lean, Report/Crisis.cs) slices its reports by similar events with
 * wider windows; where it has the same event its window is given in the note.
 */
export interface CrisisWindow {
  id: string;
  name: string;
  /** first and last day, YYYY-MM-DD, inclusive */
  from: string;
  to: string;
  note: string;
}

export const CRISES: readonly CrisisWindow[] = [
  { id: 'black-monday-1987', name: 'Black Monday 1987', from: '1987-10-14', to: '1987-10-30', note: 'S&P 500 -20.5 % on Oct 19 1987' },
  { id: 'asian-crisis-1997', name: 'Asian crisis, Oct 1997 mini-crash', from: '1997-10-20', to: '1997-11-07', note: 'Dow -7.2 % on Oct 27 1997' },
  { id: 'ltcm-1998', name: 'Russian default and LTCM 1998', from: '1998-07-17', to: '1998-10-08', note: 'S&P 500 peak Jul 17, trough Oct 8 1998' },
  { id: 'dot-com-crash', name: 'Dot-com crash', from: '2000-03-10', to: '2002-10-09', note: 'NASDAQ peak Mar 10 2000, trough Oct 9 2002 (LEAN: Feb 26 .. Sep 10 2000)' },
  { id: 'sept-11', name: 'September 11 attacks', from: '2001-09-10', to: '2001-10-11', note: 'markets closed Sep 11-14, S&P 500 trough Sep 21 2001 (LEAN: Sep 5 .. Oct 10 2001)' },
  { id: 'gfc-2008', name: 'Global financial crisis', from: '2007-10-09', to: '2009-03-09', note: 'S&P 500 peak Oct 9 2007, trough Mar 9 2009 (LEAN: Oct 1 2007 .. Dec 1 2011)' },
  { id: 'lehman-2008', name: 'Lehman collapse', from: '2008-09-12', to: '2008-11-20', note: 'Lehman filed Sep 15 2008; S&P 500 low of the year Nov 20 2008' },
  { id: 'flash-crash-2010', name: 'Flash crash 2010', from: '2010-05-05', to: '2010-05-10', note: 'May 6 2010, the Dow -9 % intraday (LEAN: the same window)' },
  { id: 'us-downgrade-2011', name: 'US downgrade 2011', from: '2011-07-22', to: '2011-10-03', note: 'S&P downgraded US debt Aug 5 2011; S&P 500 trough Oct 3 (LEAN: Aug 5 .. Sep 1 2011)' },
  { id: 'aug-2015', name: 'August 2015 sell-off', from: '2015-08-10', to: '2015-10-10', note: 'yuan devaluation Aug 11, the Aug 24 2015 open (LEAN: the same window)' },
  { id: 'volmageddon-2018', name: 'February 2018 (Volmageddon)', from: '2018-01-26', to: '2018-02-09', note: 'S&P 500 peak Jan 26, VIX spike Feb 5, trough Feb 8 2018' },
  { id: 'q4-2018', name: 'Q4 2018 sell-off', from: '2018-09-20', to: '2018-12-24', note: 'S&P 500 peak Sep 20, trough Dec 24 2018' },
  { id: 'covid-2020', name: 'COVID-19 crash', from: '2020-02-19', to: '2020-03-23', note: 'S&P 500 peak Feb 19, trough Mar 23 2020' },
  { id: 'bear-2022', name: '2022 bear market', from: '2022-01-03', to: '2022-10-12', note: 'S&P 500 peak Jan 3, trough Oct 12 2022' },
];

const DAY_MS = 86_400_000;

/** The window's first and last instant, epoch ms (UTC days). */
export function crisisBounds(c: CrisisWindow): { fromMs: number; toMs: number } {
  return { fromMs: Date.parse(`${c.from}T00:00:00Z`), toMs: Date.parse(`${c.to}T00:00:00Z`) + DAY_MS - 1 };
}

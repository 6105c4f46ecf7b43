export * from './calendar';
export { easterSunday, parseLocalDate, toIsoDate, toYmd } from '../time/dates';
export { nyseEarlyCloses, nyseHolidays } from './nyse';
export { settlementDate } from './settlement';

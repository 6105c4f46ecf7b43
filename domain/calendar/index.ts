export * from './calendar';
export { DAY_MS, MINUTE_MS, dayNumber, easterSunday, parseLocalDate, toIsoDate, toYmd, weekday, type LocalDate } from './dates';
export { nyseEarlyCloses, nyseHolidays, XNYS_CLOSE_MINUTE, XNYS_EARLY_CLOSE_MINUTE, XNYS_FIRST_YEAR, XNYS_LAST_YEAR, XNYS_OPEN_MINUTE, type NyseDay } from './nyse';
export { isSettlementDay, settlementDate } from './settlement';

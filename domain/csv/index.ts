export { OhlcvCsvParser, parseOhlcvCsv, type CsvRejection } from './parser';

import { mainWorker } from './run-worker';

mainWorker('cpu');

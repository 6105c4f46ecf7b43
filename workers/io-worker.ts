import { mainWorker } from './run-worker';

mainWorker('io');

import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { WEB_TYPES, webAssetRoutes, type WebAsset } from '../web-assets';

const WEB_DIR = path.resolve(__dirname, '..', '..', 'web');
const MODULES_DIR = path.join(WEB_DIR, 'results');

/** A file of an npm package, beside its package.json (both packages export that file; neither exports its dist files). */
const packageFile = (packageJson: string, file: string) => path.join(path.dirname(packageJson), file);

/**
 * The chart libraries, as ES modules straight from node_modules: served by the API, nothing from a CDN, so the page
 * works offline. TradingView's lightweight-charts draws prices, equity and drawdown; Apache ECharts the heatmap,
 * fans, histograms and fold bars (README, "Dependencies and why").
 */
export const CHART_LIBRARIES: readonly WebAsset[] = [
  { url: '/web/vendor/lightweight-charts.mjs', file: packageFile(require.resolve('lightweight-charts/package.json'), 'dist/lightweight-charts.standalone.production.mjs'), type: WEB_TYPES.js },
  { url: '/web/vendor/echarts.mjs', file: packageFile(require.resolve('echarts/package.json'), 'dist/echarts.esm.min.mjs'), type: WEB_TYPES.js },
];

/**
 * GET /results (and /results/backtests/:id, /results/scans/:id, the same shell): charts of a backtest (prices with
 * its trades, equity, drawdown) and of a stress scan (heatmap, walk-forward folds, Monte Carlo fans and
 * histograms), of a trading day (/results/days/:date/:accountId: the daily summary and its intraday PnL curve), from the API with the key typed into the page, or of a scan JSON file opened in it. Plain ES
 * modules (clients/web/results/), no build step.
 */
export function resultsPageRoutes(): FastifyPluginAsync {
  const modules = readdirSync(MODULES_DIR)
    .filter((f) => f.endsWith('.js'))
    .map((f) => ({ url: `/web/results/${f}`, file: path.join(MODULES_DIR, f), type: WEB_TYPES.js }));
  return webAssetRoutes([
    { url: ['/results', '/results/backtests/:id', '/results/scans/:id', '/results/days/:date/:accountId'], file: path.join(WEB_DIR, 'results.html'), type: WEB_TYPES.html },
    { url: '/web/results.css', file: path.join(WEB_DIR, 'results.css'), type: WEB_TYPES.css },
    ...modules,
    ...CHART_LIBRARIES,
  ]);
}

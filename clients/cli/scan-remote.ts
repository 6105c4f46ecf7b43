import cliProgress from 'cli-progress';
import type { ApiClient } from './api-client';
import { CliError, usageError } from './errors';
import { keyValues } from './format';
import { print } from './options';
import { scanReport, type ScanDoc } from './scan-report';
import type { JobStatus } from './types';
import { watch } from './watch';

/** GET /v1/stress-scans/:id, as the CLI reads it (the document's fields come with a completed scan). */
interface ScanJob {
  id: string;
  status: JobStatus;
  error: string | null;
  cellsTotal: number;
  progress: { phase: string; runsDone: number; runsTotal: number; fraction: number };
  links: { temporalUi: string };
  [field: string]: unknown;
}

/** The job's own fields: what the CLI drops to print the document `scan --local --json` prints. */
const JOB_FIELDS = ['id', 'workflowId', 'status', 'progress', 'paramsVersion', 'requestedBy', 'error', 'createdAt', 'startedAt', 'finishedAt', 'links', 'spec', 'cellsTotal'];
/** Cells per request when a scan has more than one answer carries. */
const CELLS_PAGE = 1_000;
const CELLS_IN_DOCUMENT = 100_000;

/** A bar of runs on stderr, only when it is a terminal (as `scan --local`). */
class RunsBar {
  private bar?: cliProgress.SingleBar;

  update(job: ScanJob): void {
    if (!process.stderr.isTTY) return;
    const { runsDone, runsTotal, phase } = job.progress;
    if (!this.bar) {
      this.bar = new cliProgress.SingleBar({ stream: process.stderr, format: ' scan |{bar}| {percentage}% | {value}/{total} runs | {phase}', hideCursor: true }, cliProgress.Presets.shades_classic);
      this.bar.start(Math.max(runsTotal, 1), runsDone, { phase });
    }
    this.bar.setTotal(Math.max(runsTotal, 1));
    this.bar.update(runsDone, { phase });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/**
 * `scan` through the API: starts the scan, shows its progress, Ctrl-C asks the API to cancel it; once completed,
 * prints the document (--json: exactly the fields `scan --local --json` prints, every cell) or its tables.
 */
export async function runRemoteScan(client: ApiClient, body: Record<string, unknown>, opts: { json?: boolean; wait: boolean; top: number }): Promise<void> {
  if (!body.symbol) throw usageError('--symbol is required: the stored series to scan (or run in process with --local --csv <file>)');
  const created = await client.post<{ id: string; runsTotal: number; batches: number; links: { temporalUi: string } }>('/v1/stress-scans', body);
  if (!opts.wait) {
    if (opts.json) return print(JSON.stringify(created));
    print(keyValues([['stress scan', created.id], ['runs', `${created.runsTotal} in ${created.batches} batches`], ['temporal', created.links.temporalUi]]));
    return;
  }
  if (!opts.json) process.stderr.write(`stress scan ${created.id}: ${created.runsTotal} runs in ${created.batches} batches (${created.links.temporalUi})\n`);
  const id = encodeURIComponent(created.id);
  const { job, interrupted } = await watch<ScanJob>(client, { kind: 'stress scan', id: created.id, path: `/v1/stress-scans/${id}`, query: { cells: 0 }, cancelPath: `/v1/stress-scans/${id}/cancel`, view: new RunsBar() });
  if (job.status !== 'completed') {
    if (interrupted) throw new CliError(`stress scan ${job.id} ${job.status}`, 130);
    throw new CliError(`stress scan ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}`);
  }
  const doc = await fetchDocument(client, id, job.cellsTotal);
  print(opts.json ? JSON.stringify(doc) : scanReport(doc, opts.top));
}

/** The finished scan's document with every cell (paged through /cells beyond what one answer carries). */
async function fetchDocument(client: ApiClient, id: string, total: number): Promise<ScanDoc> {
  const answer = await client.get<ScanJob & { cells: unknown[] }>(`/v1/stress-scans/${id}`, { cells: Math.min(total, CELLS_IN_DOCUMENT) });
  for (let offset = answer.cells.length; offset < total; ) {
    const page = await client.get<{ cells: unknown[] }>(`/v1/stress-scans/${id}/cells`, { sort: 'rank', limit: CELLS_PAGE, offset });
    if (page.cells.length === 0) break;
    answer.cells.push(...page.cells);
    offset += page.cells.length;
  }
  return Object.fromEntries(Object.entries(answer).filter(([k]) => !JOB_FIELDS.includes(k))) as unknown as ScanDoc;
}

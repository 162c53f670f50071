/**
 * `promptq report [--since 24h] [--json]`: the dashboard's figures in the terminal, read from the
 * same rollups through the same function ({@link readDashboard}). One function per section.
 */
import { formatMs, formatPercent, formatUsd, textTable } from '../../core/format.js';
import { attemptErrorClasses } from '../../store/rollup-format.js';
import type { DashboardData } from './summary.js';

/** The report as text. */
export function formatReport(data: DashboardData, queue: string, since: string): string {
  const out = [`promptq report: queue ${queue}, last ${since} (${data.from} → ${data.to})`, ''];
  out.push(totalsTable(data.totals));
  out.push('', 'Per model', modelTable(data.models));
  out.push('', 'Per tenant', tenantTable(data.tenants));
  out.push('', 'Per account (which served the calls)', accountTable(data.accounts));
  out.push('', 'API attempts by error class (retried or not)', attemptErrorTable(data));
  if (Object.keys(data.errors).length > 0) {
    out.push('', 'Failed jobs by error type');
    out.push(
      textTable(
        ['error type', 'jobs'],
        Object.entries(data.errors).sort((a, b) => b[1] - a[1]),
      ),
    );
  }
  out.push('', 'Cost projection (UTC month)', projectionTable(data.projection));
  if (Object.keys(data.projection.tenants).length > 0)
    out.push(
      '',
      'Cost projection per tenant (UTC day and month)',
      tenantProjectionTable(data.projection.tenants),
    );
  out.push('', 'Slowest calls (enqueue → finish)', slowestTable(data.slowest));
  if (data.totals.jobs === 0)
    out.push('', 'No job finished in this period (rollups are written by workers as jobs finish).');
  return `${out.join('\n')}\n`;
}

/** Shown like HTTP answers: 429, 529, 5xx, timeout, network, 4xx. */
const classNames: Record<string, string> = attemptErrorClasses;

/** Attempts, then every class that happened, most frequent first, then retries. */
function attemptErrorTable(data: DashboardData): string {
  const { totals } = data;
  const rows: Array<Array<string | number>> = [
    ['all attempts', totals.attempts, ''],
    ['failed attempts', totals.failed_attempts, formatPercent(totals.attempt_error_rate)],
  ];
  for (const [cls, v] of Object.entries(data.attempt_errors).sort((a, b) => b[1].attempts - a[1].attempts))
    rows.push([
      `  ${Object.hasOwn(classNames, cls) ? classNames[cls] : cls}`,
      v.attempts,
      formatPercent(v.rate),
    ]);
  rows.push(['retried', totals.retries, '']);
  return textTable(['API attempts', 'count', 'share'], rows);
}

function totalsTable(totals: DashboardData['totals']): string {
  return textTable(
    ['jobs', 'completed', 'failed', 'error rate', 'API error rate', 'input tokens', 'output tokens', 'cost'],
    [
      [
        totals.jobs,
        totals.completed,
        totals.failed,
        formatPercent(totals.error_rate),
        formatPercent(totals.attempt_error_rate),
        totals.input_tokens,
        totals.output_tokens,
        formatUsd(totals.cost_usd),
      ],
    ],
  );
}

/** A latency bucket's upper bound: the quantile is at most this. */
const bound = (ms: number | null) => (ms === null ? formatMs(null) : `≤ ${formatMs(ms)}`);

/** Busiest model first. */
function modelTable(models: DashboardData['models']): string {
  return textTable(
    [
      'model',
      'jobs',
      'failed',
      '429s',
      'p50 (bucket bound)',
      'p95 (bucket bound)',
      'avg',
      'avg TTFB (network)',
      'avg TTFT',
      'avg wait',
      'max_tokens used',
      'cost',
    ],
    Object.entries(models)
      .sort((a, b) => b[1].jobs - a[1].jobs)
      .map(([model, figures]) => [
        model,
        figures.jobs,
        figures.failed,
        figures.rate_limited,
        bound(figures.p50_ms),
        bound(figures.p95_ms),
        formatMs(figures.avg_ms),
        formatMs(figures.avg_ttfb_ms),
        formatMs(figures.avg_ttft_ms),
        formatMs(figures.avg_queue_wait_ms),
        formatPercent(figures.max_tokens_used),
        formatUsd(figures.cost_usd),
      ]),
  );
}

/** Costliest tenant first. */
function tenantTable(tenants: DashboardData['tenants']): string {
  return textTable(
    [
      'tenant',
      'input tokens',
      'output tokens',
      'cache write',
      'cache read',
      'cost',
      'saved by batches',
      'saved by cache',
    ],
    Object.entries(tenants)
      .sort((a, b) => b[1].cost_usd - a[1].cost_usd)
      .map(([tenant, figures]) => [
        tenant,
        figures.input_tokens,
        figures.output_tokens,
        figures.cache_creation_input_tokens,
        figures.cache_read_input_tokens,
        formatUsd(figures.cost_usd),
        formatUsd(figures.batch_saving_usd),
        formatUsd(figures.cache_saving_usd),
      ]),
  );
}

/** Busiest account first. */
function accountTable(accounts: DashboardData['accounts']): string {
  return textTable(
    ['provider', 'account', 'API attempts', 'failed attempts', 'jobs completed', 'cost'],
    Object.values(accounts)
      .sort((a, b) => b.attempts - a.attempts)
      .map((a) => [a.provider, a.account, a.attempts, a.failed_attempts, a.completed, formatUsd(a.cost_usd)]),
  );
}

function projectionTable(projection: DashboardData['projection']): string {
  return textTable(
    ['month to date', 'last 24 h', 'days left', 'projected month end'],
    [
      [
        formatUsd(projection.month_to_date_usd),
        formatUsd(projection.daily_rate_usd),
        projection.days_left.toFixed(1),
        formatUsd(projection.month_end_usd),
      ],
    ],
  );
}

function slowestTable(slowest: DashboardData['slowest']): string {
  return textTable(
    ['job', 'model', 'tenant', 'status', 'total', 'API call', 'TTFT', 'out/max tokens', 'attempts'],
    slowest.map((call) => [
      call.id,
      call.model,
      call.tenant,
      call.status,
      formatMs(call.total_ms),
      formatMs(call.latency_ms),
      formatMs(call.ttft_ms),
      `${call.output_tokens}/${call.max_tokens}`,
      call.attempts,
    ]),
  );
}

/** Biggest month first. */
function tenantProjectionTable(tenants: DashboardData['projection']['tenants']): string {
  return textTable(
    ['tenant', 'today', 'projected day end', 'month to date', 'projected month end'],
    Object.entries(tenants)
      .sort((a, b) => b[1].month_end_usd - a[1].month_end_usd)
      .map(([tenant, p]) => [
        tenant,
        formatUsd(p.today_usd),
        formatUsd(p.day_end_usd),
        formatUsd(p.month_to_date_usd),
        formatUsd(p.month_end_usd),
      ]),
  );
}

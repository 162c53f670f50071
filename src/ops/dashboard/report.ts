/**
 * `promptq report [--since 24h] [--json]`: the dashboard's figures in the terminal, read from the
 * same rollups through the same function ({@link readDashboard}).
 */
import { formatMs, formatPercent, formatUsd, textTable } from '../../core/format.js';
import type { DashboardData } from './summary.js';

/** The report as text. */
export function formatReport(d: DashboardData, queue: string, since: string): string {
  const out: string[] = [];
  const t = d.totals;
  out.push(`promptq report: queue ${queue}, last ${since} (${d.from} → ${d.to})`);
  out.push('');
  out.push(
    textTable(
      ['jobs', 'completed', 'failed', 'error rate', 'input tokens', 'output tokens', 'cost'],
      [
        [
          t.jobs,
          t.completed,
          t.failed,
          formatPercent(t.error_rate),
          t.input_tokens,
          t.output_tokens,
          formatUsd(t.cost_usd),
        ],
      ],
    ),
  );
  const models = Object.entries(d.models).sort((a, b) => b[1].jobs - a[1].jobs);
  out.push('', 'Per model');
  out.push(
    textTable(
      [
        'model',
        'jobs',
        'failed',
        '429s',
        'p50',
        'p95',
        'avg',
        'avg TTFB (network)',
        'avg TTFT',
        'avg wait',
        'max_tokens used',
        'cost',
      ],
      models.map(([m, f]) => [
        m,
        f.jobs,
        f.failed,
        f.rate_limited,
        formatMs(f.p50_ms),
        formatMs(f.p95_ms),
        formatMs(f.avg_ms),
        formatMs(f.avg_ttfb_ms),
        formatMs(f.avg_ttft_ms),
        formatMs(f.avg_queue_wait_ms),
        formatPercent(f.max_tokens_used),
        formatUsd(f.cost_usd),
      ]),
    ),
  );
  const tenants = Object.entries(d.tenants).sort((a, b) => b[1].cost_usd - a[1].cost_usd);
  out.push('', 'Per tenant');
  out.push(
    textTable(
      ['tenant', 'input tokens', 'output tokens', 'cache write', 'cache read', 'cost'],
      tenants.map(([n, f]) => [
        n,
        f.input_tokens,
        f.output_tokens,
        f.cache_creation_input_tokens,
        f.cache_read_input_tokens,
        formatUsd(f.cost_usd),
      ]),
    ),
  );
  if (Object.keys(d.errors).length > 0) {
    out.push('', 'Failed jobs by error type');
    out.push(
      textTable(
        ['error type', 'jobs'],
        Object.entries(d.errors).sort((a, b) => b[1] - a[1]),
      ),
    );
  }
  const p = d.projection;
  out.push('', 'Cost projection (UTC month)');
  out.push(
    textTable(
      ['month to date', 'last 24 h', 'days left', 'projected month end'],
      [
        [
          formatUsd(p.month_to_date_usd),
          formatUsd(p.daily_rate_usd),
          p.days_left.toFixed(1),
          formatUsd(p.month_end_usd),
        ],
      ],
    ),
  );
  out.push('', 'Slowest calls (enqueue → finish)');
  out.push(
    textTable(
      ['job', 'model', 'tenant', 'status', 'total', 'API call', 'TTFT', 'out/max tokens', 'attempts'],
      d.slowest.map((c) => [
        c.id,
        c.model,
        c.tenant,
        c.status,
        formatMs(c.total_ms),
        formatMs(c.latency_ms),
        formatMs(c.ttft_ms),
        `${c.output_tokens}/${c.max_tokens}`,
        c.attempts,
      ]),
    ),
  );
  if (t.jobs === 0)
    out.push('', 'No job finished in this period (rollups are written by workers as jobs finish).');
  return `${out.join('\n')}\n`;
}

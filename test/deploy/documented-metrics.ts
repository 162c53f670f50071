/**
 * The metric names users' dashboards and alerts may rely on (docs/reference/metrics.md, first
 * table). Hard-coded so that a rename breaks these tests; change both together.
 */
export const DOCUMENTED_METRICS = {
  promptq_requests_total: 'counter',
  promptq_request_duration_seconds: 'histogram',
  promptq_time_to_first_token_seconds: 'histogram',
  promptq_queue_wait_seconds: 'histogram',
  promptq_job_duration_seconds: 'histogram',
  promptq_jobs_total: 'counter',
  promptq_retries_total: 'counter',
  promptq_tokens_total: 'counter',
  promptq_cost_usd_total: 'counter',
  promptq_unpriced_calls_total: 'counter',
  promptq_stop_reasons_total: 'counter',
  promptq_queue_jobs: 'gauge',
  promptq_queue_oldest_waiting_seconds: 'gauge',
  promptq_ratelimit_limit: 'gauge',
  promptq_ratelimit_remaining: 'gauge',
  promptq_workers: 'gauge',
  promptq_tenant_budget_usd: 'gauge',
  promptq_tenant_spent_usd: 'gauge',
  promptq_budget_rejections_total: 'counter',
} as const satisfies Record<string, 'counter' | 'gauge' | 'histogram'>;

export type DocumentedMetric = keyof typeof DOCUMENTED_METRICS;

/** Every `promptq_*` name a PromQL expression mentions. */
export function promptqNames(expr: string): string[] {
  return [...expr.matchAll(/promptq_[a-z_]+/g)].map((m) => m[0]);
}

/**
 * Whether a series name is one of the documented metrics: the name itself, or a histogram's
 * `_bucket` / `_sum` / `_count` series.
 */
export function isDocumentedSeries(name: string): boolean {
  if (name in DOCUMENTED_METRICS) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m?.[1] !== undefined && DOCUMENTED_METRICS[m[1] as DocumentedMetric] === 'histogram';
}

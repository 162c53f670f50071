/**
 * Every metric family of docs/reference/metrics.md, defined once. Counters and histograms count this
 * process's own work, moved by its events (events/emitter.ts): the worker's (worker-metrics.ts), the
 * limiter's (limiter-metrics.ts) and the listeners' own failures (event-metrics.ts); queue gauges are
 * read from Redis on each scrape (queue-gauges.ts).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { defaults } from '../../core/defaults.js';
import type { AnnouncedResource } from '../../core/rate-limits.js';
import type { LabelsConfig } from '../../core/settings.js';
import type { NetworkTiming } from '../../providers/network-timing.js';
import { type ModelCatalog, ModelLabels } from './model-labels.js';

/** LLM calls run from tens of milliseconds to many minutes. */
const latencyBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600];
const ttftBuckets = [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3, 6, 12, 30, 60];
const waitBuckets = [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400, 86400];

export interface MetricsOptions {
  /** How many tenants and models keep their name in labels (`config.labels`). @defaultValue `defaults.labels` */
  labels?: LabelsConfig;
  /** Node.js process metrics (`promptq_process_*`, `promptq_nodejs_*`) too. @defaultValue `true` */
  defaultMetrics?: boolean;
  /** The model names that always keep their label (model-labels.ts). @defaultValue the vendored price list */
  models?: ModelCatalog;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #tenants = new Set<string>();
  readonly #maxTenants: number;
  readonly #models: ModelLabels;

  readonly requests = new Counter({
    name: 'promptq_requests_total',
    help: 'API attempts by model, HTTP status code and outcome.',
    labelNames: ['model', 'status_code', 'outcome'] as const,
    registers: [this.registry],
  });
  /** Bounded: the accounts come from the accounts file (ops/metrics/account-metrics.ts). */
  readonly accountRequests = new Counter({
    name: 'promptq_account_requests_total',
    help: 'API attempts by the provider and account that served them, and outcome.',
    labelNames: ['provider', 'account', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'promptq_request_duration_seconds',
    help: 'Duration of one API attempt, request sent to last byte.',
    labelNames: ['model', 'outcome'] as const,
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly ttft = new Histogram({
    name: 'promptq_time_to_first_token_seconds',
    help: 'Request sent to the first streamed content token.',
    labelNames: ['model'] as const,
    buckets: ttftBuckets,
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'promptq_queue_wait_seconds',
    help: 'Enqueue to the first attempt starting.',
    labelNames: ['model'] as const,
    buckets: waitBuckets,
    registers: [this.registry],
  });
  readonly jobDuration = new Histogram({
    name: 'promptq_job_duration_seconds',
    help: 'Enqueue to finish (completed or failed).',
    labelNames: ['model', 'status'] as const,
    buckets: waitBuckets,
    registers: [this.registry],
  });
  readonly jobs = new Counter({
    name: 'promptq_jobs_total',
    help: 'Jobs finished by this process, by final status.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'promptq_retries_total',
    help: 'Attempts that will be retried, by reason.',
    labelNames: ['model', 'reason'] as const,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'promptq_tokens_total',
    help: 'Tokens billed, by model, type and tenant.',
    labelNames: ['model', 'type', 'tenant'] as const,
    registers: [this.registry],
  });
  readonly cost = new Counter({
    name: 'promptq_cost_usd_total',
    help: 'Cost in US dollars at list price, by model, tenant, part (input, output, cache writes by lifetime, cache reads, server tools) and route (live, batch).',
    labelNames: ['model', 'tenant', 'type', 'route'] as const,
    registers: [this.registry],
  });
  readonly unpriced = new Counter({
    name: 'promptq_unpriced_calls_total',
    help: 'Successful API calls on a model with no known price (their cost is unknown, not counted).',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly stopReasons = new Counter({
    name: 'promptq_stop_reasons_total',
    help: 'Completed API calls by the stop_reason of the answer.',
    labelNames: ['model', 'stop_reason'] as const,
    registers: [this.registry],
  });
  readonly budgetRejections = new Counter({
    name: 'promptq_budget_rejections_total',
    help: "Calls refused by their tenant's budget (the job waits or fails), by tenant.",
    labelNames: ['tenant'] as const,
    registers: [this.registry],
  });
  readonly connect = new Histogram({
    name: 'promptq_api_connect_seconds',
    help: 'New connections to the API: DNS, TCP, TLS and total set-up time (kept-alive requests are not observed).',
    labelNames: ['phase'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly ttfb = new Histogram({
    name: 'promptq_api_time_to_first_byte_seconds',
    help: 'Request headers sent to response headers received (network round trip and API queueing), per successful call.',
    labelNames: ['model'] as const,
    buckets: ttftBuckets,
    registers: [this.registry],
  });
  readonly ratelimitLimit = new Gauge({
    name: 'promptq_ratelimit_limit',
    help: 'Rate limit announced by the API in its last response headers.',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });
  readonly ratelimitRemaining = new Gauge({
    name: 'promptq_ratelimit_remaining',
    help: 'Remaining allowance announced by the API in its last response headers.',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });

  readonly limiterPace = new Gauge({
    name: 'promptq_limiter_pace_ratio',
    help: 'Pace multiplier of the adaptive limiter per model group (1 = the full announced limit).',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });
  readonly limiterPauses = new Counter({
    name: 'promptq_limiter_pauses_total',
    help: 'Times a model group (or the queue, for spend limits) was paused, by reason.',
    labelNames: ['group', 'reason'] as const,
    registers: [this.registry],
  });
  readonly limiterDeferrals = new Counter({
    name: 'promptq_limiter_deferrals_total',
    help: 'Jobs handed back delayed, without spending an attempt, because their model group had no permit soon; by reason (paused, pacing, queued).',
    labelNames: ['group', 'reason'] as const,
    registers: [this.registry],
  });
  readonly eventListenerErrors = new Counter({
    name: 'promptq_event_listener_errors_total',
    help: 'Event listeners (metrics, rollups, logs) that threw or rejected, by event; each failure is logged too.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly limiterLimit = new Gauge({
    name: 'promptq_limiter_limit',
    help: 'Per-minute limits the limiter paces to, per model group and resource (after ceilings).',
    labelNames: ['group', 'resource'] as const,
    registers: [this.registry],
  });

  constructor(options: MetricsOptions = {}) {
    const labels = options.labels ?? defaults.labels;
    this.#maxTenants = labels.maxTenants;
    this.#models = new ModelLabels(labels.maxModels, options.models);
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: 'promptq_' });
      this.#dropTotalGauges();
    }
  }

  /**
   * prom-client exports three gauges twice, once per type of count and once as `*_total` totals,
   * which `promtool check metrics` rejects (a gauge named like a counter invites `rate()`): keep
   * the per-type ones only.
   */
  #dropTotalGauges(): void {
    for (const what of ['active_handles', 'active_requests', 'active_resources']) {
      this.registry.removeSingleMetric(`promptq_nodejs_${what}_total`);
    }
  }

  /** The first N tenants keep their name; the rest share `other` (bounded label cardinality). */
  tenantLabel(tenant: string | null | undefined): string {
    const t = tenant ?? 'none';
    if (this.#tenants.has(t)) return t;
    if (this.#tenants.size < this.#maxTenants) {
      this.#tenants.add(t);
      return t;
    }
    return 'other';
  }

  /**
   * Known models keep their name; of the rest the first N do, later ones share `other` (made-up
   * names cannot grow /metrics, nor push a real model into `other`: model-labels.ts).
   */
  modelLabel(model: string): string {
    return this.#models.label(model);
  }

  observeRateLimit(
    resource: AnnouncedResource,
    limit: number | undefined,
    remaining: number | undefined,
  ): void {
    if (limit !== undefined) this.ratelimitLimit.set({ resource }, limit);
    if (remaining !== undefined) this.ratelimitRemaining.set({ resource }, remaining);
  }

  /** Network phases of one successful call (see src/providers/network-timing.ts). */
  observeNetwork(model: string, t: NetworkTiming): void {
    if (t.ttfb_ms !== null) this.ttfb.observe({ model }, t.ttfb_ms / 1000);
    if (t.reused) return;
    const phases = { dns: t.dns_ms, tcp: t.tcp_ms, tls: t.tls_ms, total: t.connect_ms };
    for (const [phase, ms] of Object.entries(phases))
      if (ms !== null) this.connect.observe({ phase }, ms / 1000);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

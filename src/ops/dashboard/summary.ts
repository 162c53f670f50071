/**
 * Reads the per-minute rollups (written by ops/metrics/rollups.ts, decoded by
 * store/rollup-format.ts) for a time range and folds them into the figures the built-in dashboard
 * and `promptq report` show. One function, so the page and the terminal can never disagree.
 */
import { dict, own } from '../../core/dict.js';
import { bucketQuantile } from '../../core/stats.js';
import type { RedisConnection as Redis } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';
import {
  attemptErrorClasses,
  emptyModel,
  entry,
  latencyBucketsMs,
  type MinuteRollup,
  type ModelMinute,
  type SlowCall,
  usageBuckets,
} from '../../store/rollup-format.js';
import { RollupStore } from '../../store/rollup-store.js';
import { type AccountFigures, accountFigures } from './accounts.js';

/** The ranges the dashboard offers, in minutes. */
export const ranges = { '1h': 60, '6h': 360, '24h': 1440 } as const;
export type RangeName = keyof typeof ranges;

/** Parse `1h`, `90m`, `24h`, `1d` into minutes (1 minute to 26 hours: the rollups' retention). */
export function parseSince(s: string): number {
  const m = /^(\d+)(m|h|d)$/.exec(s.trim());
  if (!m) throw new RangeError(`since: expected a duration like 30m, 1h or 24h, got "${s}"`);
  const n = Number(m[1]) * (m[2] === 'm' ? 1 : m[2] === 'h' ? 60 : 1440);
  if (n < 1 || n > 26 * 60) throw new RangeError('since: must be between 1m and 26h (rollup retention)');
  return n;
}

export interface ModelFigures {
  jobs: number;
  completed: number;
  failed: number;
  attempts: number;
  rate_limited: number;
  /**
   * From the latency buckets: the upper bound of the bucket holding the quantile (ms), not the
   * exact quantile ({@link DashboardData.percentiles}).
   */
  p50_ms: number | null;
  p95_ms: number | null;
  avg_ms: number | null;
  avg_ttft_ms: number | null;
  /** Request sent → response headers: the network round trip and API queueing, before the model. */
  avg_ttfb_ms: number | null;
  avg_queue_wait_ms: number | null;
  cost_usd: number;
  /** Sum of max_tokens / output tokens over completed calls. */
  max_tokens: number;
  output_tokens: number;
  /** output_tokens / max_tokens over completed calls. */
  max_tokens_used: number | null;
  /** Completed calls per `output/max_tokens` bucket (bounds: {@link usageBuckets}). */
  usage_buckets: number[];
}

export interface TenantFigures {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cost_usd: number;
  /** Saved by the Batches discount and by cache reads against the same work sent live uncached. */
  batch_saving_usd: number;
  cache_saving_usd: number;
}

export interface DashboardData {
  range_minutes: number;
  from: string;
  to: string;
  step_seconds: number;
  /** One point per step: start time (ms epoch) and the figures of that step. */
  series: {
    t: number[];
    jobs: number[];
    failed: number[];
    error_rate: Array<number | null>;
    rate_limited: number[];
    cost_usd: number[];
    /** Average latency of completed calls per model, per step. */
    latency_ms: Record<string, Array<number | null>>;
    /** API attempts that got an answer (or an error) per step, as they happened. */
    attempts: number[];
    /** Failed API attempts per class (429, 529, 5xx, timeout, network, 4xx) per step. */
    attempt_errors: Record<string, number[]>;
    /** Failed API attempts / API attempts per step. */
    attempt_error_rate: Array<number | null>;
    /** Attempts that were retried (429s included) per step. */
    retries: number[];
  };
  totals: {
    jobs: number;
    completed: number;
    failed: number;
    error_rate: number | null;
    /** API attempts, failed ones, and the attempt error rate (what `PromptqHighErrorRate` watches). */
    attempts: number;
    failed_attempts: number;
    attempt_error_rate: number | null;
    retries: number;
    input_tokens: number;
    output_tokens: number;
    cost_usd: number;
  };
  models: Record<string, ModelFigures>;
  tenants: Record<string, TenantFigures>;
  /** Which account served the calls, by `provider/account` (accounts.ts). */
  accounts: Record<string, AccountFigures>;
  errors: Record<string, number>;
  /** Failed API attempts by class over the range: count and share of all attempts. */
  attempt_errors: Record<string, { attempts: number; rate: number }>;
  /** How p50_ms/p95_ms are read: `bucket_bound`, the upper bound of the latency bucket holding them. */
  percentiles: 'bucket_bound';
  projection: {
    month_to_date_usd: number;
    /** Spend per day at the rate of the last 24 hours. */
    daily_rate_usd: number;
    days_left: number;
    month_end_usd: number;
    /** The same per tenant, and for the UTC day: spent so far and projected at its last-24-h rate. */
    tenants: Record<string, TenantProjection>;
  };
  slowest: SlowCall[];
  latency_bucket_bounds_ms: number[];
  usage_bucket_bounds: number[];
}

/** A tenant's spend so far and projected to the end of the UTC day and month (USD). */
export interface TenantProjection {
  today_usd: number;
  day_end_usd: number;
  month_to_date_usd: number;
  month_end_usd: number;
  /** Spend per day at the rate of the last 24 hours. */
  daily_rate_usd: number;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const add = (xs: number[], i: number, v: number) => {
  xs[i] = (xs[i] ?? 0) + v;
};
const avg = (total: number, n: number) => (n === 0 ? null : Math.round(total / n));

const quantile = (buckets: number[], q: number) => bucketQuantile(buckets, latencyBucketsMs, q);

/** A model's counters over the range, its cost, and its latency per step. */
interface ModelTotals {
  counters: ModelMinute;
  costUsd: number;
  latencySum: number[];
  latencyCount: number[];
}

/** `into += c`, counter by counter and bucket by bucket. */
function addModel(into: ModelMinute, c: ModelMinute): void {
  for (const k of Object.keys(c) as Array<keyof ModelMinute>) {
    const v = c[k];
    if (Array.isArray(v)) {
      for (const [b, x] of v.entries()) add(into[k] as number[], b, x);
    } else (into[k] as number) += v;
  }
}

/** What the minutes of a range add up to, before the per-model figures are worked out. */
interface Folded {
  series: DashboardData['series'];
  models: Record<string, ModelTotals>;
  tenants: Record<string, TenantFigures>;
  errors: Record<string, number>;
  attemptErrors: Record<string, number>;
}

/** Figures for the last `rangeMinutes` minutes (the current minute included). */
export async function readDashboard(
  redis: Redis,
  keys: Keyspace,
  rangeMinutes: number,
  now = Date.now(),
): Promise<DashboardData> {
  const store = new RollupStore(redis, keys);
  const last = Math.floor(now / 60_000);
  const first = last - rangeMinutes + 1;
  // At most ~100 points per chart: 1h → 1 min, 24h → 15 min.
  const stepMin = rangeMinutes <= 120 ? 1 : Math.ceil(rangeMinutes / 100 / 5) * 5;
  const minutes = await store.minutes(first, rangeMinutes);
  const { series, models, tenants, errors, attemptErrors } = foldMinutes(
    minutes,
    first,
    stepMin,
    rangeMinutes,
  );

  series.error_rate = series.jobs.map((j, i) => (j === 0 ? null : (series.failed[i] ?? 0) / j));
  const failedAttempts = series.attempts.map((_, i) =>
    sum(Object.values(series.attempt_errors).map((xs) => xs[i] ?? 0)),
  );
  series.attempt_error_rate = series.attempts.map((a, i) => (a === 0 ? null : (failedAttempts[i] ?? 0) / a));
  const figures = dict<ModelFigures>();
  for (const [name, totals] of Object.entries(models)) {
    if (totals.counters.latencySum > 0)
      series.latency_ms[name] = totals.latencySum.map((v, i) => avg(v, totals.latencyCount[i] ?? 0));
    figures[name] = modelFigures(totals);
  }

  const jobs = sum(series.jobs);
  const failed = sum(series.failed);
  const tenantList = Object.values(tenants);
  const attempts = sum(series.attempts);
  const attempt_errors = dict<{ attempts: number; rate: number }>();
  for (const [cls, n] of Object.entries(attemptErrors))
    attempt_errors[cls] = { attempts: n, rate: attempts === 0 ? 0 : n / attempts };

  return {
    range_minutes: rangeMinutes,
    from: new Date(first * 60_000).toISOString(),
    to: new Date(now).toISOString(),
    step_seconds: stepMin * 60,
    series,
    totals: {
      jobs,
      completed: jobs - failed,
      failed,
      error_rate: jobs === 0 ? null : failed / jobs,
      attempts,
      failed_attempts: sum(failedAttempts),
      attempt_error_rate: attempts === 0 ? null : sum(failedAttempts) / attempts,
      retries: sum(series.retries),
      input_tokens: sum(tenantList.map((t) => t.input_tokens)),
      output_tokens: sum(tenantList.map((t) => t.output_tokens)),
      cost_usd: sum(tenantList.map((t) => t.cost_usd)),
    },
    models: figures,
    tenants,
    accounts: accountFigures(minutes),
    errors,
    attempt_errors,
    percentiles: 'bucket_bound',
    projection: await projection(store, now, minutes.slice(-1440)),
    slowest: await slowest(store, first, last),
    latency_bucket_bounds_ms: latencyBucketsMs,
    usage_bucket_bounds: usageBuckets,
  };
}

/** Add up the minutes, `stepMin` of them per point of the series. */
function foldMinutes(minutes: MinuteRollup[], first: number, stepMin: number, rangeMinutes: number): Folded {
  const steps = Math.ceil(rangeMinutes / stepMin);
  const zeros = () => new Array<number>(steps).fill(0);
  const series: DashboardData['series'] = {
    t: Array.from({ length: steps }, (_, i) => (first + i * stepMin) * 60_000),
    jobs: zeros(),
    failed: zeros(),
    error_rate: [],
    rate_limited: zeros(),
    cost_usd: zeros(),
    latency_ms: dict(),
    attempts: zeros(),
    attempt_errors: dict(),
    attempt_error_rate: [],
    retries: zeros(),
  };
  // Keyed by model names, tenant ids and error types: records without a prototype (core/dict.ts).
  const models = dict<ModelTotals>();
  const tenants = dict<TenantFigures>();
  const errors = dict<number>();
  const attemptErrors = dict<number>();
  // Every class has a series (zero when none happened): the charts and alerts read them by name.
  for (const cls of Object.keys(attemptErrorClasses)) series.attempt_errors[cls] = zeros();

  minutes.forEach((m, i) => {
    const step = Math.floor(i / stepMin);
    for (const [name, c] of Object.entries(m.models)) {
      const t = entry(models, name, () => ({
        counters: emptyModel(),
        costUsd: 0,
        latencySum: zeros(),
        latencyCount: zeros(),
      }));
      addModel(t.counters, c);
      t.costUsd += c.costMicro / 1e6;
      add(t.latencySum, step, c.latencySum);
      add(t.latencyCount, step, c.latencyCount);
      add(series.jobs, step, c.jobs);
      add(series.failed, step, c.failed);
      add(series.rate_limited, step, c.rateLimited);
      add(series.cost_usd, step, c.costMicro / 1e6);
      add(series.attempts, step, c.apiAttempts);
      add(series.retries, step, c.retried);
    }
    for (const [name, c] of Object.entries(m.tenants)) {
      const t = entry(tenants, name, () => ({
        input_tokens: 0,
        output_tokens: 0,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        cost_usd: 0,
        batch_saving_usd: 0,
        cache_saving_usd: 0,
      }));
      t.input_tokens += c.inputTokens;
      t.output_tokens += c.outputTokens;
      t.cache_creation_input_tokens += c.cacheCreationTokens;
      t.cache_read_input_tokens += c.cacheReadTokens;
      t.cost_usd += c.costMicro / 1e6;
      t.batch_saving_usd += (c.batchSavedMicro ?? 0) / 1e6;
      t.cache_saving_usd += (c.cacheSavedMicro ?? 0) / 1e6;
    }
    for (const [type, n] of Object.entries(m.errors)) errors[type] = (own(errors, type) ?? 0) + n;
    for (const [cls, n] of Object.entries(m.attemptErrors)) {
      attemptErrors[cls] = (own(attemptErrors, cls) ?? 0) + n;
      add(entry(series.attempt_errors, cls, zeros), step, n);
    }
  });
  return { series, models, tenants, errors, attemptErrors };
}

/** A model's figures over the range, from its added-up counters. */
function modelFigures(totals: ModelTotals): ModelFigures {
  const c = totals.counters;
  return {
    jobs: c.jobs,
    completed: c.completed,
    failed: c.failed,
    attempts: c.attempts,
    rate_limited: c.rateLimited,
    p50_ms: quantile(c.latency, 0.5),
    p95_ms: quantile(c.latency, 0.95),
    avg_ms: avg(c.latencySum, c.latencyCount),
    avg_ttft_ms: avg(c.ttftSum, c.ttftCount),
    avg_ttfb_ms: avg(c.ttfbSum, c.ttfbCount),
    avg_queue_wait_ms: avg(c.queueWaitSum, c.queueWaitCount),
    cost_usd: totals.costUsd,
    max_tokens: c.maxTokens,
    output_tokens: c.outputTokens,
    max_tokens_used: c.maxTokens === 0 ? null : c.outputTokens / c.maxTokens,
    usage_buckets: c.usage,
  };
}

/** Month to date (daily rollups) plus the last 24 hours' rate over the days left in the month. */
async function projection(
  store: RollupStore,
  now: number,
  recent: MinuteRollup[],
): Promise<DashboardData['projection']> {
  const today = new Date(now);
  const y = today.getUTCFullYear();
  const mo = today.getUTCMonth();
  const days = Array.from({ length: today.getUTCDate() }, (_, i) =>
    new Date(Date.UTC(y, mo, i + 1)).toISOString().slice(0, 10),
  );
  const dayRows = await store.days(days);
  // The last 24 h of minute rollups when the range covers them; otherwise read them.
  const last24 = recent.length < 1440 ? await store.minutes(Math.floor(now / 60_000) - 1439, 1440) : recent;
  const monthEnd = Date.UTC(y, mo + 1, 1);
  const daysLeft = Math.max(0, (monthEnd - now) / 86_400_000);
  const dayLeft = (Date.UTC(y, mo, today.getUTCDate() + 1) - now) / 86_400_000;
  const tenants = tenantProjections(dayRows, last24, daysLeft, dayLeft);
  const all = Object.values(tenants);
  const mtd = sum(all.map((t) => t.month_to_date_usd));
  const rate = sum(all.map((t) => t.daily_rate_usd));
  return {
    month_to_date_usd: mtd,
    daily_rate_usd: rate,
    days_left: Math.round(daysLeft * 100) / 100,
    month_end_usd: mtd + rate * daysLeft,
    tenants,
  };
}

/**
 * Per tenant: the month so far and today (the day rollups, today last), the last 24 hours' spend
 * as the daily rate, and the rate carried over what is left of the day and of the month.
 */
function tenantProjections(
  dayRows: ReadonlyArray<Record<string, { costMicro: number }>>,
  last24: readonly MinuteRollup[],
  daysLeft: number,
  dayLeft: number,
): Record<string, TenantProjection> {
  const micro = { month: dict<number>(), today: dict<number>(), rate: dict<number>() };
  const bump = (m: Record<string, number>, t: string, v: number) => {
    m[t] = (m[t] ?? 0) + v;
  };
  dayRows.forEach((day, i) => {
    for (const [t, c] of Object.entries(day)) {
      bump(micro.month, t, c.costMicro);
      if (i === dayRows.length - 1) bump(micro.today, t, c.costMicro);
    }
  });
  for (const m of last24) for (const [t, c] of Object.entries(m.tenants)) bump(micro.rate, t, c.costMicro);
  const out = dict<TenantProjection>();
  for (const t of new Set([...Object.keys(micro.month), ...Object.keys(micro.rate)])) {
    const usd = (m: Record<string, number>) => (m[t] ?? 0) / 1e6;
    const [mtd, today, rate] = [usd(micro.month), usd(micro.today), usd(micro.rate)];
    out[t] = {
      today_usd: today,
      day_end_usd: today + rate * dayLeft,
      month_to_date_usd: mtd,
      month_end_usd: mtd + rate * daysLeft,
      daily_rate_usd: rate,
    };
  }
  return out;
}

/** The slowest calls that finished in the range (by enqueue → finish). */
async function slowest(store: RollupStore, firstMin: number, lastMin: number): Promise<SlowCall[]> {
  const from = firstMin * 60_000;
  const calls = await store.slowest(Math.floor(firstMin / 60), Math.floor(lastMin / 60));
  return calls
    .filter((c) => Date.parse(c.finished_at) >= from)
    .sort((a, b) => b.total_ms - a.total_ms)
    .slice(0, 10);
}

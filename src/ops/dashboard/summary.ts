/**
 * Reads the per-minute rollups (src/ops/metrics/rollups.ts) for a time range and folds them into the
 * figures the built-in dashboard and `promptq report` show. One function, so the page and the
 * terminal can never disagree.
 */
import type { Redis } from 'ioredis';
import { bucketQuantile } from '../../core/stats.js';
import {
  dayKey,
  latencyBucketsMs,
  minuteKey,
  type SlowCall,
  slowestKey,
  usageBuckets,
} from '../metrics/rollups.js';

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
  /** From the latency buckets: the upper bound of the bucket holding the quantile (ms). */
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
  };
  totals: {
    jobs: number;
    completed: number;
    failed: number;
    error_rate: number | null;
    input_tokens: number;
    output_tokens: number;
    cost_usd: number;
  };
  models: Record<string, ModelFigures>;
  tenants: Record<string, TenantFigures>;
  errors: Record<string, number>;
  projection: {
    month_to_date_usd: number;
    /** Spend per day at the rate of the last 24 hours. */
    daily_rate_usd: number;
    days_left: number;
    month_end_usd: number;
  };
  slowest: SlowCall[];
  latency_bucket_bounds_ms: number[];
  usage_bucket_bounds: number[];
}

type Fields = Record<string, string>;

const num = (v: string | undefined) => (v === undefined ? 0 : Number(v));
const add = (xs: number[], i: number, v: number) => {
  xs[i] = (xs[i] ?? 0) + v;
};

const quantile = (buckets: number[], q: number) => bucketQuantile(buckets, latencyBucketsMs, q);

async function hgetallMany(redis: Redis, keys: string[]): Promise<Fields[]> {
  const p = redis.pipeline();
  for (const k of keys) p.hgetall(k);
  const res = (await p.exec()) ?? [];
  return res.map(([err, v]) => {
    if (err) throw err;
    return (v ?? {}) as Fields;
  });
}

/** Figures for the last `rangeMinutes` minutes (the current minute included). */
export async function readDashboard(
  redis: Redis,
  queue: string,
  rangeMinutes: number,
  now = Date.now(),
): Promise<DashboardData> {
  const last = Math.floor(now / 60_000);
  const first = last - rangeMinutes + 1;
  // At most ~100 points per chart: 1h → 1 min, 24h → 15 min.
  const stepMin = rangeMinutes <= 120 ? 1 : Math.ceil(rangeMinutes / 100 / 5) * 5;
  const minutes = Array.from({ length: rangeMinutes }, (_, i) => first + i);
  const hashes = await hgetallMany(
    redis,
    minutes.map((m) => minuteKey(queue, m)),
  );

  const steps = Math.ceil(rangeMinutes / stepMin);
  const series: DashboardData['series'] = {
    t: Array.from({ length: steps }, (_, i) => (first + i * stepMin) * 60_000),
    jobs: new Array(steps).fill(0),
    failed: new Array(steps).fill(0),
    error_rate: [],
    rate_limited: new Array(steps).fill(0),
    cost_usd: new Array(steps).fill(0),
    latency_ms: {},
  };
  const latSum: Record<string, number[]> = {};
  const latN: Record<string, number[]> = {};
  const models: Record<string, ModelFigures> = {};
  const tenants: Record<string, TenantFigures> = {};
  const errors: Record<string, number> = {};
  const acc: Record<string, Record<string, number>> = {};
  const latB: Record<string, number[]> = {};

  const model = (m: string): ModelFigures => {
    models[m] ??= {
      jobs: 0,
      completed: 0,
      failed: 0,
      attempts: 0,
      rate_limited: 0,
      p50_ms: null,
      p95_ms: null,
      avg_ms: null,
      avg_ttft_ms: null,
      avg_ttfb_ms: null,
      avg_queue_wait_ms: null,
      cost_usd: 0,
      max_tokens: 0,
      output_tokens: 0,
      max_tokens_used: null,
      usage_buckets: new Array(usageBuckets.length + 1).fill(0),
    };
    return models[m];
  };
  const tenant = (t: string): TenantFigures => {
    tenants[t] ??= {
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cost_usd: 0,
    };
    return tenants[t];
  };

  hashes.forEach((h, i) => {
    const s = Math.floor(i / stepMin);
    for (const [field, raw] of Object.entries(h)) {
      const bar = field.indexOf('|');
      const kind = field.slice(0, bar);
      const label = field.slice(bar + 1);
      const v = Number(raw);
      const lat = /^lat_b(\d+)$/.exec(kind);
      const use = /^use_b(\d+)$/.exec(kind);
      if (lat) {
        latB[label] ??= new Array(latencyBucketsMs.length + 1).fill(0);
        add(latB[label] as number[], Number(lat[1]), v);
        continue;
      }
      if (use) {
        add(model(label).usage_buckets, Number(use[1]), v);
        continue;
      }
      switch (kind) {
        case 'jobs':
          model(label).jobs += v;
          add(series.jobs, s, v);
          break;
        case 'completed':
          model(label).completed += v;
          break;
        case 'failed':
          model(label).failed += v;
          add(series.failed, s, v);
          break;
        case 'attempts':
          model(label).attempts += v;
          break;
        case 'rate_limited':
          model(label).rate_limited += v;
          add(series.rate_limited, s, v);
          break;
        case 'max_tokens':
          model(label).max_tokens += v;
          break;
        case 'out_tokens':
          model(label).output_tokens += v;
          break;
        case 'cost_micro_model':
          model(label).cost_usd += v / 1e6;
          add(series.cost_usd, s, v / 1e6);
          break;
        case 'lat_sum':
          latSum[label] ??= new Array(steps).fill(0);
          add(latSum[label] as number[], s, v);
          break;
        case 'lat_n':
          latN[label] ??= new Array(steps).fill(0);
          add(latN[label] as number[], s, v);
          break;
        case 'error':
          errors[label] = (errors[label] ?? 0) + v;
          break;
        case 'tok_in':
          tenant(label).input_tokens += v;
          break;
        case 'tok_out':
          tenant(label).output_tokens += v;
          break;
        case 'tok_cw':
          tenant(label).cache_creation_input_tokens += v;
          break;
        case 'tok_cr':
          tenant(label).cache_read_input_tokens += v;
          break;
        case 'cost_micro':
          tenant(label).cost_usd += v / 1e6;
          break;
        default: {
          // ttft_*, ttfb_*, wait_*: averaged per model below.
          acc[label] ??= {};
          (acc[label] as Record<string, number>)[kind] =
            ((acc[label] as Record<string, number>)[kind] ?? 0) + v;
        }
      }
    }
  });

  series.error_rate = series.jobs.map((j, i) => (j === 0 ? null : (series.failed[i] ?? 0) / j));
  for (const [m, sums] of Object.entries(latSum)) {
    const ns = latN[m] ?? [];
    series.latency_ms[m] = sums.map((sum, i) => ((ns[i] ?? 0) === 0 ? null : Math.round(sum / (ns[i] ?? 1))));
  }
  for (const [m, f] of Object.entries(models)) {
    const b = latB[m] ?? [];
    f.p50_ms = quantile(b, 0.5);
    f.p95_ms = quantile(b, 0.95);
    const n = (latN[m] ?? []).reduce((a, x) => a + x, 0);
    f.avg_ms = n === 0 ? null : Math.round((latSum[m] ?? []).reduce((a, x) => a + x, 0) / n);
    const a = acc[m] ?? {};
    f.avg_ttft_ms = a.ttft_n ? Math.round((a.ttft_sum ?? 0) / a.ttft_n) : null;
    f.avg_ttfb_ms = a.ttfb_n ? Math.round((a.ttfb_sum ?? 0) / a.ttfb_n) : null;
    f.avg_queue_wait_ms = a.wait_n ? Math.round((a.wait_sum ?? 0) / a.wait_n) : null;
    f.max_tokens_used = f.max_tokens === 0 ? null : f.output_tokens / f.max_tokens;
  }

  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const jobs = sum(series.jobs);
  const failed = sum(series.failed);
  const tenantList = Object.values(tenants);

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
      input_tokens: sum(tenantList.map((t) => t.input_tokens)),
      output_tokens: sum(tenantList.map((t) => t.output_tokens)),
      cost_usd: sum(tenantList.map((t) => t.cost_usd)),
    },
    models,
    tenants,
    errors,
    projection: await projection(redis, queue, now, hashes.slice(-1440)),
    slowest: await slowest(redis, queue, first, last),
    latency_bucket_bounds_ms: latencyBucketsMs,
    usage_bucket_bounds: usageBuckets,
  };
}

/** Month to date (daily rollups) plus the last 24 hours' rate over the days left in the month. */
async function projection(
  redis: Redis,
  queue: string,
  now: number,
  recent: Fields[],
): Promise<DashboardData['projection']> {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const mo = d.getUTCMonth();
  const days = d.getUTCDate();
  const dayKeys = Array.from({ length: days }, (_, i) =>
    dayKey(queue, new Date(Date.UTC(y, mo, i + 1)).toISOString().slice(0, 10)),
  );
  let mtdMicro = 0;
  for (const h of await hgetallMany(redis, dayKeys))
    for (const [f, v] of Object.entries(h)) if (f.startsWith('cost_micro|')) mtdMicro += num(v);
  // The last 24 h of minute rollups when the range covers them; otherwise read them.
  let last24 = recent;
  if (recent.length < 1440) {
    const lastMin = Math.floor(now / 60_000);
    last24 = await hgetallMany(
      redis,
      Array.from({ length: 1440 }, (_, i) => minuteKey(queue, lastMin - 1439 + i)),
    );
  }
  let dayMicro = 0;
  for (const h of last24)
    for (const [f, v] of Object.entries(h)) if (f.startsWith('cost_micro|')) dayMicro += num(v);
  const monthEnd = Date.UTC(y, mo + 1, 1);
  const daysLeft = Math.max(0, (monthEnd - now) / 86_400_000);
  const mtd = mtdMicro / 1e6;
  const rate = dayMicro / 1e6;
  return {
    month_to_date_usd: mtd,
    daily_rate_usd: rate,
    days_left: Math.round(daysLeft * 100) / 100,
    month_end_usd: mtd + rate * daysLeft,
  };
}

/** The slowest calls that finished in the range (by enqueue → finish). */
async function slowest(redis: Redis, queue: string, firstMin: number, lastMin: number): Promise<SlowCall[]> {
  const p = redis.pipeline();
  for (let h = Math.floor(firstMin / 60); h <= Math.floor(lastMin / 60); h++)
    p.zrevrange(slowestKey(queue, h), 0, -1);
  const from = firstMin * 60_000;
  const calls: SlowCall[] = [];
  for (const [err, members] of (await p.exec()) ?? []) {
    if (err) throw err;
    for (const m of members as string[]) {
      const c = JSON.parse(m) as SlowCall;
      if (Date.parse(c.finished_at) >= from) calls.push(c);
    }
  }
  return calls.sort((a, b) => b.total_ms - a.total_ms).slice(0, 10);
}

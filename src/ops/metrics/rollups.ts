/**
 * Per-minute rollups of finished jobs in Redis, for the built-in dashboard and `promptq report`
 * (users without Prometheus/Grafana). Written from the worker's `onFinished` hook: one pipelined
 * round trip per finished job, so every worker process adds into the same queue-wide keys and
 * nothing is counted twice.
 *
 * Keys (all expire):
 * - `promptq:{queue}:rollup:{minute}`   hash, minute = epoch minutes; fields below
 * - `promptq:{queue}:rollup:day:{YYYY-MM-DD}` hash of cost/tokens per tenant (month-end projection)
 * - `promptq:{queue}:slowest:{hour}`    sorted set, score = total_ms, capped at {@link slowestKept}
 *
 * Hash fields are `kind|model` or `kind|tenant` (`|` cannot occur in a label we write: it is
 * replaced), so one HGETALL per minute gives everything.
 */
import type { Redis } from 'ioredis';
import type { JobRecord } from '../../core/job.js';

export interface RollupOptions {
  connection: Redis;
  queue: string;
  /** Maps a tenant id to its bounded label (the same as the metrics' `tenant` label). */
  tenantLabel: (tenant: string | null) => string;
  /** How long per-minute rollups and slowest-call sets are kept. @defaultValue 26 hours */
  minuteRetentionSeconds?: number;
  /** How long per-day cost rollups are kept (the month-end projection needs the month so far). @defaultValue 40 days */
  dayRetentionSeconds?: number;
}

/** Latency bucket upper bounds in ms (LLM calls: tens of ms to minutes); the last is +Inf. */
export const latencyBucketsMs = [100, 250, 500, 1000, 2000, 4000, 8000, 15000, 30000, 60000, 120000, 300000];
/** `output_tokens / max_tokens` bucket upper bounds (how much of max_tokens a call used). */
export const usageBuckets = [0.1, 0.25, 0.5, 0.75, 0.9, 1];
/** Slowest calls kept per hour. */
export const slowestKept = 20;

export const minuteKey = (queue: string, minute: number) => `promptq:${queue}:rollup:${minute}`;
export const dayKey = (queue: string, day: string) => `promptq:${queue}:rollup:day:${day}`;
export const slowestKey = (queue: string, hour: number) => `promptq:${queue}:slowest:${hour}`;

/** A label safe inside a `kind|label` field name. */
export const safe = (s: string) => s.replaceAll('|', '_');

export function bucketIndex(bounds: readonly number[], v: number): number {
  const i = bounds.findIndex((b) => v <= b);
  return i === -1 ? bounds.length : i;
}

/** One slow call, as kept in the slowest set. */
export interface SlowCall {
  id: string;
  model: string;
  tenant: string;
  status: 'completed' | 'failed';
  total_ms: number;
  latency_ms: number | null;
  ttft_ms: number | null;
  queue_wait_ms: number | null;
  output_tokens: number;
  max_tokens: number;
  attempts: number;
  finished_at: string;
}

export class RollupWriter {
  readonly #o: Required<RollupOptions>;

  constructor(opts: RollupOptions) {
    this.#o = { minuteRetentionSeconds: 26 * 3600, dayRetentionSeconds: 40 * 86400, ...opts };
    if (!Number.isInteger(this.#o.minuteRetentionSeconds) || this.#o.minuteRetentionSeconds < 3600)
      throw new RangeError('minuteRetentionSeconds: must be a whole number ≥ 3600');
    if (!Number.isInteger(this.#o.dayRetentionSeconds) || this.#o.dayRetentionSeconds < 86400)
      throw new RangeError('dayRetentionSeconds: must be a whole number ≥ 86400');
  }

  /** Add one finished job to the rollups of the minute it finished in. */
  async record(jobId: string, status: 'completed' | 'failed', r: JobRecord): Promise<void> {
    const o = this.#o;
    const finished = r.finished_at ? Date.parse(r.finished_at) : Date.now();
    const minute = Math.floor(finished / 60_000);
    const model = safe(r.model);
    const tenant = safe(o.tenantLabel(r.tenant_id));
    const key = minuteKey(o.queue, minute);
    const p = o.connection.pipeline();
    const inc = (field: string, by: number) => {
      if (by !== 0) p.hincrby(key, field, Math.round(by));
    };
    inc(`jobs|${model}`, 1);
    inc(`${status}|${model}`, 1);
    inc(`attempts|${model}`, r.attempts);
    inc(`rate_limited|${model}`, r.rate_limited);
    if (status === 'failed') inc(`error|${safe(r.error_type ?? 'unknown')}`, 1);
    if (status === 'completed' && r.latency_ms !== null) {
      inc(`lat_n|${model}`, 1);
      inc(`lat_sum|${model}`, r.latency_ms);
      inc(`lat_b${bucketIndex(latencyBucketsMs, r.latency_ms)}|${model}`, 1);
      if (r.ttfb_ms !== null && r.ttfb_ms !== undefined) {
        inc(`ttfb_n|${model}`, 1);
        inc(`ttfb_sum|${model}`, r.ttfb_ms);
      }
      if (r.ttft_ms !== null) {
        inc(`ttft_n|${model}`, 1);
        inc(`ttft_sum|${model}`, r.ttft_ms);
      }
      if (r.max_tokens > 0) {
        inc(`max_tokens|${model}`, r.max_tokens);
        inc(`out_tokens|${model}`, r.output_tokens);
        inc(`use_b${bucketIndex(usageBuckets, r.output_tokens / r.max_tokens)}|${model}`, 1);
      }
    }
    if (r.queue_wait_ms !== null) {
      inc(`wait_n|${model}`, 1);
      inc(`wait_sum|${model}`, r.queue_wait_ms);
    }
    const tokens = {
      tok_in: r.input_tokens,
      tok_out: r.output_tokens,
      tok_cw: r.cache_creation_input_tokens,
      tok_cr: r.cache_read_input_tokens,
    };
    for (const [k, v] of Object.entries(tokens)) inc(`${k}|${tenant}`, v);
    // Cost as integer micro-dollars: HINCRBY is exact, HINCRBYFLOAT drifts over many adds.
    const micro = Math.round(r.cost_usd * 1e6);
    inc(`cost_micro|${tenant}`, micro);
    inc(`cost_micro_model|${model}`, micro);
    p.expire(key, o.minuteRetentionSeconds);

    const day = dayKey(o.queue, new Date(finished).toISOString().slice(0, 10));
    if (micro !== 0) p.hincrby(day, `cost_micro|${tenant}`, micro);
    p.hincrby(day, `jobs|${tenant}`, 1);
    p.expire(day, o.dayRetentionSeconds);

    const slow: SlowCall = {
      id: jobId,
      model: r.model,
      tenant: o.tenantLabel(r.tenant_id),
      status,
      total_ms: r.total_ms ?? 0,
      latency_ms: r.latency_ms,
      ttft_ms: r.ttft_ms,
      queue_wait_ms: r.queue_wait_ms,
      output_tokens: r.output_tokens,
      max_tokens: r.max_tokens,
      attempts: r.attempts,
      finished_at: r.finished_at ?? new Date(finished).toISOString(),
    };
    const sk = slowestKey(o.queue, Math.floor(minute / 60));
    p.zadd(sk, slow.total_ms, JSON.stringify(slow));
    p.zremrangebyrank(sk, 0, -(slowestKept + 1));
    p.expire(sk, o.minuteRetentionSeconds);
    const results = await p.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }
}
